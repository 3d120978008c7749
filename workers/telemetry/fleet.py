"""The fleet as Redis sees it, read at scrape time: queue depths, workers alive, failed jobs, the DB's age.

:func:`read` asks Redis (RQ's own registries and the workers' record of the Trivy DB), :func:`families` turns
a :class:`Fleet` into Prometheus metric families (pure), and :class:`FleetCollector` composes the two for a
prometheus_client registry, as RQ exporters do: nothing is stored between scrapes, every scrape is current.
A Redis that does not answer gives ``chainscan_redis_up 0`` and nothing else, never a failed scrape.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Worker
from rq.registry import FailedJobRegistry, StartedJobRegistry

from workers.config import Settings
from workers.scan import trivy
from workers.scan.store import ReportStore


@dataclass(frozen=True)
class Fleet:
    redis_up: bool
    queued: Mapping[str, int] = field(default_factory=dict)  # queue name → jobs waiting
    running: Mapping[str, int] = field(default_factory=dict)
    failed: Mapping[str, int] = field(default_factory=dict)  # in RQ's failed registry (kept a week)
    worker_hosts: tuple[str, ...] = ()  # the hostname of every worker alive, once per worker
    db_updated_at: datetime | None = None  # the Trivy DB the workers used last (else this host's copy)

    @property
    def workers_alive(self) -> int:
        return len(self.worker_hosts)

    def db_age_seconds(self, now: float) -> float | None:
        return None if self.db_updated_at is None else max(0.0, now - self.db_updated_at.timestamp())


def queue_names(settings: Settings) -> tuple[str, ...]:
    """Every queue the workers take jobs from: interactive scans first, digests after."""
    return settings.queue_name, f"{settings.queue_name}-digest"


def read(redis: Redis, settings: Settings, env: Mapping[str, str] | None = None) -> Fleet:
    """Ask Redis; a Redis that does not answer is ``Fleet(redis_up=False)`` (with this host's DB, if any)."""
    local = trivy.db_info(env)
    local_time = parse_time(local.updated_at) if local else None
    try:
        queues = [Queue(name, connection=redis) for name in queue_names(settings)]
        workers = Worker.all(connection=redis)
        db = ReportStore(redis).last_db()
        return Fleet(
            redis_up=True,
            queued={q.name: q.count for q in queues},
            running={q.name: StartedJobRegistry(queue=q).count for q in queues},
            failed={q.name: FailedJobRegistry(queue=q).count for q in queues},
            worker_hosts=tuple(w.hostname or "" for w in workers),
            db_updated_at=(parse_time(db.updated_at) if db else None) or local_time,
        )
    except (RedisError, OSError):
        return Fleet(redis_up=False, db_updated_at=local_time)


def families(fleet: Fleet, now: float) -> list[Metric]:
    """The fleet's gauges in Prometheus' data model. Pure."""
    up = GaugeMetricFamily("chainscan_redis_up", "1 when Redis answered this scrape, else 0.")
    up.add_metric([], 1 if fleet.redis_up else 0)
    found: list[Metric] = [up]
    if fleet.redis_up:
        for name, help_text, values in (
            ("chainscan_queue_depth", "Jobs waiting in each RQ queue.", fleet.queued),
            ("chainscan_jobs_running", "Jobs being worked on, by queue.", fleet.running),
            ("chainscan_failed_jobs", "Jobs in RQ's failed registry (kept a week), by queue.", fleet.failed),
        ):
            family = GaugeMetricFamily(name, help_text, labels=["queue"])
            for queue, value in sorted(values.items()):
                family.add_metric([queue], value)
            found.append(family)
        found.append(GaugeMetricFamily("chainscan_workers_alive", "RQ workers registered.", value=fleet.workers_alive))
    age = fleet.db_age_seconds(now)
    if age is not None:
        found.append(GaugeMetricFamily("chainscan_trivy_db_age_seconds", "Age of the Trivy DB in use.", value=age))
    return found


class FleetCollector(Collector):
    """Reads the fleet from Redis on every scrape (``clock`` gives the time, for the DB's age)."""

    def __init__(self, redis: Redis, settings: Settings, clock: Callable[[], float]):
        self.redis, self.settings, self.clock = redis, settings, clock

    def collect(self) -> Iterator[Metric]:
        yield from families(read(self.redis, self.settings), self.clock())

    def describe(self) -> list[Metric]:
        return []  # no Redis round trip at registration


def parse_time(value: str | None) -> datetime | None:
    """An RFC 3339 time as Trivy writes it (``2026-12-01T06:12:33.1Z``), or None. Pure."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def this_host() -> str:
    return socket.gethostname()
