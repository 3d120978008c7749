"""The feeds joined to a scan result: one Redis round trip (:func:`workers.feeds.store.lookup`), then the pure
join of :mod:`workers.feeds.risk` on the image and its alternative. Redis not answering leaves the result as
it was (``feeds`` None): ranking is an addition, never a reason for a scan to fail."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime

from redis import Redis
from redis.exceptions import RedisError

from workers.feeds.risk import cves_of, join
from workers.feeds.store import lookup
from workers.pair import PairResult

log = logging.getLogger(__name__)


def with_risk(redis: Redis | None, result: PairResult, now: datetime) -> PairResult:
    if redis is None:
        return result
    alternative = result.alternative_report
    try:
        found = lookup(redis, cves_of([result.report, alternative]))
    except RedisError:
        log.warning("risk feeds unavailable: Redis is not answering")
        return result
    return replace(
        result,
        report=join(result.report, found, now),
        alternative_report=join(alternative, found, now) if alternative else None,
    )
