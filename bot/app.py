"""The Bolt app: ``/scan`` and its subcommands.

The handler parses the text (pure), checks who may scan, enqueues one
``open_thread`` job and acks — the only I/O before the ack is that Redis enqueue,
so Slack's 3-second limit is never at risk. ``/scan status`` reads a few Redis
keys (milliseconds) so that it still answers when no worker is alive.
"""

from __future__ import annotations

import logging

from redis import Redis
from rq import Queue
from slack_bolt import Ack, App

from .commands import HELP, BuildCommand, HelpCommand, InvalidCommand, ScanCommand, StatusCommand, parse_command
from .config import SlackSettings
from .slack_client import web_client
from .status import status_text
from .tasks import enqueue_open_thread, request_from_command

log = logging.getLogger(__name__)

QUEUE_DOWN = "I could not queue that scan: the job queue (Redis) is not answering. Try again in a minute; if it persists, tell an admin."


def create_app(settings: SlackSettings, redis: Redis) -> App:
    app = App(
        token=settings.bot_token,
        signing_secret=settings.signing_secret,
        client=web_client(settings),
        # Bolt calls auth.test once at start-up to check the token; tests point it at the local stand-in.
        token_verification_enabled=bool(settings.bot_token),
        # Every listener finishes its work before it acks (parse + one Redis enqueue), so run it in
        # the request thread: no hand-off to Bolt's thread pool and no polling for the ack.
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
            ack(text="Dockerfile builds are not enabled on this installation yet.", response_type="ephemeral")
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

    @app.error
    def on_error(error: Exception, logger: logging.Logger) -> None:
        logger.error("unhandled error in a listener: %s", error, exc_info=error)

    return app


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
