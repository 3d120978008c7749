"""The pure half of re-evaluation (workers.inventory.model): which inventories share a Trivy run, how their
CycloneDX documents are merged and the answer split back, and how an answer is read as the image scan's.

The documents in tests/workers/data/inventory are shaped like Trivy's own (``trivy convert --format cyclonedx`` of an
image scan), cut down to a few packages; the ``*.sbom.json`` answers are real ``trivy sbom`` output for the merged
documents, trimmed to the fields read."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from workers.inventory.model import PKG_ID, Batch, Inventory, keep, merge, package_count, plan, restore, split

DATA = Path(__file__).parents[1] / "data" / "inventory"


def document(name: str) -> dict:
    return json.loads((DATA / f"{name}.cdx.json").read_text())


def answer(name: str) -> dict:
    return json.loads((DATA / f"{name}.sbom.json").read_text())


def inventory(name: str, **kwargs) -> Inventory:
    return Inventory(digest=f"sha256:{name}", platform="linux/amd64", cyclonedx=document(name), metadata={},
                     targets={}, **kwargs)  # fmt: skip


def pkg_id(component: dict) -> str | None:
    return next((p["value"] for p in component.get("properties") or [] if p["name"] == PKG_ID), None)


# --- plan ---------------------------------------------------------------------------------------------------------
def test_inventories_of_one_os_release_share_a_batch_in_the_order_given():
    found = plan([inventory("debian-a"), inventory("wolfi"), inventory("debian-b")], max_batch=10)
    assert found == [Batch((0, 2), "debian 12.5"), Batch((1,), "wolfi 20230201")]


def test_a_full_batch_starts_another_of_the_same_release():
    found = plan([inventory("debian-a"), inventory("debian-b"), inventory("debian-a")], max_batch=2)
    assert found == [Batch((0, 1), "debian 12.5"), Batch((2,), "debian 12.5")]


def test_a_batch_of_one_means_one_run_each():
    assert [b.members for b in plan([inventory("debian-a"), inventory("debian-b")], max_batch=1)] == [(0,), (1,)]


def test_an_inventory_with_language_packages_runs_alone():
    found = plan([inventory("debian-a"), inventory("polyglot"), inventory("debian-b")], max_batch=10)
    assert found == [Batch((0, 2), "debian 12.5"), Batch((1,), "debian 12.5")]


def test_an_inventory_without_an_os_runs_alone():
    found = plan([inventory("noos"), inventory("noos"), inventory("debian-a")], max_batch=10)
    assert found == [Batch((0,), None), Batch((1,), None), Batch((2,), "debian 12.5")]


def test_language_packages_are_the_libraries_that_do_not_hang_from_the_os():
    assert inventory("polyglot").has_applications, "Trivy lists a wheel and a node module under the image itself"
    assert not inventory("debian-a").has_applications and not inventory("noos").has_applications
    assert inventory("wolfi").os == "wolfi 20230201" and inventory("noos").os is None


# --- merge --------------------------------------------------------------------------------------------------------
def test_merged_documents_keep_one_os_and_every_package_apart_by_its_index():
    merged = merge([document("debian-a"), document("debian-b")])
    operating_systems = [c for c in merged["components"] if c["type"] == "operating-system"]
    assert [(c["name"], c["version"]) for c in operating_systems] == [("debian", "12.5")]
    packages = [c for c in merged["components"] if c["type"] == "library"]
    assert sorted(pkg_id(c) for c in packages) == [
        "0|libc6@2.36-9+deb12u4", "0|openssl@3.0.11-1~deb12u2", "1|libc6@2.36-9+deb12u4", "1|zlib1g@1:1.2.13.dfsg-1"
    ]  # fmt: skip
    assert all(c["bom-ref"].startswith(pkg_id(c)[:2]) for c in packages)
    os_ref = operating_systems[0]["bom-ref"]
    graph = {d["ref"]: d["dependsOn"] for d in merged["dependencies"]}
    assert graph[merged["metadata"]["component"]["bom-ref"]] == [os_ref]
    assert sorted(graph[os_ref]) == sorted(c["bom-ref"] for c in packages)


def test_merging_leaves_the_documents_it_was_given_alone():
    given = [document("debian-a"), document("debian-b")]
    merge(given)
    assert given == [document("debian-a"), document("debian-b")]


def test_language_packages_merged_alone_hang_from_the_batch_root():
    merged = merge([document("polyglot")])
    graph = {d["ref"]: d["dependsOn"] for d in merged["dependencies"]}
    root = graph[merged["metadata"]["component"]["bom-ref"]]
    assert "0|pkg:npm/lodash@4.17.20" in root and "0|pkg:pypi/requests@2.31.0" in root
    requests = next(c for c in merged["components"] if c["name"] == "requests")
    assert pkg_id(requests) is None, "no PkgID is made up for a package the image scan gave none"


# --- split --------------------------------------------------------------------------------------------------------
def test_two_inventories_sharing_a_package_each_get_their_own_back():
    first, second = split(answer("debian-a-b"), 2)
    assert [p["ID"] for r in first for p in r["Packages"]] == ["libc6@2.36-9+deb12u4", "openssl@3.0.11-1~deb12u2"]
    assert [p["ID"] for r in second for p in r["Packages"]] == ["libc6@2.36-9+deb12u4", "zlib1g@1:1.2.13.dfsg-1"]
    first_findings = {(v["VulnerabilityID"], v["PkgID"]) for r in first for v in r.get("Vulnerabilities", [])}
    second_findings = {(v["VulnerabilityID"], v["PkgID"]) for r in second for v in r.get("Vulnerabilities", [])}
    libc = {f for f in first_findings if f[1].startswith("libc6@")}
    assert libc and libc <= second_findings, "the shared libc6 is judged for both"
    assert not any(f[1].startswith("openssl@") for f in second_findings)
    assert not any(f[1].startswith("zlib1g@") for f in first_findings)


def test_split_answers_carry_no_prefix_and_no_bom_ref():
    for results in split(answer("debian-a-b"), 2):
        for result in results:
            for package in result["Packages"]:
                assert "|" not in package["ID"] and "BOMRef" not in package["Identifier"]
            for finding in result.get("Vulnerabilities", []):
                assert "|" not in finding["PkgID"] and "BOMRef" not in finding["PkgIdentifier"]
                assert finding["PkgIdentifier"]["PURL"].startswith("pkg:deb/debian/")


def test_split_keeps_every_package_count_of_the_merged_answer():
    merged_packages = sum(len(r["Packages"]) for r in answer("debian-a-b")["Results"])
    first, second = split(answer("debian-a-b"), 2)
    assert (package_count(first), package_count(second)) == (2, 2) and merged_packages == 4


def test_an_inventory_with_no_package_in_the_answer_gets_no_result():
    assert split(answer("debian-a-b"), 3)[2] == []


# --- keep and restore ---------------------------------------------------------------------------------------------
IMAGE_SCAN = {
    "Metadata": {"OS": {"Family": "debian", "Name": "12.5"}, "DiffIDs": ["sha256:1111", "sha256:5555"], "Size": 9},
    "Results": [
        {"Target": "127.0.0.1:5000/library/p:1 (debian 12.5)", "Class": "os-pkgs", "Type": "debian",
         "Packages": [{"ID": "libc6@2.36-9+deb12u4"}]},
        {"Target": "Node.js", "Class": "lang-pkgs", "Type": "node-pkg", "Packages": [{"ID": "lodash@4.17.20"}]},
        {"Target": "Python", "Class": "lang-pkgs", "Type": "python-pkg", "Packages": [{"Name": "requests"}]},
    ],
}  # fmt: skip


@pytest.fixture
def kept() -> Inventory:
    return keep(IMAGE_SCAN, document("polyglot"), digest="sha256:dddd", platform="linux/amd64")


def test_an_inventory_keeps_the_scan_metadata_targets_and_package_count(kept):
    assert kept.metadata == IMAGE_SCAN["Metadata"] and kept.packages == 3
    assert kept.targets == {
        "os-pkgs/debian": "127.0.0.1:5000/library/p:1 (debian 12.5)",
        "lang-pkgs/node-pkg": "Node.js",
        "lang-pkgs/python-pkg": "Python",
    }
    assert Inventory.from_dict(json.loads(json.dumps(kept.to_dict()))) == kept


def test_restored_answers_read_as_the_image_scan(kept):
    restored = restore(kept, split(answer("polyglot"), 1)[0])
    assert restored["Metadata"] == IMAGE_SCAN["Metadata"]
    assert [r["Target"] for r in restored["Results"]] == [r["Target"] for r in IMAGE_SCAN["Results"]]


def test_a_language_package_the_image_scan_gave_no_pkg_id_loses_the_one_trivy_sbom_made_up(kept):
    results = restore(kept, split(answer("polyglot"), 1)[0])["Results"]
    python = next(r for r in results if r["Type"] == "python-pkg")
    assert "ID" not in python["Packages"][0] and all("PkgID" not in v for v in python["Vulnerabilities"])
    node = next(r for r in results if r["Type"] == "node-pkg")
    assert node["Packages"][0]["ID"] == "lodash@4.17.20"
    assert {v["PkgID"] for v in node["Vulnerabilities"]} == {"lodash@4.17.20"}


def test_a_result_whose_kind_the_scan_did_not_have_keeps_trivys_target(kept):
    stray = {"Target": "Java", "Class": "lang-pkgs", "Type": "jar", "Packages": []}
    assert restore(kept, [stray])["Results"][0]["Target"] == "Java"


def test_several_files_of_one_language_type_keep_their_own_targets(kept):
    """The image scan named both; a name by Class/Type alone would give both findings the last one."""
    services = [f"srv/{name}/{name}.deps.json" for name in ("orders", "billing")]
    kept = replace(kept, targets={**kept.targets, "lang-pkgs/dotnet-core": services[-1]})
    answers = [{"Target": path, "Class": "lang-pkgs", "Type": "dotnet-core", "Packages": []} for path in services]
    assert [r["Target"] for r in restore(kept, answers)["Results"]] == services
