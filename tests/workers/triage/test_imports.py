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
