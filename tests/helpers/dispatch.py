"""Requests dispatched in process to the Bolt app, by either of Slack's transports: signed, straight into the app
(``Dispatcher.send`` over HTTP, as bolt-python's ``tests/scenario_tests`` do) or as a Socket Mode envelope on a
real WebSocket to slack-bolt's ``SocketModeHandler`` (:class:`SocketLink`), whose ack must come within 3 s; or
through the Flask app with its edge checks (``Dispatcher.post``). Real Redis, the recording Slack Web API
stand-in; no HTTP server in between, so each request takes milliseconds."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import parse_qs

from slack_bolt.request import BoltRequest

from bot.app import create_app
from bot.config import SlackSettings
from bot.runtime import answering_redis
from bot.socket_mode import SocketModeHandler
from bot.web import create_flask_app
from tests.helpers.fixtures import free_port
from tests.helpers.slack_api import SlackAPIServer
from tests.helpers.slack_requests import FORM, sign
from tests.helpers.socket_mode import SocketModeServer
from tests.helpers.transport import ACK_WITHIN, Acked, deliver

SECRET = "in-process-secret"
APP_TOKEN = "xapp-test"


class SocketLink:
    """One Socket Mode connection for a module's tests: the app's ``SocketModeHandler`` (slack-bolt's, as
    ``bot/socket_mode.py`` extends it) on the WebSocket stand-in. The handler reads ``handler.app`` for each
    envelope, so ``send`` points it at the test's own app and a test builds apps with any settings over the one
    connection."""

    def __init__(self, slack: SlackAPIServer):
        self.server = SocketModeServer().start()
        slack.socket_mode_url = self.server.url
        self.handler: SocketModeHandler | None = None

    def send(self, app, body: str, content_type: str) -> Acked:
        if self.handler is None:
            self.handler = SocketModeHandler(app, APP_TOKEN)
            self.handler.connect()
            self.server.wait_connected(timeout=10)
        self.handler.app = app
        return deliver(self.server, body, content_type)

    def close(self) -> None:
        """Slack goes away first, then the handler closes: closing an open connection waits out slack_sdk's 3 s
        read timeout, and closing while the client is still noticing the close races it (slack_sdk checks the
        socket outside its lock), so the handler is closed once the client says it is disconnected."""
        self.server.stop()
        if self.handler is not None:
            deadline = time.monotonic() + 5
            while self.handler.client.is_connected() and time.monotonic() < deadline:
                time.sleep(0.01)
            self.handler.close()


class Dispatcher:
    """Builds the app for a given environment and sends it Slack's bodies, over HTTP or, given a
    :class:`SocketLink`, over Socket Mode."""

    def __init__(self, slack: SlackAPIServer, redis_client, redis_url: str, socket: SocketLink | None = None):
        self.slack, self.redis, self.redis_url, self.socket = slack, redis_client, redis_url, socket

    def settings(self, **env: str) -> SlackSettings:
        values = {
            "SLACK_BOT_TOKEN": "xoxb-test",
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": self.slack.base_url,
            "REDIS_URL": self.redis_url,
            **env,
        }
        return SlackSettings.from_env(values)

    def app(self, redis=None, **env: str):
        return create_app(self.settings(**env), redis or self.redis)

    def web(self, redis=None, **env: str):
        """The Flask app (edge, then Bolt) as a test client: ``post`` to it."""
        return create_flask_app(self.settings(**env), redis or self.redis).test_client()

    def send(self, app, body: str, *, content_type: str = FORM, headers: dict | None = None):
        if self.socket is not None:
            assert not headers, "headers are HTTP's: a Socket Mode envelope has none"
            return self.socket.send(app, body, content_type)
        all_headers = {"content-type": content_type, **sign(body, SECRET), **(headers or {})}
        started = time.monotonic()
        response = app.dispatch(BoltRequest(body=body, headers={k.lower(): v for k, v in all_headers.items()}))
        assert time.monotonic() - started < ACK_WITHIN, f"the answer took more than {ACK_WITHIN}s"
        return response

    def post(self, client, body: str, *, content_type: str = FORM, headers: dict | None = None, signed: bool = True):
        all_headers = {"Content-Type": content_type, **(sign(body, SECRET) if signed else {}), **(headers or {})}
        return client.post("/slack/events", data=body.encode("utf-8"), headers=all_headers)

    def redis_down(self):
        """The client the answering processes use (``bot.runtime.answering_redis``), on a port nobody listens on."""
        return answering_redis(f"redis://127.0.0.1:{free_port()}/0")

    @contextmanager
    def silent_redis(self) -> Iterator:
        """The same client on a port that accepts connections and never answers (a Redis stuck or cut off)."""
        with socket.create_server(("127.0.0.1", 0)) as listener:
            yield answering_redis(f"redis://127.0.0.1:{listener.getsockname()[1]}/0")

    def queued(self) -> list[str]:
        """Function names of the jobs waiting on the chainscan queue."""
        from rq import Queue

        return [job.func_name for job in Queue("chainscan", connection=self.redis).get_jobs()]


def text_of(response) -> str:
    """The ack's text, whichever way it was encoded (a BoltResponse or a Flask test response)."""
    body = response.body if hasattr(response, "body") else response.get_data(as_text=True)
    body = body or ""
    try:
        return json.loads(body).get("text") or ""
    except (ValueError, AttributeError):
        return parse_qs(body).get("text", [""])[0]
