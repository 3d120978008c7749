"""The in-process tier: each request dispatched to the Bolt app by both of Slack's transports, signed straight
into the app (as bolt-python's own ``tests/scenario_tests`` do) and as a Socket Mode envelope through the
WebSocket stand-in to slack-bolt's ``SocketModeHandler`` (one connection a module). Real Redis (the queue), the
recording Slack Web API stand-in for the few calls a listener makes (views.open, response_url); no HTTP server
in between, so each test takes milliseconds. A test marked ``http_only("why")`` runs over HTTP alone (the
``transport`` parameter: tests/helpers/transport.py)."""

from __future__ import annotations

import pytest

from tests.helpers.dispatch import SECRET, Dispatcher, SocketLink, text_of  # noqa: F401 (the tests import these)
from tests.helpers.slack_api import SlackAPIServer


@pytest.fixture(scope="module")
def slack():
    with SlackAPIServer(token="xoxb-test") as server:
        yield server


@pytest.fixture(scope="module")
def socket_link(slack):
    link = SocketLink(slack)
    yield link
    link.close()


@pytest.fixture
def dispatcher(transport, request, slack, redis_client, redis_url):
    slack.reset()  # the stand-in serves the module; each test reads only its own calls and responses
    socket = request.getfixturevalue("socket_link") if transport == "socket" else None
    return Dispatcher(slack, redis_client, redis_url, socket)
