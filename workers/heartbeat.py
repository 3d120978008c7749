"""A running job's heartbeat, so RQ finds the job of a killed worker abandoned within seconds.

RQ marks a job abandoned when its entry in the StartedJobRegistry expires; a SimpleWorker sets that
expiry to the job's whole timeout plus a minute (13 minutes for a scan) and never renews it while the
job runs. :func:`beating` renews it from a helper thread with a short TTL instead, through RQ's own
``Execution.heartbeat``, so a worker killed mid-scan leaves a registry entry that expires in
HEARTBEAT_TTL seconds; the workers' and the scheduler's registry cleaning then retries or fails it
(``Dependency(allow_failure=True)`` lets the publisher answer). A Redis that does not answer is
logged and tried again: the thread never dies of it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq.executions import Execution
from rq.job import Job
from rq.utils import now

log = logging.getLogger(__name__)

HEARTBEAT_TTL = 20  # seconds a killed worker's job stays "started" at most
BEAT_EVERY = 5


def beat(job: Job, ttl: int = HEARTBEAT_TTL) -> None:
    """Push the job's expiry in the StartedJobRegistry ``ttl`` seconds ahead (only while it is there)."""
    with job.connection.pipeline() as pipe:
        for execution in _executions(job):
            if execution.worker_name == job.worker_name:
                execution.heartbeat(job.started_job_registry, ttl, pipeline=pipe)
        job.heartbeat(now(), ttl, pipeline=pipe)
        pipe.execute()


def _executions(job: Job) -> list[Execution]:
    """The job's executions still in Redis (a killed worker's lingers in the registry after its hash expired)."""
    found = []
    for execution_id in job.execution_registry.get_execution_ids():
        try:
            found.append(Execution.fetch(id=execution_id, job_id=job.id, connection=job.connection))
        except ValueError:
            continue
    return found


@contextmanager
def beating(job: Job | None, ttl: int = HEARTBEAT_TTL, every: float = BEAT_EVERY) -> Iterator[None]:
    """Beat at once, then every ``every`` seconds from a helper thread until the block ends."""
    if job is None:  # called outside a worker
        yield
        return
    done = threading.Event()

    def keep_beating() -> None:
        wait = 0.0
        while not done.wait(wait):
            try:
                beat(job, ttl)
                wait = every
            except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                log.warning("job %s: heartbeat failed (%s); trying again", job.id, exc)
                wait = 1.0
            except Exception:
                log.exception("job %s: heartbeat failed; trying again", job.id)
                wait = every

    keeper = threading.Thread(target=keep_beating, name=f"heartbeat-{job.id}", daemon=True)
    keeper.start()
    try:
        yield
    finally:
        done.set()
        keeper.join(timeout=5)
