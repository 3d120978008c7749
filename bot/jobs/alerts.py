"""The hourly alert pass: new serious findings of watched images, told once per (channel, vulnerability, day).

For each channel (under its lease, so racing passes never share one): every watched image is rescanned (cached
by digest and DB); findings at or above ALERT_MIN_SEVERITY, not decided by the team and not in what the channel
was told (its baseline, set when it started watching) are grouped by vulnerability. A group gets one message
(updated, never reposted, when more images turn up the same day), until the channel has had ALERT_DAILY_LIMIT
messages that day; the rest go into the day's one summary, with every finding in a file in its thread. A message
carries metadata, so a try killed between Slack's answer and recording the ts finds it in the channel's history.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime

from redis import Redis
from redis.exceptions import LockError
from rq import Retry, get_current_job
from slack_sdk.errors import SlackApiError

from bot import config as bot_config
from bot.findings_messages import FindingsMessages
from bot.jobs.digest_thread import digest_queue
from bot.jobs.publishing import find_posted
from bot.jobs.triage_thread import applied_for
from bot.render.alerts import group_message, summary_markdown, summary_message
from bot.slack_client import client_for, error_code
from bot.threads import ThreadStore
from workers.alerts.grouping import Affected, AlertGroup, group_new, plan, remedy_of
from workers.alerts.store import AlertStore, GroupRecord, GroupState, finding_id
from workers.base.attribution import official_candidate
from workers.digests.store import DigestStore
from workers.errors import ScanError
from workers.heartbeat import beating
from workers.owners.lookup import routes_in_force
from workers.reference import InvalidReference, parse_reference
from workers.report import ScanReport, at_or_above
from workers.scan.engine import Scanner
from workers.triage.apply import finding_key
from workers.triage.store import ActionTarget, DecisionStore

log = logging.getLogger(__name__)

ALERT_EVENT = "chainscan_alert"  # the event_type of a grouped alert's metadata
SUMMARY_EVENT = "chainscan_alert_summary"


# A killed try's retry takes its leases over, so the first retry need not wait them out; the later ones outlast
# another job's pass on a channel (ChannelBusy) and its lease (LEASE_TTL).
ALERT_RETRY = Retry(max=4, interval=[5, 30, 60, 120])


class ChannelBusy(RuntimeError):
    """Another job's pass (or its killed try, until its lease runs out) holds a channel: the job is retried."""


def check_alerts(settings, redis: Redis, now: datetime, *, client=None) -> int:
    """One pass over every watching channel; returns how many messages it posted (updates not counted)."""
    return alert_pass(settings, redis, now, client=client)[0]


def alert_pass(
    settings, redis: Redis, now: datetime, *, client=None, holder: str | None = None
) -> tuple[int, list[str]]:
    """(messages posted, channels skipped because another pass held them). ``holder``: the job's id, so its
    retry takes over the leases a killed try left instead of waiting them out."""
    sent, busy = 0, []
    for team, channel in DigestStore(redis).watching_channels():
        lease = AlertStore(redis).lease(team, channel, holder)
        if not lease.acquire():
            busy.append(channel)  # another job's pass is on this channel, or its dead try's lease has not run out
            continue
        try:
            sent += _channel_pass(settings, redis, team, channel, now, client, lease.reacquire)
        finally:
            try:
                lease.release()
            except LockError:
                log.warning("alert: the lease of %s ran out during the pass", channel)
    return sent, busy


def _channel_pass(settings, redis: Redis, team: str, channel: str, now: datetime, client, renew) -> int:
    """The channel's pass; ``renew`` keeps its lease (a lost lease raises LockError: the job is retried)."""
    scanned = _new_findings(settings, redis, team, channel, now, renew)
    if not scanned:
        return 0
    new, watched = scanned
    day, alerts = now.date().isoformat(), AlertStore(redis)
    groups = group_new(new, watched)
    if not groups:
        return 0
    client = client or client_for(settings, redis, team)
    chosen = plan(groups, 0, settings.engine.alert_daily_limit)  # the slots themselves are claimed one by one
    sent, summarised = 0, []
    for alert in chosen.messages + chosen.summarised:
        renew()
        outcome = _tell(settings, redis, client, team, channel, day, alert)
        if outcome is GroupState.SUMMARISED:
            summarised.append(alert)
        elif outcome is not None:
            sent += outcome is GroupState.PENDING  # a message posted now (not an update)
            _mark(alerts, team, channel, alert)
    if summarised and _summarise(settings, client, alerts, team, channel, day, summarised):
        for alert in summarised:
            _mark(alerts, team, channel, alert)
    return sent


def _new_findings(settings, redis: Redis, team: str, channel: str, now: datetime, renew=lambda: None):
    """(new findings of the channel's images, how many it watches); images without a baseline get one."""
    store, alerts, scanner = DigestStore(redis), AlertStore(redis), Scanner(settings.engine, redis)
    wanted, new, bases = at_or_above(settings.engine.alert_min_severity), [], {}
    references = store.watched(team, channel)
    scanner.reevaluate(references)  # after a DB update: judged in batches, the image not read
    for reference in references:
        renew()
        try:
            report = scanner.scan(parse_reference(reference))
        except (ScanError, InvalidReference):
            continue  # the digest reports images that cannot be scanned
        serious = _serious(redis, team, report, wanted, now)
        if not alerts.has_baseline(team, channel, reference):
            alerts.mark_seen(team, channel, reference, [finding_id(f.id, f.package) for f in serious])
            continue
        seen = alerts.seen(team, channel, reference)
        fresh = [f for f in serious if finding_id(f.id, f.package) not in seen]
        if fresh:
            base_name, current = _current_base(scanner, report, bases)
            new += [Affected(reference, f, remedy_of(report, f, base_name, current)) for f in fresh]
    return new, len(references)


def _serious(redis: Redis, team: str, report: ScanReport, wanted: set[str], now: datetime) -> list:
    """The findings an alert is about: at or above ALERT_MIN_SEVERITY and not hidden by a team's decision."""
    suppressed = {k for k, d in applied_for(redis, team, report, now).decided.items() if d.suppressing}
    return [f for f in report.vulnerabilities if f.severity in wanted and finding_key(f) not in suppressed]


def enqueue_baseline(queue, team: str, channel: str, references: list[str], now: datetime):
    """After ``watch add``: the baseline is what the image has now, so what the DB discloses after is told."""
    return queue.enqueue(set_baseline, team, channel, references, now.isoformat(), job_timeout=3600, result_ttl=600)


def set_baseline(team: str, channel: str, references: list[str], now_iso: str) -> dict:
    """Record each newly watched image's serious findings as the channel's baseline (a re-watch starts anew)."""
    settings, redis = bot_config.current(), get_current_job().connection
    scanner, alerts, now = Scanner(settings.engine, redis), AlertStore(redis), datetime.fromisoformat(now_iso)
    wanted, done = at_or_above(settings.engine.alert_min_severity), 0
    for reference in references:
        try:
            report = scanner.scan(parse_reference(reference))
        except (ScanError, InvalidReference) as exc:
            log.info("alert: no baseline for %s yet: %s", reference, getattr(exc, "message", exc))
            continue  # the first alert pass that can scan it sets it
        serious = _serious(redis, team, report, wanted, now)
        alerts.mark_seen(team, channel, reference, [finding_id(f.id, f.package) for f in serious])
        done += 1
    return {"baselines": done}


def _current_base(scanner, report: ScanReport, bases: dict):
    """The base an image names (labels) or its OS's official image, scanned once a pass (cached by digest)."""
    name = (report.base or {}).get("name") or official_candidate(report.image.os)
    if not name:
        return None, None
    if name not in bases:
        try:
            bases[name] = scanner.scan(parse_reference(name))
        except (ScanError, InvalidReference) as exc:
            log.info("alert: the current %s could not be scanned: %s", name, getattr(exc, "message", exc))
            bases[name] = None
    return name.removeprefix("docker.io/library/"), bases[name]


def _mark(alerts: AlertStore, team: str, channel: str, alert: AlertGroup) -> None:
    for reference in alert.references:
        ids = [finding_id(a.finding.id, a.finding.package) for a in alert.affected if a.reference == reference]
        alerts.mark_seen(team, channel, reference, ids)


def _tell(settings, redis, client, team, channel, day, alert: AlertGroup) -> GroupState | None:
    """Post, update or summarise one group. Returns PENDING for a new message, POSTED for an update of the
    day's message, SUMMARISED for the summary, None when Slack refused (told on the next pass)."""
    alerts = AlertStore(redis)
    record = alerts.group(team, channel, day, alert.vulnerability)
    if record is not None and record.state is GroupState.SUMMARISED:
        return GroupState.SUMMARISED
    if record is None and not alerts.claim_slot(
        team, channel, day, alert.vulnerability, settings.engine.alert_daily_limit
    ):
        alerts.save_group(team, channel, day, alert.vulnerability, GroupRecord(GroupState.SUMMARISED))
        return GroupState.SUMMARISED
    earlier = tuple(r for r in (record.references if record else []) if r not in alert.references)
    message, rows = group_message(
        alert,
        *_keys(redis, team, alert),
        _links(client, redis, channel, alert),
        mention=_mention(settings, redis, channel),
        earlier=earlier,
    )
    told = [*earlier, *alert.references]
    ts = record.ts if record else None
    if record is not None and record.state is GroupState.PENDING:
        ts = find_posted(client, channel, ALERT_EVENT, {"vulnerability": alert.vulnerability, "day": day})
    alerts.save_group(team, channel, day, alert.vulnerability, GroupRecord(GroupState.PENDING, ts, told))
    try:
        if ts:
            client.chat_update(channel=channel, ts=ts, text=message.text, blocks=message.blocks)
        else:
            metadata = {"event_type": ALERT_EVENT, "event_payload": {"vulnerability": alert.vulnerability, "day": day}}
            ts = client.chat_postMessage(channel=channel, text=message.text, blocks=message.blocks, metadata=metadata)[
                "ts"
            ]
    except SlackApiError as exc:
        log.warning("alert: could not tell %s about %s: %s", channel, alert.vulnerability, error_code(exc))
        if not (record and record.ts):
            alerts.give_back(team, channel, day, alert.vulnerability)
        return None
    alerts.save_group(team, channel, day, alert.vulnerability, GroupRecord(GroupState.POSTED, ts, told))
    FindingsMessages(redis).save(channel, ts, ts, message.blocks, rows)
    return GroupState.POSTED if record and record.ts else GroupState.PENDING


def _keys(redis: Redis, team: str, alert: AlertGroup) -> tuple[dict[str, str], str | None]:
    """An action key per image (its menu acts on that repository) and one for all of them."""
    store, keys, repositories = DecisionStore(redis), {}, []
    packages = tuple(dict.fromkeys(a.finding.package for a in alert.affected))
    for reference in alert.references:
        repository = parse_reference(reference).name
        mine = tuple(dict.fromkeys(a.finding.package for a in alert.affected if a.reference == reference))
        target = ActionTarget(team, repository, alert.vulnerability, mine[0], packages=mine)
        keys[reference] = store.action_key(target)
        repositories.append(repository)
    repositories = list(dict.fromkeys(repositories))
    if len(repositories) < 2 and len(alert.references) < 2:
        return keys, None
    target = ActionTarget(
        team, repositories[0], alert.vulnerability, packages[0], packages=packages, repositories=tuple(repositories[1:])
    )
    return keys, store.action_key(target)


def _links(client, redis: Redis, channel: str, alert: AlertGroup) -> dict[str, str]:
    """The permalink of each image's latest thread in the channel, where there is one and Slack says it."""
    links, threads = {}, ThreadStore(redis)
    for reference in alert.references[:10]:
        ts = threads.latest(channel, reference)
        if not ts:
            continue
        try:
            link = client.chat_getPermalink(channel=channel, message_ts=ts).get("permalink")
        except SlackApiError as exc:
            log.info("alert: no permalink for the latest thread: %s", error_code(exc))
            continue
        if link:
            links[reference] = link
    return links


def _mention(settings, redis: Redis, channel: str) -> str | None:
    """The user group of the team whose channel this is, if the routing file names one."""
    routes = routes_in_force(settings.engine, redis)
    return next((t.group for t in routes.teams if t.channel == channel and t.group), None)


def _summarise(settings, client, alerts: AlertStore, team, channel, day, groups: list[AlertGroup]) -> bool:
    """Post or update the day's summary and put this pass's findings in a file in its thread, once each."""
    ts, before = alerts.summary(team, channel, day)
    names = list(dict.fromkeys([*before, *(g.vulnerability for g in groups)]))
    message = summary_message(groups, settings.engine.alert_daily_limit, day)
    try:
        ts = ts or find_posted(client, channel, SUMMARY_EVENT, {"day": day})
        if ts:
            client.chat_update(channel=channel, ts=ts, text=message.text, blocks=message.blocks)
        else:
            metadata = {"event_type": SUMMARY_EVENT, "event_payload": {"day": day}}
            ts = client.chat_postMessage(channel=channel, text=message.text, blocks=message.blocks, metadata=metadata)[
                "ts"
            ]
        alerts.save_summary(team, channel, day, ts, names)
        content = summary_markdown(groups, day)
        if alerts.claim_once(f"summary-file:{team}:{channel}:{hashlib.sha256(content.encode()).hexdigest()}"):
            client.files_upload_v2(
                channel=channel,
                thread_ts=ts,
                content=content,
                filename=f"chainscan-alerts-{day}.md",
                title=f"New vulnerabilities past the daily limit, {day}",
            )
    except SlackApiError as exc:
        log.warning("alert: could not post the summary in %s: %s", channel, error_code(exc))
        return False
    return True


def alert_job(now_iso: str) -> dict:
    """The scheduled pass. It beats (workers.heartbeat), so a killed worker's pass is found abandoned and retried
    within seconds, not after its hour's timeout; the retry takes over the dead try's channel leases."""
    job = get_current_job()
    with beating(job):
        sent, busy = alert_pass(bot_config.current(), job.connection, datetime.fromisoformat(now_iso), holder=job.id)
    if busy:  # the retry (RQ's, ALERT_RETRY) tells what those channels missed, once
        raise ChannelBusy(f"{len(busy)} channel(s) held by another alert pass; {sent} alert(s) sent")
    return {"alerts": sent}


def enqueue_alert_check_if_due(redis: Redis, settings, now: datetime) -> bool:
    """Every WATCH_CHECK_INTERVAL seconds across schedulers: one alert pass on the digest queue, retried when a
    worker dies under it (the retry finds what the dead try posted by its metadata)."""
    slot = int(now.timestamp()) // max(60, settings.watch_check_interval)
    if not redis.set(f"chainscan:schedule:alerts:{slot}", "1", nx=True, ex=2 * settings.watch_check_interval):
        return False
    digest_queue(redis, settings).enqueue(
        alert_job, now.isoformat(), retry=ALERT_RETRY, result_ttl=3600, job_timeout=3600
    )
    return True
