"""What a channel's digest says about each watched image this week, against what the last digest saw.
Pure: reports, last week's snapshot and the team's decisions in; entries out. "New" and "fixed" are exact,
by finding identity (vulnerability, package); the first digest of an image sets its baseline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from workers.report import SEVERITIES, ScanReport

Identity = tuple[str, str, str]  # (vulnerability, package, severity)


class ChangeReason(str, Enum):
    NEW_DIGEST = "new image digest"
    NEW_DISCLOSURE = "new disclosure in the DB"
    BASELINE = "first digest: baseline set"
    NONE = "no change"


@dataclass(frozen=True)
class Snapshot:
    """What a digest saw of one image, kept for the next one to compare with."""

    digest: str | None
    db: str | None
    findings: tuple[Identity, ...]

    def to_dict(self) -> dict:
        return {"digest": self.digest, "db": self.db, "findings": [list(f) for f in self.findings]}

    @classmethod
    def from_dict(cls, data: dict) -> Snapshot:
        return cls(data.get("digest"), data.get("db"), tuple(tuple(f) for f in data.get("findings") or []))

    @classmethod
    def of(cls, report: ScanReport) -> Snapshot:
        found = sorted({(f.id, f.package, f.severity) for f in report.vulnerabilities})
        return cls(report.image.digest, report.db.updated_at, tuple(found))


@dataclass(frozen=True)
class ImageEntry:
    reference: str
    counts: dict[str, int] | None = None  # Trivy's
    open_counts: dict[str, int] | None = None  # without the team's suppressed decisions
    new: list[Identity] = field(default_factory=list)
    fixed: list[Identity] = field(default_factory=list)
    reason: ChangeReason = ChangeReason.NONE
    error: str | None = None  # why the image could not be scanned this week
    alternative: str | None = None
    alternative_counts: dict[str, int] | None = None
    known_exploited: tuple[str, ...] = ()  # its vulnerabilities in CISA's KEV catalog (the feeds joined)

    @property
    def changed(self) -> bool:
        return bool(self.new or self.fixed or self.error)

    def to_dict(self) -> dict:
        return {
            "reference": self.reference,
            "counts": self.counts,
            "open_counts": self.open_counts,
            "new": [{"id": i, "package": p, "severity": s} for i, p, s in self.new],
            "fixed": [{"id": i, "package": p, "severity": s} for i, p, s in self.fixed],
            "reason": self.reason.value,
            "error": self.error,
            "alternative": self.alternative,
            "alternative_counts": self.alternative_counts,
            "known_exploited": list(self.known_exploited),
        }


def entry(
    reference: str,
    report: ScanReport | None,
    previous: Snapshot | None,
    *,
    open_counts: dict[str, int] | None = None,
    error: str | None = None,
    alternative: ScanReport | None = None,
) -> ImageEntry:
    """``report`` with the feeds joined puts its known exploited vulnerabilities first among the new."""
    if report is None:
        return ImageEntry(reference, error=error or "it could not be scanned")
    now = Snapshot.of(report)
    alt = (
        {"alternative": alternative.image.reference, "alternative_counts": dict(alternative.counts)}
        if alternative
        else {}
    )
    exploited = tuple(sorted({f.id for f in report.vulnerabilities if f.kev}))
    base = {
        "counts": dict(report.counts),
        "open_counts": dict(open_counts or report.counts),
        "known_exploited": exploited,
        **alt,
    }
    if previous is None:
        return ImageEntry(reference, reason=ChangeReason.BASELINE, **base)
    new = sorted(set(now.findings) - set(previous.findings), key=lambda i: (i[0] not in exploited, *_worst(i)))
    fixed = sorted(set(previous.findings) - set(now.findings), key=_worst)
    if not new and not fixed:
        reason = ChangeReason.NONE
    elif now.digest != previous.digest:
        reason = ChangeReason.NEW_DIGEST
    else:
        reason = ChangeReason.NEW_DISCLOSURE
    return ImageEntry(reference, new=new, fixed=fixed, reason=reason, **base)


def _worst(identity: Identity) -> tuple:
    return (SEVERITIES.index(identity[2]) if identity[2] in SEVERITIES else 9, identity[0], identity[1])
