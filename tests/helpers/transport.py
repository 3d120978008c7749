"""pytest plugin: Slack's two transports for the tests that deliver Slack requests (enabled in tests/conftest.py).

A test that asks for the ``transport`` fixture, itself or through a fixture it uses, runs twice: ``[http]`` (the
request signed and posted, or dispatched signed) and ``[socket]`` (the same body as a Socket Mode envelope, which
:func:`deliver` sends and which must be acked within 3 s). A test marked ``http_only("why")`` runs over HTTP alone.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from tests.helpers.slack_requests import FORM
from tests.helpers.socket_mode import SocketModeServer, envelope_of

ACK_WITHIN = 3.0  # seconds: Slack shows the user an error when the ack takes longer


def pytest_generate_tests(metafunc):
    if "transport" in metafunc.fixturenames:
        only_http = metafunc.definition.get_closest_marker("http_only")
        metafunc.parametrize("transport", ["http"] if only_http else ["http", "socket"])


@dataclass(frozen=True)
class Acked:
    """A Socket Mode ack read as the HTTP answer it stands for: a 200 whose body is the ack's payload (read as a
    ``BoltResponse``, ``status`` and ``body``, or as a ``requests.Response``, ``status_code``, ``text``, ``json()``)."""

    payload: dict[str, Any] | None
    status: int = 200

    @property
    def body(self) -> str:
        return json.dumps(self.payload) if self.payload else ""

    @property
    def status_code(self) -> int:
        return self.status

    @property
    def text(self) -> str:
        return self.body

    def json(self) -> dict[str, Any] | None:
        return self.payload


def deliver(server: SocketModeServer, body: str, content_type: str = FORM) -> Acked:
    """``body`` (what Slack would POST) sent as the Socket Mode envelope Slack would send instead; fails unless
    the app acks it within :data:`ACK_WITHIN` seconds."""
    kind, payload = envelope_of(body, content_type)
    retries = {"retry_attempt": 0, "retry_reason": ""} if kind == "events_api" else {}
    started = time.monotonic()
    ack = server.wait_for_ack(server.send_envelope(kind, payload, **retries), timeout=ACK_WITHIN)
    assert time.monotonic() - started < ACK_WITHIN, f"the {kind} envelope was acked after {ACK_WITHIN}s"
    return Acked(ack.get("payload"))
