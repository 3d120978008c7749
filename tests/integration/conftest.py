"""Fixtures for the integration tests that go through the Slack app.

The app runs as ``python -m bot serve`` (gunicorn + Flask) on a free loopback
port; the Slack Web API is the local recording server (tests/helpers/slack_api.py);
jobs run on real RQ workers (a burst SimpleWorker in the test process, so a test
knows when they are done).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from rq import Queue, SimpleWorker

from tests.helpers.fixtures import free_port
from tests.helpers.slack_api import SlackAPIServer
from tests.helpers.slack_requests import post_signed, slash_command_body
from workers.config import Settings
from workers.scan.store import ReportStore

SECRET = "test-signing-secret"
CHANNEL = "C0SCANS"


@pytest.fixture
def slack():
    with SlackAPIServer(token="xoxb-test") as server:
        yield server


@pytest.fixture
def slack_env(engine_env, slack, monkeypatch):
    values = {
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack.base_url,
        "TOP_FINDINGS": "20",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return {**engine_env, **values}


@contextmanager
def serving(env: dict, log: Path | None = None) -> Iterator[str]:
    """``python -m bot serve`` on a free loopback port, as a real HTTP server; yields its base URL.

    Its stderr (the logs) goes to ``log``, or a temporary file: a pipe nobody reads would fill up and stall
    a server that logs a lot (a refused request logs a line)."""
    port = free_port()
    log_file = open(log, "wb") if log else tempfile.TemporaryFile()  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve"],
        env={**env, "HOST": "127.0.0.1", "PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=log_file,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            requests.get(f"{url}/healthz", timeout=1)  # any answer: the server is up
            break
        except requests.ConnectionError:
            time.sleep(0.1)
    else:
        proc.kill()
        proc.wait(15)
        log_file.seek(0)
        pytest.fail(f"the web server did not start: {log_file.read().decode(errors='replace')[-2000:]}")
    try:
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
        log_file.close()


@pytest.fixture
def web(slack_env, redis_client):
    """The Slack app's events URL, served for real."""
    with serving({**os.environ, **slack_env}) as url:
        yield f"{url}/slack/events"


@contextmanager
def routed_web(slack_env: dict, tmp_path: Path, monkeypatch, owners: str) -> Iterator[str]:
    """The Slack app's events URL, served for real with ``owners`` as its routing file (``OWNERS_FILE``, set for
    the test's workers too)."""
    path = tmp_path / "owners.yaml"
    path.write_text(owners)
    monkeypatch.setenv("OWNERS_FILE", str(path))
    with serving({**os.environ, **slack_env}) as url:
        yield f"{url}/slack/events"


def run_workers(redis_client) -> None:
    queue = Queue(Settings.from_env().queue_name, connection=redis_client)
    SimpleWorker([queue], connection=redis_client).work(burst=True)


def scan(web, slack, text: str, **kwargs):
    body = slash_command_body(text, channel_id=CHANNEL, response_url=slack.response_url("r1"), **kwargs)
    return post_signed(web, body, SECRET)


def parent_and_replies(slack):
    parent_post = next(c for c in slack.calls("chat.postMessage") if c.ok)
    ts = parent_post.response["ts"]
    thread = slack.messages_in_thread(CHANNEL, ts)
    return ts, thread


def stored_report(redis_client, repository: str):
    """The engine's own report for ``repository``, read from its cache."""
    store = ReportStore(redis_client)
    reports = [store.get(k.decode()) for k in redis_client.scan_iter("chainscan:report:*")]
    return next(r for r in reports if f"/{repository}:" in r.image.reference or f"/{repository}@" in r.image.reference)


def all_text(message) -> str:
    parts = [message.get("text", "")]
    for block in message.get("blocks") or []:
        if "text" in block:
            parts.append(block["text"]["text"])
        parts += [e.get("text", "") for e in block.get("elements", []) if isinstance(e.get("text"), str)]
    return "\n".join(parts)
