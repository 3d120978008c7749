"""What every listener shares: the settings, Redis and the queue, who may do what, and the sentences
for a refusal. Pure checks apart from :func:`enqueue_or_explain`'s one Redis write and :func:`over_limit`'s
one Redis script."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue

from bot.config import SlackSettings
from bot.limits import Action, Bucket, Scope, take

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


def over_limit(ctx: ListenerContext, action: Action, channel: str | None, user: str | None) -> str | None:
    """Spend one of the user's (and for scans the channel's) tokens, or say when to try again.

    Checked after who-may and before the enqueue; a Redis that does not answer is QUEUE_DOWN, since the
    enqueue that follows would not get through either."""
    settings = ctx.settings
    if action is Action.SCAN:
        wanted = [(Scope.USER, user, settings.scan_rate), (Scope.CHANNEL, channel, settings.scan_channel_rate)]
    else:
        wanted = [(Scope.USER, user, settings.build_rate)]
    buckets = [Bucket(action, scope, owner, rate) for scope, owner, rate in wanted if owner and rate]
    try:
        refusal = take(ctx.redis, buckets, time.time())
    except RedisError as exc:
        log.warning("could not check the %s limits: %s", action.value, exc)
        return QUEUE_DOWN
    if refusal:
        log.info(
            "%s refused by the %s limit %s of %s",
            action.value,
            refusal.bucket.scope.value,
            refusal.bucket.rate,
            refusal.bucket.owner,
        )
    return refusal.sentence if refusal else None


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
