"""The offline test world is right when the real Trivy agrees with its declarative data.

Every image is scanned from the local registry with the hand-built DB, and what Trivy
reports must be exactly what `tests.helpers.images.expected_vulnerabilities` predicts
from `tests.helpers.trivydb` — IDs, packages, versions, statuses, severities, layers.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
import requests

from tests.helpers import images, trivydb
from tests.helpers.bbolt import MAGIC, fnv1a_64, write_bbolt
from tests.helpers.fixtures import run_trivy, trivy_scan_json
from tests.helpers.images import (
    ExpectedVulnerability,
    ImageInfo,
    expected_vulnerabilities,
    severity_counts,
)
from tests.helpers.trivydb import Advisory, build_trivy_db

pytestmark = pytest.mark.integration

ALL_SCANS = [
    ("library/mariadb:latest", None),
    ("library/mariadb:11.4", None),
    ("library/python:3.12", None),
    ("chainguard/mariadb:latest", None),
    ("chainguard/python:latest", None),
    ("library/clean:1", None),
    ("library/noos:1", None),
    ("library/big:1", None),
    ("library/multi:1", "linux/amd64"),
    ("library/multi:1", "linux/arm64"),
]


def reported(report: dict) -> list[ExpectedVulnerability]:
    """Trivy's findings in the shape of the expectations."""
    return sorted(
        ExpectedVulnerability(
            v["VulnerabilityID"],
            v["PkgName"],
            v["InstalledVersion"],
            v.get("FixedVersion", ""),
            v["Status"],
            v["Severity"],
            v.get("SeveritySource", ""),
            v["Layer"]["DiffID"],
        )
        for result in report.get("Results", [])
        for v in result.get("Vulnerabilities", [])
    )


# --- the DB file ----------------------------------------------------------------------
def read_pages(path: Path, page_size: int = 4096) -> list[tuple[int, int, int, int]]:
    """(id, flags, count, overflow) of every node, walking the file page by page."""
    data = path.read_bytes()
    pages, index = [], 0
    while index * page_size < len(data):
        header = struct.unpack_from("<QHHI", data, index * page_size)
        pages.append(header)
        index += 1 + header[3]
    return pages


def test_db_files_have_trivy_layout(trivy_cache_dir: Path) -> None:
    metadata = json.loads((trivy_cache_dir / "db" / "metadata.json").read_text())
    assert metadata["Version"] == 2
    assert metadata["NextUpdate"] > "2070"
    assert metadata["UpdatedAt"] == "2025-03-04T06:12:31Z"
    data = (trivy_cache_dir / "db" / "trivy.db").read_bytes()
    for page in (0, 1):
        meta = data[page * 4096 + 16 : page * 4096 + 16 + 64]
        magic, version, page_size = struct.unpack_from("<III", meta)
        assert (magic, version, page_size) == (MAGIC, 2, 4096)
        assert struct.unpack_from("<Q", meta, 56)[0] == fnv1a_64(meta[:56])


def test_db_uses_branch_and_overflow_pages(trivy_cache_dir: Path) -> None:
    """So that Trivy reading it (the tests below) proves those parts of the writer too."""
    pages = read_pages(trivy_cache_dir / "db" / "trivy.db")
    flags = [flag for _, flag, _, _ in pages]
    assert [p[0] for p in pages[:3]] == [0, 1, 2] and flags[:3] == [0x04, 0x04, 0x10]
    assert flags.count(0x01) >= 3, "expected several branch pages"
    assert any(overflow for *_, overflow in pages), "expected a node spanning several pages"


def test_bbolt_writer_rejects_bad_trees(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        write_bbolt(tmp_path / "x.db", {b"top": b"not a bucket"})
    with pytest.raises(TypeError):
        write_bbolt(tmp_path / "x.db", {b"top": {"str-key": b"v"}})


# --- Trivy against the images ---------------------------------------------------------
@pytest.mark.parametrize(("name", "platform"), ALL_SCANS, ids=[f"{n}-{p or 'default'}" for n, p in ALL_SCANS])
def test_trivy_reports_exactly_the_predicted_vulnerabilities(
    trivy_scan, test_images: dict[str, ImageInfo], name: str, platform: str | None
) -> None:
    info = test_images[name]
    report = trivy_scan(info.reference, platform=platform)
    assert reported(report) == expected_vulnerabilities(info, platform)
    image = info.platform(platform)
    digests = {layer.diff_id: layer.digest for layer in image.layers}
    for result in report.get("Results", []):
        for v in result.get("Vulnerabilities", []):
            assert v["Layer"]["Digest"] == digests[v["Layer"]["DiffID"]]


def test_mariadb_metadata_matches_what_was_pushed(trivy_scan, test_images: dict[str, ImageInfo]) -> None:
    info = test_images["library/mariadb:latest"]
    image = info.platform()
    metadata = trivy_scan(info.reference)["Metadata"]
    assert metadata["OS"] == {"Family": "debian", "Name": "12.5"}
    assert metadata["ImageID"] == image.config_digest
    assert metadata["DiffIDs"] == [layer.diff_id for layer in image.layers]
    assert f"{info.registry}/{info.repository}@{info.digest}" in metadata["RepoDigests"]
    history = metadata["ImageConfig"]["history"]
    assert [h["created_by"] for h in history if not h.get("empty_layer")] == [
        layer.created_by for layer in image.layers
    ]
    assert history[0]["created_by"].startswith("/bin/sh -c #(nop) ADD file:")
    assert any(h["created_by"].startswith("ENV MARIADB_VERSION=") and h["empty_layer"] for h in history)
    assert "MARIADB_VERSION=1:10.11.6-0+deb12u1" in metadata["ImageConfig"]["config"]["Env"]
    assert image.size > 10_000_000


def test_mariadb_findings_spread(test_images: dict[str, ImageInfo]) -> None:
    """The Debian image exercises every case the bot must render."""
    found = expected_vulnerabilities(test_images["library/mariadb:latest"])
    assert all(severity_counts(found).values())
    assert {v.status for v in found} == {"fixed", "affected", "will_not_fix", "fix_deferred"}
    assert {v.severity_source for v in found} == {"nvd", "debian", ""}
    assert len({v.layer_diff_id for v in found}) == 3
    by_id: dict[str, set[str]] = {}
    for v in found:
        by_id.setdefault(v.vuln_id, set()).add(v.pkg_name)
    assert by_id["CVE-2024-5535"] == {"libssl3", "openssl"}
    not_reported = {a.vuln_id for a in trivydb.DEBIAN_ADVISORIES} - set(by_id)
    assert {"CVE-2023-4911", "CVE-2023-5363", "CVE-2023-38545"} <= not_reported
    # shadow's binaries are binNMU rebuilds: Trivy compares the source version.
    login = next(v for v in found if v.vuln_id == "CVE-2023-4641" and v.pkg_name == "login")
    assert login.installed_version == "1:4.13+dfsg1-1+b1"


def test_chainguard_has_fewer_findings_than_debian(test_images: dict[str, ImageInfo]) -> None:
    for app in ("mariadb", "python"):
        debian = expected_vulnerabilities(test_images[f"library/{app}:" + ("latest" if app == "mariadb" else "3.12")])
        wolfi = expected_vulnerabilities(test_images[f"chainguard/{app}:latest"])
        assert 0 < len(wolfi) < len(debian)


def test_vulnerability_details_come_from_the_db(trivy_scan, test_images: dict[str, ImageInfo]) -> None:
    report = trivy_scan(test_images["library/mariadb:latest"].reference)
    vulns = {(v["VulnerabilityID"], v["PkgName"]): v for v in report["Results"][0]["Vulnerabilities"]}
    openssl = vulns[("CVE-2024-5535", "libssl3")]
    expected = trivydb.VULNERABILITIES["CVE-2024-5535"]
    assert openssl["Title"] == expected.title
    assert openssl["Description"] == expected.description  # stored across overflow pages
    assert openssl["References"] == list(expected.references)
    assert openssl["CVSS"]["nvd"] == {"V3Vector": expected.nvd_vector, "V3Score": 9.1}
    assert openssl["PublishedDate"] == expected.published
    assert openssl["VendorIDs"] == ["DLA-3942-1"]
    assert openssl["DataSource"]["ID"] == "debian"
    assert openssl["PrimaryURL"] == "https://avd.aquasec.com/nvd/cve-2024-5535"
    temp = vulns[("TEMP-0290435-0B57B5", "tar")]
    assert temp["Severity"] == "UNKNOWN" and temp["Status"] == "affected"
    assert temp["PrimaryURL"].startswith("https://security-tracker.debian.org/tracker/")


def test_noos_has_no_results(trivy_scan, test_images: dict[str, ImageInfo]) -> None:
    report = trivy_scan(test_images["library/noos:1"].reference)
    assert "Results" not in report and "OS" not in report["Metadata"]


def test_clean_has_a_result_without_vulnerabilities(trivy_scan, test_images: dict[str, ImageInfo]) -> None:
    results = trivy_scan(test_images["library/clean:1"].reference)["Results"]
    assert len(results) == 1 and results[0]["Class"] == "os-pkgs" and "Vulnerabilities" not in results[0]


def test_multi_platform_results_differ(trivy_scan, test_images: dict[str, ImageInfo]) -> None:
    info = test_images["library/multi:1"]
    assert info.is_index and set(info.platforms) == {"linux/amd64", "linux/arm64/v8"}
    amd64 = trivy_scan(info.reference, platform="linux/amd64")
    arm64 = trivy_scan(info.reference, platform="linux/arm64")
    assert amd64["Metadata"]["ImageID"] == info.platforms["linux/amd64"].config_digest
    assert arm64["Metadata"]["ImageID"] == info.platforms["linux/arm64/v8"].config_digest
    assert set(reported(amd64)) != set(reported(arm64))
    assert len(reported(arm64)) < len(reported(amd64))


def test_big_image_is_big(test_images: dict[str, ImageInfo]) -> None:
    info = test_images["library/big:1"]
    assert len(images.installed_packages(info)) >= 600
    assert info.platform().size > 140_000_000
    assert 200 <= len(expected_vulnerabilities(info)) <= 600


def test_custom_advisories_replace_the_default_data(
    tmp_path: Path, trivy_binary: str, test_images: dict[str, ImageInfo]
) -> None:
    only = [Advisory("CVE-2024-5535", trivydb.DEBIAN_12, "openssl", "3.0.14-1~deb12u1")]
    build_trivy_db(tmp_path, advisories=only)
    info = test_images["library/mariadb:latest"]
    found = reported(trivy_scan_json(tmp_path, info.reference))
    assert found == expected_vulnerabilities(info, advisories=only)
    assert {v.pkg_name for v in found} == {"libssl3", "openssl"}


# --- version ordering used for the predictions ----------------------------------------
@pytest.mark.parametrize(
    ("a", "b", "sign"),
    [
        ("1.0-1", "1.0-2", -1),
        ("1:1.0", "2.0", 1),
        ("1.0~rc1", "1.0", -1),
        ("1.0+b1", "1.0", 1),
        ("2.38.1-5", "2.38.1-5+deb12u1", -1),
        ("3.0.11-1~deb12u2", "3.0.11-1~deb12u2", 0),
        ("2.36-9+deb12u4", "2.36-9+deb12u10", -1),
        ("1.0a", "1.0", 1),
    ],
)
def test_dpkg_compare(a: str, b: str, sign: int) -> None:
    result = images.dpkg_compare(a, b)
    assert (result > 0) - (result < 0) == sign


def test_images_are_reproducible() -> None:
    variant = images.IMAGES["library/clean"].variants[0]
    first = images._build_variant(variant, oci=False)
    second = images._build_variant(variant, oci=False)
    assert first.manifest.digest == second.manifest.digest


# --- registries -----------------------------------------------------------------------
def test_auth_registry_denies_anonymous_pulls(auth_registry, trivy_cache_dir: Path, trivy_binary: str) -> None:
    spec = images.IMAGES["library/noos"]
    with pytest.raises(RuntimeError):
        images.push_image(spec, auth_registry.address)
    info = images.push_image(spec, auth_registry.address, auth=auth_registry.auth)["library/noos:1"]
    assert requests.get(f"{auth_registry.url}/v2/_catalog", timeout=5).status_code == 401
    denied = run_trivy(trivy_cache_dir, info.reference)
    assert denied.returncode != 0 and "UNAUTHORIZED" in denied.stderr.upper()
    user, password = auth_registry.auth
    allowed = trivy_scan_json(trivy_cache_dir, info.reference, env={"TRIVY_USERNAME": user, "TRIVY_PASSWORD": password})
    assert allowed["Metadata"]["ImageID"] == info.platform().config_digest


def test_stopped_registry_is_down(disposable_registry, trivy_cache_dir: Path, trivy_binary: str) -> None:
    info = images.push_image(images.IMAGES["library/noos"], disposable_registry.address)["library/noos:1"]
    disposable_registry.stop()
    down = run_trivy(trivy_cache_dir, info.reference)
    assert down.returncode != 0 and "connection refused" in down.stderr
    disposable_registry.start()
    assert trivy_scan_json(trivy_cache_dir, info.reference)["Metadata"]["ImageID"] == info.platform().config_digest


def test_load_into_daemon(docker_client, test_images: dict[str, ImageInfo]) -> None:
    info = test_images["library/mariadb:latest"]
    image = images.load_into_daemon(info, docker_client, tag_as="chainscan-offline-world/mariadb:test")
    try:
        assert image.id == info.platform().config_digest
        assert "chainscan-offline-world/mariadb:test" in docker_client.images.get(image.id).tags
        history = [h["CreatedBy"] for h in docker_client.api.history(image.id)]
        assert any(c.startswith("ENV MARIADB_VERSION=") for c in history)
        if images.HOST_ARCH == "amd64":  # the base layer carries the host's /bin/sh: RUN works
            output = docker_client.containers.run(
                image.id, ["sh", "-c", "cat /etc/debian_version"], entrypoint=[], remove=True
            )
            assert output == b"12.5\n"
    finally:
        docker_client.images.remove("chainscan-offline-world/mariadb:test")
