"""The CI gate's decision: does anything open, after the team's triage, reach the threshold? Pure, no I/O.

A finding offends when it is open (no decision hides it at ``now``: :func:`workers.triage.apply.apply`), its
severity is at or above ``fail_on``, and, when asked, it is in KEV and its EPSS score is at least ``epss_min``.
The filters combine with AND. ``unknown`` severity ranks below ``low``, so it never fails a gate.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from workers.feeds.risk import matches
from workers.report import SEVERITIES, Finding, ScanReport
from workers.triage.apply import Applied, apply
from workers.triage.model import Decision

FAIL_ON = ("critical", "high", "medium", "low")  # the --fail-on choices, worst first
_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}


class Verdict(str, Enum):
    PASS = "pass"
    FAIL = "fail"

    @property
    def exit_code(self) -> int:
        return 0 if self is Verdict.PASS else 1


@dataclass(frozen=True)
class Threshold:
    fail_on: str = "critical"
    kev_only: bool = False
    epss_min: float | None = None

    def __post_init__(self) -> None:
        if self.fail_on not in FAIL_ON:
            raise ValueError(f"{self.fail_on!r} is not a severity; use one of {', '.join(FAIL_ON)}.")

    def to_dict(self) -> dict:
        return {"fail_on": self.fail_on, "kev": self.kev_only, "epss_min": self.epss_min}


@dataclass(frozen=True)
class GateResult:
    verdict: Verdict
    threshold: Threshold
    offending: list[Finding]  # open findings that reach the threshold, in the report's order
    applied: Applied  # the team's triage, for the suppressed findings and their reasons

    def to_dict(self, report: ScanReport) -> dict:
        """The gate's JSON: ``verdict``, ``image``, ``digest``, ``threshold``, ``offending``, ``suppressed``."""
        return {
            "verdict": self.verdict.value,
            "image": report.image.reference,
            "digest": report.image.digest,
            "threshold": self.threshold.to_dict(),
            "offending": [_entry(f) for f in self.offending],
            "suppressed": [
                {**_entry(f), "state": d.state.value, "reason": d.reason, "by": d.by}
                for f, d in self.applied.suppressed
            ],
        }


def reaches(finding: Finding, threshold: Threshold) -> bool:
    """Whether one finding, open or not, is at or above the threshold."""
    if _RANK.get(finding.severity, len(SEVERITIES)) > _RANK[threshold.fail_on]:
        return False
    return matches(finding, kev_only=threshold.kev_only, epss_min=threshold.epss_min)


def evaluate(report: ScanReport, decisions: Iterable[Decision], threshold: Threshold, now: datetime) -> GateResult:
    """The verdict on ``report`` with the team's ``decisions`` applied at ``now``."""
    applied = apply(report, decisions, now)
    hidden = {id(f) for f, _ in applied.suppressed}
    offending = [f for f in report.vulnerabilities if id(f) not in hidden and reaches(f, threshold)]
    return GateResult(Verdict.FAIL if offending else Verdict.PASS, threshold, offending, applied)


def _entry(finding: Finding) -> dict:
    return {
        "id": finding.id,
        "package": finding.package,
        "installed": finding.installed,
        "fixed": finding.fixed,
        "severity": finding.severity,
        "kev": bool(finding.kev),
        "epss": finding.epss["score"] if finding.epss else None,
    }
