"""The weekly digest of a channel, exactly once per period: the job leases the period, rescans every watched
image (cached by digest and DB), saves what it saw and the digest's contents in one transaction, posts one message
(or updates the one an earlier try posted, found by its ts or by its metadata in the channel's history), posts the
trend chart and, when the message was cut, the full digest as a file in its thread, once each, and marks the period
posted. Runs on the digest queue, behind interactive scans. Also the hourly alert pass."""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime, timedelta

from redis import Redis
from rq import Queue, Retry, get_current_job
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import config as bot_config
from bot.jobs.publishing import find_posted
from bot.jobs.triage_thread import applied_for
from bot.render.blocks import Message
from bot.render.chart import trend_chart
from bot.render.digest import digest_markdown, digest_message
from bot.slack_client import client_for, error_code, is_permanent
from workers.chainguard.state import plan_alternative
from workers.digests.contents import Digest, Observed, Snapshot, compose
from workers.digests.health import DB_STALE_AFTER
from workers.digests.store import LEASE_TTL, DigestPart, DigestStore
from workers.digests.trends import Sla
from workers.errors import ScanError
from workers.feeds.attach import joined
from workers.heartbeat import beating
from workers.reference import InvalidReference, parse_reference
from workers.report import ScanReport
from workers.scan import dbupdate, trivy
from workers.scan.engine import Scanner
from workers.telemetry import metrics
from workers.triage.store import DecisionStore

log = logging.getLogger(__name__)

LATE_AFTER = 3600  # seconds past the scheduled moment: the digest says it is late
CATCH_UP = 7 * 24 * 3600  # a period missed for longer is skipped (the next one is due by then)


def digest_queue(redis: Redis, settings) -> Queue:
    return Queue(f"{settings.queue_name}-digest", connection=redis)


def enqueue_due_digests(redis: Redis, settings, now: datetime) -> int:
    """The scheduler's tick: one job per channel whose period is due and not posted, across schedulers."""
    store, queued = DigestStore(redis), 0
    for team, channel, schedule in store.schedules():
        period = schedule.current_period(now)
        moment = schedule.moment(period)
        age = (now - moment).total_seconds()
        if age > CATCH_UP or store.posted(team, channel, period) or not store.watched(team, channel):
            continue
        marker = f"chainscan:digest:enqueued:{hashlib.sha1(f'{team}|{channel}|{period}'.encode()).hexdigest()}"
        if not redis.set(marker, "1", nx=True, ex=LEASE_TTL):
            continue  # another scheduler (or an earlier tick) queued it; after the lease a lost job is redone
        digest_queue(redis, settings).enqueue(
            send_digest,
            team,
            channel,
            period,
            age > LATE_AFTER,
            now.isoformat(),
            retry=Retry(max=3, interval=[30, 120, 300]),
            job_timeout=3600,
            result_ttl=7 * 24 * 3600,
        )
        queued += 1
    return queued


def send_digest(team: str, channel: str, period: str, late: bool = False, now_iso: str | None = None) -> dict:
    """Lease the period, then: scanned (contents and history saved in one transaction, unless an earlier try
    did) → the message posted or updated → its thread parts (chart, file) once each → posted. ``now_iso`` is the
    scheduler's clock (a test passes its own); ages and first-seen dates are counted from it."""
    job = get_current_job()
    redis, settings = job.connection, bot_config.current()
    store = DigestStore(redis)
    if not store.lease(team, channel, period, job.id):
        return {"skipped": "posted or being sent"}
    with beating(job):  # a killed worker's digest is found abandoned within seconds and retried
        now = datetime.fromisoformat(now_iso) if now_iso else datetime.now(UTC)
        digest = store.contents(team, channel, period)
        if digest is None:
            digest, snapshots = collect(redis, settings, team, channel, period, now)
            store.save_scanned(team, channel, period, digest, snapshots)
        schedule = store.schedule(team, channel)
        moment = schedule.moment(period) if schedule else now
        message = digest_message(channel, period, moment, digest, late=late)
        client = client_for(settings, redis, team)
        ts = _post_or_update(client, store, team, channel, period, message)
        _post_thread_parts(client, store, team, channel, ts, digest, message, moment)
        store.mark_posted(team, channel, period)
    return {"ts": ts, "images": len(digest.entries)}


DIGEST_EVENT = "chainscan_digest"  # the event_type of the metadata every digest message carries
HISTORY_LOOKBACK = 200  # newest messages of the channel searched for a digest posted by a killed try


def _post_or_update(
    client: WebClient, store: DigestStore, team: str, channel: str, period: str, message: Message
) -> str:
    """Update the period's message if a try posted it, else post it. The message carries metadata naming its
    period, so a try killed between Slack's answer and recording the ts is found in the channel's history."""
    ts = store.message_ts(team, channel, period) or find_posted(
        client, channel, DIGEST_EVENT, {"period": period}, HISTORY_LOOKBACK
    )
    if ts:
        store.record_message(team, channel, period, ts)
        client.chat_update(channel=channel, ts=ts, text=message.text, blocks=message.blocks)
        return ts
    metadata = {"event_type": DIGEST_EVENT, "event_payload": {"period": period}}
    ts = client.chat_postMessage(channel=channel, text=message.text, blocks=message.blocks, metadata=metadata)["ts"]
    store.record_message(team, channel, period, ts)
    metrics.digest_sent()
    return ts


def _post_thread_parts(
    client: WebClient,
    store: DigestStore,
    team: str,
    channel: str,
    ts: str,
    digest: Digest,
    message: Message,
    moment: datetime,
) -> None:
    """The trend chart, and the full digest as a file when the message was cut, each once: recorded after the
    upload, and looked for in the thread first (a try killed between the two left it there)."""
    period = digest.period
    wanted = ([DigestPart.CHART] if digest.weeks else []) + ([DigestPart.FILE] if message.truncated else [])
    pending = [part for part in wanted if not store.part_posted(team, channel, period, part)]
    present = _files_in_thread(client, channel, ts) if pending else set()
    for part in pending:
        filename = part.filename(period)
        if filename not in present:
            upload = _chart_upload(digest) if part is DigestPart.CHART else _file_upload(channel, digest, moment)
            client.files_upload_v2(channel=channel, thread_ts=ts, filename=filename, **upload)
        store.mark_part(team, channel, period, part)


def _chart_upload(digest: Digest) -> dict:
    chart = trend_chart(digest.weeks, digest.period)
    return {
        "file": chart.png,
        "title": f"Critical and high per image, week {digest.period}",
        "alt_txt": chart.description,
        "initial_comment": chart.description,
    }


def _file_upload(channel: str, digest: Digest, moment: datetime) -> dict:
    return {
        "content": digest_markdown(channel, digest.period, moment, digest),
        "title": f"Weekly images, week {digest.period}: the full digest",
        "initial_comment": "The whole digest, as it did not fit in one Slack message.",
    }


def _files_in_thread(client: WebClient, channel: str, ts: str) -> set[str]:
    try:
        replies = client.conversations_replies(channel=channel, ts=ts, limit=200)
    except SlackApiError as exc:
        if not is_permanent(exc):
            raise
        log.warning("digest: cannot read the thread %s in %s (%s)", ts, channel, error_code(exc))
        return set()
    return {f.get("name") for m in replies.get("messages") or [] for f in m.get("files") or []}


def collect(
    redis: Redis, settings, team: str, channel: str, period: str, now: datetime
) -> tuple[Digest, dict[str, Snapshot]]:
    """Read what the digest needs (every watched image rescanned with the current DB, cached when digest and DB
    are unchanged; last week's snapshots; the weekly history; the team's decisions), then compose it purely."""
    store, scanner = DigestStore(redis), Scanner(settings.engine, redis)
    observed, repositories = [], []
    watched = store.watched(team, channel)
    alternatives = _alternatives(watched, settings.engine, redis)
    snapshots, weeks = store.snapshots(team, channel, watched), store.all_weeks(team, channel, watched)
    last_digests = {reference: s.digest for reference, s in snapshots.items() if s and s.digest}
    # after a DB update: judged in batches (last week's digests while the tags are resolved), no image read
    scanner.reevaluate(watched + list(alternatives.values()), likely=last_digests)
    scanned = {reference: _scanned(scanner, reference, alternatives.get(reference)) for reference in watched}
    reports = {reference: report for reference, (report, _) in scanned.items() if isinstance(report, ScanReport)}
    risky = dict(zip(reports, joined(redis, list(reports.values()), now), strict=True))  # one look-up: KEV, EPSS
    for reference, (report, alternative) in scanned.items():
        previous = snapshots[reference]
        if not isinstance(report, ScanReport):
            observed.append(Observed(reference, None, previous, weeks[reference], error=report))
            continue
        report = risky[reference]  # KEV first among what is new
        applied = applied_for(redis, team, report, now)
        observed.append(Observed(reference, report, previous, weeks[reference], applied, alternative))
        repositories.append(parse_reference(reference).name)
    decisions = [d for repository in dict.fromkeys(repositories) for d in DecisionStore(redis).get(team, repository)]
    sla = Sla(settings.engine.sla_days_critical, settings.engine.sla_days_high)
    stale_after = max(DB_STALE_AFTER, timedelta(seconds=2 * settings.engine.db_refresh_interval))
    return compose(period, observed, decisions, now, sla, db_updated_at=_worker_db(redis), db_stale_after=stale_after)


def _scanned(scanner: Scanner, reference: str, alternative: str | None) -> tuple[ScanReport | str, ScanReport | None]:
    """The image's report (or the sentence saying why there is none), and its alternative's when that scans."""
    try:
        report = scanner.scan(parse_reference(reference))
    except (ScanError, InvalidReference) as exc:
        return getattr(exc, "message", str(exc)), None
    if alternative is None:
        return report, None
    try:
        return report, scanner.scan(alternative)
    except ScanError as exc:
        log.info("digest: alternative of %s not scanned: %s", reference, exc.kind.value)
        return report, None


def _alternatives(references: list[str], settings, redis: Redis) -> dict[str, str]:
    """Each watched image's Chainguard alternative to scan beside it, where there is one."""
    found = {}
    for reference in references:
        try:
            mapping = plan_alternative(parse_reference(reference), settings, redis, suggest=False)
        except InvalidReference:
            continue
        if mapping.scannable:
            found[reference] = str(mapping.reference)
    return found


def _worker_db(redis: Redis) -> str | None:
    """When the vulnerability DB this worker scans with was updated: its ``db/metadata.json``, else the fleet's
    last ``db update`` (a worker scanning through a ``trivy server`` has no DB of its own)."""
    local = trivy.db_info()
    if local and local.updated_at:
        return local.updated_at
    return ((dbupdate.fleet_record(redis) or {}).get("db") or {}).get("updated_at")
