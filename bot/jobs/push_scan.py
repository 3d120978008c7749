"""Scan on push: the jobs behind ``POST /hooks/registry``.

:func:`enqueue_push` (called by the web process for a verified push of a watched repository) enqueues one
scan per digest at a time: a Redis claim on the digest (SET NX) lets one of a flood of identical pushes
through while its scan is pending, and the scan cache serves any later one without running Trivy.
:func:`notify_push` runs after the scan and compares it with the previous report of that tag (the
repository's history): when the push brings a finding at or above ``ALERT_MIN_SEVERITY``, each watching
channel hears it once, in the image's latest thread there (``ThreadStore.latest``) or in a new message.
"""

from __future__ import annotations

import logging

from redis import Redis
from rq import Queue, Retry, get_current_job
from rq.job import Dependency
from slack_sdk.errors import SlackApiError

from bot import config as bot_config
from bot.config import SlackSettings
from bot.jobs.scan_thread import job_outcome
from bot.render import slack_text
from bot.slack_client import client_for, error_code, is_permanent
from bot.threads import ThreadStore
from workers.hooks import Push
from workers.reference import ImageRef
from workers.report import Finding, ScanReport, at_or_above, severity_order
from workers.scan.queue import enqueue_scan
from workers.scan.store import PREFIX, ReportStore
from workers.telemetry import context as telemetry

log = logging.getLogger(__name__)

PENDING = f"{PREFIX}hook:pending:"  # + digest (or reference): a scan of it is queued or running
TOLD = f"{PREFIX}hook:told:"  # + channel:digest: that channel heard about this push
TOLD_TTL = 30 * 24 * 3600
LISTED = 10


def enqueue_push(queue: Queue, settings: SlackSettings, ref: ImageRef, push: Push, watchers: list) -> bool:
    """Queue the scan of ``ref`` and its notifier, unless a scan of the same digest is already pending."""
    pending = f"{PENDING}{push.digest or str(ref)}"
    if not queue.connection.set(pending, 1, nx=True, ex=settings.engine.scan_timeout * 2 + 300):
        return False
    scan = enqueue_scan(queue, settings.engine, str(ref), meta={"source": "registry_hook"})
    queue.enqueue(
        notify_push,
        {"reference": str(ref), "name": ref.name, "scan": scan.id, "pending": pending, "watchers": watchers},
        depends_on=Dependency(jobs=[scan], allow_failure=True),
        retry=Retry(max=3, interval=[5, 15, 60]),
        result_ttl=3600,
        meta=telemetry.job_meta(),
    )
    return True


def notify_push(push: dict) -> dict:
    job = get_current_job()
    redis, settings = job.connection, bot_config.current()
    outcome = job_outcome(redis, push["scan"])
    redis.delete(push["pending"])  # a later push of this digest is scanned again (from the cache)
    if outcome.error:
        log.warning("the scan of pushed %s failed: %s", push["reference"], outcome.error.message)
        return {"error": outcome.error.kind.value}
    report = outcome.report
    brought = brought_findings(report, previous_findings(ReportStore(redis), push["name"], report), settings)
    if not brought:
        return {"brought": 0}
    told = [channel for team, channel in push["watchers"] if _tell(redis, settings, team, channel, report, brought)]
    return {"brought": len(brought), "told": told}


def previous_findings(store: ReportStore, name: str, report: ScanReport) -> set[tuple[str, str]] | None:
    """The (id, package) of the previous report of this tag (another digest), or None when there is none."""
    for entry in store.history(name):
        if entry.get("reference") == report.image.reference and entry.get("digest") != report.image.digest:
            return {(item[0], item[1]) for item in entry.get("findings") or []}
    return None


def brought_findings(report: ScanReport, before: set | None, settings: SlackSettings) -> list[Finding]:
    """What the push brings at or above ALERT_MIN_SEVERITY; with no previous report everything counts."""
    wanted = at_or_above(settings.engine.alert_min_severity)
    new = [
        f
        for f in report.vulnerabilities
        if f.severity in wanted and (before is None or (f.id, f.package) not in before)
    ]
    return sorted(new, key=severity_order)


def _tell(redis: Redis, settings: SlackSettings, team: str, channel: str, report: ScanReport, brought) -> bool:
    told = f"{TOLD}{channel}:{report.image.digest}"
    if redis.exists(told):
        return False  # a retried job, or the same digest pushed again: told once
    lines = [
        slack_text.mrkdwn(
            "• {id} `{package}` {installed} {severity}",
            id=f.id,
            package=f.package,
            installed=f.installed,
            severity=f.severity,
        )
        for f in brought[:LISTED]
    ]
    more = f"\n…and {len(brought) - LISTED} more" if len(brought) > LISTED else ""
    head = slack_text.mrkdwn(
        "*A push of {reference}* ({digest}) brings {count} finding(s) at or above {severity}:",
        reference=report.image.reference,
        digest=(report.image.digest or "")[:19],
        count=len(brought),
        severity=settings.engine.alert_min_severity,
    )
    thread_ts = ThreadStore(redis).latest(channel, report.image.reference)
    try:
        client_for(settings, redis, team or None).chat_postMessage(
            channel=channel, thread_ts=thread_ts, text=head + "\n" + "\n".join(lines) + more
        )
    except SlackApiError as exc:
        if not is_permanent(exc):
            raise  # RQ retries; the channels already told are not told again
        log.warning("could not tell %s about a push: %s", channel, error_code(exc))
        return False
    redis.set(told, 1, ex=TOLD_TTL)
    return True
