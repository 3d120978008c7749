"""Triage in Redis: the current decisions, the append-only audit trail, and short keys for Slack buttons.

Keys, each part percent-encoded so a ``:`` in a registry port cannot run into the next part:

- ``chainscan:triage:decisions:<team>:<repository>``: hash, ``[vulnerability, package]`` (JSON) → decision JSON
- ``chainscan:triage:audit:<team>:<repository>:<vulnerability>:<package>``: list of audit entries, only ever appended
- ``chainscan:triage:action:<key>``: what a button is about, for 400 days

Decisions and audit entries never expire: they are the team's memory. A change is written with
WATCH/MULTI, so two people changing one finding at once both land (versions 1 and 2, two audit entries),
and a repeat of the current decision (a double click) writes nothing. What a change does is decided
by the pure :func:`workers.triage.model.next_decision`.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

from redis import Redis, WatchError

from workers.triage.model import ABSENT_SCANS_TO_RESOLVE, AuditEntry, Decision, TriageState, next_decision

PREFIX = "chainscan:triage"
ACTION_KEY_VERSION = "t1"
ACTION_KEY_TTL = 400 * 24 * 3600
_ACTION_KEY = re.compile(rf"{ACTION_KEY_VERSION}:[0-9a-f]{{12}}(?:[0-9a-f]{{12}})?\Z")


@dataclass(frozen=True)
class SetResult:
    decision: Decision  # as stored now
    changed: bool  # False when the change repeated the current decision


@dataclass(frozen=True)
class ActionTarget:
    """What a Slack button is about; the button's value holds only the key that names it."""

    team: str
    repository: str
    vulnerability: str
    package: str
    digest: str | None = None
    channel: str | None = None
    ts: str | None = None  # the thread's parent message
    packages: tuple[str, ...] = ()  # every binary package of the row (libc6, libc-bin); empty: just ``package``
    repositories: tuple[str, ...] = ()  # more repositories the menu acts on (a grouped alert's "all images")

    @property
    def all_packages(self) -> tuple[str, ...]:
        return self.packages or (self.package,)

    @property
    def all_repositories(self) -> tuple[str, ...]:
        return (self.repository, *self.repositories)

    def to_dict(self) -> dict[str, Any]:
        return {
            "team": self.team,
            "repository": self.repository,
            "vulnerability": self.vulnerability,
            "package": self.package,
            "digest": self.digest,
            "channel": self.channel,
            "ts": self.ts,
            "packages": list(self.packages),
            **({"repositories": list(self.repositories)} if self.repositories else {}),
        }


class DecisionStore:
    def __init__(self, redis: Redis):
        self.redis = redis

    def get(self, team: str, repository: str) -> list[Decision]:
        """Every decision the team took on the repository."""
        raw = self.redis.hvals(_decisions_key(team, repository))
        return sorted((Decision.from_dict(json.loads(value)) for value in raw), key=lambda d: d.key)

    def get_one(self, team: str, repository: str, vulnerability: str, package: str) -> Decision | None:
        raw = self.redis.hget(_decisions_key(team, repository), _field(vulnerability, package))
        return Decision.from_dict(json.loads(raw)) if raw else None

    def set(self, change: Decision, expected_version: int | None = None) -> SetResult:
        """Store ``change`` atomically; :class:`~workers.triage.model.StaleDecision` if ``expected_version`` is old."""
        key, field = _decisions_key(change.team, change.repository), _field(change.vulnerability, change.package)
        audit = _audit_key(*change.key)
        with self.redis.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    raw = pipe.hget(key, field)
                    current = Decision.from_dict(json.loads(raw)) if raw else None
                    new = next_decision(current, change, expected_version=expected_version)
                    if new is None:
                        pipe.unwatch()
                        return SetResult(current or change, changed=False)
                    pipe.multi()
                    pipe.hset(key, field, json.dumps(new.to_dict()))
                    pipe.rpush(audit, json.dumps(AuditEntry.of(current, new).to_dict()))
                    pipe.execute()
                    return SetResult(new, changed=True)
                except WatchError:
                    continue

    def all(self) -> list[Decision]:
        """Every decision of every team (for the scheduled expiry job)."""
        found = []
        for key in self.redis.scan_iter(match=f"{PREFIX}:decisions:*", count=500):
            found += [Decision.from_dict(json.loads(value)) for value in self.redis.hvals(key)]
        return found

    def record_scan(self, gone: list[Decision], seen: list[Decision], scan: str, at: str) -> list[Decision]:
        """Count, per decision, the scans in a row (by distinct ``scan`` id) that no longer had its finding; a
        decision gone from ABSENT_SCANS_TO_RESOLVE scans becomes resolved (audited). Returns those resolved."""
        resolved = []
        for decision in seen:
            self.redis.delete(_absence_key(decision))
        for decision in gone:
            key = _absence_key(decision)
            with self.redis.pipeline() as pipe:
                pipe.sadd(key, scan)
                pipe.scard(key)
                pipe.expire(key, 400 * 24 * 3600)
                _, count, _ = pipe.execute()
            if count >= ABSENT_SCANS_TO_RESOLVE:
                change = replace(
                    decision,
                    state=TriageState.RESOLVED,
                    by="chainscan",
                    at=at,
                    version=0,
                    reason=f"gone from {count} scans in a row",
                    until=None,
                    until_fixed=False,
                    justification=None,
                    assignee=None,
                )
                if self.set(change).changed:
                    resolved.append(change)
                self.redis.delete(key)
        return resolved

    def history(self, team: str, repository: str, vulnerability: str, package: str) -> list[AuditEntry]:
        """Every change to the finding's decision, oldest first."""
        raw = self.redis.lrange(_audit_key(team, repository, vulnerability, package), 0, -1)
        return [AuditEntry.from_dict(json.loads(entry)) for entry in raw]

    def action_key(self, target: ActionTarget) -> str:
        """A short key (``t1:`` and 12 hex digits) naming ``target``; the same target always gets the same key."""
        value = json.dumps(target.to_dict(), sort_keys=True)
        digest = hashlib.sha256(value.encode()).hexdigest()
        for length in (12, 24):  # a collision (two targets, one 48-bit prefix) falls back to a longer key
            key = f"{ACTION_KEY_VERSION}:{digest[:length]}"
            if self._claim(f"{PREFIX}:action:{key}", value):
                return key
        raise RuntimeError("two action targets share a 96-bit key prefix")  # pragma: no cover

    def _claim(self, redis_key: str, value: str) -> bool:
        """Map ``redis_key`` to ``value`` for 400 days, unless it already names something else."""
        for _ in range(3):
            if self.redis.set(redis_key, value, ex=ACTION_KEY_TTL, nx=True):
                return True
            stored = self.redis.get(redis_key)
            if stored is not None:
                if stored.decode() != value:
                    return False
                self.redis.expire(redis_key, ACTION_KEY_TTL)
                return True
        return False  # pragma: no cover - expired between SET and GET three times

    def resolve_action_key(self, key: str) -> ActionTarget | None:
        """The target a button's key names; None for a key that is unknown, expired or not one of ours."""
        if not isinstance(key, str) or not _ACTION_KEY.match(key):
            return None
        raw = self.redis.get(f"{PREFIX}:action:{key}")
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            values = {name: data.get(name) for name in ActionTarget.__dataclass_fields__}
            values["packages"] = tuple(p for p in (values.get("packages") or ()) if isinstance(p, str))
            values["repositories"] = tuple(r for r in (values.get("repositories") or ()) if isinstance(r, str))
            target = ActionTarget(**values)
        except (ValueError, TypeError, AttributeError):
            return None
        required = (target.team, target.repository, target.vulnerability, target.package)
        return target if all(isinstance(part, str) and part for part in required) else None


def _part(text: str) -> str:
    return quote(text, safe="/@.-_+")


def _decisions_key(team: str, repository: str) -> str:
    return f"{PREFIX}:decisions:{_part(team)}:{_part(repository)}"


def _audit_key(team: str, repository: str, vulnerability: str, package: str) -> str:
    return f"{PREFIX}:audit:{_part(team)}:{_part(repository)}:{_part(vulnerability)}:{_part(package)}"


def _absence_key(decision: Decision) -> str:
    return f"{PREFIX}:absent:{_part(decision.team)}:{_part(decision.repository)}:{_part(decision.vulnerability)}:" + (
        _part(decision.package)
    )


def _field(vulnerability: str, package: str) -> str:
    return json.dumps([vulnerability, package])
