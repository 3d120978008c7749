from datetime import UTC, datetime

from tests.helpers.schemas import SARIF, violations
from workers.sarif import artifact_uri, sarif
from workers.triage.apply import apply
from workers.triage.model import Justification, TriageState

from .triage.builders import decision, finding, report

NOW = datetime(2025, 3, 10, 12, tzinfo=UTC)
FINDINGS = [
    finding("CVE-2024-5535", "openssl", "critical", fixed="3.0.14"),
    finding("CVE-2024-5535", "libssl3", "critical", fixed="3.0.14"),
    finding("CVE-2023-31486", "perl", "medium"),
    finding("CVE-2011-3374", "apt", "unknown"),
]
FP = decision(
    "CVE-2024-5535",
    "openssl",
    TriageState.FALSE_POSITIVE,
    reason="openssl is not linked",
    justification=Justification.VULNERABLE_CODE_NOT_IN_EXECUTE_PATH,
)


def log(decisions=()):
    scanned = report(FINDINGS)
    return sarif(scanned, apply(scanned, decisions, NOW))


def test_the_log_validates_against_the_official_sarif_2_1_0_schema():
    assert violations(log([FP]), SARIF) == []


def test_one_rule_per_vulnerability_id_and_one_result_per_finding():
    (run,) = log()["runs"]
    assert run["tool"]["driver"]["name"] == "chainscan"
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == ["CVE-2024-5535", "CVE-2023-31486", "CVE-2011-3374"]
    assert [r["ruleIndex"] for r in run["results"]] == [0, 0, 1, 2]


def test_levels_follow_severity():
    assert [r["level"] for r in log()["runs"][0]["results"]] == ["error", "error", "warning", "note"]


def test_a_suppressed_finding_is_a_result_with_its_decisions_reason():
    results = log([FP])["runs"][0]["results"]
    assert results[0]["suppressions"] == [
        {"kind": "external", "status": "accepted", "justification": "openssl is not linked"}
    ]
    assert all("suppressions" not in r for r in results[1:])


def test_fingerprints_differ_per_package_and_stay_across_scans():
    first, second = (r["partialFingerprints"] for r in log()["runs"][0]["results"][:2])
    assert first != second and log()["runs"][0]["results"][0]["partialFingerprints"] == first


def test_the_location_is_the_repository_and_package_with_a_registry_port_escaped():
    scanned = report(FINDINGS, reference="127.0.0.1:5000/library/mariadb:latest")
    assert artifact_uri(scanned, FINDINGS[0]) == "127.0.0.1%3A5000/library/mariadb/openssl"


def test_the_security_severity_lets_github_rank_the_rule():
    rules = log()["runs"][0]["tool"]["driver"]["rules"]
    assert rules[0]["properties"]["security-severity"] == "9.5" and rules[0]["defaultConfiguration"]["level"] == "error"


def test_the_schema_check_is_not_a_rubber_stamp():
    broken = log()
    broken["runs"][0]["results"][0]["level"] = "fatal"
    assert violations(broken, SARIF) and violations({"runs": []}, SARIF)
