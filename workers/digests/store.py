"""Watch lists, digest schedules, last week's snapshots and the exactly-once record of each digest, in Redis.

Keys (team and channel percent-encoded):
- ``chainscan:watch:{team}:{channel}``            set of normalized image references
- ``chainscan:digest:schedule``                   hash ``team|channel`` → schedule text ("off": none)
- ``chainscan:digest:snapshot:{team}:{channel}``  hash reference → Snapshot JSON (what the last digest saw, with
  the date each finding was first seen)
- ``chainscan:digest:weeks:{team}:{channel}``     hash reference → {period: [critical, high, open critical, open
  high]}, a year at most (workers/digests/trends.py)
- ``chainscan:digest:sent:{team}:{channel}:{period}``  hash state (claimed → scanned → posted), ts, and while
  scanned but not yet posted the digest's contents (so a retry posts what the first try saw)
- ``chainscan:digest:sent:{team}:{channel}:{period}:parts``  set of the thread parts posted (chart, file)
- ``chainscan:digest:lease:{team}:{channel}:{period}`` the job sending it now (expires, so a killed one is redone)
"""

from __future__ import annotations

import json
from enum import Enum
from urllib.parse import quote, unquote

from redis import Redis

from workers.digests.contents import Digest, Snapshot
from workers.digests.schedule import DEFAULT, Schedule, parse_schedule
from workers.digests.trends import WeekCounts, Weeks
from workers.triage.apply import repository_of

PREFIX = "chainscan:"
SCHEDULES = f"{PREFIX}digest:schedule"
LEASE_TTL = 15 * 60
KEEP = 400 * 24 * 3600


class DigestState(str, Enum):
    CLAIMED = "claimed"
    SCANNED = "scanned"  # contents computed and history saved, in one transaction
    POSTED = "posted"


class DigestPart(str, Enum):
    """What a digest posts in its thread, each once per period."""

    CHART = "chart"  # the trend chart (PNG)
    FILE = "file"  # the whole digest as Markdown, when the message was cut

    def filename(self, period: str) -> str:
        return f"chainscan-trend-{period}.png" if self is DigestPart.CHART else f"chainscan-digest-{period}.md"


class WatchLimitReached(ValueError):
    """The channel watches as many images as it may; the message says how many."""


def _p(text: str) -> str:
    return quote(text, safe="")


class DigestStore:
    def __init__(self, redis: Redis):
        self.redis = redis

    # ------------------------------------------------------------------ watch lists

    def watch(
        self, team: str, channel: str, references: list[str], limit: int, workspace_limit: int | None = None
    ) -> list[str]:
        """Add ``references``; the ones added (not already watched). :class:`WatchLimitReached` past ``limit`` in
        the channel or past ``workspace_limit`` in all the team's channels together."""
        key = f"{PREFIX}watch:{_p(team)}:{_p(channel)}"
        current = self.watched(team, channel)
        fresh = [r for r in dict.fromkeys(references) if r not in current]
        if len(current) + len(fresh) > limit:
            raise WatchLimitReached(
                f"This channel watches {len(current)} images and may watch at most {limit} (WATCH_LIMIT): "
                "unwatch some first."
            )
        if (
            fresh
            and workspace_limit is not None
            and (everywhere := self.watched_in_team(team)) + len(fresh) > (workspace_limit)
        ):
            raise WatchLimitReached(
                f"This workspace watches {everywhere} images and may watch at most {workspace_limit} "
                "(WATCH_WORKSPACE_LIMIT): unwatch some here or in another channel first."
            )
        if fresh:
            self.redis.sadd(key, *fresh)
            self.redis.hsetnx(SCHEDULES, f"{team}|{channel}", DEFAULT)  # Monday 09:00 UTC once something is watched
        return fresh

    def unwatch(self, team: str, channel: str, reference: str) -> bool:
        """Stop watching ``reference``; its snapshot and weekly history in this channel go with it."""
        with self.redis.pipeline() as pipe:
            pipe.srem(f"{PREFIX}watch:{_p(team)}:{_p(channel)}", reference)
            pipe.hdel(self._snapshots_key(team, channel), reference)
            pipe.hdel(self._weeks_key(team, channel), reference)
            pipe.delete(f"{PREFIX}alert:seen:{team}:{channel}:{reference}")  # a re-watch sets a new alert baseline
            removed, *_ = pipe.execute()
        return bool(removed)

    def watched_in_team(self, team: str) -> int:
        """How many images all of ``team``'s channels watch together (one count per channel and image)."""
        keys = list(self.redis.scan_iter(match=f"{PREFIX}watch:{_p(team)}:*", count=500))
        if not keys:
            return 0
        with self.redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.scard(key)
            return sum(pipe.execute())

    def watching_channels(self) -> list[tuple[str, str]]:
        """Every (team, channel) that watches something."""
        found = []
        for key in self.redis.scan_iter(match=f"{PREFIX}watch:*", count=500):
            _, _, team, channel = (key.decode() if isinstance(key, bytes) else key).split(":", 3)
            found.append((unquote(team), unquote(channel)))
        return sorted(found)

    def watchers(self, repository: str) -> list[tuple[str, str]]:
        """The (team, channel) pairs watching any tag or digest of ``repository`` (``ImageRef.name``)."""
        return [
            (team, channel)
            for team, channel in self.watching_channels()
            if any(repository_of(r) == repository for r in self.watched(team, channel))
        ]

    def watched(self, team: str, channel: str) -> list[str]:
        members = self.redis.smembers(f"{PREFIX}watch:{_p(team)}:{_p(channel)}")
        return sorted(m.decode() if isinstance(m, bytes) else m for m in members)

    def watching(self, name: str) -> list[tuple[str, str]]:
        """The (team, channel) pairs that watch any tag of the repository ``name`` (``registry/repository``).
        Every channel that ever watched has a schedule field (``off`` included), so those are the ones read."""
        from workers.reference import InvalidReference, parse_reference

        found = []
        for raw in self.redis.hkeys(SCHEDULES):
            team, _, channel = (raw.decode() if isinstance(raw, bytes) else raw).partition("|")
            for reference in self.watched(team, channel):
                try:
                    if parse_reference(reference).name == name:
                        found.append((team, channel))
                        break
                except InvalidReference:
                    continue
        return sorted(found)

    # ------------------------------------------------------------------ schedules

    def set_schedule(self, team: str, channel: str, schedule: Schedule | None) -> None:
        self.redis.hset(SCHEDULES, f"{team}|{channel}", str(schedule) if schedule else "off")

    def schedule(self, team: str, channel: str) -> Schedule | None:
        raw = self.redis.hget(SCHEDULES, f"{team}|{channel}")
        text = raw.decode() if isinstance(raw, bytes) else raw
        return parse_schedule(text) if text and text != "off" else None

    def schedules(self) -> list[tuple[str, str, Schedule]]:
        found = []
        for field, raw in self.redis.hgetall(SCHEDULES).items():
            text = raw.decode() if isinstance(raw, bytes) else raw
            team, _, channel = (field.decode() if isinstance(field, bytes) else field).partition("|")
            if text and text != "off":
                found.append((team, channel, parse_schedule(text)))
        return sorted(found, key=lambda item: (item[0], item[1]))

    # ------------------------------------------------------------------ snapshots

    @staticmethod
    def _snapshots_key(team: str, channel: str) -> str:
        return f"{PREFIX}digest:snapshot:{_p(team)}:{_p(channel)}"

    @staticmethod
    def _weeks_key(team: str, channel: str) -> str:
        return f"{PREFIX}digest:weeks:{_p(team)}:{_p(channel)}"

    def snapshot(self, team: str, channel: str, reference: str) -> Snapshot | None:
        return self.snapshots(team, channel, [reference])[reference]

    def snapshots(self, team: str, channel: str, references: list[str]) -> dict[str, Snapshot | None]:
        """What the last digest saw of each image, in one round trip (None: not in it)."""
        raws = self.redis.hmget(self._snapshots_key(team, channel), references) if references else []
        return {
            ref: Snapshot.from_dict(json.loads(raw)) if raw else None for ref, raw in zip(references, raws, strict=True)
        }

    def save_snapshots(self, team: str, channel: str, snapshots: dict[str, Snapshot]) -> None:
        if snapshots:
            key = self._snapshots_key(team, channel)
            self.redis.hset(key, mapping={ref: json.dumps(s.to_dict()) for ref, s in snapshots.items()})
            self.redis.expire(key, KEEP)

    def weeks(self, team: str, channel: str, reference: str) -> Weeks:
        """The image's weekly counts in this channel, period → counts (empty before its first digest)."""
        return self.all_weeks(team, channel, [reference])[reference]

    def all_weeks(self, team: str, channel: str, references: list[str]) -> dict[str, Weeks]:
        """:meth:`weeks` of each image, in one round trip."""
        raws = self.redis.hmget(self._weeks_key(team, channel), references) if references else []
        return {
            ref: {p: WeekCounts.from_list(c) for p, c in json.loads(raw).items()} if raw else {}
            for ref, raw in zip(references, raws, strict=True)
        }

    # ------------------------------------------------------------------ one digest, from scanned to posted

    def contents(self, team: str, channel: str, period: str) -> Digest | None:
        """The digest an earlier try of this period computed and did not finish posting."""
        raw = self.redis.hget(self._sent_key(team, channel, period), "contents")
        return Digest.from_dict(json.loads(raw)) if raw else None

    def save_scanned(
        self, team: str, channel: str, period: str, digest: Digest, snapshots: dict[str, Snapshot]
    ) -> None:
        """In one transaction: the digest's contents, the snapshots next week compares with and this week's counts
        in each image's history. A retry reads the contents back instead of comparing with what it just saved."""
        sent = self._sent_key(team, channel, period)
        weeks = {ref: json.dumps({p: c.to_list() for p, c in w.items()}) for ref, w in digest.weeks.items()}
        with self.redis.pipeline() as pipe:  # MULTI/EXEC
            pipe.hset(sent, mapping={"state": DigestState.SCANNED.value, "contents": json.dumps(digest.to_dict())})
            pipe.expire(sent, KEEP)
            if snapshots:
                pipe.hset(
                    self._snapshots_key(team, channel),
                    mapping={r: json.dumps(s.to_dict()) for r, s in snapshots.items()},
                )
                pipe.expire(self._snapshots_key(team, channel), KEEP)
            if weeks:
                pipe.hset(self._weeks_key(team, channel), mapping=weeks)
                pipe.expire(self._weeks_key(team, channel), KEEP)
            pipe.execute()

    def part_posted(self, team: str, channel: str, period: str, part: DigestPart) -> bool:
        return bool(self.redis.sismember(f"{self._sent_key(team, channel, period)}:parts", part.value))

    def mark_part(self, team: str, channel: str, period: str, part: DigestPart) -> None:
        key = f"{self._sent_key(team, channel, period)}:parts"
        with self.redis.pipeline() as pipe:
            pipe.sadd(key, part.value)
            pipe.expire(key, KEEP)
            pipe.execute()

    # ------------------------------------------------------------------ exactly once per period

    def _sent_key(self, team: str, channel: str, period: str) -> str:
        return f"{PREFIX}digest:sent:{_p(team)}:{_p(channel)}:{period}"

    def lease(self, team: str, channel: str, period: str, holder: str) -> bool:
        """Take the period for ``holder`` unless it was posted or another live job holds it."""
        if self.posted(team, channel, period):
            return False
        key = f"{PREFIX}digest:lease:{_p(team)}:{_p(channel)}:{period}"
        if self.redis.set(key, holder, nx=True, ex=LEASE_TTL):
            self.redis.hsetnx(self._sent_key(team, channel, period), "state", DigestState.CLAIMED.value)
            return True
        current = self.redis.get(key)
        return (current.decode() if isinstance(current, bytes) else current) == holder  # a retry of the same job

    def posted(self, team: str, channel: str, period: str) -> str | None:
        """The ts of the period's digest message, once posted."""
        record = self.redis.hgetall(self._sent_key(team, channel, period))
        state = (record.get(b"state") or record.get("state") or b"").decode() if record else ""
        ts = record.get(b"ts") or record.get("ts") if record else None
        if state == DigestState.POSTED.value and ts:
            return ts.decode() if isinstance(ts, bytes) else ts
        return None

    def message_ts(self, team: str, channel: str, period: str) -> str | None:
        """The message posted for the period, even before it was marked posted (so a retry updates it)."""
        ts = self.redis.hget(self._sent_key(team, channel, period), "ts")
        return ts.decode() if isinstance(ts, bytes) else ts

    def record_message(self, team: str, channel: str, period: str, ts: str) -> None:
        key = self._sent_key(team, channel, period)
        self.redis.hset(key, mapping={"ts": ts})
        self.redis.expire(key, KEEP)

    def mark_posted(self, team: str, channel: str, period: str) -> None:
        """The period is done: its contents are not needed any more (the history keeps what the chart needs)."""
        key = self._sent_key(team, channel, period)
        with self.redis.pipeline() as pipe:
            pipe.hset(key, "state", DigestState.POSTED.value)
            pipe.hdel(key, "contents")
            pipe.execute()
