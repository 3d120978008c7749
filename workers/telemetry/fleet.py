"""The fleet as Redis sees it, read at scrape time: queue depths, workers alive, failed jobs, the DB's age.

:func:`read` asks Redis (RQ's own registries and the workers' record of the Trivy DB), :func:`families` turns
a :class:`Fleet` into Prometheus metric families (pure), and :class:`FleetCollector` composes the two for a
prometheus_client registry, as RQ exporters do: nothing is stored between scrapes, every scrape is current.
A Redis that does not answer gives ``chainscan_redis_up 0`` (and the age of this host's DB, if it has one),
never a failed scrape.
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

IDLE_HEARTBEAT_STALE = 60  # seconds: an idle ChainscanWorker heartbeats every 15 s, so one silent for 60 s is gone


@dataclass(frozen=True)
class SeenWorker:
    """A worker as RQ registered it. A busy one heartbeats through its job (:mod:`workers.heartbeat`), so only
    an idle one is judged by its own heartbeat: a killed worker's record outlives it by minutes."""

    host: str
    busy: bool
    last_heartbeat: float | None  # seconds since the epoch

    def alive(self, now: float) -> bool:
        return self.busy or (self.last_heartbeat is not None and now - self.last_heartbeat < IDLE_HEARTBEAT_STALE)


@dataclass(frozen=True)
class Fleet:
    redis_up: bool
    queued: Mapping[str, int] = field(default_factory=dict)  # queue name → jobs waiting
    running: Mapping[str, int] = field(default_factory=dict)
    failed: Mapping[str, int] = field(default_factory=dict)  # in RQ's failed registry (kept a week)
    workers: tuple[SeenWorker, ...] = ()
    db_updated_at: datetime | None = None  # the Trivy DB the workers used last (else this host's copy)

    def alive_hosts(self, now: float) -> list[str]:
        """The host of every worker alive at ``now``, once per worker."""
        return [w.host for w in self.workers if w.alive(now)]

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
            workers=tuple(_seen(w) for w in workers),
            db_updated_at=(parse_time(db.updated_at) if db else None) or local_time,
        )
    except (RedisError, OSError):
        return Fleet(redis_up=False, db_updated_at=local_time)


def _seen(worker: Worker) -> SeenWorker:
    beat = worker.last_heartbeat
    return SeenWorker(worker.hostname or "", worker.get_state() == "busy", beat.timestamp() if beat else None)


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
        alive = len(fleet.alive_hosts(now))
        found.append(GaugeMetricFamily("chainscan_workers_alive", "RQ workers busy or heartbeating.", value=alive))
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
