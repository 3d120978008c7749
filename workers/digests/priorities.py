"""What a channel's digest asks its people to look at: the open findings that matter most across the watched images
(critical first, then fixable, then oldest), those past the channel's SLA, and triage that needs attention
(acceptances ending within a week, decisions made this week). Pure: reports seen through triage, first-seen
dates, decisions and ``now`` in; lists out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta

from workers.digests.trends import FindingId, Sla, age_days
from workers.report import SEVERITIES, ScanReport
from workers.triage.apply import Applied, effective_state, finding_key
from workers.triage.model import SUPPRESSING, Decision, TriageState

SERIOUS = ("critical", "high")
TOP = 20  # findings in the digest's `top` list
ATTENTION_WINDOW = timedelta(days=7)


@dataclass(frozen=True)
class Priority:
    """One open critical or high finding of one watched image, with its age since the channel first saw it."""

    image: str
    id: str
    package: str
    severity: str
    installed: str
    fixed: str | None
    first_seen: str | None
    age_days: int
    past_sla: bool
    state: str  # open, acknowledged or assigned: what triage says (suppressed findings are never here)
    known_exploited: bool = False  # in CISA's KEV catalog (the feeds joined to the report)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Priority:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


def open_findings(
    image: str, report: ScanReport, applied: Applied, first_seen: dict[FindingId, str], now: datetime, sla: Sla
) -> list[Priority]:
    """The image's critical and high findings that triage leaves open, each once."""
    found: dict[FindingId, Priority] = {}
    for finding in report.vulnerabilities:
        key = finding_key(finding)
        if finding.severity not in SERIOUS or key in found:
            continue
        state = effective_state(applied.decided.get(key), finding, now)
        if state in SUPPRESSING:
            continue
        seen = first_seen.get(key)
        age = age_days(seen, now)
        found[key] = Priority(
            image=image,
            id=finding.id,
            package=finding.package,
            severity=finding.severity,
            installed=finding.installed,
            fixed=finding.fixed,
            first_seen=seen,
            age_days=age,
            past_sla=sla.past(finding.severity, age),
            state=state.value,
            known_exploited=bool(finding.kev),
        )
    return list(found.values())


def rank(findings: Iterable[Priority]) -> list[Priority]:
    """Known exploited first, then critical, then fixable, then oldest; ties by image and id so the order is
    stable."""
    return sorted(
        findings,
        key=lambda p: (
            not p.known_exploited,
            SEVERITIES.index(p.severity),
            p.fixed is None,
            -p.age_days,
            p.image,
            p.id,
            p.package,
        ),
    )


def top(findings: Iterable[Priority], limit: int = TOP) -> list[Priority]:
    return rank(findings)[:limit]


def past_sla(findings: Iterable[Priority]) -> list[Priority]:
    return [p for p in rank(findings) if p.past_sla]


@dataclass(frozen=True)
class Attention:
    """Triage that needs someone this week."""

    expiring: list[Decision] = field(default_factory=list)  # acceptances ending within ATTENTION_WINDOW
    decided: list[Decision] = field(default_factory=list)  # decisions taken in the past ATTENTION_WINDOW

    def __bool__(self) -> bool:
        return bool(self.expiring or self.decided)

    def to_dict(self) -> dict:
        return {
            "expiring": [_decision_dict(d) for d in self.expiring],
            "decided": [_decision_dict(d) for d in self.decided],
        }

    @classmethod
    def from_dict(cls, data: dict | None) -> Attention:
        data = data or {}
        return cls(
            [Decision.from_dict(d) for d in data.get("expiring") or []],
            [Decision.from_dict(d) for d in data.get("decided") or []],
        )


def _decision_dict(decision: Decision) -> dict:
    data = decision.to_dict()
    data.pop("schema", None)
    return data


def attention(decisions: Iterable[Decision], now: datetime) -> Attention:
    """Acceptances that end in the next seven days (soonest first) and the decisions of the past seven days
    (newest first), among ``decisions`` (those of the channel's watched repositories)."""
    expiring, decided = [], []
    for decision in decisions:
        ends = decision.expires_at()
        if decision.state is TriageState.ACCEPTED and ends is not None and now < ends <= now + ATTENTION_WINDOW:
            expiring.append(decision)
        taken = _when(decision.at)
        if taken is not None and now - ATTENTION_WINDOW <= taken <= now:
            decided.append(decision)
    expiring.sort(key=lambda d: (d.until or "", d.repository, d.vulnerability))
    decided.sort(key=lambda d: (d.at, d.repository, d.vulnerability), reverse=True)
    return Attention(expiring, decided)


def _when(stamp: str | None) -> datetime | None:
    try:
        moment = datetime.fromisoformat(stamp) if stamp else None
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment
