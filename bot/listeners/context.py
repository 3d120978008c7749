"""What every listener shares: the settings, Redis and the queue, who may do what, and the sentences
for a refusal. Pure checks apart from :func:`enqueue_or_explain`'s one Redis write."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from redis import Redis
from rq import Queue

from bot.config import SlackSettings

log = logging.getLogger(__name__)

QUEUE_DOWN = (
    "I could not queue that: the job queue (Redis) is not answering. "
    "Try again in a minute; if it persists, tell an admin."
)
NO_IDS = "Slack did not say which channel and user this came from, so I cannot act on it. Try again from a channel."


@dataclass(frozen=True)
class ListenerContext:
    settings: SlackSettings
    redis: Redis
    queue: Queue


def scan_denied(settings: SlackSettings, channel: str | None, user: str | None) -> str | None:
    if not channel or not user:
        return NO_IDS
    if settings.allowed_channels and channel not in settings.allowed_channels:
        return "Scans are not enabled in this channel. Ask an admin to add it to ALLOWED_CHANNELS."
    if settings.allowed_users and user not in settings.allowed_users:
        return "You are not on the list of people who may start scans. Ask an admin to add you to ALLOWED_USERS."
    return None


def build_denied(settings: SlackSettings, channel: str | None, user: str | None) -> str | None:
    """Checked where a build is asked for, where it is submitted, and again on the worker."""
    if not settings.builds_enabled:
        return "Dockerfile builds are turned off on this installation (an admin can set BUILDS_ENABLED=true)."
    if not channel or not user:
        return NO_IDS
    if settings.build_channels and channel not in settings.build_channels:
        return "Dockerfile builds are not allowed in this channel (BUILD_ALLOWED_CHANNELS)."
    if settings.build_users and user not in settings.build_users:
        return "You are not on the list of people who may build Dockerfiles here (BUILD_ALLOWED_USERS)."
    return None


def enqueue_or_explain(enqueue: Callable[[], Any], what: str) -> str | None:
    """Run one enqueue; a Redis that does not answer becomes the QUEUE_DOWN sentence, never a 500."""
    try:
        enqueue()
    except Exception:
        log.exception("could not enqueue %s", what)
        return QUEUE_DOWN
    return None


def text_id(value: Any) -> str | None:
    """A Slack id from an untrusted payload: a non-empty string, else None."""
    return value if isinstance(value, str) and value else None


def nested_id(payload: Any, key: str) -> str | None:
    """``payload[key]["id"]`` when every step has the expected shape (``body["user"]["id"]``)."""
    inner = payload.get(key) if isinstance(payload, dict) else None
    return text_id(inner.get("id")) if isinstance(inner, dict) else None
