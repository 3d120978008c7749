"""Build and send signed Slack requests to a Bolt app over real HTTP.

The bodies mirror what Slack sends: slash commands are plain form fields,
interactivity (block actions, view submissions, shortcuts) is a single
``payload=<JSON>`` form field, and the Events API is a JSON body.
Every request is signed the way Slack signs it (``v0`` HMAC-SHA256 over
``v0:{timestamp}:{body}`` with the app's signing secret).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from typing import Any
from urllib.parse import urlencode

import requests

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"

#: Nothing listens on the discard port, so a forgotten response_url fails fast
#: instead of reaching for hooks.slack.com. Pass ``SlackAPIServer.response_url()``.
UNUSED_RESPONSE_URL = "http://127.0.0.1:9/response/unused"

_trigger_counter = itertools.count(1)


def sign(body: str, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """Slack's signature headers for ``body`` (timestamp defaults to now)."""
    ts = int(time.time()) if timestamp is None else int(timestamp)
    base = f"v0:{ts}:{body}".encode()
    digest = hmac.new(secret.encode("utf-8"), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": f"v0={digest}"}


def new_trigger_id() -> str:
    """A fresh trigger_id shaped like Slack's (``<n>.<n>.<hex>``)."""
    n = next(_trigger_counter)
    return f"{1_700_000_000 + n}.{4_200_000 + n}.{hashlib.sha1(str(n).encode()).hexdigest()[:32]}"


def _payload_body(payload: dict[str, Any]) -> str:
    return urlencode({"payload": json.dumps(payload)})


def _user(user_id: str, team_id: str, user_name: str | None) -> dict[str, Any]:
    name = user_name or user_id.lower()
    return {"id": user_id, "username": name, "name": name, "team_id": team_id}


def slash_command_body(
    text: str,
    command: str = "/scan",
    channel_id: str = "C0TEST",
    user_id: str = "U0TEST",
    team_id: str = "T0TEST",
    response_url: str = UNUSED_RESPONSE_URL,
    trigger_id: str | None = None,
    *,
    user_name: str = "tester",
    channel_name: str = "general",
    team_domain: str = "chainscan-test",
    api_app_id: str = "A0TEST",
    enterprise_id: str | None = None,
    enterprise_name: str | None = None,
    is_enterprise_install: bool = False,
    token: str = "verification-token",
) -> str:
    """A slash command invocation, form-encoded in the field order Slack uses.

    ``enterprise_id``/``enterprise_name`` are sent only when given (Slack omits them
    outside Enterprise Grid); ``is_enterprise_install`` is always sent.
    """
    fields: list[tuple] = [
        ("token", token),
        ("team_id", team_id),
        ("team_domain", team_domain),
    ]
    if enterprise_id is not None:
        fields.append(("enterprise_id", enterprise_id))
        fields.append(("enterprise_name", enterprise_name or "Enterprise"))
    fields += [
        ("channel_id", channel_id),
        ("channel_name", channel_name),
        ("user_id", user_id),
        ("user_name", user_name),
        ("command", command),
        ("text", text),
        ("api_app_id", api_app_id),
        ("is_enterprise_install", "true" if is_enterprise_install else "false"),
        ("response_url", response_url),
        ("trigger_id", trigger_id or new_trigger_id()),
    ]
    return urlencode(fields)


def block_action_body(
    action_id: str,
    value: str | None = None,
    *,
    block_id: str = "actions",
    action_type: str = "button",
    channel_id: str = "C0TEST",
    user_id: str = "U0TEST",
    team_id: str = "T0TEST",
    message_ts: str = "1700000000.000100",
    message: dict[str, Any] | None = None,
    view: dict[str, Any] | None = None,
    state_values: dict[str, Any] | None = None,
    response_url: str = UNUSED_RESPONSE_URL,
    trigger_id: str | None = None,
    user_name: str | None = None,
    api_app_id: str = "A0TEST",
    **action_fields: Any,
) -> str:
    """A ``block_actions`` interaction (``payload=`` form field).

    By default the action comes from a bot message in ``channel_id`` at ``message_ts``;
    pass ``view`` (a dict with at least ``id``) for an action inside a modal / App Home.
    Extra keyword arguments are merged into the action (e.g. ``selected_option=...``).
    """
    action: dict[str, Any] = {
        "type": action_type,
        "action_id": action_id,
        "block_id": block_id,
        "action_ts": f"{time.time():.6f}",
    }
    if action_type == "button":
        action["text"] = {"type": "plain_text", "text": action_id, "emoji": True}
    if value is not None:
        action["value"] = value
    action.update(action_fields)

    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": _user(user_id, team_id, user_name),
        "api_app_id": api_app_id,
        "token": "verification-token",
        "trigger_id": trigger_id or new_trigger_id(),
        "team": {"id": team_id, "domain": "chainscan-test"},
        "enterprise": None,
        "is_enterprise_install": False,
        "state": {"values": state_values or {}},
        "actions": [action],
    }
    if view is not None:
        full_view = {"type": "modal", "team_id": team_id, "state": {"values": state_values or {}}, **view}
        payload["container"] = {"type": "view", "view_id": full_view.get("id", "V0TEST")}
        payload["view"] = full_view
    else:
        payload["container"] = {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel_id,
            "is_ephemeral": False,
        }
        payload["channel"] = {"id": channel_id, "name": "general"}
        payload["message"] = message or {
            "type": "message",
            "user": "U0BOT",
            "bot_id": "B0BOT",
            "ts": message_ts,
            "text": "",
        }
        payload["response_url"] = response_url
    return _payload_body(payload)


def view_submission_body(
    callback_id: str,
    values: dict[str, Any] | None = None,
    *,
    view_id: str = "V0TEST",
    private_metadata: str = "",
    user_id: str = "U0TEST",
    team_id: str = "T0TEST",
    trigger_id: str | None = None,
    response_urls: list[dict[str, Any]] | None = None,
    blocks: list[dict[str, Any]] | None = None,
    user_name: str | None = None,
    api_app_id: str = "A0TEST",
) -> str:
    """A modal ``view_submission`` (``payload=`` form field).

    ``values`` is ``view.state.values``: ``{block_id: {action_id: {"type": ..., "value": ...}}}``.
    """
    payload = {
        "type": "view_submission",
        "team": {"id": team_id, "domain": "chainscan-test"},
        "user": _user(user_id, team_id, user_name),
        "api_app_id": api_app_id,
        "token": "verification-token",
        "trigger_id": trigger_id or new_trigger_id(),
        "view": {
            "id": view_id,
            "team_id": team_id,
            "type": "modal",
            "blocks": blocks or [],
            "private_metadata": private_metadata,
            "callback_id": callback_id,
            "state": {"values": values or {}},
            "hash": "1700000000.abcdef",
            "title": {"type": "plain_text", "text": "chainscan"},
            "close": None,
            "submit": {"type": "plain_text", "text": "Submit"},
            "previous_view_id": None,
            "root_view_id": view_id,
            "app_id": api_app_id,
            "external_id": "",
            "app_installed_team_id": team_id,
            "bot_id": "B0BOT",
        },
        "response_urls": response_urls or [],
        "is_enterprise_install": False,
        "enterprise": None,
    }
    return _payload_body(payload)


def message_shortcut_body(
    callback_id: str,
    message_text: str = "",
    *,
    message_ts: str = "1700000000.000100",
    message_user: str = "U0OTHER",
    channel_id: str = "C0TEST",
    user_id: str = "U0TEST",
    team_id: str = "T0TEST",
    response_url: str = UNUSED_RESPONSE_URL,
    trigger_id: str | None = None,
    message: dict[str, Any] | None = None,
    user_name: str | None = None,
) -> str:
    """A message shortcut (``type: message_action``, ``payload=`` form field)."""
    payload = {
        "type": "message_action",
        "token": "verification-token",
        "action_ts": f"{time.time():.6f}",
        "team": {"id": team_id, "domain": "chainscan-test"},
        "user": _user(user_id, team_id, user_name),
        "channel": {"id": channel_id, "name": "general"},
        "is_enterprise_install": False,
        "enterprise": None,
        "callback_id": callback_id,
        "trigger_id": trigger_id or new_trigger_id(),
        "response_url": response_url,
        "message_ts": message_ts,
        "message": message or {"type": "message", "user": message_user, "ts": message_ts, "text": message_text},
    }
    return _payload_body(payload)


def event_body(
    event: dict[str, Any],
    *,
    team_id: str = "T0TEST",
    api_app_id: str = "A0TEST",
    event_id: str | None = None,
    bot_user_id: str = "U0BOT",
) -> str:
    """An Events API ``event_callback`` (JSON body; send with ``content_type=JSON``)."""
    n = next(_trigger_counter)
    return json.dumps(
        {
            "token": "verification-token",
            "team_id": team_id,
            "api_app_id": api_app_id,
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{n:08d}",
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": team_id,
                    "user_id": bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
        }
    )


def post_signed(
    url: str,
    body: str,
    secret: str,
    timestamp: int | None = None,
    content_type: str = FORM,
    *,
    headers: dict[str, str] | None = None,
    timeout: float = 10,
) -> requests.Response:
    """POST ``body`` to ``url`` with Slack's signature headers, as Slack would."""
    all_headers = {"Content-Type": content_type, "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)"}
    all_headers.update(sign(body, secret, timestamp))
    all_headers.update(headers or {})
    return requests.post(url, data=body.encode("utf-8"), headers=all_headers, timeout=timeout)
