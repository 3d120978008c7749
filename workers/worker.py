"""The RQ worker chainscan runs, and the Redis connection that rides out an outage.

:class:`ChainscanWorker` is RQ's SimpleWorker with its registry cleaning every MAINTENANCE_EVERY
seconds instead of every ten minutes, and an idle wait that short, so a job whose heartbeat stopped
(:mod:`workers.heartbeat`) is retried or failed within half a minute of its worker's death.

:func:`patient_redis` is a client whose every command, pipeline and blocking pop retries
connection errors and timeouts with exponential backoff for about OUTAGE_RIDE_OUT seconds
(redis-py's own ``Retry``): while Redis is away, a worker waits in place rather than quitting, and
a scan finished meanwhile is stored and answered when Redis returns. RQ's WorkerPool hands the
connection's settings, retry policy included, to every worker it forks.

:func:`freeze_heap` is called once the worker has imported and loaded what every job uses.
"""

from __future__ import annotations

import gc

from redis import Redis
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry
from rq import SimpleWorker

from workers.telemetry.context import bound, from_job

MAINTENANCE_EVERY = 15  # seconds between registry cleanings (abandoned jobs found)
BACKOFF_BASE, BACKOFF_CAP = 0.5, 10.0  # seconds: 0.5, 1, 2, 4, 8, 10, 10, …
OUTAGE_RIDE_OUT = 300  # seconds of retries before a command gives up


def outage_retries(ride_out: float = OUTAGE_RIDE_OUT, base: float = BACKOFF_BASE, cap: float = BACKOFF_CAP) -> int:
    """How many backoff steps add up to ``ride_out`` seconds. Pure."""
    total, steps = 0.0, 0
    while total < ride_out:
        total += min(cap, base * 2**steps)
        steps += 1
    return steps


def patient_redis(url: str, ride_out: float = OUTAGE_RIDE_OUT) -> Redis:
    """A client for ``url`` that retries through an outage of up to ``ride_out`` seconds."""
    retry = Retry(ExponentialBackoff(cap=BACKOFF_CAP, base=BACKOFF_BASE), outage_retries(ride_out))
    return Redis.from_url(
        url, retry=retry, retry_on_error=[RedisConnectionError, RedisTimeoutError], health_check_interval=30
    )


def freeze_heap() -> None:
    """Leave every object made so far (modules, the catalog, settings) out of later garbage collections. A job
    runs in the worker process, whose heap is mostly those; a full collection in the middle of a job walked
    them all, and cost a digest tens of milliseconds each time. In a pool, the forked workers share the frozen
    pages instead of each writing to them. (Python's own advice for a process that preloads, then forks.)"""
    gc.collect()
    gc.freeze()


class ChainscanWorker(SimpleWorker):
    """SimpleWorker (jobs run in the worker process) that cleans the registries every MAINTENANCE_EVERY s, and
    runs each job inside the request it belongs to (its meta's request id and source: every log line and
    metric of the job carries them, and the jobs it enqueues inherit them)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("maintenance_interval", MAINTENANCE_EVERY)
        super().__init__(*args, **kwargs)

    def perform_job(self, job, queue) -> bool:
        with bound(from_job(job.meta, job.func_name)):
            return super().perform_job(job, queue)

    @property
    def dequeue_timeout(self) -> int:
        """Wake from an idle wait in time for the next cleaning (RQ waits worker_ttl - 15 = 405 s)."""
        return MAINTENANCE_EVERY
