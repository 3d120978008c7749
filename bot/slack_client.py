"""The Slack Web API client, with slack_sdk's own retry handlers.

429s are retried after their Retry-After (``RateLimitErrorRetryHandler``), 5xx
and connection errors a few times (``ServerErrorRetryHandler``,
``ConnectionErrorRetryHandler``). Errors that another try cannot fix are
recognised by :func:`is_permanent` and told to the user instead.
"""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.webhook import WebhookClient

from bot.config import SlackSettings
from bot.render.slack_text import defuse, defuse_payload
from workers.telemetry import metrics

log = logging.getLogger(__name__)

PERMANENT_ERRORS = {
    "not_in_channel": "I am not in this channel. Invite me with `/invite @chainscan` and run the command again.",
    "channel_not_found": "I cannot see this channel (private channels need an invite: `/invite @chainscan`).",
    "is_archived": "This channel is archived, so I cannot post the results here.",
    "invalid_auth": "My Slack token is not valid. Ask an admin to reinstall the app or update SLACK_BOT_TOKEN.",
    "not_authed": "My Slack token is missing. Ask an admin to set SLACK_BOT_TOKEN.",
    "token_revoked": "My Slack token was revoked. Ask an admin to reinstall the app.",
    "account_inactive": "My Slack token belongs to a deactivated app. Ask an admin to reinstall it.",
    "missing_scope": "The app is missing a permission it needs. Ask an admin to reinstall it from the manifest in deploy/.",
    "restricted_action": "This workspace does not let me post in this channel.",
    "msg_too_long": "The message was too long for Slack; the full report is in the attached file.",
}


class CountedWebClient(WebClient):
    """A WebClient whose failed calls are counted by method and error (``chainscan_slack_api_errors_total``), and
    whose every outgoing text field is defused (no ``<!channel>`` leaves the bot, whatever built the message)."""

    def api_call(self, api_method: str, *args, **kwargs):
        for part in ("json", "params", "data"):  # every text field, whatever built it (bot.render.slack_text)
            if isinstance(kwargs.get(part), dict):
                kwargs[part] = defuse_payload(kwargs[part])
        try:
            return super().api_call(api_method, *args, **kwargs)
        except SlackApiError as exc:
            metrics.slack_failed(api_method, error_code(exc))
            raise
        except Exception as exc:  # the connection gave out after its retries
            metrics.slack_failed(api_method, type(exc).__name__)
            raise


def _counted(handler_class: type, reason: str) -> type:
    """``handler_class`` whose every retry is counted by method and ``reason`` (``chainscan_slack_api_retries_total``)."""

    class Counted(handler_class):
        def can_retry(self, *, state, request, response=None, error=None) -> bool:
            retrying = super().can_retry(state=state, request=request, response=response, error=error)
            if retrying:
                metrics.slack_retried(request.url.rstrip("/").rsplit("/", 1)[-1].split("?")[0], reason)
            return retrying

    Counted.__name__ = f"Counted{handler_class.__name__}"
    return Counted


_ConnectionRetry = _counted(ConnectionErrorRetryHandler, "connection_error")
_RateLimitRetry = _counted(RateLimitErrorRetryHandler, "rate_limited")
_ServerErrorRetry = _counted(ServerErrorRetryHandler, "server_error")


def web_client(settings: SlackSettings, token: str | None = None) -> WebClient:
    return CountedWebClient(
        token=token or settings.bot_token,
        base_url=settings.api_url,
        timeout=15,
        retry_handlers=[
            _ConnectionRetry(max_retry_count=2),
            _RateLimitRetry(max_retry_count=3),
            _ServerErrorRetry(max_retry_count=2),
        ],
    )


def client_for(settings: SlackSettings, redis, team_id: str | None) -> WebClient:
    """The client for posting to a workspace: the configured token, or the one its install stored."""
    if settings.bot_token or not settings.oauth:
        return web_client(settings)
    from bot.installations import bot_token

    return web_client(settings, token=bot_token(redis, team_id))


def error_code(exc: SlackApiError) -> str:
    try:
        return str(exc.response.get("error") or "unknown_error")
    except Exception:  # a response without a JSON body
        return "unknown_error"


def is_permanent(exc: SlackApiError) -> bool:
    return error_code(exc) in PERMANENT_ERRORS


def explain(exc: SlackApiError) -> str:
    return PERMANENT_ERRORS.get(error_code(exc), f"Slack refused the message ({error_code(exc)}).")


def tell_user(response_url: str | None, text: str) -> bool:
    """Send an ephemeral note through the slash command's response_url (works without channel access)."""
    if not response_url:
        return False
    try:
        response = WebhookClient(
            response_url, timeout=10, retry_handlers=[ConnectionErrorRetryHandler(), RateLimitErrorRetryHandler()]
        ).send(text=defuse(text), response_type="ephemeral", replace_original=False)
        return response.status_code == 200
    except Exception as exc:  # the user note is best effort: one log line, no traceback
        log.warning("could not reach the response_url: %s", type(exc).__name__)
        return False


def download_file(client: WebClient, file_id: str, limit: int = 200_000) -> tuple[str, str] | None:
    """A file shared in Slack, as (name, text), read with the bot's token; None when Slack will not give it."""
    import requests

    try:
        info = client.files_info(file=file_id)["file"]
    except SlackApiError as exc:
        log.warning("files.info failed: %s", error_code(exc))
        return None
    url = info.get("url_private_download") or info.get("url_private")
    if not url:
        return None
    response = requests.get(url, headers={"Authorization": f"Bearer {client.token}"}, timeout=20, allow_redirects=False)
    if response.status_code != 200:
        return None
    return info.get("name") or "file", response.content[:limit].decode("utf-8", "replace")
