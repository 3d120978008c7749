"""``python -m bot serve`` in Socket Mode: from an envelope on the WebSocket to the thread content.

The app runs as a subprocess with ``SLACK_APP_TOKEN`` (and no signing secret, no port):
it calls ``apps.connections.open`` on the Web API stand-in, opens a WebSocket to the
Socket Mode stand-in (tests/helpers/socket_mode.py) and acks each envelope on it.
Jobs run on real RQ workers, scans on the real Trivy against the offline registry.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from rq import Queue

from tests.helpers.socket_mode import SocketModeServer, slash_command_payload
from tests.integration.conftest import all_text, run_workers, stored_report
from workers.config import Settings

pytestmark = pytest.mark.integration

CHANNEL = "C0SOCKET"
APP_TOKEN = "xapp-test"


@pytest.fixture
def socket_mode(slack) -> Iterator[SocketModeServer]:
    with SocketModeServer() as server:
        slack.socket_mode_url = server.url
        yield server


@pytest.fixture
def socket_env(engine_env, slack, monkeypatch) -> dict:
    """The app's environment for Socket Mode; the test process gets the same (the workers post from it)."""
    values = {
        "SLACK_APP_TOKEN": APP_TOKEN,
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_API_URL": slack.base_url,
        "TOP_FINDINGS": "20",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    for name in ("SLACK_SIGNING_SECRET", "SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET", "PORT"):
        monkeypatch.delenv(name, raising=False)  # Socket Mode needs no signing secret and serves no port
    return dict(os.environ)


@contextmanager
def serving_socket_mode(
    env: dict, server: SocketModeServer, log_path: Path, timeout: float = 30
) -> Iterator[subprocess.Popen]:
    """``python -m bot serve`` until it holds a Socket Mode connection; SIGTERM (then SIGKILL) on exit.

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
                pytest.fail(f"`python -m bot serve` exited with {proc.returncode}:\n{_tail(log_path)}")
            try:
                server.wait_connected(timeout=0.2)
                break
            except AssertionError:
                if time.monotonic() > deadline:
                    pytest.fail(f"the app did not open a Socket Mode connection within {timeout}s:\n{_tail(log_path)}")
        yield proc
    finally:
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
    pytest.fail(f"processes of `python -m bot serve` (group {proc.pid}) outlived it:\n{_tail(log_path)}")


def _tail(log_path: Path, size: int = 4000) -> str:
    return log_path.read_bytes()[-size:].decode("utf-8", "replace")


@pytest.fixture
def app(socket_env, slack, socket_mode, redis_client, tmp_path) -> Iterator[dict]:
    log_path = tmp_path / "serve.log"
    with serving_socket_mode(socket_env, socket_mode, log_path) as proc:
        yield {"proc": proc, "log": log_path}
    assert socket_mode.errors() == [], "the app broke the WebSocket protocol"


def send_scan(socket_mode: SocketModeServer, slack, text: str) -> str:
    payload = slash_command_payload(text, channel_id=CHANNEL, response_url=slack.response_url("r1"))
    return socket_mode.send_envelope("slash_commands", payload)


def queue_length(redis_client) -> int:
    return len(Queue(Settings.from_env().queue_name, connection=redis_client))


def test_the_app_connects_with_its_app_token(app, slack, socket_mode):
    [opened] = slack.calls("apps.connections.open")
    assert opened.ok and opened.headers["Authorization"] == f"Bearer {APP_TOKEN}"
    assert slack.calls("auth.test") and slack.last("auth.test").headers["Authorization"] == "Bearer xoxb-test"
    assert socket_mode.open_connections == 1


def test_scan_is_acked_on_the_socket_then_answered_in_a_thread(app, slack, socket_mode, redis_client, test_images):
    started = time.monotonic()
    envelope_id = send_scan(socket_mode, slack, "mariadb")
    ack = socket_mode.wait_for_ack(envelope_id, timeout=10)
    assert time.monotonic() - started < 3, "Slack shows an error when the ack takes more than 3 seconds"
    assert ack["payload"]["response_type"] == "ephemeral"
    assert "Queued a scan of `mariadb:latest`" in ack["payload"]["text"]
    assert slack.calls("chat.postMessage") == []  # nothing posted from the app process
    assert queue_length(redis_client) == 1

    run_workers(redis_client)

    parent_post = next(c for c in slack.calls("chat.postMessage") if c.ok)
    assert parent_post.params["channel"] == CHANNEL
    ts = parent_post.response["ts"]
    parent, *replies = slack.messages_in_thread(CHANNEL, ts)
    report = stored_report(redis_client, "library/mariadb")
    alternative = stored_report(redis_client, "chainguard/mariadb")
    c, a = report.counts, alternative.counts
    card = all_text(parent)
    assert "scanning" not in card.lower()
    assert f"{c['critical']} critical · {c['high']} high · {c['medium']} medium · {c['low']} low" in card
    assert f"{a['critical']} critical · {a['high']} high · {a['medium']} medium · {a['low']} low" in card
    assert c["critical"] > 0 and "Switching removes" in card
    assert replies and all(r.get("thread_ts") == ts for r in replies)
    assert report.vulnerabilities[0].id in "\n".join(all_text(r) for r in replies)


def test_help_comes_back_in_the_ack(app, slack, socket_mode, redis_client):
    ack = socket_mode.wait_for_ack(send_scan(socket_mode, slack, "help"))
    assert ack["payload"]["response_type"] == "ephemeral"
    assert "Scan a container image" in ack["payload"]["text"]
    assert queue_length(redis_client) == 0 and slack.calls("chat.postMessage") == []


def test_unknown_envelopes_do_not_break_the_connection(app, slack, socket_mode, redis_client):
    socket_mode.send_envelope("a_type_from_the_future", {"anything": [1, 2, 3]})
    socket_mode.send_envelope(
        "events_api",
        {"type": "event_callback", "event": {"type": "app_mention"}},
        accepts_response_payload=False,
        retry_attempt=0,
        retry_reason="",
    )
    socket_mode.send_json("this is not JSON")
    socket_mode.send_json({"type": "hello_again"})  # no envelope_id at all

    ack = socket_mode.wait_for_ack(send_scan(socket_mode, slack, "status"))
    assert "Queue" in ack["payload"]["text"]
    assert app["proc"].poll() is None and socket_mode.connections_opened == 1
    assert queue_length(redis_client) == 0


def test_sigterm_without_redis_url_stops_everything_it_started(slack, socket_mode, tmp_path):
    """Socket Mode is the laptop setup, where REDIS_URL is often unset: `serve` then runs an embedded
    Valkey and a worker pool, and SIGTERM must take them down too."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_") and k not in ("REDIS_URL", "PORT")}
    env.update(SLACK_APP_TOKEN=APP_TOKEN, SLACK_BOT_TOKEN="xoxb-test", SLACK_API_URL=slack.base_url)
    with serving_socket_mode(env, socket_mode, tmp_path / "serve.log", timeout=60) as proc:
        ack = socket_mode.wait_for_ack(send_scan(socket_mode, slack, "help"))
        assert "Scan a container image" in ack["payload"]["text"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, (
            f"`serve` died of the signal instead of shutting down:\n{_tail(tmp_path / 'serve.log')}"
        )
    # serving_socket_mode's exit fails the test if any process of the group is still alive


def _button_payload(action_id: str, value: str) -> dict:
    """A ``block_actions`` payload as Socket Mode carries it (the JSON itself, not form-encoded)."""
    return {
        "type": "block_actions",
        "team": {"id": "T0TEST", "domain": "test"},
        "user": {"id": "U0TEST", "team_id": "T0TEST"},
        "api_app_id": "A0TEST",
        "channel": {"id": CHANNEL},
        "container": {"type": "message", "message_ts": "1700000000.000100", "channel_id": CHANNEL},
        "trigger_id": "1.2.3",
        "response_url": "http://127.0.0.1:9/unused",
        "actions": [{"type": "button", "action_id": action_id, "block_id": "card_actions", "value": value}],
    }


def test_a_button_click_is_acked_on_the_socket_and_queues_its_scan(app, slack, socket_mode, redis_client):
    started = time.monotonic()
    envelope_id = socket_mode.send_envelope("interactive", _button_payload("rescan", "mariadb:latest"))
    socket_mode.wait_for_ack(envelope_id, timeout=10)
    assert time.monotonic() - started < 3
    deadline = time.monotonic() + 10
    while queue_length(redis_client) == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert queue_length(redis_client) == 1  # the same listener as over HTTP: one fresh scan queued


def test_after_slacks_disconnect_the_app_reconnects_and_keeps_answering(app, slack, socket_mode, redis_client):
    socket_mode.disconnect()
    deadline = time.monotonic() + 20
    while socket_mode.connections_opened < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert socket_mode.connections_opened >= 2, _tail(app["log"])
    assert len(slack.calls("apps.connections.open")) >= 2  # a fresh URL for the new connection
    ack = socket_mode.wait_for_ack(send_scan(socket_mode, slack, "help"), timeout=10)
    assert "Scan a container image" in ack["payload"]["text"]


def test_app_home_opened_over_the_socket_queues_a_publish(app, slack, socket_mode, redis_client):
    envelope_id = socket_mode.send_envelope(
        "events_api",
        {
            "type": "event_callback",
            "team_id": "T0TEST",
            "api_app_id": "A0TEST",
            "event": {"type": "app_home_opened", "user": "U0HOME", "tab": "home"},
            "event_id": "Ev0HOME",
            "event_time": int(time.time()),
        },
        retry_attempt=0,
        retry_reason="",
    )
    socket_mode.wait_for_ack(envelope_id, timeout=10)
    deadline = time.monotonic() + 10
    while queue_length(redis_client) == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    jobs = Queue(Settings.from_env().queue_name, connection=redis_client).get_jobs()
    assert [j.func_name for j in jobs] == ["bot.jobs.home.publish_home"]
