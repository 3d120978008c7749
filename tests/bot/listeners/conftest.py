"""The in-process tier: signed requests dispatched straight to the Bolt app, as bolt-python's own
``tests/scenario_tests`` do. Real Redis (the queue), the recording Slack Web API stand-in for the few
calls a listener makes (views.open, response_url); no HTTP server in between, so each test takes
milliseconds."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest
from slack_bolt.request import BoltRequest

from bot.app import create_app
from bot.config import SlackSettings
from tests.helpers.slack_api import SlackAPIServer
from tests.helpers.slack_requests import FORM, sign

SECRET = "in-process-secret"


@pytest.fixture(scope="module")
def slack():
    with SlackAPIServer(token="xoxb-test") as server:
        yield server


class Dispatcher:
    """Builds the app for a given environment and sends it signed bodies."""

    def __init__(self, slack: SlackAPIServer, redis_client, redis_url: str):
        self.slack, self.redis, self.redis_url = slack, redis_client, redis_url

    def app(self, redis=None, **env: str):
        values = {
            "SLACK_BOT_TOKEN": "xoxb-test",
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": self.slack.base_url,
            "REDIS_URL": self.redis_url,
            **env,
        }
        return create_app(SlackSettings.from_env(values), redis or self.redis)

    def send(self, app, body: str, *, content_type: str = FORM, headers: dict | None = None):
        all_headers = {"content-type": content_type, **sign(body, SECRET), **(headers or {})}
        return app.dispatch(BoltRequest(body=body, headers={k.lower(): v for k, v in all_headers.items()}))

    def queued(self) -> list[str]:
        """Function names of the jobs waiting on the chainscan queue."""
        from rq import Queue

        return [job.func_name for job in Queue("chainscan", connection=self.redis).get_jobs()]


@pytest.fixture
def dispatcher(slack, redis_client, redis_url):
    return Dispatcher(slack, redis_client, redis_url)


def text_of(response) -> str:
    """The ack's text, whichever way Bolt encoded it."""
    import json

    body = response.body or ""
    try:
        return json.loads(body).get("text") or ""
    except ValueError:
        return parse_qs(body).get("text", [""])[0]
