"""The Bolt app: built here, its listeners registered per concept from ``bot/listeners/``.

Every listener finishes its work before it acks (parse + one Redis enqueue), so it runs in the request
thread: no hand-off to Bolt's thread pool and no polling for the ack.
"""

from __future__ import annotations

import logging

from redis import Redis
from rq import Queue
from slack_bolt import App
from slack_bolt.oauth.oauth_settings import OAuthSettings

from bot.config import SlackSettings
from bot.installations import RedisInstallationStore, RedisOAuthStateStore
from bot.listeners import build, digests, home, scan, triage
from bot.listeners.context import ListenerContext
from bot.slack_client import web_client

BOT_SCOPES = [
    "commands",
    "chat:write",
    "chat:write.public",
    "files:write",
    "files:read",
    "usergroups:read",  # who is in a team's user group (App Home) or an allowed one (TRIAGE_ALLOWED_GROUPS)
]  # as deploy/slack-app-manifest.yml


def create_app(settings: SlackSettings, redis: Redis) -> App:
    if settings.oauth:  # many workspaces: tokens come from the installation store in Redis
        app = App(
            signing_secret=settings.signing_secret,
            client=web_client(settings, token=None),
            process_before_response=True,
            oauth_settings=OAuthSettings(
                client_id=settings.client_id,
                client_secret=settings.client_secret,
                scopes=BOT_SCOPES,
                installation_store=RedisInstallationStore(redis),
                state_store=RedisOAuthStateStore(redis),
                install_path="/slack/install",
                redirect_uri_path="/slack/oauth_redirect",
            ),
        )
    else:  # one workspace, one bot token; Bolt checks it once with auth.test at start-up
        app = App(
            signing_secret=settings.signing_secret,
            client=web_client(settings),  # carries the bot token
            token_verification_enabled=bool(settings.bot_token),
            process_before_response=True,
        )
    ctx = ListenerContext(settings, redis, Queue(settings.engine.queue_name, connection=redis))
    for concept in (scan, build, triage, digests, home):
        concept.register(app, ctx)

    @app.error
    def on_error(error: Exception, logger: logging.Logger) -> None:
        logger.error("unhandled error in a listener: %s", error, exc_info=error)

    return app
