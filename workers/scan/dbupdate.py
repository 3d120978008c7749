"""Fetching Trivy's two DBs (vulnerabilities, Java) for the fleet, one download at a time.

``python -m bot db update``, the scheduler's refresh every ``DB_REFRESH_INTERVAL`` and a worker that finds no DB
all come here: Trivy's own ``--download-db-only`` and ``--download-java-db-only`` (honouring
``TRIVY_DB_REPOSITORY`` and ``TRIVY_JAVA_DB_REPOSITORY``, which Trivy reads itself) under one Redis lock. Whoever
waited for the lock while another process downloaded does not download again: the fleet record says a download
finished after it asked. Scans then skip Trivy's own update checks, so a scan never pays for a download.

Keys (under ``chainscan:db:``): ``update-lock`` (redis-py's Lock, renewed while Trivy downloads), ``fleet`` (JSON:
the DBs the last update fetched and when it finished), ``downloads`` (how many times Trivy was asked to download).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from enum import Enum

from redis import Redis

from workers.config import Settings
from workers.errors import ErrorKind, ScanError
from workers.report import DbInfo
from workers.scan import trivy
from workers.scan.childenv import trivy_env
from workers.scan.keepalive import kept_alive

log = logging.getLogger(__name__)

LOCK_KEY = "chainscan:db:update-lock"
FLEET_KEY = "chainscan:db:fleet"
DOWNLOADS_KEY = "chainscan:db:downloads"
LOCK_TTL = 30  # renewed while Trivy downloads: a killed downloader frees the lock within this
DOWNLOAD_TIMEOUT = 1800  # the Java DB is close to 1 GB


class DbKind(str, Enum):
    VULNERABILITY = "vulnerability"
    JAVA = "java"


class UpdateResult(str, Enum):
    DOWNLOADED = "downloaded"  # this process ran Trivy's download
    FRESH = "fresh"  # another process downloaded it while this one waited for the lock


@dataclass(frozen=True)
class UpdateOutcome:
    result: UpdateResult
    db: DbInfo | None
    java_db: DbInfo | None
    java_error: str | None = None  # the Java DB's sentence when only it failed

    def to_dict(self) -> dict:
        return {
            "result": self.result.value,
            "db": asdict(self.db) if self.db else None,
            "java_db": asdict(self.java_db) if self.java_db else None,
            "java_error": self.java_error,
        }


def download_command(trivy_bin: str, kind: DbKind) -> list[str]:
    """The argument list of one download. Pure. Repositories and the cache dir come from Trivy's own variables."""
    flag = "--download-db-only" if kind is DbKind.VULNERABILITY else "--download-java-db-only"
    return [trivy_bin, "image", flag, "--no-progress", "--skip-version-check", "--disable-telemetry"]


def fresh_since(record: Mapping | None, asked_at: float) -> bool:
    """Did a download finish after ``asked_at`` (while this process waited)? Pure."""
    return bool(record) and float(record.get("finished_at") or 0) >= asked_at


def update(
    redis: Redis,
    settings: Settings,
    env: Mapping[str, str] | None = None,
    *,
    clock: Callable[[], float] = time.time,
    wait: float | None = None,
) -> UpdateOutcome:
    """Download or refresh both DBs under the fleet's lock; if another process did while this one waited, keep
    its work. Raises :class:`ScanError` (NO_DB) when the vulnerability DB cannot be fetched, or BUSY when the lock
    stays taken longer than ``wait`` seconds (default: DOWNLOAD_TIMEOUT)."""
    env = os.environ if env is None else env
    asked_at = clock()
    lock = redis.lock(
        LOCK_KEY, timeout=LOCK_TTL, blocking_timeout=DOWNLOAD_TIMEOUT if wait is None else wait, thread_local=False
    )
    if not lock.acquire():
        raise ScanError.of(ErrorKind.BUSY, "db")
    try:
        if fresh_since(fleet_record(redis), asked_at) and trivy.db_info(env):
            return UpdateOutcome(UpdateResult.FRESH, trivy.db_info(env), trivy.java_db_info(env))
        with kept_alive(lock, LOCK_TTL):
            redis.incr(DOWNLOADS_KEY)
            _download(settings.trivy_bin, DbKind.VULNERABILITY, env)
            java_error = None
            try:
                _download(settings.trivy_bin, DbKind.JAVA, env)
            except ScanError as exc:
                java_error = exc.message
        outcome = UpdateOutcome(UpdateResult.DOWNLOADED, trivy.db_info(env), trivy.java_db_info(env), java_error)
        redis.set(FLEET_KEY, json.dumps({**outcome.to_dict(), "finished_at": clock()}))
        return outcome
    finally:
        try:
            lock.release()
        except Exception:  # expired or Redis gone: the download is done either way
            log.warning("the DB update lock expired before release")


def ensure(redis: Redis, settings: Settings, env: Mapping[str, str] | None = None) -> None:
    """Before a scan on a worker with no vulnerability DB: take part in the fleet's download (wait for the one
    under way, or run it), instead of letting Trivy download on its own."""
    env = os.environ if env is None else env
    if trivy.db_info(env) is not None or settings.trivy_server or env.get("TRIVY_SKIP_DB_UPDATE"):
        return
    update(redis, settings, env, wait=settings.scan_timeout)  # a scan job waits no longer than a scan


def fleet_record(redis: Redis) -> dict | None:
    raw = redis.get(FLEET_KEY)
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


def downloads(redis: Redis) -> int:
    return int(redis.get(DOWNLOADS_KEY) or 0)


def _download(trivy_bin: str, kind: DbKind, env: Mapping[str, str]) -> None:
    args = download_command(trivy_bin, kind)
    what = "the Java DB" if kind is DbKind.JAVA else "the vulnerability DB"
    try:
        proc = subprocess.run(
            args, capture_output=True, text=True, timeout=DOWNLOAD_TIMEOUT, env=trivy_env(env), check=False
        )
    except FileNotFoundError:
        raise ScanError.of(ErrorKind.TRIVY_MISSING, binary=trivy_bin) from None
    except subprocess.TimeoutExpired:
        raise ScanError.of(ErrorKind.TIMEOUT, "scan", what=what, seconds=DOWNLOAD_TIMEOUT) from None
    if proc.returncode != 0:
        log.warning("trivy could not download %s: %s", what, proc.stderr[-500:])
        variant = "update" if kind is DbKind.JAVA else "download"
        raise ScanError.of(ErrorKind.NO_JAVA_DB if kind is DbKind.JAVA else ErrorKind.NO_DB, variant)
