"""The ``scheduler`` process: periodic jobs, run through RQ like everything else.

Closing threads left at "scanning…" (a job lost with a Redis restart or a killed
worker whose retries were spent) with a clear sentence; a daily refresh of the Chainguard catalog from the
registry and of the KEV and EPSS feeds; a refresh of Trivy's DBs every DB_REFRESH_INTERVAL (one job across
schedulers; the worker that runs it takes the fleet's DB lock). Every round also looks for jobs whose heartbeat
stopped (a killed worker, :mod:`workers.heartbeat`) and has RQ retry or fail them, in case every worker
is busy and none gets to its own registry cleaning.
"""

from __future__ import annotations

import logging
import re
import time
from datetime import UTC, datetime

from redis import Redis
from rq import Queue, Retry
from rq.registry import StartedJobRegistry

from bot.jobs.alerts import enqueue_alert_check_if_due
from bot.jobs.digest_thread import enqueue_due_digests
from bot.threads import ThreadStore
from workers.config import Settings
from workers.scan import dbupdate

log = logging.getLogger(__name__)

SWEEP_EVERY = 15  # seconds: a killed worker's job is found within HEARTBEAT_TTL + SWEEP_EVERY


def clean_abandoned(redis: Redis, settings: Settings) -> None:
    """RQ's own cleaning of the started registry (abandoned jobs retried or failed, their dependents
    enqueued), under the maintenance lock the workers take for it, so no job is handled twice."""
    queue = Queue(settings.queue_name, connection=redis)
    if not queue.acquire_maintenance_lock():
        return
    try:
        StartedJobRegistry(queue.name, connection=redis).cleanup()
    finally:
        queue.release_maintenance_lock()


def sweep_stale_threads(redis: Redis, settings: Settings) -> int:
    """Enqueue a closing job for every thread still scanning long after any scan could take."""
    limit = (settings.scan_timeout + 180) * (settings.job_retries + 1)
    queue = Queue(settings.queue_name, connection=redis)
    stale = ThreadStore(redis).stale(older_than=limit)
    for key in stale:
        # one closing job per thread, however many rounds see it (job ids allow only [A-Za-z0-9_-])
        job_id = "close-" + re.sub(r"[^A-Za-z0-9_-]", "-", key)
        queue.enqueue("bot.jobs.scan_thread.close_stale_thread", key, job_id=job_id)
    return len(stale)


CATALOG_EVERY = 24 * 3600


def refresh_catalog_if_due(redis: Redis, settings: Settings) -> bool:
    """Once a day, ask the Chainguard registry which images it serves (a no-op when it is unreachable)."""
    if not redis.set("chainscan:catalog:refresh-due", "1", nx=True, ex=CATALOG_EVERY):
        return False
    Queue(settings.queue_name, connection=redis).enqueue("workers.jobs.refresh_catalog_job", result_ttl=3600)
    return True


def refresh_db_if_due(redis: Redis, settings: Settings) -> bool:
    """Every DB_REFRESH_INTERVAL, across every scheduler: one job that downloads or refreshes Trivy's DBs."""
    if not redis.set("chainscan:schedule:db-refresh", "1", nx=True, ex=settings.db_refresh_interval):
        return False
    Queue(settings.queue_name, connection=redis).enqueue(
        "workers.jobs.update_db_job", result_ttl=3600, job_timeout=dbupdate.DOWNLOAD_TIMEOUT + 120
    )
    return True


FEEDS_RETRY = Retry(max=3, interval=[600, 1800, 3600])


def update_feeds_if_due(redis: Redis, settings: Settings, now: datetime) -> bool:
    """Once a day (UTC), across every scheduler: fetch the KEV and EPSS feeds (a failure keeps the last copy)."""
    if not redis.set(f"chainscan:schedule:feeds:{now:%Y%m%d}", "1", nx=True, ex=2 * CATALOG_EVERY):
        return False
    Queue(settings.queue_name, connection=redis).enqueue(
        "workers.jobs.update_feeds_job", now.isoformat(), result_ttl=CATALOG_EVERY, retry=FEEDS_RETRY
    )
    return True


TRIAGE_EXPIRY_EVERY = 3600


def expire_acceptances_if_due(redis: Redis, settings: Settings, now: datetime) -> bool:
    """Once an hour, across every scheduler: the expiry job (it claims each warning and reopening itself)."""
    hour = now.strftime("%Y%m%d%H")
    if not redis.set(f"chainscan:schedule:triage-expiry:{hour}", "1", nx=True, ex=2 * TRIAGE_EXPIRY_EVERY):
        return False
    Queue(settings.queue_name, connection=redis).enqueue(
        "bot.jobs.triage_thread.expire_acceptances", now.isoformat(), result_ttl=3600, retry=Retry(max=3, interval=60)
    )
    return True


def run_scheduler(redis: Redis, settings: Settings, *, once: bool = False) -> None:
    while True:
        try:
            closed = sweep_stale_threads(redis, settings)
            if closed:
                log.info("closing %d stale threads", closed)
            clean_abandoned(redis, settings)
            refresh_catalog_if_due(redis, settings)
            refresh_db_if_due(redis, settings)
            update_feeds_if_due(redis, settings, datetime.now(UTC))
            expire_acceptances_if_due(redis, settings, datetime.now(UTC))
            enqueue_due_digests(redis, settings, datetime.now(UTC))
            enqueue_alert_check_if_due(redis, settings, datetime.now(UTC))
        except Exception:
            log.exception("scheduler round failed; trying again")
        if once:
            return
        time.sleep(SWEEP_EVERY)
