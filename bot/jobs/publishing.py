"""What every Slack-posting job shares: posting the parent once, running a publisher with Slack's
refusals handled, posting a thread part once, and the failure callbacks RQ runs when retries are spent.

Side effects that may be retried record themselves (the job's meta, the thread's ``posted`` set), so a
retried job never posts anything twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from redis import Redis
from rq import Queue, Retry, get_current_job
from rq.job import Job
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import config as bot_config
from bot.render import blocks as render
from bot.slack_client import client_for, error_code, explain, is_permanent, tell_user
from bot.threads import Phase, ThreadKind, ThreadState, ThreadStore
from workers.builds import stash
from workers.reference import parse_reference

log = logging.getLogger(__name__)

PUBLISH_RETRY = Retry(max=3, interval=[5, 15, 60])


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
    client = client_for(bot_config.current(), job.connection, thread.team)
    try:
        publish(client, store, thread, job.connection)
    except SlackApiError as exc:
        if not is_permanent(exc):
            raise
        log.warning("publishing %s failed: %s", key, error_code(exc))
        tell_user(
            thread.response_url, f"I finished `{familiar(thread.image)}` but could not post the results: {explain(exc)}"
        )
        thread.state = Phase.FAILED
        store.save(thread)
        return {"error": error_code(exc)}
    return {"state": thread.state.value}


def post_once(client: WebClient, store: ThreadStore, thread: ThreadState, part: str, message: render.Message) -> None:
    """Post ``message`` in the thread unless this part was already posted (by an earlier try)."""
    if not store.posted(thread, part):
        client.chat_postMessage(channel=thread.channel, thread_ts=thread.ts, text=message.text, blocks=message.blocks)
        store.mark_posted(thread, part)
        log.info("posted the %s of thread %s in %s", part, thread.ts, thread.channel)


PARENT_FAILED = "I could not post the results here: Slack kept refusing. Try again in a few minutes."
PARENT_RETRY_IN = 30  # seconds before the one delayed try of the parent's failure card
PARENT_RETRY = Retry(max=3, interval=[60, 120, 300])


def publish_failed(job: Job, connection, exc_type, exc_value, traceback) -> None:
    """RQ on_failure for ``publish_thread``: once retries are spent, tell the user privately and turn the
    parent into a failure card in place; if Slack refuses that too, a delayed job tries again."""
    if job.retries_left:
        return
    store = ThreadStore(connection)
    thread = store.load(job.args[0]) if job.args else None
    if thread is None:
        return
    tell_user(
        thread.response_url,
        f"I could not post the results for `{familiar(thread.image)}` to Slack. Try `/scan {familiar(thread.image)}` again in a few minutes.",
    )
    thread.state = Phase.FAILED
    store.save(thread)
    try:
        _show_failure(client_for(bot_config.current(), connection, thread.team), thread)
    except Exception as exc:
        log.warning("could not mark %s failed (%s); trying again in %d s", thread.key, exc, PARENT_RETRY_IN)
        Queue(job.origin, connection=connection).enqueue_in(
            timedelta(seconds=PARENT_RETRY_IN), mark_parent_failed, thread.key, retry=PARENT_RETRY, result_ttl=600
        )


def mark_parent_failed(key: str) -> dict:
    """The delayed retry of :func:`publish_failed`'s card: Slack's transient refusals raise (RQ retries)."""
    job = get_current_job()
    thread = ThreadStore(job.connection).load(key)
    if thread is None:
        return {"error": "thread expired"}
    try:
        _show_failure(client_for(bot_config.current(), job.connection, thread.team), thread)
    except SlackApiError as exc:
        if not is_permanent(exc):
            raise
        log.warning("could not mark %s failed: %s", key, error_code(exc))
        return {"error": error_code(exc)}
    return {"state": thread.state.value}


def _show_failure(client: WebClient, thread: ThreadState) -> None:
    what = "Dockerfile" if thread.kind is ThreadKind.BUILD else familiar(thread.image)
    card = render.error_message(what, PARENT_FAILED)
    client.chat_update(channel=thread.channel, ts=thread.ts, text=card.text, blocks=card.blocks)


def open_failed(job: Job, connection, exc_type, exc_value, traceback) -> None:
    """RQ on_failure for ``open_thread``: once retries are spent, say so privately."""
    if job.retries_left:
        return
    request = job.args[0] if job.args else {}
    stash.drop(connection, request.get("dockerfile_ref"))  # a Dockerfile nobody will build
    what = familiar(request["image"]) if request.get("image") else "your Dockerfile"
    tell_user(
        request.get("response_url"),
        f"I could not start the scan of `{what}`: Slack did not accept my message. Try again in a few minutes.",
    )


def familiar(reference: str) -> str:
    try:
        return parse_reference(reference).familiar
    except ValueError:
        return reference


def find_posted(client: WebClient, channel: str, event: str, payload: dict, lookback: int = 200) -> str | None:
    """The ts of a message the bot posted in ``channel`` with metadata ``event`` and ``payload`` among the newest
    ``lookback``: how a try killed between Slack's answer and recording the ts finds what it posted. A channel
    whose history Slack will not show (a permanent error) is searched no further; others are retried by RQ."""
    try:
        found = client.conversations_history(channel=channel, limit=lookback, include_all_metadata=True)
    except SlackApiError as exc:
        if not is_permanent(exc):
            raise
        log.warning("cannot read the history of %s (%s); posting without looking", channel, error_code(exc))
        return None
    for item in found.get("messages") or []:
        meta = item.get("metadata") or {}
        given = meta.get("event_payload") or {}
        if meta.get("event_type") == event and all(given.get(k) == v for k, v in payload.items()):
            return item.get("ts")
    return None
