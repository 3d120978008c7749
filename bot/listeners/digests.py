"""``/scan watch``, ``/scan unwatch`` and ``/scan digest``: the channel's watch list and weekly schedule, answered
in the ack (a few Redis calls); ``/scan digest now`` queues the digest through its exactly-once path."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from redis.exceptions import RedisError
from slack_bolt import Ack, App

from bot.commands import DigestAction, DigestCommand, InvalidCommand, WatchCommand, parse_command
from bot.jobs.alerts import enqueue_baseline
from bot.limits import Action
from bot.listeners.context import (
    QUEUE_DOWN,
    ListenerContext,
    enqueue_or_explain,
    nested_id,
    over_limit,
    scan_denied,
    text_id,
)
from bot.render.blocks import WATCH_ACTION
from bot.slack_client import tell_user
from workers.digests.schedule import parse_schedule
from workers.digests.store import DigestStore, WatchLimitReached
from workers.telemetry import context as telemetry

log = logging.getLogger(__name__)


def register(app: App, ctx: ListenerContext) -> None:
    @app.action(WATCH_ACTION)
    def watch_weekly(ack: Ack, body: dict, action: dict) -> None:
        """The card's *Watch weekly*: the image joins the channel's watch list."""
        ack()
        value = action.get("value") if isinstance(action, dict) else None
        text = f"watch {value}" if isinstance(value, str) and " " not in value.strip() else None
        parsed = parse_command(text, ctx.settings.engine.registry_policy)
        channel, user, team = nested_id(body, "channel"), nested_id(body, "user"), nested_id(body, "team")
        response_url = text_id(body.get("response_url"))
        if isinstance(parsed, InvalidCommand):  # a refused registry: its sentence
            tell_user(response_url, parsed.message)
            return
        if not isinstance(parsed, WatchCommand) or not parsed.images:
            tell_user(response_url, "I could not read which image that button is for. Use `/scan watch IMAGE`.")
            return
        denial = scan_denied(ctx.settings, channel, user) or over_limit(ctx, Action.SCAN, channel, user)
        try:
            text = denial or _watch(ctx, team or "local", channel, parsed)
        except RedisError:
            log.exception("watch button failed")
            text = QUEUE_DOWN
        tell_user(response_url, text)


def answer(ack: Ack, ctx: ListenerContext, command: dict, parsed: WatchCommand | DigestCommand) -> None:
    channel, user, team = (text_id(command.get(k)) for k in ("channel_id", "user_id", "team_id"))
    denial = scan_denied(ctx.settings, channel, user)
    if not denial and scans(parsed):  # a watch scans every week, a digest now scans each watched image
        denial = over_limit(ctx, Action.SCAN, channel, user)
    if denial:
        ack(text=denial, response_type="ephemeral")
        return
    try:
        text = (
            _watch(ctx, team or "local", channel, parsed)
            if isinstance(parsed, WatchCommand)
            else _digest(ctx, team or "local", channel, parsed)
        )
    except RedisError:
        log.exception("watch or digest command failed")
        text = QUEUE_DOWN
    ack(text=text, response_type="ephemeral")


def scans(parsed: WatchCommand | DigestCommand) -> bool:
    """Whether the command spends the scan limits: adding a watch and ``digest now``, not listing or scheduling."""
    if isinstance(parsed, WatchCommand):
        return not parsed.list_only and not parsed.remove
    return parsed.action is DigestAction.NOW


def _watch(ctx: ListenerContext, team: str, channel: str, parsed: WatchCommand) -> str:
    store = DigestStore(ctx.redis)
    if parsed.list_only:
        images = store.watched(team, channel)
        return (
            ("This channel watches:\n" + "\n".join(f"• `{i}`" for i in images))
            if images
            else ("This channel watches nothing yet: `/scan watch mariadb` adds an image.")
        )
    if parsed.remove:
        reference = str(parsed.images[0])
        gone = store.unwatch(team, channel, reference)
        return (
            f"No longer watching `{parsed.images[0].familiar}`."
            if gone
            else f"`{parsed.images[0].familiar}` was not watched here."
        )
    try:
        engine = ctx.settings.engine
        added = store.watch(
            team, channel, [str(i) for i in parsed.images], engine.watch_limit, engine.watch_workspace_limit
        )
    except WatchLimitReached as exc:
        return str(exc)
    if added:  # the alert baseline is what the image has now: a critical disclosed later is told
        enqueue_or_explain(lambda: enqueue_baseline(ctx.queue, team, channel, added, datetime.now(UTC)), "a baseline")
    schedule = store.schedule(team, channel)
    names = ", ".join(f"`{i.familiar}`" for i in parsed.images)
    return (f"Watching {names}." if added else f"Already watching {names}.") + (
        f" The digest comes {schedule}."
        if schedule
        else " The digest is off: `/scan digest monday 09:00 UTC` turns it on."
    )


def _digest(ctx: ListenerContext, team: str, channel: str, parsed: DigestCommand) -> str:
    store = DigestStore(ctx.redis)
    if parsed.action is DigestAction.SET:
        store.set_schedule(team, channel, parse_schedule(parsed.schedule))
        return f"The weekly digest of this channel comes {parsed.schedule}."
    if parsed.action is DigestAction.OFF:
        store.set_schedule(team, channel, None)
        return "The weekly digest of this channel is off. `/scan digest monday 09:00 UTC` turns it back on."
    schedule = store.schedule(team, channel)
    if parsed.action is DigestAction.SHOW:
        watched = len(store.watched(team, channel))
        if not schedule:
            return f"No digest is scheduled here ({watched} images watched). `/scan digest monday 09:00 UTC` sets one."
        return f"The digest comes {schedule}, next at {schedule.next_moment(datetime.now(UTC)):%a %d %b %H:%M %Z}; {watched} images watched."
    from bot.jobs.digest_thread import digest_queue, send_digest

    period = (schedule or parse_schedule("monday 09:00 UTC")).current_period(datetime.now(UTC))
    if store.posted(team, channel, period):
        return "This week's digest was already posted here; the next one comes on schedule."
    digest_queue(ctx.redis, ctx.settings.engine).enqueue(
        send_digest, team, channel, period, False, meta=telemetry.job_meta(telemetry.Source.DIGEST)
    )
    return "Sending this channel's digest now; it will appear here in a moment."
