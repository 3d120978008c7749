from datetime import UTC, datetime

import pytest

from workers.report import Finding, ScanReport
from workers.triage.model import (
    SUPPRESSING,
    AuditEntry,
    Decision,
    Justification,
    Scope,
    StaleDecision,
    TriageState,
    next_decision,
)

from .builders import DIGEST, decision


def test_only_accepted_and_false_positive_suppress():
    assert {TriageState.ACCEPTED, TriageState.FALSE_POSITIVE} == SUPPRESSING
    assert not decision("CVE-1", "zlib1g", TriageState.ASSIGNED, assignee="U2").suppressing


def test_justifications_are_openvex_five():
    assert {j.value for j in Justification} == {
        "component_not_present",
        "vulnerable_code_not_present",
        "vulnerable_code_not_in_execute_path",
        "vulnerable_code_cannot_be_controlled_by_adversary",
        "inline_mitigations_already_exist",
    }


def test_a_decision_survives_its_json_round_trip():
    original = decision(
        "CVE-1",
        "openssl",
        TriageState.FALSE_POSITIVE,
        reason="not linked",
        version=3,
        justification=Justification.COMPONENT_NOT_PRESENT,
        digest=DIGEST,
        thread="https://x/p1",
    )
    data = original.to_dict()
    assert data["schema"] == 1 and data["state"] == "false_positive"
    assert Decision.from_dict(data) == original
    assert original.scope is Scope.DIGEST


def test_from_dict_ignores_unknown_keys_and_fills_missing_optional_ones():
    data = {
        "team": "T1",
        "repository": "r",
        "vulnerability": "CVE-1",
        "package": "p",
        "state": "acknowledged",
        "by": "U1",
        "at": "2025-01-01T00:00:00Z",
        "schema": 7,
        "added_later": {"x": 1},
    }
    restored = Decision.from_dict(data)
    assert restored.state is TriageState.ACKNOWLEDGED and restored.version == 0 and restored.scope is Scope.REPOSITORY


def test_an_acceptance_expires_at_midnight_utc_on_its_date():
    accepted = decision("CVE-1", "p", TriageState.ACCEPTED, reason="r", until="2025-04-01")
    assert accepted.expires_at() == datetime(2025, 4, 1, tzinfo=UTC)
    assert not accepted.expired(datetime(2025, 3, 31, 23, 59, tzinfo=UTC))
    assert not accepted.expired(datetime(2025, 4, 1, tzinfo=UTC))  # as Trivy: ignored up to that instant
    assert accepted.expired(datetime(2025, 4, 1, 0, 0, 1, tzinfo=UTC))


def test_an_until_fixed_acceptance_has_no_date_to_expire_on():
    accepted = decision("CVE-1", "p", TriageState.ACCEPTED, reason="r", until_fixed=True)
    assert accepted.expires_at() is None and not accepted.expired(datetime(2999, 1, 1, tzinfo=UTC))


def test_the_first_change_is_version_one_and_each_change_adds_one():
    first = next_decision(None, decision("CVE-1", "p", TriageState.ACKNOWLEDGED))
    second = next_decision(first, decision("CVE-1", "p", TriageState.ASSIGNED, assignee="U2"))
    assert (first.version, second.version) == (1, 2)


def test_repeating_the_current_decision_changes_nothing_even_later_or_by_someone_else():
    current = next_decision(None, decision("CVE-1", "p", TriageState.ACKNOWLEDGED))
    again = decision("CVE-1", "p", TriageState.ACKNOWLEDGED, by="U9", at="2025-03-02T00:00:00Z")
    assert next_decision(current, again, expected_version=0) is None


def test_reopening_what_nobody_decided_changes_nothing():
    assert next_decision(None, decision("CVE-1", "p", TriageState.OPEN)) is None


def test_a_change_based_on_an_old_version_is_refused_with_a_sentence():
    current = next_decision(None, decision("CVE-1", "p", TriageState.ACKNOWLEDGED))
    with pytest.raises(StaleDecision) as err:
        next_decision(current, decision("CVE-1", "p", TriageState.OPEN), expected_version=0)
    assert "<@U1>" in str(err.value) and err.value.current == current


def test_an_audit_entry_records_the_state_it_left():
    new = next_decision(None, decision("CVE-1", "p", TriageState.ACCEPTED, reason="r", until="2025-04-01"))
    entry = AuditEntry.of(None, new)
    assert (entry.old_state, entry.new_state, entry.version, entry.until) == ("open", "accepted", 1, "2025-04-01")
    assert AuditEntry.from_dict({**entry.to_dict(), "later": 1}) == entry


def test_a_finding_keeps_trivys_package_url_and_old_cached_reports_still_load():
    from workers.report import DbInfo, normalize

    trivy = {
        "Results": [
            {
                "Target": "t",
                "Vulnerabilities": [
                    {
                        "VulnerabilityID": "CVE-1",
                        "PkgName": "bash",
                        "Severity": "LOW",
                        "PkgIdentifier": {"PURL": "pkg:deb/debian/bash@5.2?arch=amd64", "UID": "x"},
                    }
                ],
            }
        ]
    }
    report = normalize(trivy, reference="docker.io/library/x:1", digest=None, db=DbInfo(2, None))
    assert report.vulnerabilities[0].purl == "pkg:deb/debian/bash@5.2?arch=amd64"
    old = report.to_dict()
    del old["vulnerabilities"][0]["purl"]
    assert ScanReport.from_dict(old).vulnerabilities[0] == Finding(**{**old["vulnerabilities"][0], "purl": None})
