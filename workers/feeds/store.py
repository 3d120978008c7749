"""The risk feeds in Redis: one HASH per feed (CVE → its entry), its dates beside it, swapped in whole.

Keys (under ``chainscan:feeds:``):

- ``{kind}``          HASH, CVE → ``score,percentile`` (EPSS) or compact JSON (KEV); read with one HMGET
- ``{kind}:meta``     HASH: ``date`` (the feed's own), ``version``, ``loaded_at``, ``source``, ``count``, and
                      ``checked_at`` / ``error`` of the last attempt (a failed fetch keeps the last good copy)
- ``{kind}:staging:{token}``   a load in progress; it expires, so a worker killed mid-load leaves nothing

A load writes the staging key in batches, then ``RENAME``\\ s it over the live one and sets the meta in one
``MULTI/EXEC``: readers see the old feed or the new one, never a mixture.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime

from redis import Redis

from workers.feeds.parse import EpssFeed, EpssScore, FeedKind, KevEntry, KevFeed

PREFIX = "chainscan:feeds:"
BATCH = 5000
STAGING_TTL = 3600


def data_key(kind: FeedKind) -> str:
    return f"{PREFIX}{kind.value}"


def meta_key(kind: FeedKind) -> str:
    return f"{PREFIX}{kind.value}:meta"


@dataclass(frozen=True)
class FeedStatus:
    """What is loaded of one feed, and how the last attempt went. ``date`` is None when none was ever loaded."""

    kind: FeedKind
    date: str | None = None
    version: str | None = None
    loaded_at: str | None = None
    source: str | None = None
    count: int = 0
    checked_at: str | None = None
    error: str | None = None

    @property
    def loaded(self) -> bool:
        return self.date is not None

    @classmethod
    def from_meta(cls, kind: FeedKind, meta: dict) -> FeedStatus:
        text = {
            (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
            for k, v in meta.items()
        }
        return cls(
            kind,
            date=text.get("date") or None,
            version=text.get("version") or None,
            loaded_at=text.get("loaded_at") or None,
            source=text.get("source") or None,
            count=int(text.get("count") or 0),
            checked_at=text.get("checked_at") or None,
            error=text.get("error") or None,
        )


def store_feed(redis: Redis, feed: EpssFeed | KevFeed, *, source: str, now: datetime) -> FeedStatus:
    """Swap ``feed`` in whole: staged under a fresh key, then renamed over the live one with its meta."""
    kind = FeedKind.EPSS if isinstance(feed, EpssFeed) else FeedKind.KEV
    values = _encoded(feed)
    staging = f"{data_key(kind)}:staging:{secrets.token_hex(6)}"
    items = list(values.items())
    with redis.pipeline(transaction=False) as pipe:
        for start in range(0, len(items), BATCH):
            pipe.hset(staging, mapping=dict(items[start : start + BATCH]))
        pipe.expire(staging, STAGING_TTL)
        pipe.execute()
    version = feed.model_version if isinstance(feed, EpssFeed) else feed.catalog_version
    meta = {
        "date": feed.date,
        "version": version,
        "loaded_at": now.isoformat(),
        "source": source,
        "count": str(len(values)),
        "checked_at": now.isoformat(),
        "error": "",
    }
    with redis.pipeline(transaction=True) as pipe:
        pipe.rename(staging, data_key(kind))
        pipe.persist(data_key(kind))
        pipe.hset(meta_key(kind), mapping=meta)
        pipe.execute()
    return FeedStatus.from_meta(kind, meta)


def record_failure(redis: Redis, kind: FeedKind, error: str, now: datetime) -> FeedStatus:
    """A fetch or parse that failed: the last good copy stays; the attempt and its sentence are noted."""
    redis.hset(meta_key(kind), mapping={"checked_at": now.isoformat(), "error": error})
    return status(redis, kind)


def status(redis: Redis, kind: FeedKind) -> FeedStatus:
    return FeedStatus.from_meta(kind, redis.hgetall(meta_key(kind)))


@dataclass(frozen=True)
class Lookup:
    """The feeds' entries for some CVEs, with each feed's status: what the join needs."""

    epss: dict[str, EpssScore]
    kev: dict[str, KevEntry]
    epss_status: FeedStatus
    kev_status: FeedStatus


def lookup(redis: Redis, cves: list[str]) -> Lookup:
    """One round trip: HMGET on both feeds for ``cves`` and both metas."""
    wanted = sorted(set(cves))
    with redis.pipeline(transaction=False) as pipe:
        pipe.hgetall(meta_key(FeedKind.EPSS))
        pipe.hgetall(meta_key(FeedKind.KEV))
        if wanted:
            pipe.hmget(data_key(FeedKind.EPSS), wanted)
            pipe.hmget(data_key(FeedKind.KEV), wanted)
        answers = pipe.execute()
    epss_raw, kev_raw = (answers[2], answers[3]) if wanted else ([], [])
    return Lookup(
        epss={cve: _epss(raw) for cve, raw in zip(wanted, epss_raw, strict=True) if raw},
        kev={cve: _kev(raw) for cve, raw in zip(wanted, kev_raw, strict=True) if raw},
        epss_status=FeedStatus.from_meta(FeedKind.EPSS, answers[0]),
        kev_status=FeedStatus.from_meta(FeedKind.KEV, answers[1]),
    )


def _encoded(feed: EpssFeed | KevFeed) -> dict[str, str]:
    if isinstance(feed, EpssFeed):
        return {cve: f"{s.score!r},{s.percentile!r}" for cve, s in feed.scores.items()}
    return {
        cve: json.dumps([e.date_added, e.due_date, e.ransomware], separators=(",", ":"))
        for cve, e in feed.entries.items()
    }


def _epss(raw: bytes | str) -> EpssScore:
    text = raw.decode() if isinstance(raw, bytes) else raw
    score, percentile = text.split(",")
    return EpssScore(float(score), float(percentile))


def _kev(raw: bytes | str) -> KevEntry:
    added, due, ransomware = json.loads(raw)
    return KevEntry(added, due, bool(ransomware))
