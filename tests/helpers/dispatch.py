"""Signed requests dispatched in process: to the Bolt app itself (``Dispatcher.send``, as bolt-python's
``tests/scenario_tests`` do) or through the Flask app with its edge checks (``Dispatcher.post``). Real Redis,
the recording Slack Web API stand-in; no HTTP server in between, so each request takes milliseconds."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

from slack_bolt.request import BoltRequest

from bot.app import create_app
from bot.config import SlackSettings
from bot.web import create_flask_app
from tests.helpers.slack_api import SlackAPIServer
from tests.helpers.slack_requests import FORM, sign

SECRET = "in-process-secret"


class Dispatcher:
    """Builds the app for a given environment and sends it signed bodies."""

    def __init__(self, slack: SlackAPIServer, redis_client, redis_url: str):
        self.slack, self.redis, self.redis_url = slack, redis_client, redis_url

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
        all_headers = {"content-type": content_type, **sign(body, SECRET), **(headers or {})}
        return app.dispatch(BoltRequest(body=body, headers={k.lower(): v for k, v in all_headers.items()}))

    def post(self, client, body: str, *, content_type: str = FORM, headers: dict | None = None, signed: bool = True):
        all_headers = {"Content-Type": content_type, **(sign(body, SECRET) if signed else {}), **(headers or {})}
        return client.post("/slack/events", data=body.encode("utf-8"), headers=all_headers)

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
