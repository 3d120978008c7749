"""The weekly digest of a channel, exactly once per period: the job leases the period, rescans every watched
image (cached by digest and DB), posts one message (or updates the one an earlier try posted), saves what it
saw for next week, and marks the period posted. Runs on the digest queue, behind interactive scans."""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime

from redis import Redis
from rq import Queue, Retry, get_current_job

from bot import config as bot_config
from bot.jobs.triage_thread import applied_for
from bot.render.digest import digest_message
from bot.slack_client import client_for
from workers.chainguard.state import plan_alternative
from workers.digests.contents import ImageEntry, Snapshot, entry
from workers.digests.store import LEASE_TTL, DigestStore
from workers.errors import ScanError
from workers.feeds.attach import joined
from workers.reference import InvalidReference, parse_reference
from workers.scan.engine import Scanner

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
            retry=Retry(max=3, interval=[30, 120, 300]),
            job_timeout=3600,
            result_ttl=7 * 24 * 3600,
        )
        queued += 1
    return queued


def send_digest(team: str, channel: str, period: str, late: bool = False) -> dict:
    job = get_current_job()
    redis, settings = job.connection, bot_config.current()
    store = DigestStore(redis)
    if not store.lease(team, channel, period, job.id):
        return {"skipped": "posted or being sent"}
    schedule = store.schedule(team, channel)
    moment = schedule.moment(period) if schedule else datetime.now(UTC)
    entries, snapshots = collect(redis, settings, team, channel)
    message = digest_message(channel, period, moment, entries, late=late)
    client = client_for(settings, redis, team)
    ts = store.message_ts(team, channel, period)
    if ts:  # an earlier try posted it: update, never repost
        client.chat_update(channel=channel, ts=ts, text=message.text, blocks=message.blocks)
    else:
        ts = client.chat_postMessage(channel=channel, text=message.text, blocks=message.blocks)["ts"]
        store.record_message(team, channel, period, ts)
    store.save_snapshots(team, channel, snapshots)
    store.mark_posted(team, channel, period)
    return {"ts": ts, "images": len(entries)}


def collect(redis: Redis, settings, team: str, channel: str) -> tuple[list[ImageEntry], dict[str, Snapshot]]:
    """Every watched image rescanned with the current DB (cached when digest and DB are unchanged)."""
    store, scanner = DigestStore(redis), Scanner(settings.engine, redis)
    entries, snapshots, now = [], {}, datetime.now(UTC)
    for reference in store.watched(team, channel):
        previous = store.snapshot(team, channel, reference)
        try:
            ref = parse_reference(reference)
            report = scanner.scan(ref)
        except (ScanError, InvalidReference) as exc:
            entries.append(entry(reference, None, previous, error=getattr(exc, "message", str(exc))))
            continue
        alternative = None
        mapping = plan_alternative(ref, settings.engine, redis)
        if mapping.scannable:
            try:
                alternative = scanner.scan(mapping.reference)
            except ScanError as exc:
                log.info("digest: alternative of %s not scanned: %s", reference, exc.kind.value)
        report = joined(redis, [report], now)[0]  # KEV first among what is new
        applied = applied_for(redis, team, report, now)
        entries.append(entry(reference, report, previous, open_counts=applied.open_counts, alternative=alternative))
        snapshots[reference] = Snapshot.of(report)
    return entries, snapshots


ALERT_SEEN = "chainscan:alert:seen:"
ALERTED = "chainscan:alert:sent:"


def check_alerts(settings, redis: Redis, now: datetime, *, client=None) -> int:
    """One alert pass over every watched image: a finding at or above ALERT_MIN_SEVERITY that appeared since the
    last pass (a new digest behind the tag, or a new disclosure in the DB), not decided by the team, is told
    to each channel watching it, once. The first pass over an image sets its baseline and tells nothing."""
    from workers.report import at_or_above
    from workers.triage.apply import finding_key

    store, scanner, sent = DigestStore(redis), Scanner(settings.engine, redis), 0
    wanted = at_or_above(settings.engine.alert_min_severity)
    for team, channel in _watching_channels(redis):
        for reference in store.watched(team, channel):
            try:
                report = scanner.scan(parse_reference(reference))
            except (ScanError, InvalidReference):
                continue  # the digest reports images that cannot be scanned
            applied = applied_for(redis, team, report, now)
            serious = [
                f
                for f in report.vulnerabilities
                if f.severity in wanted
                and finding_key(f) not in {k for k, d in applied.decided.items() if d.suppressing}
            ]
            seen_key = f"{ALERT_SEEN}{team}:{channel}:{reference}"
            baseline = redis.exists(seen_key)
            if baseline:
                fresh = [f for f in serious if not redis.sismember(seen_key, f"{f.id}|{f.package}")]
                sent += sum(_alert_once(settings, redis, team, channel, reference, f, client) for f in fresh)
            with redis.pipeline() as pipe:
                pipe.sadd(seen_key, "", *[f"{f.id}|{f.package}" for f in serious])
                pipe.expire(seen_key, 400 * 86400)
                pipe.execute()
    return sent


def _alert_once(settings, redis: Redis, team: str, channel: str, reference: str, finding, client) -> bool:
    """Tell the channel about one new serious finding, unless it was told before (SET NX per finding)."""
    identity = f"{finding.id}|{finding.package}"
    if not redis.set(f"{ALERTED}{team}:{channel}:{reference}:{identity}", "1", nx=True, ex=400 * 86400):
        return False
    name = reference.removeprefix("docker.io/library/")
    fixed = f", fixed in {finding.fixed}" if finding.fixed else ", no fix yet"
    text = (
        f"New {finding.severity} in watched `{name}`: {finding.id} in {finding.package} {finding.installed}{fixed}. "
        f"`/scan {name}` for the full thread."
    )
    (client or client_for(settings, redis, team)).chat_postMessage(channel=channel, text=text)
    return True


def _watching_channels(redis: Redis) -> list[tuple[str, str]]:
    from urllib.parse import unquote

    found = []
    for key in redis.scan_iter(match="chainscan:watch:*", count=500):
        _, _, team, channel = (key.decode() if isinstance(key, bytes) else key).split(":", 3)
        found.append((unquote(team), unquote(channel)))
    return sorted(found)


def alert_job(now_iso: str) -> dict:
    job = get_current_job()
    return {"alerts": check_alerts(bot_config.current(), job.connection, datetime.fromisoformat(now_iso))}


def enqueue_alert_check_if_due(redis: Redis, settings, now: datetime) -> bool:
    """Every WATCH_CHECK_INTERVAL seconds across schedulers: one alert pass on the digest queue."""
    slot = int(now.timestamp()) // max(60, settings.watch_check_interval)
    if not redis.set(f"chainscan:schedule:alerts:{slot}", "1", nx=True, ex=2 * settings.watch_check_interval):
        return False
    digest_queue(redis, settings).enqueue(alert_job, now.isoformat(), result_ttl=3600, job_timeout=3600)
    return True
