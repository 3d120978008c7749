"""From ``/scan`` to the thread content, with real workers and the real Trivy, the app served by ``python -m bot
serve`` over both of Slack's transports (``slack_app``): a test about what a listener does with a request (the
command's ack, what it queues for which channel, the rescan button, the policies, the answers with Redis down or
embedded) runs as ``[http]``, signed POSTs, and as ``[socket]``, the same bodies as Socket Mode envelopes acked
within 3 s. Marked ``http_only`` with their reason: the tests about the HTTP edge (signatures) and those about what
the workers do once the job is queued (the transport ends at the enqueue). View submissions, shortcuts and events
run in both transports in test_triage_flow.py and test_app_home.py.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest
import requests
from rq import Queue, SimpleWorker
from rq.registry import StartedJobRegistry

from tests.helpers.slack_requests import post_signed, slash_command_body
from tests.integration.conftest import (
    CHANNEL,
    SECRET,
    all_text,
    parent_and_replies,
    run_workers,
    scan,
    served,
    serving,
    stored_report,
)
from workers.config import Settings

pytestmark = pytest.mark.integration


def test_scan_is_acked_then_answered_in_a_thread(slack_app, slack, redis_client, test_images):
    response = scan(slack_app, slack, "mariadb")
    assert response.status_code == 200
    assert response.json()["response_type"] == "ephemeral"
    assert "Queued a scan of `mariadb:latest`" in response.json()["text"]
    assert slack.calls("chat.postMessage") == []  # nothing posted from the request thread

    run_workers(redis_client)

    ts, thread = parent_and_replies(slack)
    parent, *replies = thread
    report = stored_report(redis_client, "library/mariadb")
    alternative = stored_report(redis_client, "chainguard/mariadb")
    c, a = report.counts, alternative.counts
    card = all_text(parent)
    assert f"{c['critical']} critical · {c['high']} high · {c['medium']} medium · {c['low']} low" in card
    assert f"({sum(report.fixable.values())} fixable)" in card
    assert "mariadb:latest" in card and "scanning" not in card.lower()
    card_lines = parent["blocks"][0]["text"]["text"].splitlines()
    assert f"mariadb:latest*: {c['critical']} critical, {c['high']} high open" in card_lines[0]  # the verdict first
    assert card_lines[1].startswith("Switching removes")
    assert "chainguard/mariadb:latest" in card_lines[3]
    assert f"{a['critical']} critical · {a['high']} high · {a['medium']} medium · {a['low']} low" in card_lines[3]
    assert all(r.get("thread_ts") == ts for r in replies)
    layer_text = all_text(replies[0])
    assert "Where the findings come from" in layer_text and "` 1` " in layer_text
    assert re.search(r"\d+ C · \d+ H · \d+ M · \d+ L", layer_text)  # counts with zeros, in a fixed order
    findings = all_text(replies[1])
    worst = report.vulnerabilities[0]
    assert worst.id in findings and worst.package in findings
    assert len([m for m in thread if "Where the findings come from" in all_text(m)]) == 1
    switching = next(all_text(m) for m in replies if "*Switching to" in all_text(m))
    assert "*Removed*" in switching and "*Still there*" in switching
    updates = [c.params["text"] for c in slack.calls("chat.update") if c.ok]
    assert "1 of 2 images scanned" in updates[0] and "critical" in updates[-1]  # progress in place, then the card


@pytest.mark.http_only("the workers' side: the transport ends at the enqueue")
def test_overflowing_findings_go_to_an_attached_file(slack_app, slack, redis_client, monkeypatch, test_images):
    monkeypatch.setenv("TOP_FINDINGS", "5")
    assert scan(slack_app, slack, "big:1").status_code == 200
    run_workers(redis_client)
    ts, thread = parent_and_replies(slack)
    uploads = slack.uploads(completed_only=True)
    assert len(uploads) == 1 and uploads[0].thread_ts == ts and uploads[0].channel == CHANNEL
    report_md = uploads[0].content.decode()
    total = sum(stored_report(redis_client, "library/big").counts.values())
    assert report_md.count("| CVE-") + report_md.count("| GHSA-") + report_md.count("| TEMP-") >= total - 0
    findings = next(all_text(m) for m in thread if "Worst" in all_text(m))
    assert "showing 5 of" in findings and "attached" in findings


@pytest.mark.http_only("signatures are HTTP's: a Socket Mode envelope is not signed")
def test_forged_and_stale_signatures_are_rejected(slack_app, slack, redis_client):
    web = slack_app.url
    body = slash_command_body("mariadb", channel_id=CHANNEL, response_url=slack.response_url())
    forged = post_signed(web, body, "not-the-secret")
    stale = post_signed(web, body, SECRET, timestamp=int(time.time()) - 3600)
    unsigned = requests.post(web, data=body, headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=5)
    assert (forged.status_code, stale.status_code, unsigned.status_code) == (401, 401, 401)
    assert len(Queue(Settings.from_env().queue_name, connection=redis_client)) == 0


HELP_AND_BAD_INPUT = [
    ("", "Scan a container image"),
    ("help", "Scan a container image"),
    ("mariadb please now", "did not understand `please`"),
    ("MariaDB", "lower case"),
    ("$(curl evil.example)", "cannot contain"),
    ("x" * 5000, "characters"),
]


def test_help_and_bad_input_answer_privately_and_queue_nothing(slack_app, slack, redis_client):
    for text, says in HELP_AND_BAD_INPUT:  # one served app for them all
        response = scan(slack_app, slack, text)
        assert response.status_code == 200 and says in response.json()["text"], text[:40]
    assert len(Queue(Settings.from_env().queue_name, connection=redis_client)) == 0


def test_status_answers_without_workers(slack_app, slack, redis_client):
    response = scan(slack_app, slack, "status")
    assert response.status_code == 200
    text = response.json()["text"]
    assert "Workers alive*: 0" in text and "Queue" in text and "Vulnerability DB" in text


@pytest.mark.http_only("the workers' side: the transport ends at the enqueue")
def test_a_missing_image_ends_in_one_sentence_in_the_thread(slack_app, slack, redis_client, test_images):
    scan(slack_app, slack, "mariadb:99.99")
    run_workers(redis_client)
    ts, (parent, *replies) = parent_and_replies(slack)
    assert "scanning" not in all_text(parent).lower() and "failed" in all_text(parent)
    assert len(replies) == 1
    sentence = all_text(replies[0])
    assert "does not exist" in sentence and "Traceback" not in sentence


@pytest.mark.parametrize(
    "error, says",
    [("not_in_channel", "/invite"), ("channel_not_found", "private channels"), ("invalid_auth", "SLACK_BOT_TOKEN")],
)
def test_permanent_slack_errors_are_told_through_the_response_url(
    slack_app, slack, redis_client, test_images, error, says
):
    slack.fail_next("chat.postMessage", error=error)
    scan(slack_app, slack, "mariadb")
    run_workers(redis_client)
    notes = slack.responses("r1")
    assert len(notes) == 1 and says in notes[0]["text"] and notes[0]["response_type"] == "ephemeral"
    assert [c for c in slack.calls("chat.postMessage") if c.ok] == []
    assert len(slack.calls("chat.postMessage")) == 1  # not retried: another try cannot fix it


@pytest.mark.http_only("the workers' side: the transport ends at the enqueue")
def test_rate_limits_are_honoured_and_nothing_is_posted_twice(slack_app, slack, redis_client, test_images):
    slack.rate_limit_next("chat.update", retry_after=1)
    slack.server_error_next("chat.postMessage", status=503)
    scan(slack_app, slack, "python:3.12")
    run_workers(redis_client)
    ts, (parent, *replies) = parent_and_replies(slack)
    updates = slack.calls("chat.update")
    assert updates[0].status == 429 and updates[1].ok and updates[1].time - updates[0].time >= 1.0
    assert "critical" in all_text(parent)
    texts = [all_text(r) for r in replies]
    assert len(texts) == len(set(texts))


@pytest.mark.http_only("the workers' side: the transport ends at the enqueue")
def test_a_worker_killed_mid_scan_ends_in_a_clear_message(slack_app, slack, redis_client, slack_env, test_images):
    scan(slack_app, slack, "big:1")
    queue = Queue(Settings.from_env().queue_name, connection=redis_client)
    SimpleWorker([queue], connection=redis_client).work(burst=True, max_jobs=1)  # open_thread only
    worker = subprocess.Popen(
        [sys.executable, "-m", "rq.cli", "worker", "-q", "-u", slack_env["REDIS_URL"], queue.name],
        env=os.environ.copy(),
        start_new_session=True,
    )
    registry = StartedJobRegistry(queue=queue)
    try:
        deadline = time.monotonic() + 30
        while registry.count == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert registry.count == 1, "the scan never started"
    finally:  # never leave a worker behind to take the next tests' jobs
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
    registry.cleanup(timestamp=time.time() + 10_000)  # what RQ's maintenance does once the heartbeat lapses
    run_workers(redis_client)
    ts, (parent, *replies) = parent_and_replies(slack)
    assert "scanning" not in all_text(parent).lower()
    assert len(replies) == 1 and "stopped before it finished" in all_text(replies[0])


def test_with_redis_down_the_server_is_up_but_not_ready(slack_env):
    with serving({**os.environ, **slack_env, "REDIS_URL": "redis://127.0.0.1:1/0"}) as url:
        assert requests.get(f"{url}/healthz", timeout=5).status_code == 200  # the process is up
        ready = requests.get(f"{url}/readyz", timeout=5)
        assert ready.status_code == 503 and ready.json()["problems"] == [
            "Redis is not answering: check REDIS_URL and that Redis is up."
        ]


def test_with_redis_down_the_command_still_gets_a_sentence_not_a_500(transport, slack_env, slack, tmp_path):
    env = {**os.environ, **slack_env, "REDIS_URL": "redis://127.0.0.1:1/0"}
    with served(transport, env, slack, tmp_path / "serve.log") as app:  # each answer within 3 s, or Slack errs
        body = slash_command_body("mariadb", channel_id=CHANNEL, response_url=slack.response_url())
        assert "job queue (Redis) is not answering" in app.send(body).json()["text"]
        status = app.send(slash_command_body("status", channel_id=CHANNEL))
        assert "Redis is not answering" in status.json()["text"]


def test_serve_without_redis_url_brings_an_embedded_valkey_and_workers(
    transport, slack_env, slack, tmp_path, test_images
):
    env = {k: v for k, v in {**os.environ, **slack_env}.items() if k != "REDIS_URL"}
    with served(transport, env, slack, tmp_path / "serve.log") as app:
        body = slash_command_body("python:3.12", channel_id=CHANNEL, response_url=slack.response_url())
        assert "Queued a scan" in app.send(body).json()["text"]
        updates = slack.wait_for("chat.update", timeout=60, predicate=lambda c: "critical" in c.params.get("text", ""))
        assert updates[0].params["text"].startswith("python:3.12: ")


@pytest.mark.http_only("the workers' side: the transport ends at the enqueue")
def test_an_image_without_a_chainguard_equivalent_says_so_on_the_card(slack_app, slack, redis_client, test_images):
    scan(slack_app, slack, "clean:1")
    run_workers(redis_client)
    ts, (parent, *replies) = parent_and_replies(slack)
    card = all_text(parent)
    assert "0 critical · 0 high · 0 medium · 0 low" in card
    assert "Chainguard alternative: no known Chainguard equivalent" in card
    assert any("No findings" in all_text(r) for r in replies)


@pytest.mark.http_only("the workers' side: the transport ends at the enqueue")
def test_a_pinned_tag_gets_the_free_tier_note_on_the_card(slack_app, slack, redis_client, test_images):
    scan(slack_app, slack, "mariadb:11.4")
    run_workers(redis_client)
    ts, (parent, *_) = parent_and_replies(slack)
    assert "Note: You asked for mariadb:11.4; Chainguard's free tier serves only :latest and :latest-dev" in all_text(
        parent
    )


def test_scans_and_builds_only_where_configured(transport, slack_env, slack, redis_client, tmp_path):
    env = {
        **os.environ,
        **slack_env,
        "ALLOWED_CHANNELS": "C0OK",
        "BUILDS_ENABLED": "true",
        "BUILD_ALLOWED_USERS": "U0BUILDER",
    }
    with served(transport, env, slack, tmp_path / "serve.log") as app:
        elsewhere = app.send(slash_command_body("mariadb", channel_id="C0NOPE", response_url=slack.response_url()))
        assert "not enabled in this channel" in elsewhere.json()["text"]
        allowed = app.send(slash_command_body("mariadb", channel_id="C0OK", response_url=slack.response_url()))
        assert "Queued a scan" in allowed.json()["text"]
        build = app.send(
            slash_command_body("build", channel_id="C0OK", user_id="U0OTHER", response_url=slack.response_url())
        )
        assert "not on the list of people who may build" in build.json()["text"] and slack.calls("views.open") == []
    assert redis_client.llen("rq:queue:chainscan") == 1


def test_the_scheduler_closes_a_thread_left_at_scanning(slack_env, slack, redis_client):
    from slack_sdk import WebClient

    from bot.scheduler import sweep_stale_threads
    from bot.threads import ThreadState, ThreadStore

    ts = WebClient(token="xoxb-test", base_url=slack.base_url).chat_postMessage(
        channel=CHANNEL, text="⏳ mariadb: scanning…"
    )["ts"]
    lost = ThreadState(
        channel=CHANNEL, ts=ts, user="U0TEST", image="docker.io/library/mariadb:latest", created_at=time.time() - 7200
    )
    ThreadStore(redis_client).save(lost)
    fresh = ThreadState(channel=CHANNEL, ts="1.2", user="U0TEST", image="docker.io/library/redis:latest")
    ThreadStore(redis_client).save(fresh)
    settings = Settings.from_env()
    assert (
        sweep_stale_threads(redis_client, Settings(**{**settings.__dict__, "scan_timeout": 60, "job_retries": 0})) == 1
    )
    run_workers(redis_client)
    parent, *replies = slack.messages_in_thread(CHANNEL, ts)
    assert "scanning" not in all_text(parent).lower() and "failed" in all_text(parent)
    assert len(replies) == 1 and "did not finish" in all_text(replies[0])
    assert ThreadStore(redis_client).find(CHANNEL, ts).state == "failed"
    assert ThreadStore(redis_client).find(CHANNEL, "1.2").state == "scanning"


def test_the_scheduler_refreshes_the_catalog_once_a_day(slack_env, redis_client, test_images):
    from bot.scheduler import refresh_catalog_if_due

    settings = Settings.from_env()
    assert refresh_catalog_if_due(redis_client, settings) is True
    assert refresh_catalog_if_due(redis_client, settings) is False  # not due again today
    run_workers(redis_client)
    assert redis_client.exists("chainscan:catalog:refresh")


def test_the_rescan_button_starts_a_fresh_scan_in_a_new_thread(slack_app, slack, redis_client, test_images):
    from tests.helpers.slack_requests import block_action_body
    from workers.scan.store import ReportStore

    scan(slack_app, slack, "python:3.12")
    run_workers(redis_client)
    ts, (parent, *_) = parent_and_replies(slack)
    buttons = {b["action_id"]: b for b in parent["blocks"][-1]["elements"]}
    assert "url" in buttons["show_findings"]  # jumps to the findings message
    button = buttons["rescan"]
    assert button["value"] == "docker.io/library/python:3.12"
    runs = ReportStore(redis_client).trivy_runs()
    click = block_action_body(
        "rescan", button["value"], channel_id=CHANNEL, message_ts=ts, response_url=slack.response_url()
    )
    assert slack_app.send(click).status_code == 200
    run_workers(redis_client)
    parents = [c for c in slack.calls("chat.postMessage") if c.ok and not c.params.get("thread_ts")]
    assert len(parents) == 2
    assert ReportStore(redis_client).trivy_runs() == runs + 2  # the image and its alternative, both scanned again


def test_a_job_queued_under_the_old_module_path_still_runs_after_the_deploy(web, slack, redis_client, test_images):
    """RQ stores job functions by dotted path: one queued as ``bot.tasks.open_thread`` before the layout
    changed still completes, and its thread is answered."""
    from rq import Retry

    request = {
        "channel": CHANNEL,
        "user": "U0TEST",
        "team": "T0TEST",
        "response_url": slack.response_url(),
        "image": "docker.io/library/mariadb:latest",
        "severity": "unknown",
        "only_fixed": False,
        "force": False,
        "alternative_wanted": True,  # the old field name: tolerated
    }
    queue = Queue(Settings.from_env().queue_name, connection=redis_client)
    job = queue.enqueue("bot.tasks.open_thread", request, retry=Retry(max=1), on_failure=None)
    run_workers(redis_client)
    assert job.get_status(refresh=True) == "finished", job.latest_result()
    ts, (parent, *replies) = parent_and_replies(slack)
    assert "critical" in all_text(parent) and replies


def test_attack_scan_status_shows_only_the_asking_channels_failed_images(slack_app, slack, redis_client, test_images):
    scan(slack_app, slack, "mariadb:99.99")
    run_workers(redis_client)
    here = scan(slack_app, slack, "status").json()["text"]
    assert "mariadb:99.99" in here, "the channel that asked sees its failure"
    body = slash_command_body("status", channel_id="C0OTHER", response_url=slack.response_url("r2"))
    elsewhere = slack_app.send(body).json()["text"]
    assert "mariadb:99.99" not in elsewhere and "*Recent failures*: none" in elsewhere
