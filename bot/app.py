"""The Bolt app: ``/scan`` and its subcommands, the Dockerfile shortcut and modal.

The handler parses the text (pure), checks who may scan, enqueues one
``open_thread`` job and acks — the only I/O before the ack is that Redis enqueue,
so Slack's 3-second limit is never at risk. Two exceptions, both bounded:
``/scan status`` reads a few Redis keys (milliseconds) so that it still answers
when no worker is alive, and ``/scan build`` / the shortcut call ``views.open``,
which Slack requires within 3 seconds of the trigger.
"""

from __future__ import annotations

import json
import logging

from redis import Redis
from rq import Queue
from slack_bolt import Ack, App
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk.errors import SlackApiError

from workers.build import check_dockerfile

from .build_tasks import enqueue_open_build_thread
from .commands import (
    HELP,
    BuildCommand,
    HelpCommand,
    InvalidCommand,
    ScanCommand,
    StatusCommand,
    parse_command,
)
from .config import SlackSettings
from .installations import RedisInstallationStore, RedisOAuthStateStore
from .render.blocks import RESCAN_ACTION
from .render.views import (
    BUILD_CALLBACK,
    DOCKERFILE_ACTION,
    DOCKERFILE_BLOCK,
    build_modal,
    dockerfile_from_message,
)
from .slack_client import error_code, explain, tell_user, web_client
from .status import status_text
from .tasks import enqueue_open_thread, request_from_command

log = logging.getLogger(__name__)

SHORTCUT_CALLBACK = "scan_dockerfile"
BOT_SCOPES = ["commands", "chat:write", "chat:write.public", "files:write", "files:read"]  # as deploy/slack-manifest.yml
QUEUE_DOWN = "I could not queue that scan: the job queue (Redis) is not answering. Try again in a minute; if it persists, tell an admin."


def create_app(settings: SlackSettings, redis: Redis) -> App:
    # Every listener finishes its work before it acks (parse + one Redis enqueue), so it runs in the
    # request thread: no hand-off to Bolt's thread pool and no polling for the ack.
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
    queue = Queue(settings.engine.queue_name, connection=redis)

    @app.command("/scan")
    def scan_command(ack: Ack, command: dict, client, logger: logging.Logger) -> None:
        parsed = parse_command(command.get("text"))
        if isinstance(parsed, HelpCommand):
            text = f"{parsed.problem}\n\n{HELP}" if parsed.problem else HELP
            ack(text=text, response_type="ephemeral")
        elif isinstance(parsed, InvalidCommand):
            ack(text=parsed.message, response_type="ephemeral")
        elif isinstance(parsed, StatusCommand):
            ack(text=_status(redis, settings), response_type="ephemeral")
        elif isinstance(parsed, BuildCommand):
            denial = _build_denied(settings, command.get("channel_id"), command.get("user_id"))
            if denial:
                ack(text=denial, response_type="ephemeral")
                return
            ack()
            # views.open must use the trigger_id within 3 s, so it is the one Web API call made here.
            _open_modal(client, logger, command["trigger_id"], build_modal(command["channel_id"]), command.get("response_url"))
        elif isinstance(parsed, ScanCommand):
            denial = _denied(settings, command)
            if denial:
                ack(text=denial, response_type="ephemeral")
                return
            try:
                enqueue_open_thread(queue, request_from_command(command, parsed))
            except Exception:  # Redis down or full: say so, never a 500
                logger.exception("could not enqueue a scan")
                ack(text=QUEUE_DOWN, response_type="ephemeral")
                return
            ack(
                text=f"Queued a scan of `{parsed.image.familiar}`. The results will appear in a thread in this channel.",
                response_type="ephemeral",
            )

    @app.action(RESCAN_ACTION)
    def rescan(ack: Ack, body: dict, action: dict, respond, logger: logging.Logger) -> None:
        ack()
        channel, user = (body.get("channel") or {}).get("id"), body["user"]["id"]
        parsed = parse_command(f"{action.get('value', '')} --rescan")
        if not isinstance(parsed, ScanCommand) or not channel:
            return
        command = {"channel_id": channel, "user_id": user, "team_id": (body.get("team") or {}).get("id"),
                   "response_url": body.get("response_url")}
        denial = _denied(settings, command)
        if denial:
            respond(text=denial, response_type="ephemeral", replace_original=False)
            return
        try:
            enqueue_open_thread(queue, request_from_command(command, parsed))
        except Exception:
            logger.exception("could not enqueue a rescan")
            respond(text=QUEUE_DOWN, response_type="ephemeral", replace_original=False)

    @app.shortcut(SHORTCUT_CALLBACK)
    def dockerfile_shortcut(ack: Ack, shortcut: dict, client, logger: logging.Logger, respond) -> None:
        ack()
        channel, user = shortcut["channel"]["id"], shortcut["user"]["id"]
        denial = _build_denied(settings, channel, user)
        if denial:
            respond(text=denial, response_type="ephemeral", replace_original=False)
            return
        text, snippet = dockerfile_from_message(shortcut.get("message") or {})
        if not text and not snippet:
            respond(text="I found no Dockerfile in that message: put it in a ``` code block or attach it as a snippet.",
                    response_type="ephemeral", replace_original=False)
            return
        _open_modal(client, logger, shortcut["trigger_id"], build_modal(channel, text, snippet), None)

    @app.view(BUILD_CALLBACK)
    def build_submitted(ack: Ack, body: dict, view: dict, logger: logging.Logger) -> None:
        meta = json.loads(view.get("private_metadata") or "{}")
        value = (((view.get("state") or {}).get("values") or {}).get(DOCKERFILE_BLOCK) or {}).get(DOCKERFILE_ACTION) or {}
        text = value.get("value") or ""
        # Pasted text wins; an empty field is fine only when the modal came with a snippet.
        problem = check_dockerfile(text) if text.strip() or not meta.get("file") else None
        if problem:
            ack(response_action="errors", errors={DOCKERFILE_BLOCK: problem})
            return
        request = {"channel": meta.get("channel"), "user": body["user"]["id"], "team": (body.get("team") or {}).get("id"),
                   "dockerfile": text if text.strip() else None, "file": None if text.strip() else meta.get("file")}
        try:
            enqueue_open_build_thread(queue, request)
        except Exception:
            logger.exception("could not enqueue a build")
            ack(response_action="errors", errors={DOCKERFILE_BLOCK: QUEUE_DOWN})
            return
        ack()

    @app.error
    def on_error(error: Exception, logger: logging.Logger) -> None:
        logger.error("unhandled error in a listener: %s", error, exc_info=error)

    return app


def _build_denied(settings: SlackSettings, channel: str | None, user: str | None) -> str | None:
    if not settings.builds_enabled:
        return "Dockerfile builds are turned off on this installation (an admin can set BUILDS_ENABLED=true)."
    if settings.build_channels and channel not in settings.build_channels:
        return "Dockerfile builds are not allowed in this channel (BUILD_ALLOWED_CHANNELS)."
    if settings.build_users and user not in settings.build_users:
        return "You are not on the list of people who may build Dockerfiles here (BUILD_ALLOWED_USERS)."
    return None


def _open_modal(client, logger: logging.Logger, trigger_id: str, view: dict, response_url: str | None) -> None:
    try:
        client.views_open(trigger_id=trigger_id, view=view)
    except SlackApiError as exc:
        logger.warning("views.open failed: %s", error_code(exc))
        tell_user(response_url, f"I could not open the Dockerfile form: {explain(exc)}")


def _denied(settings: SlackSettings, command: dict) -> str | None:
    if settings.allowed_channels and command.get("channel_id") not in settings.allowed_channels:
        return "Scans are not enabled in this channel. Ask an admin to add it to ALLOWED_CHANNELS."
    if settings.allowed_users and command.get("user_id") not in settings.allowed_users:
        return "You are not on the list of people who may start scans. Ask an admin to add you to ALLOWED_USERS."
    return None


def _status(redis: Redis, settings: SlackSettings) -> str:
    try:
        return status_text(redis, settings.engine)
    except Exception:
        log.exception("status failed")
        return "I could not read the queue status: Redis is not answering."
