"""Updating the feeds: fetch, parse whole, swap in; a failure keeps the last good copy. Composes the I/O
of :mod:`workers.feeds.fetch` and :mod:`workers.feeds.store` around the pure :mod:`workers.feeds.parse`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from redis import Redis

from workers.config import Settings
from workers.feeds.fetch import fetch
from workers.feeds.parse import FeedError, FeedKind, parse
from workers.feeds.store import FeedStatus, record_failure, store_feed

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class UpdateOutcome:
    kind: FeedKind
    source: str | None  # None: the feed is switched off (its URL set to "off")
    status: FeedStatus | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def feed_location(settings: Settings, kind: FeedKind) -> str | None:
    return settings.epss_url if kind is FeedKind.EPSS else settings.kev_url


def update_feed(redis: Redis, settings: Settings, kind: FeedKind, now: datetime) -> UpdateOutcome:
    source = feed_location(settings, kind)
    if source is None:
        return UpdateOutcome(kind, None, None)
    try:
        feed = parse(kind, fetch(source, timeout=settings.feed_timeout))
    except FeedError as exc:
        log.warning("feed %s not updated from %s: %s", kind.value, source, exc)
        return UpdateOutcome(kind, source, record_failure(redis, kind, str(exc), now), str(exc))
    status = store_feed(redis, feed, source=source, now=now)
    log.info("feed %s updated from %s: %d entries of %s", kind.value, source, status.count, status.date)
    return UpdateOutcome(kind, source, status)


def update_feeds(redis: Redis, settings: Settings, now: datetime) -> list[UpdateOutcome]:
    return [update_feed(redis, settings, kind, now) for kind in FeedKind]
