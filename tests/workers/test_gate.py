from dataclasses import replace
from datetime import UTC, datetime

import pytest

from workers.gate import Threshold, Verdict, evaluate, reaches
from workers.triage.model import Justification, TriageState

from .triage.builders import decision, finding, report

NOW = datetime(2025, 3, 10, 12, tzinfo=UTC)
KEV = {"date_added": "2025-01-01", "due_date": "2025-01-21", "ransomware": False}
CRITICAL = finding("CVE-2024-5535", "openssl", "critical", fixed="3.0.14")
HIGH_KEV = replace(finding("CVE-2024-2961", "libc6", "high"), kev=KEV, epss={"score": 0.9, "percentile": 0.99})
MEDIUM = replace(finding("CVE-2023-1", "perl", "medium"), epss={"score": 0.2, "percentile": 0.5})
UNKNOWN = finding("CVE-2023-2", "apt", "unknown")
FP = {"justification": Justification.COMPONENT_NOT_PRESENT, "reason": "not shipped"}


def test_a_clean_image_passes_and_exits_zero():
    result = evaluate(report([]), [], Threshold(), NOW)
    assert result.verdict is Verdict.PASS and result.verdict.exit_code == 0 and result.offending == []


def test_an_open_critical_fails_the_default_gate_and_exits_one():
    result = evaluate(report([CRITICAL, HIGH_KEV]), [], Threshold(), NOW)
    assert result.verdict.exit_code == 1 and result.offending == [CRITICAL]


def test_a_false_positive_on_the_only_critical_lets_the_gate_pass():
    fp = decision("CVE-2024-5535", "openssl", TriageState.FALSE_POSITIVE, **FP)
    assert evaluate(report([CRITICAL, HIGH_KEV]), [fp], Threshold(), NOW).verdict is Verdict.PASS


def test_an_expired_acceptance_fails_the_gate_again():
    accepted = decision("CVE-2024-5535", "openssl", TriageState.ACCEPTED, reason="r", until="2025-03-01")
    assert evaluate(report([CRITICAL]), [accepted], Threshold(), NOW).offending == [CRITICAL]


def test_acknowledged_stays_open_and_still_fails():
    acknowledged = decision("CVE-2024-5535", "openssl", TriageState.ACKNOWLEDGED)
    assert evaluate(report([CRITICAL]), [acknowledged], Threshold(), NOW).verdict is Verdict.FAIL


def test_fail_on_high_takes_critical_and_high_but_not_medium():
    result = evaluate(report([CRITICAL, HIGH_KEV, MEDIUM]), [], Threshold("high"), NOW)
    assert result.offending == [CRITICAL, HIGH_KEV]


def test_unknown_severity_never_fails_even_at_low():
    assert not reaches(UNKNOWN, Threshold("low")) and reaches(MEDIUM, Threshold("low"))


def test_kev_only_fails_on_known_exploited_only():
    assert evaluate(report([CRITICAL, HIGH_KEV]), [], Threshold("high", kev_only=True), NOW).offending == [HIGH_KEV]


def test_epss_min_keeps_scores_at_or_above_it_and_none_has_no_score():
    assert evaluate(report([CRITICAL, MEDIUM]), [], Threshold("low", epss_min=0.2), NOW).offending == [MEDIUM]


def test_kev_and_epss_combine_with_and():
    threshold = Threshold("low", kev_only=True, epss_min=0.95)
    assert evaluate(report([HIGH_KEV, MEDIUM]), [], threshold, NOW).verdict is Verdict.PASS


def test_a_severity_that_is_not_a_choice_is_refused():
    with pytest.raises(ValueError, match="not a severity"):
        Threshold("unknown")


def test_the_json_names_offending_and_suppressed_with_the_reason():
    fp = decision("CVE-2024-2961", "libc6", TriageState.FALSE_POSITIVE, **FP)
    scanned = report([CRITICAL, HIGH_KEV])
    data = evaluate(scanned, [fp], Threshold(), NOW).to_dict(scanned)
    assert data["verdict"] == "fail" and [o["id"] for o in data["offending"]] == ["CVE-2024-5535"]
    assert data["suppressed"][0]["reason"] == "not shipped" and data["suppressed"][0]["kev"] is True
    assert data["threshold"] == {"fail_on": "critical", "kev": False, "epss_min": None}
