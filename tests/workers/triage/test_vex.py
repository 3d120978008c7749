from datetime import UTC, datetime

import yaml

from workers.triage.apply import apply
from workers.triage.model import Justification, TriageState
from workers.triage.vex import image_purl, openvex, package_constraint, trivyignore

from .builders import DIGEST, decision, finding, report

NOW = datetime(2025, 3, 10, 12, tzinfo=UTC)
HEX = "a" * 64


def test_a_docker_hub_image_purl_names_the_repository_as_trivy_does():
    assert image_purl("docker.io/library/mariadb:latest", DIGEST) == (
        f"pkg:oci/mariadb@sha256:{HEX}?repository_url=index.docker.io%2Flibrary%2Fmariadb"
    )
    assert image_purl("mariadb", DIGEST) == image_purl("docker.io/library/mariadb:11.4", DIGEST)


def test_a_registry_with_a_port_is_percent_encoded():
    assert image_purl("127.0.0.1:5000/library/mariadb:latest", DIGEST) == (
        f"pkg:oci/mariadb@sha256:{HEX}?repository_url=127.0.0.1%3A5000%2Flibrary%2Fmariadb"
    )


def test_the_digest_comes_from_the_reference_or_is_left_out():
    assert image_purl(f"cgr.dev/chainguard/mariadb@sha256:{HEX}").startswith(f"pkg:oci/mariadb@sha256:{HEX}?")
    assert image_purl("cgr.dev/chainguard/mariadb") == "pkg:oci/mariadb?repository_url=cgr.dev%2Fchainguard%2Fmariadb"


def test_docker_hub_and_chainguard_images_of_one_name_have_different_purls():
    hub, chainguard = image_purl("mariadb"), image_purl("cgr.dev/chainguard/mariadb")
    assert hub.split("?")[0] == chainguard.split("?")[0] == "pkg:oci/mariadb"
    assert hub.split("?")[1] != chainguard.split("?")[1]


def test_a_package_constraint_drops_version_qualifiers_and_subpath():
    trivys = "pkg:deb/debian/bash@5.2.15-2%2Bb2?arch=amd64&distro=debian-12.5"
    assert package_constraint(trivys) == "pkg:deb/debian/bash"
    assert package_constraint("pkg:npm/%40babel/core@7.0.0#lib") == "pkg:npm/%40babel/core"
    assert package_constraint("pkg:golang/github.com/a/b@v1.2.3") == "pkg:golang/github.com/a/b"
    assert package_constraint(None) is None and package_constraint("bash") is None


def scene():
    findings = [
        finding("CVE-2024-5535", "openssl", "critical"),
        finding("CVE-2024-5535", "libssl3", "critical"),
        finding("CVE-2024-2961", "libc6", "high"),
        finding("CVE-2023-45853", "zlib1g", "critical"),
        finding("CVE-2011-3374", "apt", "low", purl=None),
    ]
    decisions = [
        decision(
            "CVE-2024-5535",
            "openssl",
            TriageState.FALSE_POSITIVE,
            reason="not linked",
            justification=Justification.VULNERABLE_CODE_NOT_IN_EXECUTE_PATH,
            thread="https://slack/p1",
        ),
        decision("CVE-2024-2961", "libc6", TriageState.ACCEPTED, reason="iconv unused", until="2025-04-01"),
        decision("CVE-2023-45853", "zlib1g", TriageState.ACCEPTED, reason="minizip unused", until_fixed=True),
        decision("CVE-2011-3374", "apt", TriageState.ACCEPTED, reason="old", until="2025-04-01"),
    ]
    return apply(report(findings), decisions, NOW)


def test_openvex_states_each_false_positive_for_the_image_and_its_package():
    product = image_purl("mariadb", DIGEST)
    document = openvex(scene().suppressed, product, author="chainscan <triage@example.com>", now=NOW, version=2)
    assert document["@context"] == "https://openvex.dev/ns/v0.2.0" and document["@id"].startswith("urn:uuid:")
    assert (document["author"], document["timestamp"], document["version"]) == (
        "chainscan <triage@example.com>",
        "2025-03-10T12:00:00Z",
        2,
    )
    [statement] = document["statements"]
    assert statement["vulnerability"] == {"name": "CVE-2024-5535"}
    assert statement["products"] == [{"@id": product, "subcomponents": [{"@id": "pkg:deb/debian/openssl"}]}]
    assert (statement["status"], statement["justification"]) == ("not_affected", "vulnerable_code_not_in_execute_path")
    # the schema allows a justification or an impact statement, not both: the team's words go to status_notes
    assert "impact_statement" not in statement
    assert statement["status_notes"].startswith("not linked") and "https://slack/p1" in statement["status_notes"]


def test_the_same_decisions_give_the_same_document_id():
    product = image_purl("mariadb", DIGEST)
    first = openvex(scene().suppressed, product, author="a", now=NOW)
    assert first["@id"] == openvex(scene().suppressed, product, author="a", now=datetime(2026, 1, 1, tzinfo=UTC))["@id"]
    assert (
        first["@id"]
        != openvex(scene().suppressed, image_purl("cgr.dev/chainguard/mariadb", DIGEST), author="a", now=NOW)["@id"]
    )


def test_trivyignore_lists_accepted_risks_with_package_urls_and_expiry_dates():
    text = trivyignore(scene().suppressed, NOW)
    entries = yaml.safe_load(text)["vulnerabilities"]
    assert [e["id"] for e in entries] == ["CVE-2024-2961", "CVE-2023-45853"]
    libc = entries[0]
    assert libc["purls"] == ["pkg:deb/debian/libc6"] and str(libc["expired_at"]) == "2025-04-01"
    assert "expired_at: 2025-04-01\n" in text  # a YAML date, as Trivy's time.Time wants it
    assert "expired_at" not in entries[1] and "until a fix exists" in entries[1]["statement"]


def test_an_acceptance_without_a_package_url_is_left_out_and_said_so():
    text = trivyignore(scene().suppressed, NOW)
    assert "CVE-2011-3374 in apt" in text.splitlines()[1]
    assert "CVE-2011-3374" not in [e["id"] for e in yaml.safe_load(text)["vulnerabilities"]]


def test_trivyignore_leaves_out_what_has_expired():
    later = datetime(2025, 4, 2, tzinfo=UTC)
    entries = yaml.safe_load(trivyignore(scene().suppressed, later))["vulnerabilities"]
    assert [e["id"] for e in entries] == ["CVE-2023-45853"]


def test_nothing_suppressed_gives_empty_exports():
    empty = apply(report([finding("CVE-1", "bash")]), [], NOW)
    assert openvex(empty.suppressed, image_purl("mariadb"), author="a", now=NOW)["statements"] == []
    assert yaml.safe_load(trivyignore(empty.suppressed, NOW)) == {"vulnerabilities": []}
