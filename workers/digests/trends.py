"""A channel's history of its watched images: when each finding was first seen, and the critical and high counts
of every weekly digest, kept for a year. Pure: histories, reports and ``now`` in; new histories and ages out.

First-seen dates are kept per channel and image by finding identity (vulnerability, package): a finding that
stays keeps its date, a fixed one is forgotten (if it comes back, it is new again), so the map never outgrows
the image's current findings. The weekly record holds one entry per period (``2026-W49``) and drops periods more
than a year (KEEP_WEEKS) older than the newest one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

KEEP_WEEKS = 52

FindingId = tuple[str, str]  # (vulnerability, package)


@dataclass(frozen=True)
class WeekCounts:
    """Critical and high findings of one image in one week's digest: Trivy's, and those left open by triage."""

    critical: int
    high: int
    open_critical: int
    open_high: int

    def to_list(self) -> list[int]:
        return [self.critical, self.high, self.open_critical, self.open_high]

    @classmethod
    def from_list(cls, values: list[int]) -> WeekCounts:
        return cls(*(int(v) for v in values[:4]))

    @classmethod
    def of(cls, counts: dict[str, int], open_counts: dict[str, int] | None = None) -> WeekCounts:
        opened = open_counts or counts
        return cls(counts.get("critical", 0), counts.get("high", 0), opened.get("critical", 0), opened.get("high", 0))


Weeks = dict[str, WeekCounts]  # period → counts, for one image


def period_start(period: str) -> date:
    """The Monday of an ISO-week period (``2026-W49`` → 2026-11-30)."""
    year, week = period.split("-W")
    return date.fromisocalendar(int(year), int(week), 1)


def period_of(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def record_week(weeks: Weeks, period: str, counts: WeekCounts, keep: int = KEEP_WEEKS) -> Weeks:
    """``weeks`` with ``period`` set to ``counts`` (a retry rewrites the same entry) and nothing older than
    ``keep`` weeks before the newest period."""
    updated = {**weeks, period: counts}
    newest = max(period_start(p) for p in updated)
    oldest = newest - timedelta(weeks=keep - 1)
    return {p: c for p, c in sorted(updated.items()) if period_start(p) >= oldest}


def periods(histories: Iterable[Weeks]) -> list[str]:
    """Every period any image has, oldest first."""
    return sorted({p for weeks in histories for p in weeks})


def carry_first_seen(previous: dict[FindingId, str], current: Iterable[FindingId], today: date) -> dict[FindingId, str]:
    """First-seen dates (ISO) of the ``current`` findings: kept from ``previous``, ``today`` for the rest."""
    stamp = today.isoformat()
    return {finding: previous.get(finding, stamp) for finding in sorted(set(current))}


def age_days(first_seen: str | None, now: datetime) -> int:
    """Whole days since a finding was first seen; 0 when unknown or in the future."""
    if not first_seen:
        return 0
    return max(0, (now.date() - date.fromisoformat(first_seen)).days)


@dataclass(frozen=True)
class Sla:
    """Days a channel gives itself to fix a finding, by severity (SLA_DAYS_CRITICAL, SLA_DAYS_HIGH)."""

    critical: int = 7
    high: int = 30

    def days(self, severity: str) -> int | None:
        return {"critical": self.critical, "high": self.high}.get(severity)

    def past(self, severity: str, age: int) -> bool:
        """True once a finding has been open longer than its severity allows."""
        limit = self.days(severity)
        return limit is not None and age > limit
