"""The findings that matter most, those past the SLA, and triage that needs attention. Pure, with an injected now."""

from datetime import UTC, datetime

from tests.workers.triage.builders import decision, finding, report
from workers.digests.priorities import attention, open_findings, past_sla, top
from workers.digests.trends import Sla
from workers.triage.apply import apply
from workers.triage.model import TriageState

NOW = datetime(2026, 11, 30, 9, tzinfo=UTC)


def _findings(findings, decisions=(), first_seen=None, image="docker.io/library/mariadb:latest"):
    scanned = report(findings)
    return open_findings(image, scanned, apply(scanned, decisions, NOW), first_seen or {}, NOW, Sla(7, 30))


def test_critical_first_then_fixable_then_oldest():
    found = _findings(
        [
            finding("CVE-H-OLD", "a", "high", fixed="2"),
            finding("CVE-C-NOFIX-OLD", "b", "critical"),
            finding("CVE-C-FIX-NEW", "c", "critical", fixed="2"),
            finding("CVE-C-FIX-OLD", "d", "critical", fixed="2"),
            finding("CVE-MEDIUM", "e", "medium", fixed="2"),
        ],
        first_seen={
            ("CVE-H-OLD", "a"): "2025-01-01",
            ("CVE-C-NOFIX-OLD", "b"): "2025-01-01",
            ("CVE-C-FIX-NEW", "c"): "2026-11-30",
            ("CVE-C-FIX-OLD", "d"): "2026-10-01",
        },
    )
    assert [p.id for p in top(found)] == ["CVE-C-FIX-OLD", "CVE-C-FIX-NEW", "CVE-C-NOFIX-OLD", "CVE-H-OLD"]
    assert top(found)[0].age_days == 60


def test_suppressed_findings_are_not_priorities_and_acknowledged_ones_say_so():
    found = _findings(
        [finding("CVE-1", "a", "critical"), finding("CVE-2", "b", "critical"), finding("CVE-3", "c", "high")],
        decisions=[
            decision("CVE-1", "a", TriageState.FALSE_POSITIVE, justification=None),
            decision("CVE-2", "b", TriageState.ACKNOWLEDGED),
        ],
    )
    assert {(p.id, p.state) for p in found} == {("CVE-2", "acknowledged"), ("CVE-3", "open")}


def test_an_ended_acceptance_makes_its_finding_a_priority_again():
    ended = decision("CVE-1", "a", TriageState.ACCEPTED, until="2026-11-01", reason="r")
    assert [p.id for p in _findings([finding("CVE-1", "a", "critical")], [ended])] == ["CVE-1"]


def test_past_the_sla_by_severity():
    found = _findings(
        [finding("CVE-C", "a", "critical"), finding("CVE-H", "b", "high"), finding("CVE-H2", "c", "high")],
        first_seen={("CVE-C", "a"): "2026-11-20", ("CVE-H", "b"): "2026-11-20", ("CVE-H2", "c"): "2026-10-01"},
    )
    assert [(p.id, p.age_days) for p in past_sla(found)] == [("CVE-C", 10), ("CVE-H2", 60)]


def test_expiring_acceptances_and_this_weeks_decisions_need_attention():
    soon = decision("CVE-1", "a", TriageState.ACCEPTED, until="2026-12-05", reason="r", at="2026-10-01T09:00:00+00:00")
    later = decision("CVE-2", "b", TriageState.ACCEPTED, until="2026-12-31", reason="r", at="2026-10-01T09:00:00+00:00")
    ended = decision("CVE-3", "c", TriageState.ACCEPTED, until="2026-11-29", reason="r", at="2026-10-01T09:00:00+00:00")
    fresh = decision("CVE-4", "d", TriageState.FALSE_POSITIVE, at="2026-11-27T15:00:00+00:00")
    fresher = decision("CVE-5", "e", TriageState.ACKNOWLEDGED, at="2026-11-29T15:00:00Z")
    old = decision("CVE-6", "f", TriageState.ACKNOWLEDGED, at="2026-11-20T15:00:00+00:00")
    found = attention([soon, later, ended, fresh, fresher, old], NOW)
    assert [d.vulnerability for d in found.expiring] == ["CVE-1"]
    assert [d.vulnerability for d in found.decided] == ["CVE-5", "CVE-4"]
    assert not attention([later, old], NOW)


def test_a_known_exploited_finding_comes_first_among_what_matters_most():
    from workers.digests.priorities import Priority, rank

    def p(id_, severity, kev=False):
        return Priority("img", id_, "pkg", severity, "1", "2", "2026-11-01", 3, False, "open", known_exploited=kev)

    ranked = rank([p("CVE-C", "critical"), p("CVE-H", "high", kev=True), p("CVE-C2", "critical")])
    assert [x.id for x in ranked] == ["CVE-H", "CVE-C", "CVE-C2"]
    assert Priority.from_dict(ranked[0].to_dict()) == ranked[0]


def _glibc(vuln: str, package: str, severity: str = "critical"):
    found = finding(vuln, package, severity, fixed="2.36-9+deb12u7")
    found.source = "glibc"
    return found


def test_binary_packages_of_one_source_are_one_priority_as_in_the_thread():
    from workers.groups import group_findings

    findings = [_glibc("CVE-2024-2961", "libc-bin"), _glibc("CVE-2024-2961", "libc6"), finding("CVE-2", "curl")]
    scanned = report(findings)
    found = _findings(findings)
    assert [(p.id, p.package_label) for p in top(found)] == [
        (g.id, g.package_label) for g in group_findings([f for f in findings if f.severity == "critical"])
    ] + [("CVE-2", "curl")]
    assert top(found)[0].package_label == "glibc (libc-bin, libc6)" and len(found) == 2
    assert scanned.counts["critical"] == 2  # the grouping changes lines, not Trivy's counts


def test_a_grouped_priority_is_as_old_as_its_oldest_package_and_round_trips():
    from workers.digests.priorities import Priority

    findings = [_glibc("CVE-2024-2961", "libc-bin"), _glibc("CVE-2024-2961", "libc6")]
    (grouped,) = _findings(findings, first_seen={("CVE-2024-2961", "libc6"): "2026-11-02"})
    assert (grouped.first_seen, grouped.age_days, grouped.past_sla) == ("2026-11-02", 28, True)
    assert Priority.from_dict(grouped.to_dict()) == grouped and grouped.to_dict()["packages"] == ["libc-bin", "libc6"]


def test_a_package_the_team_decided_on_leaves_the_group_and_the_rest_stays_open():
    fp = decision("CVE-2024-2961", "libc-bin", TriageState.FALSE_POSITIVE, justification=None)
    (left,) = _findings([_glibc("CVE-2024-2961", "libc-bin"), _glibc("CVE-2024-2961", "libc6")], [fp])
    assert left.packages == ("libc6",) and left.package_label == "glibc (libc6)" and left.state == "open"


def test_an_image_s_first_digest_marks_its_priorities_as_the_baseline():
    scanned = report([finding("CVE-1", "a", "critical")])
    (first,) = open_findings("img", scanned, apply(scanned, [], NOW), {}, NOW, Sla(7, 30), baseline=True)
    assert first.baseline and first.age_days == 0
    assert not _findings([finding("CVE-1", "a", "critical")])[0].baseline
