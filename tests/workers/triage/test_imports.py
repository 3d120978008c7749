"""Reading OpenVEX and .trivyignore.yaml files into proposed decisions. Pure."""

import json

import pytest

from workers.triage.imports import TriageImportError, package_of_purl, parse_import, repository_of_purl


def test_openvex_not_affected_statements_become_false_positives_on_their_repository():
    document = {
        "@context": "https://openvex.dev/ns/v0.2.0",
        "statements": [
            {
                "vulnerability": {"name": "CVE-1"},
                "status": "not_affected",
                "justification": "component_not_present",
                "products": [
                    {
                        "@id": "pkg:oci/mariadb@sha256:ab?repository_url=index.docker.io%2Flibrary%2Fmariadb",
                        "subcomponents": [{"@id": "pkg:deb/debian/openssl@3.0?arch=amd64"}],
                    }
                ],
            },
            {"vulnerability": {"name": "CVE-2"}, "status": "affected", "action_statement": "update"},
        ],
    }
    (proposal,) = parse_import("x.openvex.json", json.dumps(document))
    assert (proposal.repository, proposal.vulnerability, proposal.package) == (
        "docker.io/library/mariadb",
        "CVE-1",
        "openssl",
    )
    assert proposal.state.value == "false_positive" and proposal.justification == "component_not_present"


def test_ignore_entries_become_acceptances_until_their_date():
    (proposal,) = parse_import(
        ".trivyignore.yaml",
        "vulnerabilities:\n- id: CVE-3\n  purls: [pkg:apk/wolfi/zlib]\n  expired_at: 2027-01-01\n  statement: fine\n",
    )
    assert proposal.repository is None and proposal.until == "2027-01-01" and proposal.reason == "fine"


@pytest.mark.parametrize(
    "name, text",
    [("a.txt", "hello"), ("a.json", "{not json"), ("a.json", '{"a": 1}'), ("a.yaml", "vulnerabilities: []")],
)
def test_files_that_propose_nothing_are_one_sentence(name, text):
    with pytest.raises(TriageImportError) as caught:
        parse_import(name, text)
    assert str(caught.value).endswith(".")


def test_purls():
    assert package_of_purl("pkg:deb/debian/libc6@2.36?arch=amd64") == "libc6"
    assert repository_of_purl("pkg:oci/app?repository_url=ghcr.io%2Forg%2Fapp") == "ghcr.io/org/app"
    assert repository_of_purl("pkg:deb/debian/x") is None


def _ignore(until: str) -> str:
    return f"vulnerabilities:\n  - id: CVE-2024-9999\n    purls: [pkg:deb/debian/zlib1g]\n    expired_at: {until}\n"


LIMITS = {"max_accept_days": 180, "max_accept_days_critical": 30}


def test_attack_imported_acceptance_cannot_outlast_the_menu_limit():
    from datetime import date

    from workers.triage.imports import refusals

    proposals = parse_import(".trivyignore.yaml", _ignore("2027-05-25"))  # 170 days after 2026-12-06
    (refusal,) = refusals(proposals, today=date(2026, 12, 6), **LIMITS)
    assert refusal.startswith("CVE-2024-9999 in zlib1g: Accepting a critical is allowed for at most 30 days")


def test_an_imported_acceptance_within_the_critical_limit_is_allowed():
    from datetime import date

    from workers.triage.imports import refusals

    proposals = parse_import(".trivyignore.yaml", _ignore("2026-12-26"))
    assert refusals(proposals, today=date(2026, 12, 6), **LIMITS) == []


def test_attack_an_imported_acceptance_that_already_ended_is_refused():
    from datetime import date

    from workers.triage.imports import refusals

    proposals = parse_import(".trivyignore.yaml", _ignore("2026-01-01"))
    assert refusals(proposals, today=date(2026, 12, 6), **LIMITS)
