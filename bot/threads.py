"""The state of each scan thread in Slack, kept in Redis.

A thread is one ``/scan`` request: the parent message's channel and ts, who asked,
where to send private notes (response_url), the request options, the scan jobs,
and which parts have been posted — so a retried publish never posts twice.
Open threads are also in a sorted set, so the scheduler can close any that a
lost job left at "scanning…". The response_url is kept apart, in a key of its own that expires
RESPONSE_URL_TTL after the request (Slack honours it for 30 minutes): the thread forgets it then.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, fields
from enum import Enum

from redis import Redis

PREFIX = "chainscan:thread:"
OPEN_SET = "chainscan:threads:open"
TTL = 30 * 24 * 3600
RESPONSE_URL_TTL = 30 * 60  # Slack accepts a response_url for 30 minutes after the command


class Phase(str, Enum):
    """Where a thread is: its parent says "scanning…" until it is done or has failed."""

    SCANNING = "scanning"
    DONE = "done"
    FAILED = "failed"


class Role(str, Enum):
    """Which scan of a thread a job is (the values are those stored by earlier versions)."""

    IMAGE = "original"  # the image the user named
    CHAINGUARD = "alternative"  # its Chainguard alternative
    TARGET = "target"  # /scan diff A B: the image B moved to


class ThreadKind(str, Enum):
    IMAGE = "image"  # /scan IMAGE or Rescan
    BUILD = "build"  # /scan build or the Dockerfile shortcut
    DIFF = "diff"  # /scan diff A B


@dataclass
class ThreadState:
    channel: str
    ts: str
    user: str
    image: str
    response_url: str | None = None
    team: str | None = None
    severity: str = "unknown"
    only_fixed: bool = False
    force: bool = False
    with_alternative: bool = True  # compare with the Chainguard alternative
    triage: bool = False  # /scan triage: every critical and high row, paged
    kev_only: bool = False  # --kev: only findings in CISA's KEV catalog
    epss_min: float | None = None  # --epss-min: only findings whose EPSS score is at least this
    target: str | None = None  # /scan diff A B: the image B (``image`` is A)
    mapping: dict | None = None  # the ChainguardMapping decided when the request came in (to_dict)
    jobs: dict[str, str | None] = field(default_factory=dict)  # Role value → job id
    findings_link: str | None = None  # permalink of the findings message, for the card's Show findings
    created_at: float = field(default_factory=time.time)
    state: Phase = Phase.SCANNING
    kind: ThreadKind = ThreadKind.IMAGE

    def __post_init__(self) -> None:
        self.state, self.kind = Phase(self.state), ThreadKind(self.kind)

    @classmethod
    def from_request(cls, request: dict, **values) -> ThreadState:
        """A new thread from a queued request, tolerating one queued by the previous release."""
        data = {**request, **values}
        if "alternative_wanted" in data:  # renamed in this release
            data.setdefault("with_alternative", data.pop("alternative_wanted"))
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @property
    def filtered(self) -> str:
        """The risk filters asked for, in words (``known exploited ``), for "No … findings"."""
        return ("known exploited " if self.kev_only else "") + (
            f"EPSS ≥ {self.epss_min:g} " if self.epss_min is not None else ""
        )

    @property
    def key(self) -> str:
        return f"{PREFIX}{self.channel}:{self.ts}"


class ThreadStore:
    def __init__(self, redis: Redis):
        self.redis = redis

    def save(self, thread: ThreadState) -> None:
        url_for = RESPONSE_URL_TTL - (time.time() - thread.created_at)
        with self.redis.pipeline() as pipe:
            pipe.set(thread.key, json.dumps({**asdict(thread), "response_url": None}), ex=TTL)
            if thread.response_url and url_for >= 1:
                pipe.set(f"{thread.key}:response_url", thread.response_url, ex=int(url_for))
            if thread.state is Phase.SCANNING:
                pipe.zadd(OPEN_SET, {thread.key: thread.created_at})
            else:
                pipe.zrem(OPEN_SET, thread.key)
            pipe.execute()

    def load(self, key: str) -> ThreadState | None:
        raw, url = self.redis.mget(key, f"{key}:response_url")
        if not raw:
            return None
        known = {f.name for f in fields(ThreadState)}  # tolerate entries written by another version
        thread = ThreadState(**{k: v for k, v in json.loads(raw).items() if k in known})
        url = (url.decode() if isinstance(url, bytes) else url) or thread.response_url  # or an older entry's
        thread.response_url = url if time.time() - thread.created_at < RESPONSE_URL_TTL else None
        return thread

    def find(self, channel: str, ts: str) -> ThreadState | None:
        return self.load(f"{PREFIX}{channel}:{ts}")

    def posted(self, thread: ThreadState, part: str) -> bool:
        return bool(self.redis.sismember(f"{thread.key}:posted", part))

    def mark_posted(self, thread: ThreadState, part: str) -> None:
        with self.redis.pipeline() as pipe:
            pipe.sadd(f"{thread.key}:posted", part)
            pipe.expire(f"{thread.key}:posted", TTL)
            pipe.execute()

    def stale(self, older_than: float) -> list[str]:
        """Keys of threads still "scanning" after ``older_than`` seconds."""
        return [
            k.decode() if isinstance(k, bytes) else k
            for k in self.redis.zrangebyscore(OPEN_SET, 0, time.time() - older_than)
        ]

    # ------------------------------------------------------------------ the last thread of an image in a channel

    def remember_latest(self, thread: ThreadState, reference: str) -> None:
        """``thread`` is now the latest answer about ``reference`` in its channel (an alert links to it)."""
        self.redis.set(_latest_key(thread.channel, reference), thread.ts, ex=LATEST_TTL)

    def latest(self, channel: str, reference: str) -> str | None:
        """The ts of the latest thread about ``reference`` in ``channel`` (channel ids are unique), while kept."""
        ts = self.redis.get(_latest_key(channel, reference))
        return ts.decode() if isinstance(ts, bytes) else ts


LATEST_TTL = 90 * 24 * 3600


def _latest_key(channel: str, reference: str) -> str:
    return f"chainscan:latest-thread:{channel}:{reference}"
