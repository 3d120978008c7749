"""Taking a triage decision: check the change, then store it. The one path the CLI, the Slack listeners
and the expiry job share; its only I/O is the :class:`~workers.triage.store.DecisionStore` it is given."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from workers.config import Settings
from workers.reference import ImageRef
from workers.telemetry import metrics
from workers.triage.model import Decision, Justification, Scope, TriageState, scope_key
from workers.triage.store import DecisionStore, SetResult
from workers.triage.validate import TriageInputError, is_until_fixed, validate_change


@dataclass(frozen=True)
class Change:
    """What someone asks for, as typed (the CLI's flags, a modal's fields)."""

    state: TriageState | str
    by: str
    reason: str | None = None
    until: str | None = None  # YYYY-MM-DD or "until a fix exists"
    justification: str | None = None
    assignee: str | None = None
    digest: str | None = None  # only this image; None for the whole repository
    thread: str | None = None
    owner_team: str | None = None  # every image of this owning team instead of one repository
    base: str | None = None  # every image built on this base repository instead of one repository


def decide(
    store: DecisionStore,
    settings: Settings,
    *,
    team: str,
    image: ImageRef,
    vulnerability: str,
    package: str,
    change: Change,
    now: datetime,
    severity: str = "unknown",
    expected_version: int | None = None,
) -> SetResult:
    """Validate ``change`` (raises :class:`~workers.triage.validate.TriageInputError`) and store it."""
    until_fixed = is_until_fixed(change.until)
    validate_change(
        change.state,
        severity=severity,
        reason=change.reason,
        until=change.until,
        justification=change.justification,
        assignee=change.assignee,
        today=now.date(),
        until_fixed=until_fixed,
        max_accept_days=settings.triage_max_accept_days,
        max_accept_days_critical=settings.triage_max_accept_days_critical,
    )
    state = TriageState(change.state)
    if change.owner_team and change.base:
        raise TriageInputError("scope", "A decision covers one team's images or one base's, not both.")
    if (change.owner_team or change.base) and change.digest:
        raise TriageInputError("scope", "A team- or base-wide decision cannot also be about one digest.")
    decision = Decision(
        team=team,
        repository=_kept_under(image, change),
        vulnerability=vulnerability,
        package=package,
        state=state,
        by=change.by,
        at=now.isoformat(timespec="seconds"),
        reason=(change.reason or "").strip() or None,
        until=None if until_fixed or state is not TriageState.ACCEPTED else (change.until or "").strip() or None,
        until_fixed=until_fixed and state is TriageState.ACCEPTED,
        justification=Justification(change.justification) if state is TriageState.FALSE_POSITIVE else None,
        assignee=((change.assignee or "").strip() or None) if state is TriageState.ASSIGNED else None,
        digest=change.digest,
        thread=change.thread,
        owner_team=change.owner_team,
        base=change.base,
    )
    result = store.set(decision, expected_version=expected_version)
    if result.changed:  # a double click is one decision
        metrics.triage_decided(state.value)
    return result


def _kept_under(image: ImageRef, change: Change) -> str:
    if change.owner_team:
        return scope_key(Scope.TEAM, change.owner_team)
    return scope_key(Scope.BASE, change.base) if change.base else image.name


def decisions_for(store: DecisionStore, settings: Settings, team: str, report) -> list[Decision]:
    """Every decision that may match the report's image: its repository's, its owning team's (the routing file
    and its labels) and its base's."""
    from workers.owners.lookup import owning_team
    from workers.triage.apply import base_repository, repository_of

    repository = repository_of(report.image.reference)
    if not repository:
        return []
    owner = owning_team(settings, store.redis, repository, report.image.labels)
    base = base_repository(report)
    keys = [repository, owner and scope_key(Scope.TEAM, owner), base and scope_key(Scope.BASE, base)]
    return [d for key in keys if key for d in store.get(team, key)]


def note_scan(store: DecisionStore, team: str, report, now: datetime) -> list[Decision]:
    """After a scan of a repository: decisions whose finding is gone from two distinct scans in a row (new
    digest or new DB) become resolved, in the audit trail, instead of being kept forever. Returns those."""
    from workers.triage.apply import absent, repository_of

    repository = repository_of(report.image.reference)
    if not repository:
        return []
    gone, seen = absent(report, store.get(team, repository))
    scan = f"{report.image.digest}|{report.image.platform}|{report.db.version}@{report.db.updated_at}"
    return store.record_scan(gone, seen, scan, now.isoformat(timespec="seconds"))
