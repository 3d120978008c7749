"""``python -m bot serve`` in Socket Mode: the connection itself (the app token, unknown envelopes, Slack's
disconnect, SIGTERM).

The app runs as a subprocess with ``SLACK_APP_TOKEN`` (and no signing secret, no port):
it calls ``apps.connections.open`` on the Web API stand-in, opens a WebSocket to the
Socket Mode stand-in (tests/helpers/socket_mode.py) and acks each envelope on it.
The flows from an envelope to the thread (commands, buttons, modals, shortcuts, events) run in both transports
in test_slack_flow.py, test_triage_flow.py and test_app_home.py.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest
from rq import Queue

from tests.helpers.socket_mode import SocketModeServer, slash_command_payload
from tests.integration.conftest import APP_TOKEN, serving_socket_mode, tail
from workers.config import Settings

pytestmark = pytest.mark.integration

CHANNEL = "C0SOCKET"


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
            f"`serve` died of the signal instead of shutting down:\n{tail(tmp_path / 'serve.log')}"
        )
    # serving_socket_mode's exit fails the test if any process of the group is still alive


def test_after_slacks_disconnect_the_app_reconnects_and_keeps_answering(app, slack, socket_mode, redis_client):
    socket_mode.disconnect()
    deadline = time.monotonic() + 20
    while socket_mode.connections_opened < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert socket_mode.connections_opened >= 2, tail(app["log"])
    assert len(slack.calls("apps.connections.open")) >= 2  # a fresh URL for the new connection
    ack = socket_mode.wait_for_ack(send_scan(socket_mode, slack, "help"), timeout=10)
    assert "Scan a container image" in ack["payload"]["text"]
