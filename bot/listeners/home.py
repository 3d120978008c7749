"""The App Home tab: ``app_home_opened`` queues a publish; its Rescan and Triage buttons queue a scan thread in
the team's channel (checked against the routing file and the user's user groups: a tampered value cannot post
elsewhere)."""

from __future__ import annotations

import logging

from slack_bolt import Ack, App

from bot.commands import ScanCommand, parse_command
from bot.jobs.home import enqueue_home
from bot.jobs.scan_thread import enqueue_open_thread, request_from_command
from bot.limits import Action
from bot.listeners.context import ListenerContext, enqueue_or_explain, nested_id, over_limit, scan_denied, text_id
from bot.render.home import HOME_RESCAN, HOME_TRIAGE
from bot.usergroups import teams_of
from workers.owners.lookup import routes_in_force
from workers.telemetry.context import Source

log = logging.getLogger(__name__)


def register(app: App, ctx: ListenerContext) -> None:
    @app.event("app_home_opened")
    def home_opened(event: dict, body: dict) -> None:
        if not isinstance(event, dict) or event.get("tab", "home") != "home":
            return
        user, team = text_id(event.get("user")), text_id(body.get("team_id"))
        try:
            enqueue_home(ctx.queue, ctx.redis, team, user)
        except Exception:  # Redis down: the tab stays as it was; nothing to tell the user on an event
            log.exception("home: could not queue a publish")

    for action_id in (HOME_RESCAN, HOME_TRIAGE):

        @app.action(action_id)
        def home_button(ack: Ack, body: dict, action: dict, client) -> None:
            ack()
            _scan_from_home(ctx, client, body, action)


def _scan_from_home(ctx: ListenerContext, client, body: dict, action: dict) -> None:
    value = action.get("value") if isinstance(action, dict) else None
    channel, _, reference = value.partition("|") if isinstance(value, str) else ("", "", "")
    user, team = nested_id(body, "user"), nested_id(body, "team")
    triage = action.get("action_id") == HOME_TRIAGE
    teams = teams_of(ctx.redis, client, routes_in_force(ctx.settings.engine, ctx.redis), user or "")
    parsed = parse_command(
        f"{'triage ' if triage else ''}{reference} {'' if triage else '--rescan'}", ctx.settings.engine.registry_policy
    )
    if not any(t.channel == channel for t in teams) or not isinstance(parsed, ScanCommand):
        log.info("home: a button with an unusable value ignored")
        return
    denial = scan_denied(ctx.settings, channel, user) or over_limit(ctx, Action.SCAN, channel, user)
    if not denial:
        ids = {"channel_id": channel, "user_id": user, "team_id": team, "response_url": None}
        denial = enqueue_or_explain(
            lambda: enqueue_open_thread(ctx.queue, request_from_command(ids, parsed), Source.RESCAN), "a scan"
        )
    if denial:
        log.info("home: %s", denial)
