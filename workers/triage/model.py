"""The triage model: a team's decision on one finding, its audit entries and how a change moves it. Pure, no I/O.

A decision is kept per (team, repository, vulnerability, package); ``digest`` narrows it to one image, and a
decision may instead be wider: every image an owning team owns (``owner_team``) or every image built on a base
(``base``); those are kept under the pseudo-repository :func:`scope_key` names (``team:payments``,
``base:docker.io/library/debian``). The narrowest decision that matches a finding wins.
Only ``accepted`` and ``false_positive`` hide a finding from the counts (:data:`SUPPRESSING`);
``acknowledged`` and ``assigned`` say someone is on it, and the finding stays open.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import UTC, date, datetime, time
from enum import Enum
from typing import Any

SCHEMA_VERSION = 1


class TriageState(str, Enum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    ASSIGNED = "assigned"
    ACCEPTED = "accepted"
    FALSE_POSITIVE = "false_positive"
    RESOLVED = "resolved"  # the finding was gone from two scans in a row; set by the bot, not by people


class Justification(str, Enum):
    """OpenVEX's justifications for ``not_affected``."""

    COMPONENT_NOT_PRESENT = "component_not_present"
    VULNERABLE_CODE_NOT_PRESENT = "vulnerable_code_not_present"
    VULNERABLE_CODE_NOT_IN_EXECUTE_PATH = "vulnerable_code_not_in_execute_path"
    VULNERABLE_CODE_CANNOT_BE_CONTROLLED_BY_ADVERSARY = "vulnerable_code_cannot_be_controlled_by_adversary"
    INLINE_MITIGATIONS_ALREADY_EXIST = "inline_mitigations_already_exist"


class Scope(str, Enum):
    REPOSITORY = "repository"  # every digest of the repository
    DIGEST = "digest"  # one image only
    TEAM = "team"  # every image the owning team owns (the routing file, workers.owners)
    BASE = "base"  # every image built on a base repository (its labels, Dockerfile or layers)


PRECEDENCE = {Scope.DIGEST: 3, Scope.REPOSITORY: 2, Scope.BASE: 1, Scope.TEAM: 0}  # the narrowest wins


def scope_key(scope: Scope, value: str) -> str:
    """Where a team- or base-wide decision is kept: ``team:payments``, ``base:docker.io/library/debian``."""
    return f"{scope.value}:{value}"


SUPPRESSING = frozenset({TriageState.ACCEPTED, TriageState.FALSE_POSITIVE})
SETTABLE = frozenset(TriageState) - {TriageState.RESOLVED}  # what a person may choose
ABSENT_SCANS_TO_RESOLVE = 2


class StaleDecision(Exception):
    """The decision changed since the user saw it; ``str(err)`` is a sentence for the user."""

    def __init__(self, current: Decision | None):
        self.current = current
        who = f" by <@{current.by}>" if current and current.by else ""
        super().__init__(f"Someone changed this finding{who} in the meantime; look again and retry.")


@dataclass(frozen=True)
class Decision:
    team: str
    repository: str  # ImageRef.name: "docker.io/library/mariadb"
    vulnerability: str  # "CVE-2024-1234"
    package: str  # Trivy's PkgName
    state: TriageState
    by: str  # Slack user id
    at: str  # ISO 8601 UTC
    reason: str | None = None
    until: str | None = None  # "YYYY-MM-DD", accepted only; the acceptance ends at 00:00 UTC that day
    until_fixed: bool = False  # accepted "until a fix exists"
    justification: Justification | None = None  # false_positive only
    assignee: str | None = None  # Slack user id, assigned only
    digest: str | None = None  # the one image this decision is about; None for the whole repository
    thread: str | None = None  # permalink of the Slack thread the decision was taken in
    version: int = 0  # 1 for the first change, +1 for each change after it
    owner_team: str | None = None  # a team-wide decision: every image this team owns (repository: scope_key)
    base: str | None = None  # a base-wide decision: every image built on this base repository

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.team, self.repository, self.vulnerability, self.package)

    @property
    def scope(self) -> Scope:
        if self.digest:
            return Scope.DIGEST
        if self.owner_team:
            return Scope.TEAM
        return Scope.BASE if self.base else Scope.REPOSITORY

    @property
    def scope_target(self) -> str:
        """What the decision covers, in words: a repository, an image, a team's images or a base's."""
        if self.scope is Scope.TEAM:
            return f"every image of team {self.owner_team}"
        if self.scope is Scope.BASE:
            return f"every image built on {self.base}"
        return self.repository if self.scope is Scope.REPOSITORY else f"{self.repository}@{self.digest}"

    @property
    def suppressing(self) -> bool:
        return self.state in SUPPRESSING

    def expires_at(self) -> datetime | None:
        """00:00 UTC on ``until``, as Trivy reads ``expired_at``; None when no date was set."""
        if self.state is not TriageState.ACCEPTED or not self.until:
            return None
        return datetime.combine(date.fromisoformat(self.until), time(0), tzinfo=UTC)

    def expired(self, now: datetime) -> bool:
        """True once ``now`` is past the expiry (Trivy keeps an ignore entry up to that instant)."""
        expiry = self.expires_at()
        return expiry is not None and now > expiry

    def content(self) -> tuple:
        """What a change says, without who, when or where: two changes with equal content are one change."""
        return (self.state, self.reason, self.until, self.until_fixed, self.justification, self.assignee, self.digest)

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["state"] = self.state.value
        data["justification"] = self.justification.value if self.justification else None
        return {**data, "schema": SCHEMA_VERSION}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Decision:
        known = {f.name for f in fields(cls)}
        values = {name: value for name, value in data.items() if name in known}
        values["state"] = TriageState(values["state"])
        values["justification"] = Justification(values["justification"]) if values.get("justification") else None
        return cls(**values)


@dataclass(frozen=True)
class AuditEntry:
    """One change, as the append-only audit trail keeps it."""

    by: str
    at: str
    old_state: TriageState
    new_state: TriageState
    version: int
    reason: str | None = None
    until: str | None = None
    until_fixed: bool = False
    justification: Justification | None = None
    assignee: str | None = None
    digest: str | None = None
    thread: str | None = None
    owner_team: str | None = None
    base: str | None = None

    @classmethod
    def of(cls, old: Decision | None, new: Decision) -> AuditEntry:
        return cls(
            by=new.by,
            at=new.at,
            old_state=old.state if old else TriageState.OPEN,
            new_state=new.state,
            version=new.version,
            reason=new.reason,
            until=new.until,
            until_fixed=new.until_fixed,
            justification=new.justification,
            assignee=new.assignee,
            digest=new.digest,
            thread=new.thread,
            owner_team=new.owner_team,
            base=new.base,
        )

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["old_state"], data["new_state"] = self.old_state.value, self.new_state.value
        data["justification"] = self.justification.value if self.justification else None
        return {**data, "schema": SCHEMA_VERSION}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AuditEntry:
        known = {f.name for f in fields(cls)}
        values = {name: value for name, value in data.items() if name in known}
        values["old_state"], values["new_state"] = TriageState(values["old_state"]), TriageState(values["new_state"])
        values["justification"] = Justification(values["justification"]) if values.get("justification") else None
        return cls(**values)


def next_decision(
    current: Decision | None, change: Decision, *, expected_version: int | None = None
) -> Decision | None:
    """The decision that ``change`` makes of ``current``, or None when it changes nothing.

    A repeat of the current content (a double click) is no change, whatever ``expected_version`` says.
    Reopening a finding nobody decided on is no change either. Otherwise, when ``expected_version`` is given
    and is not the current version (0 for none), :class:`StaleDecision` is raised: someone else got there first.
    """
    if current is not None and current.content() == change.content():
        return None
    if current is None and change.state is TriageState.OPEN:
        return None
    version = current.version if current else 0
    if expected_version is not None and expected_version != version:
        raise StaleDecision(current)
    return replace(change, version=version + 1)
