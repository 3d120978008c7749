"""The Slack client counts its retries and its failures by method, against the local Web API stand-in."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY
from slack_sdk.errors import SlackApiError

from bot.config import SlackSettings
from bot.slack_client import web_client
from tests.helpers.slack_api import SlackAPIServer


def count(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def client():
    with SlackAPIServer(token="xoxb-test") as server:
        server.add_channel("C0OPS")
        yield server, web_client(SlackSettings(bot_token="xoxb-test", api_url=server.base_url))


def test_a_rate_limited_call_is_counted_as_a_retry_of_its_method(client):
    server, slack = client
    before = count("chainscan_slack_api_retries_total", method="chat.postMessage", reason="rate_limited")
    server.rate_limit_next("chat.postMessage", retry_after=0, times=2)
    slack.chat_postMessage(channel="C0OPS", text="hi")
    after = count("chainscan_slack_api_retries_total", method="chat.postMessage", reason="rate_limited")
    assert after - before == 2


def test_a_refused_call_is_counted_as_an_error_of_its_method_with_slacks_code(client):
    server, slack = client
    before = count("chainscan_slack_api_errors_total", method="chat.update", error="not_in_channel")
    server.fail_next("chat.update", "not_in_channel")
    with pytest.raises(SlackApiError):
        slack.chat_update(channel="C0OPS", ts="1.2", text="x")
    assert count("chainscan_slack_api_errors_total", method="chat.update", error="not_in_channel") - before == 1
