"""What a channel's digest says about each watched image this week, against what the last digest saw, and the
whole digest as data (kept in Redis between scanning and posting, so a retry posts what the first try saw).
Pure: reports, last week's snapshot and the team's decisions in; entries out. "New" and "fixed" are exact,
by finding identity (vulnerability, package); the first digest of an image sets its baseline, and its findings are
its current state, never "new this week". Every digest carries its health (workers/digests/health.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from enum import Enum

from workers.digests.health import DB_STALE_AFTER, NO_REASON, Health, health
from workers.digests.priorities import Attention, Priority, attention, open_findings, past_sla, top
from workers.digests.trends import FindingId, Sla, WeekCounts, Weeks, carry_first_seen, record_week
from workers.report import SEVERITIES, ScanReport
from workers.triage.apply import Applied
from workers.triage.model import Decision

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
    first_seen: dict[FindingId, str] = field(default_factory=dict)  # ISO date the channel first saw each finding

    def to_dict(self) -> dict:
        return {
            "digest": self.digest,
            "db": self.db,
            "findings": [list(f) for f in self.findings],
            "first_seen": {f"{i}|{p}": day for (i, p), day in self.first_seen.items()},
        }

    @classmethod
    def from_dict(cls, data: dict) -> Snapshot:
        seen = {tuple(k.split("|", 1)): v for k, v in (data.get("first_seen") or {}).items() if "|" in k}
        return cls(data.get("digest"), data.get("db"), tuple(tuple(f) for f in data.get("findings") or []), seen)

    @classmethod
    def of(cls, report: ScanReport) -> Snapshot:
        found = sorted({(f.id, f.package, f.severity) for f in report.vulnerabilities})
        return cls(report.image.digest, report.db.updated_at, tuple(found))

    def seen_since(self, previous: Snapshot | None, today: date) -> Snapshot:
        """This snapshot with each finding's first-seen date: carried from ``previous``, ``today`` if new."""
        current = [(i, p) for i, p, _ in self.findings]
        return replace(self, first_seen=carry_first_seen(previous.first_seen if previous else {}, current, today))


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

    @property
    def baseline(self) -> bool:
        """The image's first digest: its findings are the current state the next digest compares with."""
        return self.reason is ChangeReason.BASELINE

    @property
    def decided_counts(self) -> dict[str, int] | None:
        """Findings the team accepted or marked false positive, by severity (Trivy's minus open)."""
        if self.counts is None:
            return None
        opened = self.open_counts or self.counts
        return {s: self.counts.get(s, 0) - opened.get(s, 0) for s in self.counts}

    def to_dict(self) -> dict:
        return {
            "reference": self.reference,
            "counts": self.counts,
            "open_counts": self.open_counts,
            "decided_counts": self.decided_counts,
            "new": [{"id": i, "package": p, "severity": s} for i, p, s in self.new],
            "fixed": [{"id": i, "package": p, "severity": s} for i, p, s in self.fixed],
            "reason": self.reason.value,
            "error": self.error,
            "alternative": self.alternative,
            "alternative_counts": self.alternative_counts,
            "known_exploited": list(self.known_exploited),
        }

    @classmethod
    def from_dict(cls, data: dict) -> ImageEntry:
        def ids(items):
            return [(f["id"], f["package"], f["severity"]) for f in items or []]

        return cls(
            reference=data["reference"],
            counts=data.get("counts"),
            open_counts=data.get("open_counts"),
            new=ids(data.get("new")),
            fixed=ids(data.get("fixed")),
            reason=ChangeReason(data.get("reason") or ChangeReason.NONE.value),
            error=data.get("error"),
            alternative=data.get("alternative"),
            alternative_counts=data.get("alternative_counts"),
            known_exploited=tuple(data.get("known_exploited") or ()),
        )


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
        return ImageEntry(reference, error=error or NO_REASON)
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


@dataclass(frozen=True)
class Digest:
    """Everything one digest says: per image, the channel's priorities and past-SLA findings, triage needing
    attention, and each image's weekly counts for the chart. ``to_dict`` is the ``digest preview`` JSON."""

    period: str
    entries: list[ImageEntry]
    top: list[Priority] = field(default_factory=list)
    past_sla: list[Priority] = field(default_factory=list)
    attention: Attention = field(default_factory=Attention)
    weeks: dict[str, Weeks] = field(default_factory=dict)  # reference → period → counts
    sla: Sla = field(default_factory=Sla)
    health: Health = field(default_factory=Health)

    @property
    def changed(self) -> bool:
        return any(e.changed for e in self.entries)

    @property
    def baselines(self) -> int:
        """How many of the images had their first digest (their baseline set) in this one."""
        return sum(e.baseline for e in self.entries)

    def to_dict(self) -> dict:
        return {
            "period": self.period,
            "images": [e.to_dict() for e in self.entries],
            "top": [p.to_dict() for p in self.top],
            "past_sla": [p.to_dict() for p in self.past_sla],
            "needs_attention": self.attention.to_dict(),
            "weeks": {ref: {p: c.to_list() for p, c in weeks.items()} for ref, weeks in self.weeks.items()},
            "sla_days": {"critical": self.sla.critical, "high": self.sla.high},
            "health": self.health.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict) -> Digest:
        return cls(
            period=data["period"],
            entries=[ImageEntry.from_dict(e) for e in data.get("images") or []],
            top=[Priority.from_dict(p) for p in data.get("top") or []],
            past_sla=[Priority.from_dict(p) for p in data.get("past_sla") or []],
            attention=Attention.from_dict(data.get("needs_attention")),
            weeks={
                ref: {p: WeekCounts.from_list(c) for p, c in weeks.items()}
                for ref, weeks in (data.get("weeks") or {}).items()
            },
            sla=Sla(**(data.get("sla_days") or {})),
            health=Health.from_dict(data.get("health")),
        )


@dataclass(frozen=True)
class Observed:
    """What the digest job read about one watched image: this week's scan (or why there is none), the team's
    decisions applied to it, its Chainguard alternative, last week's snapshot and its weekly history."""

    reference: str
    report: ScanReport | None
    previous: Snapshot | None = None
    weeks: Weeks = field(default_factory=dict)
    applied: Applied | None = None
    alternative: ScanReport | None = None
    error: str | None = None


def compose(
    period: str,
    observed: list[Observed],
    decisions: list[Decision],
    now: datetime,
    sla: Sla,
    *,
    db_updated_at: str | None = None,
    db_stale_after: timedelta = DB_STALE_AFTER,
) -> tuple[Digest, dict[str, Snapshot]]:
    """The digest of ``period`` and the snapshots to keep for the next one. An image that could not be scanned
    keeps its old snapshot and history (no week is recorded for it). ``db_updated_at``: the worker's DB, for the
    health line when no report names its DB."""
    entries, snapshots, weeks, findings = [], {}, {}, []
    for seen in observed:
        opened = seen.applied.open_counts if seen.applied else None
        entries.append(
            entry(
                seen.reference,
                seen.report,
                seen.previous,
                open_counts=opened,
                error=seen.error,
                alternative=seen.alternative,
            )
        )
        if seen.report is None:
            if seen.weeks:
                weeks[seen.reference] = seen.weeks
            continue
        snapshot = Snapshot.of(seen.report).seen_since(seen.previous, now.date())
        snapshots[seen.reference] = snapshot
        weeks[seen.reference] = record_week(seen.weeks, period, WeekCounts.of(seen.report.counts, opened))
        if seen.applied is not None:
            first = seen.previous is None
            findings += open_findings(
                seen.reference, seen.report, seen.applied, snapshot.first_seen, now, sla, baseline=first
            )
    scans = [(seen.reference, seen.report, seen.error) for seen in observed]
    state = health(scans, now, db_updated_at=db_updated_at, stale_after=db_stale_after)
    digest = Digest(period, entries, top(findings), past_sla(findings), attention(decisions, now), weeks, sla, state)
    return digest, snapshots
