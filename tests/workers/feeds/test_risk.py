"""Joining the feeds to a report, ranking and filtering by them: pure, no Redis."""

from __future__ import annotations

from datetime import UTC, datetime

from workers.feeds.parse import EpssScore, FeedKind, KevEntry
from workers.feeds.risk import cve_of, feeds_note, finding_risk, join, known_exploited, matches
from workers.feeds.store import FeedStatus, Lookup
from workers.report import DbInfo, Finding, ImageInfo, ScanReport, tally

NOW = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)
EPSS = FeedStatus(FeedKind.EPSS, date="2026-12-04", version="v2025.03.14")
KEV = FeedStatus(FeedKind.KEV, date="2026-12-04", version="2026.12.04")


def finding(ident: str, severity: str = "high", *, fixed: str | None = "2", cvss: float | None = 7.0, aliases=()):
    return Finding(
        ident, "pkg", "1", fixed, "fixed" if fixed else "affected", severity, cvss, None, "", None, None,
        aliases=list(aliases),
    )  # fmt: skip


def report(*findings: Finding) -> ScanReport:
    counts, fixable = tally(findings)
    return ScanReport(
        ImageInfo("r:1", None, "debian 12", 1, None), DbInfo(2, None), counts, fixable, [], list(findings)
    )


def found(epss=None, kev=None, epss_status=EPSS, kev_status=KEV) -> Lookup:
    return Lookup(epss or {}, kev or {}, epss_status, kev_status)


def test_each_finding_gets_its_kev_entry_and_epss_score_with_the_feed_date():
    joined = join(
        report(finding("CVE-2024-2961"), finding("CVE-2024-0001")),
        found({"CVE-2024-2961": EpssScore(0.93, 0.998)}, {"CVE-2024-2961": KevEntry("2025-05-07", "2025-05-28", True)}),
        NOW,
    )
    first, second = joined.vulnerabilities
    assert first.kev == {"date_added": "2025-05-07", "due_date": "2025-05-28", "ransomware": True}
    assert first.epss == {"score": 0.93, "percentile": 0.998, "date": "2026-12-04"}
    assert (second.kev, second.epss) == (None, None)
    assert joined.feeds["kev"]["date"] == "2026-12-04" and joined.feeds["epss"]["stale"] is False


def test_joining_changes_no_count():
    original = report(finding("CVE-2024-2961", "critical"), finding("CVE-2024-0001", "low"))
    joined = join(original, found(kev={"CVE-2024-2961": KevEntry("2025-05-07", None, False)}), NOW)
    assert (joined.counts, joined.fixable, len(joined.vulnerabilities)) == (
        original.counts,
        original.fixable,
        len(original.vulnerabilities),
    )


def test_a_ghsa_with_a_cve_alias_gets_the_cves_scores():
    ghsa = finding("GHSA-xxxx-yyyy-zzzz", aliases=("GHSA-xxxx-yyyy-zzzz", "CVE-2024-3094"))
    assert cve_of(ghsa) == "CVE-2024-3094"
    joined = join(report(ghsa), found({"CVE-2024-3094": EpssScore(0.85, 0.99)}), NOW)
    assert joined.vulnerabilities[0].epss["score"] == 0.85


def test_an_id_with_no_cve_anywhere_is_looked_up_for_nothing():
    assert cve_of(finding("DSA-5673-1", aliases=("DLA-1",))) is None


def test_worst_first_is_kev_then_epss_percentile_then_severity_then_fixable_then_cvss():
    kev_low = finding("CVE-1", "low")
    kev_low.kev = {"date_added": "2024-01-01", "due_date": None, "ransomware": False}
    likely_medium = finding("CVE-2", "medium")
    likely_medium.epss = {"score": 0.5, "percentile": 0.97, "date": "2026-12-04"}
    critical_unfixed = finding("CVE-3", "critical", fixed=None, cvss=9.8)
    critical_fixed_low_cvss = finding("CVE-4", "critical", cvss=5.0)
    critical_fixed = finding("CVE-5", "critical", cvss=9.1)
    ordered = sorted(
        [critical_unfixed, critical_fixed_low_cvss, likely_medium, critical_fixed, kev_low], key=finding_risk
    )
    assert [f.id for f in ordered] == ["CVE-1", "CVE-2", "CVE-5", "CVE-4", "CVE-3"]


def test_the_filters_keep_known_exploited_and_epss_at_or_above_the_threshold():
    exploited, likely, unscored = finding("CVE-1"), finding("CVE-2"), finding("CVE-3")
    exploited.kev = {"date_added": "2024-01-01", "due_date": None, "ransomware": False}
    likely.epss = {"score": 0.5, "percentile": 0.97, "date": "2026-12-04"}
    assert [matches(f, kev_only=True) for f in (exploited, likely, unscored)] == [True, False, False]
    assert [matches(f, epss_min=0.5) for f in (exploited, likely, unscored)] == [False, True, False]
    assert [matches(f) for f in (exploited, likely, unscored)] == [True, True, True]


def test_known_exploited_counts_vulnerabilities_not_packages():
    one, same = finding("CVE-1"), finding("CVE-1")
    one.kev = same.kev = {"date_added": "2024-01-01", "due_date": None, "ransomware": False}
    assert known_exploited([one, same, finding("CVE-2")]) == 1


def test_with_no_feed_loaded_the_report_says_ranking_data_is_unavailable():
    joined = join(
        report(finding("CVE-1")), found(epss_status=FeedStatus(FeedKind.EPSS), kev_status=FeedStatus(FeedKind.KEV)), NOW
    )
    assert joined.feeds == {"epss": None, "kev": None}
    assert "unavailable" in feeds_note(joined)


def test_an_old_feed_says_how_old_it_is():
    old = FeedStatus(FeedKind.KEV, date="2026-11-28", error="https://x answered HTTP 503.")
    joined = join(report(finding("CVE-1")), found(kev_status=old), NOW)
    assert joined.feeds["kev"]["stale"] is True and joined.feeds["kev"]["age_days"] == 7
    assert feeds_note(joined) == "Ranking data: KEV is 7 days old."


def test_a_report_nobody_joined_says_nothing_about_ranking():
    assert feeds_note(report(finding("CVE-1"))) is None
