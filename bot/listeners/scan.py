"""``/scan`` and the card's Rescan button: parse, check who may scan, enqueue one job, ack.

The only I/O before the ack is one Redis enqueue (``/scan status`` reads a few keys), so Slack's
3-second limit is never at risk. Every payload is read defensively: a malformed one gets a sentence.
"""

from __future__ import annotations

import logging

from slack_bolt import Ack, App

from bot.commands import (
    HELP,
    BuildCommand,
    DiffCommand,
    DigestCommand,
    HelpCommand,
    InvalidCommand,
    OwnersCommand,
    SbomCommand,
    ScanCommand,
    StatusCommand,
    VexCommand,
    WatchCommand,
    parse_command,
)
from bot.jobs.diff_thread import enqueue_open_diff_thread
from bot.jobs.owners import enqueue_owners_answer
from bot.jobs.sbom_thread import enqueue_sbom_thread
from bot.jobs.scan_thread import enqueue_open_thread, request_from_command
from bot.jobs.triage_thread import enqueue_vex_thread
from bot.limits import Action
from bot.listeners import build as build_listeners
from bot.listeners import digests as digest_listeners
from bot.listeners.context import (
    ListenerContext,
    enqueue_or_explain,
    nested_id,
    over_limit,
    scan_denied,
    text_id,
)
from bot.render.blocks import RESCAN_ACTION
from bot.slack_client import tell_user
from bot.status import status_text
from workers.telemetry.context import Source

log = logging.getLogger(__name__)


def register(app: App, ctx: ListenerContext) -> None:
    @app.command("/scan")
    def scan_command(ack: Ack, command: dict, client, logger: logging.Logger) -> None:
        text = command.get("text")
        parsed = parse_command(text if isinstance(text, str) else None, ctx.settings.engine.registry_policy)
        if isinstance(parsed, HelpCommand):
            ack(text=f"{parsed.problem}\n\n{HELP}" if parsed.problem else HELP, response_type="ephemeral")
        elif isinstance(parsed, InvalidCommand):
            ack(text=parsed.message, response_type="ephemeral")
        elif isinstance(parsed, StatusCommand):
            ack(text=_status(ctx, text_id(command.get("channel_id"))), response_type="ephemeral")
        elif isinstance(parsed, BuildCommand):
            build_listeners.open_build_form(ack, ctx, command, client, logger)
        elif isinstance(parsed, (WatchCommand, DigestCommand)):
            digest_listeners.answer(ack, ctx, command, parsed)
        elif isinstance(parsed, VexCommand):
            _vex(ack, ctx, command, parsed)
        elif isinstance(parsed, OwnersCommand):
            _owners(ack, ctx, command, parsed)
        elif isinstance(parsed, DiffCommand):
            _diff(ack, ctx, command, parsed)
        elif isinstance(parsed, SbomCommand):
            _sbom(ack, ctx, command, parsed)
        elif isinstance(parsed, ScanCommand):
            _scan(ack, ctx, command, parsed)

    @app.action(RESCAN_ACTION)
    def rescan(ack: Ack, body: dict, action: dict) -> None:
        ack()
        value = action.get("value") if isinstance(action, dict) else None
        parsed = parse_command(
            f"{value} --rescan" if isinstance(value, str) else None, ctx.settings.engine.registry_policy
        )
        if not isinstance(parsed, ScanCommand):
            log.info("rescan with an unusable value ignored")
            return
        ids = {
            "channel_id": nested_id(body, "channel"),
            "user_id": nested_id(body, "user"),
            "team_id": nested_id(body, "team"),
            "response_url": text_id(body.get("response_url")),
        }
        denial = scan_denied(ctx.settings, ids["channel_id"], ids["user_id"]) or over_limit(
            ctx, Action.SCAN, ids["channel_id"], ids["user_id"]
        )
        if not denial:
            request = request_from_command(ids, parsed)
            denial = enqueue_or_explain(lambda: enqueue_open_thread(ctx.queue, request, Source.RESCAN), "a rescan")
        if denial:
            tell_user(ids["response_url"], denial)  # best effort: an unreachable response_url is logged, not raised


def _queue_job(ack: Ack, ctx: ListenerContext, command: dict, what: str, enqueue, said: str) -> None:
    """The shape of every image subcommand: within the scan limits, ``enqueue(ids)`` one job, ack at once with
    ``said`` or the sentence saying why not. ``ids``: channel, user, team and response_url of the command."""
    ids = {key: text_id(command.get(f"{key}_id" if key != "response_url" else key)) for key in IDS}
    denial = scan_denied(ctx.settings, ids["channel"], ids["user"]) or over_limit(
        ctx, Action.SCAN, ids["channel"], ids["user"]
    )
    if not denial:
        denial = enqueue_or_explain(lambda: enqueue(ids), what)
    ack(text=denial or said, response_type="ephemeral")


IDS = ("channel", "user", "team", "response_url")


def _vex(ack: Ack, ctx: ListenerContext, command: dict, parsed: VexCommand) -> None:
    """``/scan vex IMAGE``: an export job."""
    _queue_job(
        ack,
        ctx,
        command,
        "a VEX export",
        lambda ids: enqueue_vex_thread(ctx.queue, {**_who(ids), "image": str(parsed.image)}),
        f"Exporting the decisions on `{parsed.image.familiar}` as OpenVEX…",
    )


def _owners(ack: Ack, ctx: ListenerContext, command: dict, parsed: OwnersCommand) -> None:
    """``/scan owners IMAGE``: a small job (it reads the image's labels), answered privately."""
    _queue_job(
        ack,
        ctx,
        command,
        "an owners look-up",
        lambda ids: enqueue_owners_answer(ctx.queue, {"image": str(parsed.image), "response_url": ids["response_url"]}),
        f"Looking up who owns `{parsed.image.familiar}`…",
    )


def _diff(ack: Ack, ctx: ListenerContext, command: dict, parsed: DiffCommand) -> None:
    """``/scan diff A B``: a thread job scanning both."""
    request = {"image": str(parsed.before), "target": str(parsed.after), "force": parsed.force}
    _queue_job(
        ack,
        ctx,
        command,
        "a diff",
        lambda ids: enqueue_open_diff_thread(ctx.queue, {**_who(ids), "response_url": ids["response_url"], **request}),
        f"Queued a diff of `{parsed.before.familiar}` → `{parsed.after.familiar}`. "
        "It will appear in a thread in this channel.",
    )


def _sbom(ack: Ack, ctx: ListenerContext, command: dict, parsed: SbomCommand) -> None:
    """``/scan sbom IMAGE``: an SBOM job."""
    request = {"image": str(parsed.image), "format": parsed.format.value}
    _queue_job(
        ack,
        ctx,
        command,
        "an SBOM",
        lambda ids: enqueue_sbom_thread(ctx.queue, {**_who(ids), **request}),
        f"Making the SBOM of `{parsed.image.familiar}`…",
    )


def _who(ids: dict) -> dict:
    return {"channel": ids["channel"], "user": ids["user"], "team": ids["team"]}


def _scan(ack: Ack, ctx: ListenerContext, command: dict, parsed: ScanCommand) -> None:
    """``/scan IMAGE``: a thread job, within the scan limits, acknowledged at once."""
    ids = {key: text_id(command.get(key)) for key in ("channel_id", "user_id", "team_id", "response_url")}
    denial = scan_denied(ctx.settings, ids["channel_id"], ids["user_id"]) or over_limit(
        ctx, Action.SCAN, ids["channel_id"], ids["user_id"]
    )
    if not denial:
        request = request_from_command(ids, parsed)
        denial = enqueue_or_explain(lambda: enqueue_open_thread(ctx.queue, request), "a scan")
        if not denial:
            log.info("queued a scan of %s in %s", parsed.image.familiar, ids["channel_id"])
    ack(
        text=denial
        or f"Queued a scan of `{parsed.image.familiar}`. The results will appear in a thread in this channel.",
        response_type="ephemeral",
    )


def _status(ctx: ListenerContext, channel: str | None) -> str:
    """The status, with only ``channel``'s failed images (another channel's are not this one's business)."""
    try:
        return status_text(ctx.redis, ctx.settings.engine, channel=channel or "")
    except Exception:
        log.exception("status failed")
        return "I could not read the queue status: Redis is not answering."
