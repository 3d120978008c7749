"""Joining the risk feeds to a report, ranking and filtering by them. Pure: a report and a feed lookup in, a
report out.

Each finding gets ``kev`` (None or ``{date_added, due_date, ransomware}``) and ``epss`` (None or ``{score,
percentile, date}``), looked up by its CVE: its own id, or for an id that is not a CVE (a GHSA, a DSA) the
first CVE among Trivy's ``VendorIDs``. Counts are untouched: joining adds facts, never findings.

Worst first means: known exploited (KEV) first, then the EPSS percentile, then severity, then fixable, then CVSS.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

from workers.feeds.parse import CVE_ID, FeedKind
from workers.feeds.store import FeedStatus, Lookup
from workers.report import SEVERITIES, Finding, ScanReport

STALE_AFTER_DAYS = 2  # both feeds are published daily; older than this, the bot says how old
_SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}


def cve_of(finding: Finding) -> str | None:
    """The CVE whose scores apply: the finding's id, else its first CVE alias."""
    if CVE_ID.match(finding.id):
        return finding.id
    return next((alias for alias in finding.aliases if CVE_ID.match(alias)), None)


def cves_of(reports: list[ScanReport | None]) -> list[str]:
    return sorted({cve for r in reports if r for f in r.vulnerabilities if (cve := cve_of(f))})


def join(report: ScanReport, found: Lookup, now: datetime) -> ScanReport:
    """``report`` with each finding's ``kev`` and ``epss``, and the feeds' dates in ``feeds``."""
    epss_day = found.epss_status.date
    findings = []
    for finding in report.vulnerabilities:
        cve = cve_of(finding)
        kev = found.kev.get(cve) if cve else None
        epss = found.epss.get(cve) if cve else None
        findings.append(
            replace(finding, kev=kev.to_dict() if kev else None, epss=epss.to_dict(epss_day) if epss else None)
        )
    return replace(report, vulnerabilities=findings, feeds=feeds_summary(found, now))


def feeds_summary(found: Lookup, now: datetime) -> dict:
    """``{"epss": {...} | None, "kev": {...} | None}``: each loaded feed's date, version, age and last error."""
    return {
        FeedKind.EPSS.value: _summary(found.epss_status, now),
        FeedKind.KEV.value: _summary(found.kev_status, now),
    }


def _summary(status: FeedStatus, now: datetime) -> dict | None:
    if not status.loaded:
        return None
    age = (now.date() - date.fromisoformat(status.date)).days
    return {
        "date": status.date,
        "version": status.version,
        "loaded_at": status.loaded_at,
        "age_days": age,
        "stale": age > STALE_AFTER_DAYS,
        "error": status.error,
    }


def ranking_available(report: ScanReport) -> bool:
    """Whether any feed was joined in (False also when nobody looked)."""
    return bool(report.feeds and any(report.feeds.values()))


def feeds_note(report: ScanReport) -> str | None:
    """One sentence when ranking data is missing or old; None when all is well or nobody looked."""
    if report.feeds is None:
        return None
    if not any(report.feeds.values()):
        return "Ranking data (KEV, EPSS) is unavailable: run `python -m bot feeds update`."
    missing = [kind for kind, value in report.feeds.items() if value is None]
    stale = [
        f"{kind.upper()} is {value['age_days']} days old"
        for kind, value in report.feeds.items()
        if value and value["stale"]
    ]
    parts = stale + [f"no {kind.upper()} data" for kind in missing]
    return ("Ranking data: " + ", ".join(parts) + ".") if parts else None


def known_exploited(findings: list[Finding]) -> int:
    """How many distinct vulnerabilities (not findings) are in KEV."""
    return len({f.id for f in findings if f.kev})


def risk_key(kev: bool, percentile: float | None, severity: str, fixable: bool, cvss: float | None) -> tuple:
    """The sort key of worst first: KEV, EPSS percentile, severity, fixable, CVSS."""
    return (not kev, -(percentile or 0.0), _SEVERITY_RANK.get(severity, len(SEVERITIES)), not fixable, -(cvss or 0.0))


def finding_risk(finding: Finding) -> tuple:
    percentile = finding.epss["percentile"] if finding.epss else None
    return risk_key(bool(finding.kev), percentile, finding.severity, finding.fixable, finding.cvss_score) + (
        finding.id,
        finding.package,
    )


def matches(finding: Finding, *, kev_only: bool = False, epss_min: float | None = None) -> bool:
    """The ``--kev`` and ``--epss-min`` filters: in KEV, and an EPSS score at or above ``epss_min``."""
    if kev_only and not finding.kev:
        return False
    return epss_min is None or bool(finding.epss and finding.epss["score"] >= epss_min)
