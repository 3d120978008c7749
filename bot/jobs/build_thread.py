"""RQ jobs for ``/scan build``: post the thread, build and scan both versions, publish.

Like :mod:`bot.jobs.scan_thread`, but for a pasted Dockerfile: the two builds (as written,
and with each FROM switched to Chainguard) run as two jobs in parallel, and one
``publish_build_thread`` job depending on both renders the outcome once.

The Dockerfile text never rides in a job: :func:`enqueue_open_build_thread` keeps it in a short-lived
entry (:mod:`workers.builds.stash`) and the job carries its reference; ``open_build_thread`` hands
the text on in one entry per build and deletes its own, and each build deletes its entry as it starts.
"""

from __future__ import annotations

import logging
import uuid

from redis import Redis
from rq import Callback, Retry, get_current_job
from rq.job import Dependency, Job
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import config as bot_config
from bot.jobs.publishing import (
    PUBLISH_RETRY,
    open_failed,
    post_once,
    post_parent,
    publish_failed,
    run_publisher,
)
from bot.listeners.context import build_denied
from bot.render import blocks as render
from bot.render import builds as render_builds
from bot.render.files import report_markdown
from bot.slack_client import client_for, download_file, error_code, explain, is_permanent, tell_user
from bot.threads import Phase, ThreadKind, ThreadState, ThreadStore
from workers.builds import stash
from workers.builds.checks import check_dockerfile
from workers.compare import compare
from workers.errors import ErrorKind, ScanError
from workers.pair import PairResult
from workers.scan.queue import outcome_from_result, scan_queue
from workers.telemetry import context as telemetry

log = logging.getLogger(__name__)

LABEL = "your Dockerfile"


def open_build_thread(request: dict) -> dict:
    """``request``: channel, user, team, dockerfile_ref (the stashed text) or file (a snippet's id).

    Who may build is checked again here, against this worker's settings: the listener's check may
    predate a change of BUILDS_ENABLED or the allow lists, and a refusal builds nothing."""
    job = get_current_job()
    settings = bot_config.current()
    result = _open_build_thread(job, settings, request)
    stash.drop(job.connection, request.get("dockerfile_ref"))  # handed on, or refused; kept for a retry
    return result


def _open_build_thread(job, settings, request: dict) -> dict:
    thread = ThreadState(
        ts="",
        channel=request["channel"],
        user=request["user"],
        team=request.get("team"),
        image=LABEL,
        kind=ThreadKind.BUILD,
        response_url=request.get("response_url"),
    )
    client = client_for(settings, job.connection, thread.team)
    denial = build_denied(settings, thread.channel, thread.user)
    if denial:
        _ephemeral(client, thread, denial)
        return {"error": "denied"}
    ref = request.get("dockerfile_ref")
    try:
        try:
            dockerfile = (
                stash.peek(job.connection, ref)
                or request.get("dockerfile")  # a job queued before the stash
                or _download_snippet(client, request.get("file"))
            )
            if ref and not dockerfile:
                raise ScanError.of(ErrorKind.BUILD_FAILED, what="your Dockerfile", detail=STASH_EXPIRED)
        except ScanError as exc:
            _ephemeral(client, thread, exc.message)
            return {"error": exc.kind.value}
        problem = check_dockerfile(dockerfile)
        if problem:
            _ephemeral(client, thread, f"I could not build that Dockerfile: {problem}")
            return {"error": problem}
        progress = render.progress_message("Dockerfile", "building it and its Chainguard version…")
        thread.ts = job.meta.get("parent_ts") or post_parent(client, thread, progress, job)
    except SlackApiError as exc:
        if is_permanent(exc):
            _ephemeral(client, thread, f"I could not start the build here: {explain(exc)}")
            return {"error": error_code(exc)}
        raise
    _enqueue_builds(job, settings, thread, dockerfile)
    return {"channel": thread.channel, "ts": thread.ts}


def _enqueue_builds(job, settings, thread: ThreadState, dockerfile: str) -> None:
    """Both builds (as written, and its Chainguard version), then the thread's publisher once both are done."""
    queue = scan_queue(job.connection, settings.engine)
    build_id = uuid.uuid4().hex[:12]
    timeout = settings.engine.build_timeout + settings.engine.scan_timeout + 120
    jobs = [
        queue.enqueue(
            "workers.jobs.build_and_scan",
            stash.put(job.connection, dockerfile, f"{build_id}.{variant}"),  # each build takes its own copy
            variant,
            build_id,
            job_timeout=timeout,
            result_ttl=3600,
            failure_ttl=7 * 24 * 3600,
            description=f"build_and_scan({variant}, {build_id})",
            meta={**telemetry.job_meta(), "channel": thread.channel},  # its failure is shown there only
        )  # no Dockerfile in logs
        for variant in ("original", "chainguard")
    ]
    thread.jobs = {"original": jobs[0].id, "alternative": jobs[1].id}
    ThreadStore(job.connection).save(thread)
    queue.enqueue(
        publish_build_thread,
        thread.key,
        depends_on=Dependency(jobs=jobs, allow_failure=True),
        retry=PUBLISH_RETRY,
        on_failure=Callback(publish_failed),
        result_ttl=3600,
        meta=telemetry.job_meta(),
    )


STASH_EXPIRED = "it waited longer than a Dockerfile is kept (15 minutes). Submit it again."


def publish_build_thread(key: str) -> dict:
    return run_publisher(key, _publish)


def _publish(client: WebClient, store: ThreadStore, thread: ThreadState, connection: Redis) -> None:
    original, variant = (_result(connection, thread.jobs.get(role)) for role in ("original", "alternative"))
    first = outcome_from_result(original) if original.get("report") or original.get("error") else None
    if first is None or first.error:
        sentence = (
            first.error.message
            if first and first.error
            else "The build of your Dockerfile did not finish (a worker stopped). Try again."
        )
        post_once(
            client,
            store,
            thread,
            "error",
            render_builds.build_failure_message(sentence, (original.get("build") or {}).get("log_tail", [])),
        )
        card = render.error_message("Dockerfile", "the build failed; the reason is in the thread.")
        client.chat_update(channel=thread.channel, ts=thread.ts, text=card.text, blocks=card.blocks)
        thread.state = Phase.FAILED
        store.save(thread)
        return
    report = first.report
    second = outcome_from_result(variant) if variant.get("report") or variant.get("error") else None
    if second and second.report:
        result = PairResult(report, second.report, None, None, compare(report, second.report))
    else:
        reason = second.error.message if second and second.error else "its build did not finish"
        result = PairResult(report, None, None, reason, None)
    misconfigs = original.get("misconfigurations") or []
    if variant.get("rewrite"):
        post_once(client, store, thread, "rewrite", render_builds.rewrite_message(variant["rewrite"]))
    if second and second.error and (variant.get("build") or {}).get("log_tail"):
        post_once(
            client,
            store,
            thread,
            "variant-failure",
            render_builds.build_failure_message(second.error.message, variant["build"]["log_tail"]),
        )
    post_once(client, store, thread, "misconfig", render_builds.misconfig_message(misconfigs))
    findings, overflow = render.findings_message(report, top=bot_config.current().top_findings)
    post_once(client, store, thread, "findings", findings)
    comparison = render.comparison_message(result)
    if comparison:
        post_once(client, store, thread, "comparison", comparison)
    if overflow and not store.posted(thread, "file"):
        client.files_upload_v2(
            channel=thread.channel,
            thread_ts=thread.ts,
            filename="dockerfile-report.md",
            content=report_markdown(report, result.alternative_report, result.comparison),
            title="Full report: your Dockerfile",
            initial_comment=f"All {report.total} findings of the build.",
        )
        store.mark_posted(thread, "file")
    card = render_builds.build_card(result, len(misconfigs))
    client.chat_update(channel=thread.channel, ts=thread.ts, text=card.text, blocks=card.blocks)
    thread.state = Phase.DONE
    store.save(thread)


def _result(connection, job_id: str | None) -> dict:
    if not job_id:
        return {}
    try:
        job = Job.fetch(job_id, connection=connection)
    except Exception:  # expired or lost
        return {}
    value = job.return_value() if job.get_status() == "finished" else None
    if value is None and job.meta.get("error"):
        return {"error": job.meta["error"]}
    return value or {}


def _download_snippet(client: WebClient, file_id: str | None) -> str:
    if not file_id:
        return ""
    downloaded = download_file(client, file_id, limit=50_000)
    if downloaded is None:
        raise ScanError.of(ErrorKind.SNIPPET)
    return downloaded[1]


def _ephemeral(client: WebClient, thread: ThreadState, text: str) -> None:
    if not tell_user(thread.response_url, text):
        try:
            client.chat_postEphemeral(channel=thread.channel, user=thread.user, text=text)
        except SlackApiError:
            log.warning("could not tell %s: %s", thread.user, text)


def enqueue_open_build_thread(queue, request: dict) -> Job:
    """One MULTI/EXEC: the Dockerfile text into a short-lived entry, the job with its reference."""
    request = dict(request)
    text = request.pop("dockerfile", None)
    if text:
        request["dockerfile_ref"] = uuid.uuid4().hex
    with queue.connection.pipeline() as pipe:
        job = queue.enqueue(
            open_build_thread,
            request,
            retry=Retry(max=3, interval=[2, 10, 30]),
            result_ttl=600,
            failure_ttl=24 * 3600,
            pipeline=pipe,
            on_failure=Callback(open_failed),
            meta=telemetry.job_meta(telemetry.Source.BUILD),
            description=f"open_build_thread({request.get('channel')}, {request.get('user')})",
        )
        if text:  # after the enqueue: RQ may WATCH first
            stash.put(pipe, text, request["dockerfile_ref"])
        pipe.execute()
    return job
