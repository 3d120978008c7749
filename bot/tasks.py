"""RQ jobs that talk to Slack. They run on the workers, never in request threads.

``open_thread`` posts the parent message and enqueues the scans plus one
``publish_thread`` job that depends on them (RQ ``Dependency`` with
``allow_failure``), so exactly one job renders the outcome — success, failure
or a worker killed mid-scan — and nothing is posted twice.
"""

from __future__ import annotations

import logging
from typing import Callable

from redis import Redis
from rq import Callback, Queue, Retry, get_current_job
from rq.job import Dependency, Job
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from workers.errors import ScanError
from workers.pair import combine, enqueue_pair, plan_alternative, scannable
from workers.queue import UNEXPECTED, Outcome, outcome_of, scan_queue
from workers.reference import parse_reference

from .config import SlackSettings
from .render import blocks as render
from .render.files import report_markdown
from .slack_client import client_for, error_code, explain, is_permanent, tell_user
from .threads import ThreadState, ThreadStore

log = logging.getLogger(__name__)

PUBLISH_RETRY = Retry(max=3, interval=[5, 15, 60])


def open_thread(request: dict) -> dict:
    """Post "queued" in the channel, then enqueue the scans and the publisher."""
    job = get_current_job()
    settings = SlackSettings.from_env()
    thread = ThreadState(ts="", **request)
    client = client_for(settings, job.connection, thread.team)
    ref = parse_reference(thread.image)
    mapping = plan_alternative(ref, settings.engine, job.connection) if thread.alternative_wanted else None
    images = 2 if scannable(mapping) else 1
    state = f"scanning {'it and its Chainguard alternative' if images == 2 else '1 image'}…"
    progress = render.progress_message(_familiar(thread.image), state)
    try:
        thread.ts = job.meta.get("parent_ts") or post_parent(client, thread, progress, job)
    except SlackApiError as exc:
        if is_permanent(exc):
            log.warning("cannot post in %s: %s", thread.channel, error_code(exc))
            tell_user(thread.response_url, f"I could not start the scan of `{_familiar(thread.image)}` here: {explain(exc)}")
            return {"error": error_code(exc)}
        raise
    queue = scan_queue(job.connection, settings.engine)
    original, other = enqueue_pair(queue, settings.engine, ref, mapping, force=thread.force,
                                   meta={"thread": thread.key}, on_success=Callback(scan_progress))
    thread.jobs = {"original": original.id, "alternative": other.id if other else None}
    ThreadStore(job.connection).save(thread)
    queue.enqueue(
        publish_thread,
        thread.key,
        depends_on=Dependency(jobs=[j for j in (original, other) if j], allow_failure=True),
        retry=PUBLISH_RETRY,
        on_failure=Callback(publish_failed),
        result_ttl=3600,
    )
    return {"channel": thread.channel, "ts": thread.ts}


def scan_progress(job: Job, connection: Redis, result, *args, **kwargs) -> None:
    """RQ on_success of each scan: when the first of two is done, the parent says "1 of 2 images scanned…".

    RQ runs this before the job counts as finished and before its dependents are enqueued, so it
    always comes before ``publish_thread``'s final card. It must never fail the scan: errors are logged.
    """
    try:
        thread = ThreadStore(connection).load(job.meta.get("thread", ""))
        others = [jid for jid in (thread.jobs.values() if thread else []) if jid and jid != job.id]
        if not thread or thread.state != "scanning" or len(others) != 1:
            return
        if Job.fetch(others[0], connection=connection).get_status() == "finished":
            return  # this is the second: the final card is on its way
        progress = render.progress_message(_familiar(thread.image), "1 of 2 images scanned, waiting for the other…")
        client = client_for(SlackSettings.from_env(), connection, thread.team)
        client.chat_update(channel=thread.channel, ts=thread.ts, text=progress.text, blocks=progress.blocks)
    except Exception:
        log.warning("could not show scan progress", exc_info=True)


def publish_thread(key: str) -> dict:
    """Render the scan outcome into the parent message and the thread."""
    return run_publisher(key, _publish_scan)


def post_parent(client: WebClient, thread: ThreadState, message: render.Message, job: Job) -> str:
    """Post the parent message and remember its ts in the job, so a retried job does not post it again."""
    ts = client.chat_postMessage(channel=thread.channel, text=message.text, blocks=message.blocks)["ts"]
    job.meta["parent_ts"] = ts
    job.save_meta()
    return ts


def run_publisher(key: str, publish: Callable[[WebClient, ThreadStore, ThreadState, Redis], None]) -> dict:
    """Load the thread, run ``publish`` with a client for its workspace, and handle Slack's refusals:
    transient ones are raised (RQ retries; parts already posted are not posted again), permanent
    ones are told to the user privately."""
    job = get_current_job()
    store = ThreadStore(job.connection)
    thread = store.load(key)
    if thread is None:
        return {"error": "thread expired"}
    client = client_for(SlackSettings.from_env(), job.connection, thread.team)
    try:
        publish(client, store, thread, job.connection)
    except SlackApiError as exc:
        if not is_permanent(exc):
            raise
        log.warning("publishing %s failed: %s", key, error_code(exc))
        tell_user(thread.response_url, f"I finished `{_familiar(thread.image)}` but could not post the results: {explain(exc)}")
        thread.state = "failed"
        store.save(thread)
        return {"error": error_code(exc)}
    return {"state": thread.state}


def post_once(client: WebClient, store: ThreadStore, thread: ThreadState, part: str, message: render.Message) -> None:
    """Post ``message`` in the thread unless this part was already posted (by an earlier try)."""
    if not store.posted(thread, part):
        client.chat_postMessage(channel=thread.channel, thread_ts=thread.ts, text=message.text, blocks=message.blocks)
        store.mark_posted(thread, part)


def _publish_scan(client: WebClient, store: ThreadStore, thread: ThreadState, connection: Redis) -> None:
    outcome = _outcome(connection, thread.jobs.get("original"))
    if outcome.error:
        _publish_failure(client, store, thread, outcome.error)
        return
    settings = SlackSettings.from_env()
    mapping = plan_alternative(parse_reference(thread.image), settings.engine, connection) if thread.alternative_wanted else None
    other = _outcome(connection, thread.jobs["alternative"]) if thread.jobs.get("alternative") else None
    _publish_report(client, store, thread, combine(outcome.report, mapping, other), settings)


def publish_failed(job: Job, connection, exc_type, exc_value, traceback) -> None:
    """RQ on_failure for ``publish_thread``: once retries are spent, tell the user privately."""
    if job.retries_left:
        return
    store = ThreadStore(connection)
    thread = store.load(job.args[0]) if job.args else None
    if thread is None:
        return
    tell_user(thread.response_url, f"I could not post the results for `{_familiar(thread.image)}` to Slack. Try `/scan {_familiar(thread.image)}` again in a few minutes.")
    thread.state = "failed"
    store.save(thread)


def close_stale_thread(key: str) -> None:
    """Used by the scheduler's sweeper: a thread stuck at "scanning…" gets a clear ending."""
    job = get_current_job()
    store = ThreadStore(job.connection)
    thread = store.load(key)
    if thread is None or thread.state != "scanning":
        return
    client = client_for(SlackSettings.from_env(), job.connection, thread.team)
    error = ScanError("lost", "The scan did not finish: its job was lost (a worker or Redis restarted). Run the command again.")
    _publish_failure(client, store, thread, error)


def _outcome(connection, job_id: str | None) -> Outcome:
    if not job_id:
        return Outcome(error=UNEXPECTED)
    try:
        job = Job.fetch(job_id, connection=connection)
    except Exception:  # NoSuchJobError: expired or lost with a Redis restart
        return Outcome(error=ScanError("lost", "The scan job was lost (Redis restarted or the job expired). Run the command again."))
    return outcome_of(job) or Outcome(error=UNEXPECTED)


def _publish_failure(client: WebClient, store: ThreadStore, thread: ThreadState, error: ScanError) -> None:
    reference = _familiar(thread.image)
    post_once(client, store, thread, "error", render.error_message(reference, error.message))
    card = render.error_message(reference, "the scan failed; the reason is in the thread.")
    client.chat_update(channel=thread.channel, ts=thread.ts, text=card.text, blocks=card.blocks)
    thread.state = "failed"
    store.save(thread)


def _publish_report(client: WebClient, store: ThreadStore, thread: ThreadState, result, settings: SlackSettings) -> None:
    report = result.report
    findings, overflow = render.findings_message(
        report, severity=thread.severity, only_fixed=thread.only_fixed, top=settings.top_findings
    )
    parts = [("layers", render.layers_message(report)), ("findings", findings)]
    comparison = render.comparison_message(result)
    if comparison:
        parts.append(("comparison", comparison))
        overflow = overflow or any(len(x) > render.COMPARISON_LIST for x in (result.comparison.removed, result.comparison.kept, result.comparison.added))
    overflow = overflow or any(message.truncated for _, message in parts)
    for name, message in parts:
        post_once(client, store, thread, name, message)
    if overflow and not store.posted(thread, "file"):
        client.files_upload_v2(
            channel=thread.channel,
            thread_ts=thread.ts,
            content=report_markdown(report, result.alternative, result.comparison),
            filename=f"{report.image.reference.rsplit('/', 1)[-1].replace(':', '-').replace('@', '-')}-report.md",
            title=f"Full report: {report.image.reference}",
            initial_comment=f"All {report.total} findings for {report.image.reference}.",
        )
        store.mark_posted(thread, "file")
    card = render.pair_card(result)
    client.chat_update(channel=thread.channel, ts=thread.ts, text=card.text, blocks=card.blocks)
    thread.state = "done"
    store.save(thread)


def _familiar(reference: str) -> str:
    try:
        return parse_reference(reference).familiar
    except ValueError:
        return reference


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
        "alternative_wanted": scan.alternative,
    }


def enqueue_open_thread(queue: Queue, request: dict) -> Job:
    """The one Redis write of a slash command: a single MULTI/EXEC (RQ's pipeline parameter)."""
    with queue.connection.pipeline() as pipe:
        job = queue.enqueue(
            open_thread,
            request,
            retry=Retry(max=3, interval=[2, 10, 30]),
            on_failure=Callback(open_failed),
            result_ttl=600,
            failure_ttl=24 * 3600,
            pipeline=pipe,
            description=f"open_thread({request['channel']}, {request['image']})",  # RQ logs it: no response_url
        )
        pipe.execute()
    return job


def open_failed(job: Job, connection, exc_type, exc_value, traceback) -> None:
    """RQ on_failure for ``open_thread``: once retries are spent, say so privately."""
    if job.retries_left:
        return
    request = job.args[0] if job.args else {}
    what = _familiar(request["image"]) if request.get("image") else "your Dockerfile"
    tell_user(request.get("response_url"), f"I could not start the scan of `{what}`: Slack did not accept my message. Try again in a few minutes.")

