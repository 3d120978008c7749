"""Dockerfile texts on their way to a build, kept in Redis only briefly. Redis I/O only.

A pasted Dockerfile may hold secret values (``ENV MYSQL_ROOT_PASSWORD=…``), so no RQ job carries
it: a job carries a reference to ``chainscan:build:dockerfile:<ref>``, an entry that lives STASH_TTL
seconds at most and that the build reads and deletes as it starts (one entry per reader).
"""

from __future__ import annotations

import uuid

from redis import Redis

PREFIX = "chainscan:build:dockerfile:"
STASH_TTL = 15 * 60  # seconds a queued Dockerfile waits for a worker at most


def stash_key(ref: str) -> str:
    return f"{PREFIX}{ref}"


def put(redis: Redis, text: str, ref: str | None = None, ttl: int = STASH_TTL) -> str:
    """Keep ``text`` for ``ttl`` seconds under ``ref`` (a new one by default); returns the reference.
    ``redis`` may be a pipeline, so the entry is written in the same transaction as its job."""
    ref = ref or uuid.uuid4().hex
    redis.set(stash_key(ref), text, ex=ttl)
    return ref


def peek(redis: Redis, ref: str | None) -> str | None:
    """The text, left in place (for a job that may be retried before it hands the text on)."""
    raw = redis.get(stash_key(ref)) if ref else None
    return raw.decode() if isinstance(raw, bytes) else raw


def take(redis: Redis, ref: str | None) -> str | None:
    """The text, deleted in the same step (GETDEL): read once, by the build that needs it."""
    raw = redis.getdel(stash_key(ref)) if ref else None
    return raw.decode() if isinstance(raw, bytes) else raw


def drop(redis: Redis, ref: str | None) -> None:
    if ref:
        redis.delete(stash_key(ref))
