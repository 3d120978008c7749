"""RQ job functions. They know nothing about Slack; results are plain dicts.

A job returns ``{"report": …}`` on success and ``{"error": {"kind", "message"}}``
for a failure that another try would not fix (image missing, access denied).
Transient failures (registry unreachable, rate limit, timeout) are raised, so
RQ's ``Retry`` tries again; the sentence is kept in ``job.meta["error"]`` for
whoever reports the final failure.
"""

from __future__ import annotations

import logging

from rq import get_current_job

from .config import Settings
from .engine import Scanner
from .errors import ScanError
from .reference import InvalidReference

log = logging.getLogger(__name__)


def scan_image(reference: str, force: bool = False) -> dict:
    """Scan one image reference; run by an RQ worker."""
    job = get_current_job()
    scanner = Scanner(Settings.from_env(), job.connection)
    try:
        report = scanner.scan(reference, force=force)
    except InvalidReference as exc:
        return _failed(job, scanner, reference, ScanError("invalid_reference", str(exc)))
    except ScanError as exc:
        if exc.transient:
            _remember(job, scanner, reference, exc)
            raise
        return _failed(job, scanner, reference, exc)
    return {"report": report.to_dict()}


def _failed(job, scanner: Scanner, reference: str, error: ScanError) -> dict:
    _remember(job, scanner, reference, error)
    return {"error": error.to_dict()}


def _remember(job, scanner: Scanner, reference: str, error: ScanError) -> None:
    log.info("scan of %s failed: %s (%s)", reference, error.kind, error.message)
    scanner.store.record_failure(reference, error.kind, error.message)
    job.meta["error"] = error.to_dict()
    job.save_meta()
