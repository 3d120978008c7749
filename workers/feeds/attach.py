"""The feeds joined to reports as they are shown: one Redis round trip (:func:`workers.feeds.store.lookup`),
then the pure join of :mod:`workers.feeds.risk`. Redis not answering leaves the reports as they were (``feeds``
None): ranking is an addition, never a reason for a scan to fail."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime

from redis import Redis
from redis.exceptions import RedisError

from workers.feeds.risk import cves_of, join
from workers.feeds.store import lookup
from workers.pair import PairResult
from workers.report import ScanReport

log = logging.getLogger(__name__)


def joined(redis: Redis | None, reports: list[ScanReport | None], now: datetime) -> list[ScanReport | None]:
    """``reports`` (None kept in place) with KEV and EPSS on each finding, from one look-up for them all."""
    if redis is None:
        return reports
    try:
        found = lookup(redis, cves_of(reports))
    except RedisError:
        log.warning("risk feeds unavailable: Redis is not answering")
        return reports
    return [join(report, found, now) if report else None for report in reports]


def with_risk(redis: Redis | None, result: PairResult, now: datetime) -> PairResult:
    report, alternative = joined(redis, [result.report, result.alternative_report], now)
    return replace(result, report=report, alternative_report=alternative)
