"""What ``/slack/events`` lets through to Bolt, decided before anything in the body is parsed. Pure.

:func:`check` takes the headers, the raw body and the time: the signature is verified first (slack_sdk's
``SignatureVerifier``, once the timestamp is known to be digits and the signature hex), then the
content type, Slack's retries, and last the body's shape, so nobody without the signing secret reaches a
parser. A signed body Slack would never send (``payload=null``, ``actions`` that are not a list of
objects, a ``view`` that is a string) is refused here, since Bolt would raise on it before any listener
runs. Replays are the one Redis decision, taken in ``bot/web.py`` with :func:`replay_key`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any
from urllib.parse import parse_qsl

from slack_sdk.signature import Clock, SignatureVerifier

MAX_BODY = 1024 * 1024  # Slack's largest payloads (a modal's state, a long message) are far smaller
MAX_AGE = 5 * 60  # seconds either side of now, as Slack and slack_sdk allow
REPLAY_TTL = MAX_AGE + 60  # a signature is remembered a little longer than it can be valid
CONTENT_TYPES = ("application/x-www-form-urlencoded", "application/json")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")


class Refusal(str, Enum):
    TOO_LARGE = "too_large"
    UNSIGNED = "unsigned"
    BAD_TIMESTAMP = "bad_timestamp"
    UNREADABLE = "unreadable"
    STALE = "stale"
    BAD_SIGNATURE = "bad_signature"
    CONTENT_TYPE = "content_type"
    RETRY = "retry"
    MALFORMED = "malformed"
    REPLAY = "replay"

    @property
    def status(self) -> int:
        return _ANSWERS[self][0]

    @property
    def reason(self) -> str:
        return _ANSWERS[self][1]


_ANSWERS = {
    Refusal.TOO_LARGE: (413, "the body is larger than any Slack sends"),
    Refusal.UNSIGNED: (401, "no Slack signature or timestamp"),
    Refusal.BAD_TIMESTAMP: (401, "the timestamp is not a number of seconds"),
    Refusal.UNREADABLE: (400, "the body is not UTF-8 text"),
    Refusal.STALE: (401, "the timestamp is more than 5 minutes from now"),
    Refusal.BAD_SIGNATURE: (401, "the signature does not match the body"),
    Refusal.CONTENT_TYPE: (415, "signed, but neither form-encoded nor JSON"),
    Refusal.RETRY: (200, "a Slack retry of a delivery already answered"),
    Refusal.MALFORMED: (400, "signed, but not a payload Slack sends"),
    Refusal.REPLAY: (200, "a replay of a request already answered"),
}


@dataclass(frozen=True)
class Admitted:
    signature: str  # v0=…, unique to this timestamp and body: the replay key


class _At(Clock):
    def __init__(self, now: float):
        self._now = now

    def now(self) -> float:
        return self._now


def check(headers: Mapping[str, str], body: bytes, secret: str, now: float) -> Admitted | Refusal:
    """Let a request through to Bolt, or say why not. ``headers`` may be any case."""
    lower = {k.lower(): v for k, v in headers.items()}
    timestamp, signature = lower.get("x-slack-request-timestamp"), lower.get("x-slack-signature")
    if len(body) > MAX_BODY:
        return Refusal.TOO_LARGE
    if not timestamp or not signature or not _SIGNATURE.fullmatch(signature):
        return Refusal.UNSIGNED
    if not _TIMESTAMP.fullmatch(timestamp):
        return Refusal.BAD_TIMESTAMP
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return Refusal.UNREADABLE
    if abs(now - int(timestamp)) > MAX_AGE:
        return Refusal.STALE
    if not SignatureVerifier(secret, clock=_At(now)).is_valid(text, timestamp, signature):
        return Refusal.BAD_SIGNATURE
    content_type = (lower.get("content-type") or "").split(";")[0].strip().lower()
    if content_type not in CONTENT_TYPES:
        return Refusal.CONTENT_TYPE
    if "x-slack-retry-num" in lower:
        return Refusal.RETRY
    if not well_formed(parse(text, content_type)):
        return Refusal.MALFORMED
    return Admitted(signature)


def replay_key(admitted: Admitted) -> str:
    return f"chainscan:edge:seen:{admitted.signature.removeprefix('v0=')}"


def parse(text: str, content_type: str) -> Any:
    """The body as Bolt will read it (``slack_bolt.request.internals.parse_body``), or None if it cannot."""
    try:
        if not text:
            return {}
        if content_type == "application/json" or text.startswith("{"):
            return json.loads(text)
        if "payload" in text:
            payload = dict(parse_qsl(text, keep_blank_values=True)).get("payload")
            return {} if payload is None else json.loads(payload)
        return dict(parse_qsl(text, keep_blank_values=True))
    except ValueError:
        return None


_IDS = ("user", "channel", "team", "enterprise")  # Bolt reads each as a string id or {"id": …}
_STRINGS = ("type", "command", "callback_id", "action_id", "user_id", "channel_id", "team_id", "enterprise_id")
_INNER = ("event", "message", "previous_message", "item", "assistant_thread")


def well_formed(payload: Any, depth: int = 0) -> bool:
    """The parts of a payload that Bolt reads before any listener runs have the types Slack gives them.

    Listeners read the rest defensively themselves; this only keeps Bolt's own matching and context
    building (``slack_bolt/request/internals.py``, ``listener_matcher/builtins.py``) from raising."""
    if not isinstance(payload, dict) or depth > 3:
        return isinstance(payload, dict)
    if any(not _optional_str(payload.get(key)) for key in _STRINGS):
        return False
    for key in _IDS:
        value = payload.get(key)
        if not (
            value is None or isinstance(value, str) or (isinstance(value, dict) and _optional_str(value.get("id")))
        ):
            return False
    if "event" in payload and not (
        isinstance(payload["event"], dict) and _optional_str(payload["event"].get("subtype"))
    ):
        return False
    if not all(key not in payload or payload[key] is None or well_formed(payload[key], depth + 1) for key in _INNER):
        return False
    if not _list_of_objects(payload, "authorizations") or not _list_of_objects(payload, "response_urls"):
        return False
    if not _view_well_formed(payload):
        return False
    return _actions_well_formed(payload)


def _optional_str(value: Any) -> bool:
    return value is None or isinstance(value, str)


def _list_of_objects(payload: dict, key: str) -> bool:
    value = payload.get(key)
    if value is None:
        return True
    return (
        isinstance(value, list)
        and all(isinstance(item, dict) for item in value)
        and (key != "authorizations" or not value or well_formed(value[0], 3))
    )


def _view_well_formed(payload: dict) -> bool:
    view = payload.get("view")
    if view is None:
        return payload.get("type") not in ("view_submission", "view_closed")
    if not isinstance(view, dict) or not _optional_str(view.get("app_installed_team_id")):
        return False
    if payload.get("type") in ("view_submission", "view_closed"):
        return isinstance(view.get("callback_id"), str) and isinstance(view.get("type"), str)
    return _optional_str(view.get("callback_id"))


def _actions_well_formed(payload: dict) -> bool:
    if payload.get("type") not in ("block_actions", "interactive_message") or "actions" not in payload:
        return True
    actions = payload["actions"]
    if not isinstance(actions, list) or not actions or not all(isinstance(a, dict) for a in actions):
        return False
    if payload["type"] == "block_actions":
        return all(isinstance(a.get("action_id"), str) and _optional_str(a.get("block_id")) for a in actions)
    return True
