"""The in-process tier: signed requests dispatched straight to the Bolt app, as bolt-python's own
``tests/scenario_tests`` do. Real Redis (the queue), the recording Slack Web API stand-in for the few
calls a listener makes (views.open, response_url); no HTTP server in between, so each test takes
milliseconds."""

from __future__ import annotations

import pytest

from tests.helpers.dispatch import SECRET, Dispatcher, text_of  # noqa: F401 (the listener tests import these)
from tests.helpers.slack_api import SlackAPIServer


@pytest.fixture(scope="module")
def slack():
    with SlackAPIServer(token="xoxb-test") as server:
        yield server


@pytest.fixture
def dispatcher(slack, redis_client, redis_url):
    return Dispatcher(slack, redis_client, redis_url)
