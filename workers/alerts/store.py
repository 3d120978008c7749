"""What each channel was told: the alert baseline per watched image, the day's grouped messages and summary.
I/O: Redis only.

- ``seen``: per (team, channel, image) the findings the channel was told of, or that were there when it started
  watching (the baseline). A finding not in it is new.
- a group record per (team, channel, day, vulnerability): ``pending`` (claimed, the post may not have landed),
  ``posted`` (with its ts and images) or ``summarised``. A claim is the message's slot of the day, so the
  daily limit holds even when a worker is killed between claiming and posting.
- the summary record per (team, channel, day): its ts and the vulnerabilities in it.
- the channel's pass lease (:class:`PassLease`): one pass on a channel at a time; a retry of the same job takes
  over the lease its killed try left.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from urllib.parse import quote

from redis import Redis
from redis.lock import Lock

PREFIX = "chainscan:alert:"
SEEN = f"{PREFIX}seen:"  # + team:channel:reference (a set of "id|package"; "" marks a baseline with nothing)
SEEN_TTL = 400 * 86400
DAY_TTL = 3 * 86400
LEASE_TTL = 60  # seconds; a cold scan that takes longer loses the lease and the retry goes on


class GroupState(str, Enum):
    PENDING = "pending"
    POSTED = "posted"
    SUMMARISED = "summarised"


@dataclass
class GroupRecord:
    state: GroupState
    ts: str | None = None
    references: list[str] = field(default_factory=list)


def _p(text: str) -> str:
    return quote(text, safe="")


def finding_id(vulnerability: str, package: str) -> str:
    return f"{vulnerability}|{package}"


class AlertStore:
    def __init__(self, redis: Redis):
        self.redis = redis

    # ---------------------------------------------------------------- baseline
    def _seen_key(self, team: str, channel: str, reference: str) -> str:
        return f"{SEEN}{team}:{channel}:{reference}"

    def has_baseline(self, team: str, channel: str, reference: str) -> bool:
        return bool(self.redis.exists(self._seen_key(team, channel, reference)))

    def seen(self, team: str, channel: str, reference: str) -> set[str]:
        return {
            m.decode() if isinstance(m, bytes) else m
            for m in self.redis.smembers(self._seen_key(team, channel, reference))
        }

    def mark_seen(self, team: str, channel: str, reference: str, ids: Iterable[str]) -> None:
        key = self._seen_key(team, channel, reference)
        with self.redis.pipeline() as pipe:
            pipe.sadd(key, "", *ids)
            pipe.expire(key, SEEN_TTL)
            pipe.execute()

    def forget(self, team: str, channel: str, reference: str) -> None:
        """Unwatched: the next watch starts a new baseline."""
        self.redis.delete(self._seen_key(team, channel, reference))

    # ---------------------------------------------------------------- the day's groups
    def _group_key(self, team: str, channel: str, day: str, vulnerability: str) -> str:
        return f"{PREFIX}group:{_p(team)}:{_p(channel)}:{day}:{_p(vulnerability)}"

    def _slots_key(self, team: str, channel: str, day: str) -> str:
        return f"{PREFIX}slots:{_p(team)}:{_p(channel)}:{day}"

    def group(self, team: str, channel: str, day: str, vulnerability: str) -> GroupRecord | None:
        raw = self.redis.hgetall(self._group_key(team, channel, day, vulnerability))
        if not raw:
            return None
        data = {
            k.decode() if isinstance(k, bytes) else k: v.decode() if isinstance(v, bytes) else v for k, v in raw.items()
        }
        return GroupRecord(
            GroupState(data["state"]), data.get("ts") or None, json.loads(data.get("references") or "[]")
        )

    def save_group(self, team: str, channel: str, day: str, vulnerability: str, record: GroupRecord) -> None:
        key = self._group_key(team, channel, day, vulnerability)
        values = {"state": record.state.value, "ts": record.ts or "", "references": json.dumps(record.references)}
        with self.redis.pipeline() as pipe:
            pipe.hset(key, mapping=values)
            pipe.expire(key, DAY_TTL)
            pipe.execute()

    def slots_used(self, team: str, channel: str, day: str) -> int:
        return int(self.redis.scard(self._slots_key(team, channel, day)))

    def claim_slot(self, team: str, channel: str, day: str, vulnerability: str, limit: int) -> bool:
        """One of the day's ``limit`` message slots for ``vulnerability`` (already held: True), atomically."""
        return bool(self._claim(keys=[self._slots_key(team, channel, day)], args=[vulnerability, limit, DAY_TTL]))

    def give_back(self, team: str, channel: str, day: str, vulnerability: str) -> None:
        """A post Slack refused: the slot and the claim go back, the next pass tries again."""
        with self.redis.pipeline() as pipe:
            pipe.srem(self._slots_key(team, channel, day), vulnerability)
            pipe.delete(self._group_key(team, channel, day, vulnerability))
            pipe.execute()

    @property
    def _claim(self):
        return self.redis.register_script(_CLAIM)

    # ---------------------------------------------------------------- the day's summary
    def _summary_key(self, team: str, channel: str, day: str) -> str:
        return f"{PREFIX}summary:{_p(team)}:{_p(channel)}:{day}"

    def summary(self, team: str, channel: str, day: str) -> tuple[str | None, list[str]]:
        raw = self.redis.hgetall(self._summary_key(team, channel, day))
        data = {
            k.decode() if isinstance(k, bytes) else k: v.decode() if isinstance(v, bytes) else v for k, v in raw.items()
        }
        return data.get("ts") or None, json.loads(data.get("vulnerabilities") or "[]")

    def save_summary(self, team: str, channel: str, day: str, ts: str | None, vulnerabilities: list[str]) -> None:
        key = self._summary_key(team, channel, day)
        with self.redis.pipeline() as pipe:
            pipe.hset(key, mapping={"ts": ts or "", "vulnerabilities": json.dumps(vulnerabilities)})
            pipe.expire(key, DAY_TTL)
            pipe.execute()

    def claim_once(self, name: str) -> bool:
        """A one-off claim (a summary file for one set of findings), kept for the day's TTL."""
        return bool(self.redis.set(f"{PREFIX}once:{name}", "1", nx=True, ex=DAY_TTL))

    def lease(self, team: str, channel: str, holder: str | None = None, timeout: int = LEASE_TTL) -> PassLease:
        """The channel's pass lease: two alert passes never work on one channel at once. Renewed at each step
        (``reacquire``), it outlives a killed worker by at most ``timeout`` seconds, except to a retry of the
        same job (``holder``, the job's id), which takes it over at once."""
        return PassLease(self.redis, f"{PREFIX}lease:{_p(team)}:{_p(channel)}", holder, timeout)


class PassLease(Lock):
    """redis-py's Lock whose token starts with the job's id: a retry of that job takes over the lease its dead try
    left (RQ retries a job only once its try failed or its heartbeat stopped), and that try, were it only stalled,
    loses it at its next ``reacquire``. Without a holder it is a plain lock."""

    def __init__(self, redis: Redis, name: str, holder: str | None, timeout: int):
        super().__init__(redis, name, timeout=timeout, blocking_timeout=0)
        self.holder = holder

    def acquire(self, **kwargs) -> bool:
        prefix = f"{self.holder}:" if self.holder else ""
        return super().acquire(token=f"{prefix}{uuid.uuid4().hex}", **kwargs)

    def do_acquire(self, token: bytes) -> bool:
        if not self.holder:
            return super().do_acquire(token)
        return bool(self._take(keys=[self.name], args=[token, f"{self.holder}:", int(self.timeout * 1000)]))

    @property
    def _take(self):
        return self.redis.register_script(_TAKE)


_CLAIM = """
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 1 end
if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return 1
"""

_TAKE = """
local held = redis.call('GET', KEYS[1])
if held and string.sub(held, 1, string.len(ARGV[2])) ~= ARGV[2] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', tonumber(ARGV[3]))
return 1
"""
