"""The baseline for the ack benchmark: a Bolt app whose /scan only acks, served exactly like ours."""

from __future__ import annotations

from flask import Flask, request
from slack_bolt import App
from slack_bolt.adapter.flask import SlackRequestHandler

from bot.config import SlackSettings
from bot.slack_client import web_client
from bot.web import GunicornServer, gunicorn_options


def create_bare_flask_app(settings: SlackSettings) -> Flask:
    app = App(signing_secret=settings.signing_secret, client=web_client(settings), process_before_response=True)

    @app.command("/scan")
    def scan(ack):
        ack(text="ok", response_type="ephemeral")

    handler = SlackRequestHandler(app)
    flask_app = Flask("bare")
    flask_app.add_url_rule("/slack/events", "events", lambda: handler.handle(request), methods=["POST"])
    flask_app.add_url_rule("/healthz", "healthz", lambda: {"ok": True})
    return flask_app


if __name__ == "__main__":
    settings = SlackSettings.from_env()
    GunicornServer(lambda: create_bare_flask_app(settings), gunicorn_options(settings)).run()
