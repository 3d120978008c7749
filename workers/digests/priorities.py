"""What a channel's digest asks its people to look at: the open findings that matter most across the watched images
(critical first, then fixable, then oldest), those past the channel's SLA, and triage that needs attention
(acceptances ending within a week, decisions made this week). Findings are grouped by vulnerability and source
package exactly as the scan thread groups them (workers/groups.py). Pure: reports seen through triage, first-seen
dates, decisions and ``now`` in; lists out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta

from workers.digests.trends import FindingId, Sla, age_days
from workers.groups import group_findings, package_label
from workers.report import SEVERITIES, Finding, ScanReport
from workers.triage.apply import Applied, effective_state, finding_key
from workers.triage.model import SUPPRESSING, Decision, TriageState

SERIOUS = ("critical", "high")
TOP = 20  # findings in the digest's `top` list
ATTENTION_WINDOW = timedelta(days=7)


@dataclass(frozen=True)
class Priority:
    """One open critical or high finding group of one watched image (one vulnerability in one source package, as
    the scan thread shows it), with its age since the channel first saw it."""

    image: str
    id: str
    package: str  # the first binary package, Trivy's PkgName (the key its decision is filed under)
    severity: str
    installed: str
    fixed: str | None
    first_seen: str | None
    age_days: int
    past_sla: bool
    state: str  # open, acknowledged or assigned: what triage says (suppressed findings are never here)
    known_exploited: bool = False  # in CISA's KEV catalog (the feeds joined to the report)
    source: str | None = None  # the source package (glibc for libc6 and libc-bin)
    packages: tuple[str, ...] = ()  # every binary package of the group, in Trivy's order
    baseline: bool = False  # the image's first digest: part of the baseline it sets, not new this week

    @property
    def package_label(self) -> str:
        """``glibc (libc6, libc-bin)``, as the thread's row names it."""
        return package_label(self.source or self.package, self.packages or (self.package,))

    def to_dict(self) -> dict:
        return {**asdict(self), "packages": list(self.packages)}

    @classmethod
    def from_dict(cls, data: dict) -> Priority:
        values = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**{**values, "packages": tuple(values.get("packages") or ())})


def open_findings(
    image: str,
    report: ScanReport,
    applied: Applied,
    first_seen: dict[FindingId, str],
    now: datetime,
    sla: Sla,
    *,
    baseline: bool = False,
) -> list[Priority]:
    """The image's critical and high findings that triage leaves open, grouped as the scan thread groups them
    (workers/groups.py): one per vulnerability and source package, aged from its oldest member. ``baseline``: the
    image's first digest, whose findings are its current state rather than news."""
    found = []
    for group in group_findings(_open_serious(report, applied, now)):
        seen = min((s for f in group.findings if (s := first_seen.get(finding_key(f)))), default=None)
        age = age_days(seen, now)
        first = group.first
        found.append(
            Priority(
                image=image,
                id=group.id,
                package=first.package,
                severity=group.severity,
                installed=first.installed,
                fixed=group.fixed,
                first_seen=seen,
                age_days=age,
                past_sla=sla.past(group.severity, age),
                state=effective_state(applied.decided.get(finding_key(first)), first, now).value,
                known_exploited=bool(group.kev),
                source=group.source,
                packages=group.packages,
                baseline=baseline,
            )
        )
    return found


def _open_serious(report: ScanReport, applied: Applied, now: datetime) -> list[Finding]:
    """Each critical and high finding once (by vulnerability and package) that triage does not suppress."""
    kept: dict[FindingId, Finding] = {}
    for finding in report.vulnerabilities:
        key = finding_key(finding)
        if finding.severity not in SERIOUS or key in kept:
            continue
        if effective_state(applied.decided.get(key), finding, now) not in SUPPRESSING:
            kept[key] = finding
    return list(kept.values())


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
        taken = moment_of(decision.at)
        if taken is not None and now - ATTENTION_WINDOW <= taken <= now:
            decided.append(decision)
    expiring.sort(key=lambda d: (d.until or "", d.repository, d.vulnerability))
    decided.sort(key=lambda d: (d.at, d.repository, d.vulnerability), reverse=True)
    return Attention(expiring, decided)


def moment_of(stamp: str | None) -> datetime | None:
    """An ISO 8601 / RFC 3339 time (``Z`` or an offset; naive is UTC), or None when absent or unreadable."""
    try:
        moment = datetime.fromisoformat(stamp) if stamp else None
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment
