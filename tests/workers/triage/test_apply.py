from datetime import UTC, datetime

from workers.report import SEVERITIES
from workers.triage.apply import apply
from workers.triage.model import Justification, TriageState

from .builders import DIGEST, OTHER_DIGEST, decision, finding, report

NOW = datetime(2025, 3, 10, 12, tzinfo=UTC)
FP = {"justification": Justification.VULNERABLE_CODE_NOT_IN_EXECUTE_PATH, "reason": "not reachable"}

FINDINGS = [
    finding("CVE-2024-5535", "openssl", "critical", fixed="3.0.14"),
    finding("CVE-2024-5535", "libssl3", "critical", fixed="3.0.14"),
    finding("CVE-2023-45853", "zlib1g", "critical"),
    finding("CVE-2024-2961", "libc6", "high", fixed="2.36-9+deb12u7"),
    finding("CVE-2024-2961", "libc-bin", "high", fixed="2.36-9+deb12u7"),
    finding("CVE-2023-31486", "perl", "high"),
    finding("CVE-2011-3374", "apt", "low"),
]


def assert_counts_add_up(applied, scanned):
    hidden = applied.suppressed_counts
    assert set(applied.open_counts) == set(scanned.counts)
    for severity in SEVERITIES:
        assert applied.open_counts[severity] + hidden[severity] == scanned.counts[severity]
        assert sum(applied.by_state[severity].values()) == scanned.counts[severity]


def test_without_decisions_everything_is_open():
    scanned = report(FINDINGS)
    applied = apply(scanned, [], NOW)
    assert applied.open_counts == scanned.counts and applied.suppressed == [] and applied.decided == {}
    assert_counts_add_up(applied, scanned)


def test_a_false_positive_hides_only_its_package_and_counts_stay_per_finding():
    scanned = report(FINDINGS)
    counts_before = dict(scanned.counts)
    applied = apply(scanned, [decision("CVE-2024-5535", "openssl", TriageState.FALSE_POSITIVE, **FP)], NOW)
    assert [(f.id, f.package) for f, _ in applied.suppressed] == [("CVE-2024-5535", "openssl")]
    assert applied.open_counts["critical"] == 2 and applied.open_fixable["critical"] == 1
    assert applied.by_state["critical"][TriageState.FALSE_POSITIVE] == 1
    assert scanned.counts == counts_before
    assert_counts_add_up(applied, scanned)


def test_acknowledged_and_assigned_are_shown_but_stay_open():
    scanned = report(FINDINGS)
    decisions = [
        decision("CVE-2023-31486", "perl", TriageState.ACKNOWLEDGED),
        decision("CVE-2011-3374", "apt", TriageState.ASSIGNED, assignee="U2"),
    ]
    applied = apply(scanned, decisions, NOW)
    assert applied.open_counts == scanned.counts and applied.suppressed == []
    assert set(applied.decided) == {("CVE-2023-31486", "perl"), ("CVE-2011-3374", "apt")}
    assert applied.by_state["high"][TriageState.ACKNOWLEDGED] == 1
    assert applied.by_state["low"][TriageState.ASSIGNED] == 1


def test_an_acceptance_hides_until_its_date_then_it_is_expired_and_open():
    scanned = report(FINDINGS)
    accepted = decision("CVE-2024-2961", "libc6", TriageState.ACCEPTED, reason="iconv unused", until="2025-03-11")
    before = apply(scanned, [accepted], NOW)
    after = apply(scanned, [accepted], datetime(2025, 3, 11, 0, 1, tzinfo=UTC))
    assert before.open_counts["high"] == 2 and before.expired == []
    assert after.open_counts["high"] == 3 and after.expired == [accepted] and after.suppressed == []
    assert after.decided[("CVE-2024-2961", "libc6")] == accepted
    assert after.by_state["high"][TriageState.OPEN] == 3
    assert_counts_add_up(after, scanned)


def test_an_until_fixed_acceptance_ends_when_a_fix_exists():
    scanned = report(FINDINGS)
    no_fix = decision("CVE-2023-45853", "zlib1g", TriageState.ACCEPTED, reason="r", until_fixed=True)
    has_fix = decision("CVE-2024-2961", "libc6", TriageState.ACCEPTED, reason="r", until_fixed=True)
    applied = apply(scanned, [no_fix, has_fix], NOW)
    assert [(f.id, f.package) for f, _ in applied.suppressed] == [("CVE-2023-45853", "zlib1g")]
    assert applied.expired == [has_fix]


def test_a_digest_scoped_decision_matches_only_that_image():
    fp = decision("CVE-2024-5535", "openssl", TriageState.FALSE_POSITIVE, digest=OTHER_DIGEST, **FP)
    assert apply(report(FINDINGS, digest=DIGEST), [fp], NOW).suppressed == []
    assert len(apply(report(FINDINGS, digest=OTHER_DIGEST), [fp], NOW).suppressed) == 1


def test_a_decision_on_one_repository_never_applies_to_another_of_the_same_name():
    fp = decision("CVE-2024-5535", "openssl", TriageState.FALSE_POSITIVE, **FP)
    chainguard = report(FINDINGS, reference="cgr.dev/chainguard/mariadb:latest")
    applied = apply(chainguard, [fp], NOW)
    assert applied.suppressed == [] and applied.decided == {}


def test_a_reference_given_short_is_read_as_its_repository():
    fp = decision("CVE-2024-5535", "openssl", TriageState.FALSE_POSITIVE, **FP)
    assert len(apply(report(FINDINGS, reference="mariadb:11.4"), [fp], NOW).suppressed) == 1


def test_a_reopened_finding_is_decided_but_open():
    scanned = report(FINDINGS)
    applied = apply(scanned, [decision("CVE-2011-3374", "apt", TriageState.OPEN, version=2)], NOW)
    assert applied.open_counts == scanned.counts and ("CVE-2011-3374", "apt") in applied.decided


def test_everything_suppressed_leaves_zero_open_and_the_card_counts_by_state():
    scanned = report(FINDINGS)
    decisions = [decision(f.id, f.package, TriageState.ACCEPTED, reason="r", until="2025-04-01") for f in FINDINGS[:3]]
    decisions += [decision(f.id, f.package, TriageState.FALSE_POSITIVE, **FP) for f in FINDINGS[3:]]
    applied = apply(scanned, decisions, NOW)
    assert sum(applied.open_counts.values()) == 0 and sum(applied.open_fixable.values()) == 0
    assert applied.by_state["critical"][TriageState.ACCEPTED] == 3
    assert_counts_add_up(applied, scanned)
