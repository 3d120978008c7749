"""Fixtures for the integration tests that go through the Slack app.

The app runs as ``python -m bot serve``: over HTTP (gunicorn + Flask) on a free loopback port, or in Socket Mode,
connected to the local Socket Mode endpoint (tests/helpers/socket_mode.py). ``slack_app`` is the app served over
the test's transport (tests/helpers/transport.py); ``web`` is its events URL, for the tests that run over HTTP
alone. The Slack Web API is the local recording server (tests/helpers/slack_api.py); jobs run on real RQ workers
(a burst SimpleWorker in the test process, so a test knows when they are done).
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
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from rq import Queue, SimpleWorker

from tests.helpers.fixtures import free_port
from tests.helpers.slack_api import SlackAPIServer
from tests.helpers.slack_requests import FORM, post_signed, slash_command_body
from tests.helpers.socket_mode import SocketModeServer
from tests.helpers.transport import ACK_WITHIN, deliver
from workers.config import Settings
from workers.scan.store import ReportStore

SECRET = "test-signing-secret"
APP_TOKEN = "xapp-test"
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
def serving_socket_mode(
    env: dict, server: SocketModeServer, log_path: Path, timeout: float = 30
) -> Iterator[subprocess.Popen]:
    """``python -m bot serve`` until it holds a Socket Mode connection; on exit ``server`` (Slack) goes away first,
    then SIGTERM (then SIGKILL): a client closing a connection that is still open waits out slack_sdk's 3 s read
    timeout.

    It runs in its own session, so on exit the test can check that nothing of it is left behind.
    """
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                pytest.fail(f"`python -m bot serve` exited with {proc.returncode}:\n{tail(log_path)}")
            try:
                server.wait_connected(timeout=0.2)
                break
            except AssertionError:
                if time.monotonic() > deadline:
                    pytest.fail(f"the app did not open a Socket Mode connection within {timeout}s:\n{tail(log_path)}")
        yield proc
    finally:
        server.stop()
        _stop(proc, log_path)


def _stop(proc: subprocess.Popen, log_path: Path) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    try:  # the session's process group must be empty now: no helper, no worker left behind
        os.killpg(proc.pid, 0)
    except ProcessLookupError:
        return
    os.killpg(proc.pid, signal.SIGKILL)
    pytest.fail(f"processes of `python -m bot serve` (group {proc.pid}) outlived it:\n{tail(log_path)}")


def tail(log_path: Path, size: int = 4000) -> str:
    return log_path.read_bytes()[-size:].decode("utf-8", "replace")


@dataclass(frozen=True)
class ServedApp:
    """``python -m bot serve`` reached as Slack reaches it: signed POSTs to its events URL, or, given the Socket Mode
    endpoint it is connected to, envelopes on that connection. Either way the answer must come within 3 s."""

    url: str | None = None
    socket: SocketModeServer | None = None

    def send(self, body: str, *, content_type: str = FORM):
        """The app's answer: a ``requests.Response``, or over Socket Mode an ack read as one (``Acked``)."""
        if self.socket is not None:
            return deliver(self.socket, body, content_type)
        response = post_signed(self.url, body, SECRET, content_type=content_type)
        assert response.elapsed.total_seconds() < ACK_WITHIN, f"the answer took more than {ACK_WITHIN}s"
        return response


@contextmanager
def served(transport: str, env: dict, slack: SlackAPIServer, log_path: Path) -> Iterator[ServedApp]:
    """The Slack app served with ``env`` over ``transport`` (``http`` or ``socket``)."""
    if transport == "http":
        with serving(env, log_path) as url:
            yield ServedApp(url=f"{url}/slack/events")
        return
    with SocketModeServer() as server:
        slack.socket_mode_url = server.url
        with serving_socket_mode({**env, "SLACK_APP_TOKEN": APP_TOKEN}, server, log_path):
            yield ServedApp(socket=server)
        assert server.errors() == [], "the app broke the WebSocket protocol"


@pytest.fixture
def slack_app(transport, slack_env, slack, redis_client, tmp_path) -> Iterator[ServedApp]:
    """The Slack app served for real over the test's transport."""
    with served(transport, {**os.environ, **slack_env}, slack, tmp_path / "serve.log") as app:
        yield app


def routing_file(tmp_path: Path, monkeypatch, owners: str) -> Path:
    """``owners`` written as the routing file (``OWNERS_FILE``) of the app served next and of the test's workers:
    a fixture calls it before ``slack_app`` starts, which reads its settings once."""
    path = tmp_path / "owners.yaml"
    path.write_text(owners)
    monkeypatch.setenv("OWNERS_FILE", str(path))
    return path


def run_workers(redis_client) -> None:
    queue = Queue(Settings.from_env().queue_name, connection=redis_client)
    SimpleWorker([queue], connection=redis_client).work(burst=True)


def scan(app: ServedApp | str, slack, text: str, **kwargs):
    """``/scan text`` from :data:`CHANNEL`, to the served app or, given its events URL, signed over HTTP."""
    body = slash_command_body(text, channel_id=CHANNEL, response_url=slack.response_url("r1"), **kwargs)
    return app.send(body) if isinstance(app, ServedApp) else post_signed(app, body, SECRET)


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
