"""Putting scans on the RQ queue and waiting for their outcome."""

from __future__ import annotations

import time
from dataclasses import dataclass

from redis import Redis
from rq import Queue, Retry
from rq.job import Job, JobStatus
from rq.results import Result

from workers.config import Settings
from workers.errors import ErrorKind, ScanError
from workers.reference import ImageRef
from workers.report import ScanReport
from workers.telemetry import context as telemetry

UNEXPECTED = ScanError.of(ErrorKind.INTERNAL)


def scan_queue(redis: Redis, settings: Settings) -> Queue:
    return Queue(settings.queue_name, connection=redis)


def enqueue_scan(queue: Queue, settings: Settings, reference: str, *, force: bool = False, **job_options) -> Job:
    """Enqueue :func:`workers.jobs.scan_image` with the retry policy for transient failures; its meta carries
    the current request (id and source) besides ``meta``."""
    job_options["meta"] = {**telemetry.job_meta(), **job_options.get("meta", {})}
    return queue.enqueue(
        "workers.jobs.scan_image",
        reference,
        force=force,
        job_timeout=settings.scan_timeout + 120,
        result_ttl=3600,
        failure_ttl=7 * 24 * 3600,
        retry=Retry(max=settings.job_retries, interval=[5, 20, 60][: max(settings.job_retries, 1)])
        if settings.job_retries
        else None,
        **job_options,
    )


def enqueue_pair(
    queue: Queue, settings: Settings, ref: ImageRef, alternative: ImageRef | None, *, force: bool = False, **options
) -> tuple[Job, Job | None]:
    """Enqueue the image and, when there is one, its Chainguard alternative: a pool scans them in parallel."""
    original = enqueue_scan(queue, settings, str(ref), force=force, **options)
    other = enqueue_scan(queue, settings, str(alternative), force=force, **options) if alternative else None
    return original, other


@dataclass
class Outcome:
    """What a finished scan job produced: a report or a user-facing error."""

    report: ScanReport | None = None
    error: ScanError | None = None


def outcome_of(job: Job) -> Outcome | None:
    """The outcome of a finished job, or None while it is still queued, running or awaiting a retry."""
    status = job.get_status(refresh=True)
    if status == JobStatus.FINISHED:
        return outcome_from_result(job.return_value())
    if status in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED):
        return Outcome(error=error_from_meta(job))
    return None


def outcome_from_result(result: dict | None) -> Outcome:
    if result and "report" in result:
        return Outcome(report=ScanReport.from_dict(result["report"]))
    if result and "error" in result:
        return Outcome(error=ScanError.from_dict(result["error"]))
    return Outcome(error=UNEXPECTED)


WORKER_LOST = ScanError.of(ErrorKind.WORKER_LOST)


def error_from_meta(job: Job) -> ScanError:
    """The sentence for a failed job: the engine's own, or what RQ says happened to the worker."""
    job.refresh()
    meta_error = job.meta.get("error")
    if meta_error:
        return ScanError.from_dict(meta_error)
    result = job.latest_result()
    if result is not None and "AbandonedJobError" in (result.exc_string or ""):
        return WORKER_LOST
    return UNEXPECTED


def wait_for(job: Job, timeout: float) -> Outcome:
    """Block until the job ends, woken by RQ's result stream (``rq:results:<id>``) rather than polling."""
    deadline = time.monotonic() + timeout
    last_seen = "0-0"
    while (remaining := deadline - time.monotonic()) > 0:
        outcome = outcome_of(job)
        if outcome is not None:
            return outcome
        # Each end of an attempt (success, failure, a retry's failure) appends to the stream.
        seen = job.connection.xread({Result.get_key(job.id): last_seen}, block=max(1, int(min(remaining, 1.0) * 1000)))
        if seen:
            last_seen = _newest_id(seen)
    return Outcome(error=ScanError.of(ErrorKind.TIMEOUT, "wait", seconds=int(timeout)))


def _newest_id(seen) -> str:
    """The last entry id of an XREAD answer on one stream (a list in RESP2, a map in RESP3)."""
    if isinstance(seen, dict):
        value = next(iter(seen.values()))
        entries = value[0] if value and isinstance(value[0], list) else value
    else:
        entries = seen[0][1]
    newest = entries[-1][0]
    return newest.decode() if isinstance(newest, bytes) else newest
