"""``/scan diff A B`` in a thread: the RQ jobs that post it.

The same shape as a scan thread (:mod:`bot.jobs.scan_thread`): ``open_diff_thread`` posts the parent and
enqueues both scans at once (``enqueue_pair``: a pool runs them in parallel, each served from the cache
when its digest was scanned with this DB) plus one ``publish_diff`` that depends on both, which renders
:func:`workers.diff.diff` into the thread. Every part is posted once (``post_once``), retries included.
"""

from __future__ import annotations

import logging

from redis import Redis
from rq import Callback, Queue, Retry, get_current_job
from rq.job import Dependency, Job
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import config as bot_config
from bot.jobs.publishing import (
    PUBLISH_RETRY,
    familiar,
    open_failed,
    post_once,
    post_parent,
    publish_failed,
    run_publisher,
)
from bot.jobs.scan_thread import job_outcome
from bot.render import blocks as render
from bot.render.diff import diff_message
from bot.slack_client import client_for, error_code, explain, is_permanent, tell_user
from bot.threads import Phase, Role, ThreadKind, ThreadState, ThreadStore
from workers.diff import diff
from workers.reference import parse_reference
from workers.scan.queue import enqueue_pair, scan_queue
from workers.telemetry import context as telemetry

log = logging.getLogger(__name__)


def open_diff_thread(request: dict) -> dict:
    """Post "comparing A → B…" in the channel, then enqueue both scans and the publisher."""
    job = get_current_job()
    settings = bot_config.current()
    thread = ThreadState.from_request(request, ts="", kind=ThreadKind.DIFF, with_alternative=False)
    client = client_for(settings, job.connection, thread.team)
    title = f"{familiar(thread.image)} → {familiar(thread.target or '')}"
    try:
        thread.ts = job.meta.get("parent_ts") or post_parent(
            client, thread, render.progress_message(title, "scanning both images…"), job
        )
    except SlackApiError as exc:
        if not is_permanent(exc):
            raise
        tell_user(thread.response_url, f"I could not start the diff of `{title}` here: {explain(exc)}")
        return {"error": error_code(exc)}
    queue = scan_queue(job.connection, settings.engine)
    before, after = enqueue_pair(
        queue,
        settings.engine,
        parse_reference(thread.image),
        parse_reference(thread.target or ""),
        force=thread.force,
        meta={"thread": thread.key, "channel": thread.channel},
    )
    thread.jobs = {Role.IMAGE.value: before.id, Role.TARGET.value: after.id}
    ThreadStore(job.connection).save(thread)
    queue.enqueue(
        publish_diff,
        thread.key,
        depends_on=Dependency(jobs=[before, after], allow_failure=True),
        retry=PUBLISH_RETRY,
        on_failure=Callback(publish_failed),
        result_ttl=3600,
        meta=telemetry.job_meta(),
    )
    return {"channel": thread.channel, "ts": thread.ts}


def publish_diff(key: str) -> dict:
    return run_publisher(key, _publish)


def _publish(client: WebClient, store: ThreadStore, thread: ThreadState, connection: Redis) -> None:
    title = f"{familiar(thread.image)} → {familiar(thread.target or '')}"
    outcomes = [job_outcome(connection, thread.jobs.get(role.value)) for role in (Role.IMAGE, Role.TARGET)]
    failed = next((o for o in outcomes if o.error), None)
    if failed:
        post_once(client, store, thread, "error", render.error_message(title, failed.error.message))
        card = render.error_message(title, "a scan failed; the reason is in the thread.")
        thread.state = Phase.FAILED
    else:
        result = diff(outcomes[0].report, outcomes[1].report)
        post_once(client, store, thread, "diff", diff_message(result))
        card = render.Message(text=result.verdict, blocks=[render.section(render.escape(result.verdict))])
        thread.state = Phase.DONE
    client.chat_update(channel=thread.channel, ts=thread.ts, text=card.text, blocks=card.blocks)
    store.save(thread)


def enqueue_open_diff_thread(queue: Queue, request: dict) -> Job:
    """The one Redis write of ``/scan diff``: the job that opens the thread."""
    return queue.enqueue(
        open_diff_thread,
        request,
        retry=Retry(max=3, interval=[2, 10, 30]),
        on_failure=Callback(open_failed),
        result_ttl=600,
        failure_ttl=30 * 60,
        meta=telemetry.job_meta(telemetry.Source.SLASH_COMMAND),
        description=f"open_diff_thread({request['channel']}, {request['image']}, {request['target']})",
    )
