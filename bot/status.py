"""``/scan status`` and ``python -m bot status``: what the queue and workers are doing, and how old the
vulnerability DB is (a warning past DB_STALE_HOURS)."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime

from redis import Redis
from rq import Queue, Worker
from rq.registry import FailedJobRegistry, StartedJobRegistry

from bot.render.format import day, parse_time
from bot.render.slack_text import escape, mrkdwn
from workers.config import Settings
from workers.feeds.parse import FeedKind
from workers.feeds.store import status as feed_status
from workers.scan import dbupdate, trivy
from workers.scan.store import ReportStore

DB_STALE_HOURS = 24


def status_text(redis: Redis, settings: Settings, channel: str | None = None) -> str:
    """``channel``: the asking Slack channel, which sees only its own failed images; None (the operator's
    command line) sees them all."""
    queue = Queue(settings.queue_name, connection=redis)
    workers = Worker.all(queue=queue)
    store = ReportStore(redis)
    db = store.last_db() or trivy.db_info()
    lines = [
        f"*Queue* `{settings.queue_name}`: {len(queue)} waiting, {StartedJobRegistry(queue=queue).count} running, "
        f"{FailedJobRegistry(queue=queue).count} failed in the last week",
        f"*Workers alive*: {len(workers)}"
        + ("" if workers else " — no worker is running, so scans will wait. Start `python -m bot worker`."),
        f"*Trivy runs so far*: {store.trivy_runs()}",
        "*Vulnerability DB*: "
        + (db_line(db, time.time()) if db else "none yet: run `python -m bot db update` (workers fetch it at start)"),
        "*DB updates*: " + _update_line(dbupdate.fleet_record(redis), settings),
        "*Ranking feeds*: " + _feeds_line(redis),
    ]
    failures = failures_for(store.all_failures(), channel)[:5]
    if failures:
        lines.append("*Recent failures*:")
        lines += [
            mrkdwn("• `{ref}` {ago}: {why}", ref=f["reference"], ago=_ago(f["at"]), why=f["message"]) for f in failures
        ]
    else:
        lines.append("*Recent failures*: none")
    return "\n".join(lines)


def failures_for(failures: list[dict], channel: str | None) -> list[dict]:
    """The failures ``channel`` may see: its own; all of them for None (the operator). Pure."""
    return failures if channel is None else [f for f in failures if f.get("channel") == channel]


def db_line(db, now: float) -> str:
    """The DB's version and age, with a warning when it is older than DB_STALE_HOURS. Pure."""
    updated = parse_time(db.updated_at)
    hours = int((now - updated.timestamp()) / 3600) if updated else None
    age_text = (
        f"{hours} hours old"
        if hours is not None and hours < 72
        else f"{hours // 24} days old"
        if hours
        else "age unknown"
    )
    line = f"v{db.version}, built {day(db.updated_at)} ({age_text})"
    if hours is not None and hours >= DB_STALE_HOURS:
        line += (
            f" ⚠ older than {DB_STALE_HOURS} hours: run `python -m bot db update`, and check that the "
            "scheduler is running (it refreshes the DB every DB_REFRESH_INTERVAL)"
        )
    return line


def _update_line(record: dict | None, settings: Settings) -> str:
    every = f"every {settings.db_refresh_interval // 3600} h" if settings.db_refresh_interval >= 3600 else "regularly"
    if not record or not record.get("finished_at"):
        return f"none recorded yet (the scheduler runs `python -m bot db update` {every})"
    return f"last one {_ago(float(record['finished_at']))} (the scheduler runs one {every})"


def _feeds_line(redis: Redis) -> str:
    """``KEV of 2026-12-04 (1 day old), EPSS of 2026-12-04``, with the last failed attempt's reason."""
    parts = []
    for kind in FeedKind:
        loaded = feed_status(redis, kind)
        name = kind.value.upper()
        if not loaded.loaded:
            parts.append(f"no {name} loaded" + (f" ({escape(loaded.error)})" if loaded.error else ""))
            continue
        age = (datetime.now(UTC).date() - date.fromisoformat(loaded.date)).days
        problem = f"; last update failed: {escape(loaded.error)}" if loaded.error else ""
        parts.append(f"{name} of {loaded.date} ({age} day{'s' if age != 1 else ''} old{problem})")
    return ", ".join(parts)


def _ago(at: float) -> str:
    minutes = int((time.time() - at) / 60)
    return f"{minutes} min ago" if minutes < 120 else f"{minutes // 60} h ago"
