"""RQ jobs that talk to Slack. They run on the workers, never in request threads.

``open_thread`` posts the parent message and enqueues the scans plus one
``publish_thread`` job that depends on them (RQ ``Dependency`` with
``allow_failure``), so exactly one job renders the outcome — success, failure
or a worker killed mid-scan — and nothing is posted twice.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from redis import Redis
from rq import Callback, Queue, Retry, get_current_job
from rq.job import Dependency, Job
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import config as bot_config
from bot.config import SlackSettings
from bot.findings_messages import FindingsMessages
from bot.jobs.owners import post_owner_note
from bot.jobs.publishing import (
    PUBLISH_RETRY,
    familiar,
    open_failed,
    post_once,
    post_parent,
    publish_failed,
    run_publisher,
)
from bot.jobs.triage_thread import applied_for, post_findings, team_of
from bot.render import blocks as render
from bot.render.files import report_markdown
from bot.slack_client import client_for, error_code, explain, is_permanent, tell_user
from bot.threads import Phase, Role, ThreadState, ThreadStore
from workers.chainguard.alternatives import ChainguardMapping
from workers.chainguard.state import plan_alternative
from workers.errors import ErrorKind, ScanError
from workers.feeds.attach import with_risk
from workers.pair import combine
from workers.reference import parse_reference
from workers.scan.queue import UNEXPECTED, Outcome, enqueue_pair, outcome_of, scan_queue
from workers.telemetry import context as telemetry
from workers.triage.decide import note_scan
from workers.triage.store import DecisionStore
from workers.triage.teams import remember_team

log = logging.getLogger(__name__)


def open_thread(request: dict) -> dict:
    """Post "queued" in the channel, then enqueue the scans and the publisher."""
    job = get_current_job()
    settings = bot_config.current()
    thread = ThreadState.from_request(request, ts="")
    client = client_for(settings, job.connection, thread.team)
    ref = parse_reference(thread.image)
    # Decided once per request and carried in the thread, so the card describes what was scanned.
    mapping = plan_alternative(ref, settings.engine, job.connection) if thread.with_alternative else None
    thread.mapping = mapping.to_dict() if mapping else None
    target = mapping.reference if mapping and mapping.scannable else None
    images = 2 if target else 1
    state = f"scanning {'it and its Chainguard alternative' if images == 2 else '1 image'}…"
    progress = render.progress_message(familiar(thread.image), state)
    try:
        thread.ts = job.meta.get("parent_ts") or post_parent(client, thread, progress, job)
    except SlackApiError as exc:
        if is_permanent(exc):
            log.warning("cannot post in %s: %s", thread.channel, error_code(exc))
            tell_user(
                thread.response_url, f"I could not start the scan of `{familiar(thread.image)}` here: {explain(exc)}"
            )
            return {"error": error_code(exc)}
        raise
    queue = scan_queue(job.connection, settings.engine)
    original, other = enqueue_pair(
        queue,
        settings.engine,
        ref,
        target,
        force=thread.force,
        meta={"thread": thread.key, "channel": thread.channel},  # its failure is shown in this channel only
        on_success=Callback(scan_progress),
    )
    thread.jobs = {Role.IMAGE.value: original.id, Role.CHAINGUARD.value: other.id if other else None}
    ThreadStore(job.connection).save(thread)
    queue.enqueue(
        publish_thread,
        thread.key,
        depends_on=Dependency(jobs=[j for j in (original, other) if j], allow_failure=True),
        retry=PUBLISH_RETRY,
        on_failure=Callback(publish_failed),
        result_ttl=3600,
        meta=telemetry.job_meta(),
    )
    log.info("opened the thread %s of %s", thread.ts, thread.image)
    return {"channel": thread.channel, "ts": thread.ts}


def scan_progress(job: Job, connection: Redis, result, *args, **kwargs) -> None:
    """RQ on_success of each scan: when the first of two is done, the parent says "1 of 2 images scanned…".

    RQ runs this before the job counts as finished and before its dependents are enqueued, so it
    always comes before ``publish_thread``'s final card. It must never fail the scan: errors are logged.
    """
    try:
        thread = ThreadStore(connection).load(job.meta.get("thread", ""))
        others = [jid for jid in (thread.jobs.values() if thread else []) if jid and jid != job.id]
        if not thread or thread.state is not Phase.SCANNING or len(others) != 1:
            return
        if Job.fetch(others[0], connection=connection).get_status() == "finished":
            return  # this is the second: the final card is on its way
        progress = render.progress_message(familiar(thread.image), "1 of 2 images scanned, waiting for the other…")
        client = client_for(bot_config.current(), connection, thread.team)
        client.chat_update(channel=thread.channel, ts=thread.ts, text=progress.text, blocks=progress.blocks)
    except Exception:
        log.warning("could not show scan progress", exc_info=True)


def publish_thread(key: str) -> dict:
    """Render the scan outcome into the parent message and the thread."""
    return run_publisher(key, _publish_scan)


def _publish_scan(client: WebClient, store: ThreadStore, thread: ThreadState, connection: Redis) -> None:
    outcome = job_outcome(connection, thread.jobs.get(Role.IMAGE.value))
    if outcome.error:
        _publish_failure(client, store, thread, outcome.error)
        return
    settings = bot_config.current()
    mapping = ChainguardMapping.from_dict(thread.mapping) if thread.mapping else None
    other_job = thread.jobs.get(Role.CHAINGUARD.value)
    other = job_outcome(connection, other_job) if other_job else None
    _publish_report(client, store, thread, combine(outcome.report, mapping, other), settings)


def close_stale_thread(key: str) -> None:
    """Used by the scheduler's sweeper: a thread stuck at "scanning…" gets a clear ending."""
    job = get_current_job()
    store = ThreadStore(job.connection)
    thread = store.load(key)
    if thread is None or thread.state is not Phase.SCANNING:
        return
    client = client_for(bot_config.current(), job.connection, thread.team)
    error = ScanError.of(ErrorKind.LOST, "thread")
    _publish_failure(client, store, thread, error)


def job_outcome(connection, job_id: str | None) -> Outcome:
    if not job_id:
        return Outcome(error=UNEXPECTED)
    try:
        job = Job.fetch(job_id, connection=connection)
    except Exception:  # NoSuchJobError: expired or lost with a Redis restart
        return Outcome(error=ScanError.of(ErrorKind.LOST, "job"))
    return outcome_of(job) or Outcome(error=UNEXPECTED)


def _publish_failure(client: WebClient, store: ThreadStore, thread: ThreadState, error: ScanError) -> None:
    reference = familiar(thread.image)
    post_once(client, store, thread, "error", render.error_message(reference, error.message))
    card = render.error_message(reference, "the scan failed; the reason is in the thread.")
    client.chat_update(channel=thread.channel, ts=thread.ts, text=card.text, blocks=card.blocks)
    thread.state = Phase.FAILED
    store.save(thread)


def _publish_report(
    client: WebClient, store: ThreadStore, thread: ThreadState, result, settings: SlackSettings
) -> None:
    redis = store.redis
    now = datetime.now(UTC)
    result = with_risk(redis, result, now)  # KEV and EPSS on each finding, for ranking and the card
    report = result.report
    remember_team(redis, thread.team)
    note_scan(DecisionStore(redis), team_of(thread, redis), report, now)
    applied = applied_for(redis, team_of(thread, redis), report, now)
    layers = render.layers_message(report)
    post_once(client, store, thread, "layers", layers)
    post_owner_note(client, store, thread, report, redis)
    findings_ts, overflow = post_findings(client, store, thread, report, applied, settings.top_findings, redis)
    parts = [("layers", layers)]
    comparison = render.comparison_message(result)
    if comparison:
        parts.append(("comparison", comparison))
        overflow = overflow or any(
            len(x) > render.COMPARISON_LIST
            for x in (result.comparison.removed, result.comparison.kept, result.comparison.added)
        )
    overflow = overflow or any(message.truncated for _, message in parts)
    overflow = overflow or bool(applied.decided)  # decided findings are listed in the file, never just hidden
    if comparison:
        post_once(client, store, thread, "comparison", comparison)
    if overflow and not store.posted(thread, "file"):
        client.files_upload_v2(
            channel=thread.channel,
            thread_ts=thread.ts,
            content=report_markdown(report, result.alternative_report, result.comparison, applied),
            filename=f"{report.image.reference.rsplit('/', 1)[-1].replace(':', '-').replace('@', '-')}-report.md",
            title=f"Full report: {report.image.reference}",
            initial_comment=f"All {report.total} findings for {report.image.reference}.",
        )
        store.mark_posted(thread, "file")
    link = _permalink(client, thread.channel, findings_ts) if findings_ts else thread.findings_link
    thread.findings_link = link
    card = render.pair_card(result, applied, findings_link=link)
    client.chat_update(channel=thread.channel, ts=thread.ts, text=card.text, blocks=card.blocks)
    FindingsMessages(redis).save_card(thread.channel, thread.ts, result, link)
    store.remember_latest(thread, report.image.reference)
    thread.state = Phase.DONE
    store.save(thread)


def _permalink(client: WebClient, channel: str, ts: str) -> str | None:
    """The findings message's link for the card's *Show findings* button; None if Slack will not say."""
    try:
        return client.chat_getPermalink(channel=channel, message_ts=ts).get("permalink")
    except SlackApiError as exc:
        log.info("no permalink for the findings message: %s", error_code(exc))
        return None


def request_from_command(command: dict, scan) -> dict:
    """The fields of a ThreadState that the slash command provides (ts comes once posted)."""
    return {
        "channel": command["channel_id"],
        "user": command["user_id"],
        "team": command.get("team_id"),
        "response_url": command.get("response_url"),
        "image": str(scan.image),
        "severity": scan.severity,
        "only_fixed": scan.only_fixed,
        "force": scan.force,
        "with_alternative": scan.with_alternative,
        "triage": scan.triage,
        "kev_only": scan.kev_only,
        "epss_min": scan.epss_min,
    }


def enqueue_open_thread(queue: Queue, request: dict, source: telemetry.Source = telemetry.Source.SLASH_COMMAND) -> Job:
    """The one Redis write of a slash command: a single MULTI/EXEC (RQ's pipeline parameter). The job's meta
    carries the request id and ``source`` to every job that follows (:mod:`workers.telemetry.context`)."""
    with queue.connection.pipeline() as pipe:
        job = queue.enqueue(
            open_thread,
            request,
            retry=Retry(max=3, interval=[2, 10, 30]),
            on_failure=Callback(open_failed),
            result_ttl=600,
            failure_ttl=30 * 60,  # its args hold the response_url, which Slack honours for 30 minutes
            pipeline=pipe,
            meta=telemetry.job_meta(source),
            description=f"open_thread({request['channel']}, {request['image']})",  # RQ logs it: no response_url
        )
        pipe.execute()
    return job
