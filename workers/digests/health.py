"""The digest's health line: how old the vulnerability DB is, and which watched images were not rescanned this
week and why, so a scheduler or a DB refresh that stopped is noticed in the channel instead of going quiet. Pure:
what the digest job observed, the fleet's DB and ``now`` in; a :class:`Health` out.

The DB's age is the newest ``DbInfo.updated_at`` among this week's reports (what the digest's numbers were
computed with), else the DB the worker has (``db/metadata.json``, or the fleet record of ``db update``). An image
was not rescanned when its scan failed (the error's sentence) or when the report served was made more than a week
before ``now`` (the cache keeps a report while the image digest and the DB are unchanged: a DB that stopped being
refreshed serves last week's reports).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum

from workers.digests.priorities import moment_of
from workers.report import ScanReport

WEEK = timedelta(days=7)
DB_STALE_AFTER = timedelta(days=1)  # Trivy's DB is published every 6 hours; a day old means nothing refreshes it
NO_REASON = "it could not be scanned"


class NotRescanned(str, Enum):
    SCAN_ERROR = "could not be scanned"
    OLDER_REPORT = "served from an older report"


@dataclass(frozen=True)
class Missed:
    """A watched image the digest did not rescan this week: why, and the detail (the scan error's sentence, or the
    day the older report was made)."""

    reference: str
    why: NotRescanned
    detail: str

    def to_dict(self) -> dict:
        return {"reference": self.reference, "why": self.why.value, "detail": self.detail}

    @classmethod
    def from_dict(cls, data: dict) -> Missed:
        return cls(data["reference"], NotRescanned(data["why"]), data.get("detail") or "")


@dataclass(frozen=True)
class Health:
    db_updated_at: str | None = None  # RFC 3339, as Trivy's metadata says it; None: nothing says it
    db_age_seconds: int | None = None  # at the moment the digest was composed (a retry posts the same line)
    db_stale: bool = False
    images: int = 0  # watched images
    missed: list[Missed] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "db_updated_at": self.db_updated_at,
            "db_age_seconds": self.db_age_seconds,
            "db_stale": self.db_stale,
            "images": self.images,
            "not_rescanned": [m.to_dict() for m in self.missed],
        }

    @classmethod
    def from_dict(cls, data: dict | None) -> Health:
        data = data or {}
        return cls(
            db_updated_at=data.get("db_updated_at"),
            db_age_seconds=data.get("db_age_seconds"),
            db_stale=bool(data.get("db_stale")),
            images=int(data.get("images") or 0),
            missed=[Missed.from_dict(m) for m in data.get("not_rescanned") or []],
        )


def health(
    scans: Iterable[tuple[str, ScanReport | None, str | None]],
    now: datetime,
    *,
    db_updated_at: str | None = None,
    stale_after: timedelta = DB_STALE_AFTER,
) -> Health:
    """``scans``: each watched image's (reference, this week's report or None, the scan error's sentence).
    ``db_updated_at``: the worker's DB, for when no report says which DB it was scanned with."""
    scans = list(scans)
    missed = [m for reference, report, error in scans if (m := _missed(reference, report, error, now))]
    reported = [moment for _, report, _ in scans if report and (moment := moment_of(report.db.updated_at))]
    updated = max(reported, default=None) or moment_of(db_updated_at)
    age = max(0, int((now - updated).total_seconds())) if updated else None
    return Health(
        db_updated_at=updated.isoformat() if updated else None,
        db_age_seconds=age,
        db_stale=age is not None and age > stale_after.total_seconds(),
        images=len(scans),
        missed=missed,
    )


def _missed(reference: str, report: ScanReport | None, error: str | None, now: datetime) -> Missed | None:
    if report is None:
        return Missed(reference, NotRescanned.SCAN_ERROR, error or NO_REASON)
    scanned = moment_of(report.scanned_at)
    if scanned is not None and now - scanned > WEEK:
        return Missed(reference, NotRescanned.OLDER_REPORT, scanned.date().isoformat())
    return None
