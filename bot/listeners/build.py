"""``/scan build``, the *Scan this Dockerfile* message shortcut, and the build modal's submission.

Who may build is checked when the form is asked for, again when it is submitted (an admin may have
turned builds off in between, and a submission can be forged by anyone holding a signed payload), and
once more on the worker. ``views.open`` must use the trigger within 3 seconds, so it is the one Web API
call made in a request thread.
"""

from __future__ import annotations

import json
import logging

from slack_bolt import Ack, App
from slack_sdk.errors import SlackApiError

from bot.jobs.build_thread import enqueue_open_build_thread
from bot.limits import Action
from bot.listeners.context import (
    ListenerContext,
    build_denied,
    enqueue_or_explain,
    nested_id,
    over_limit,
    text_id,
)
from bot.render.views import (
    BUILD_CALLBACK,
    DOCKERFILE_ACTION,
    DOCKERFILE_BLOCK,
    build_modal,
    dockerfile_from_message,
)
from bot.slack_client import error_code, explain, tell_user
from workers.builds.checks import check_dockerfile

log = logging.getLogger(__name__)

SHORTCUT_CALLBACK = "scan_dockerfile"
NO_DOCKERFILE = "I found no Dockerfile in that message: put it in a ``` code block or attach it as a snippet."
NOT_FROM_A_MESSAGE = "Use *Scan this Dockerfile* from a message's ⋯ menu, in a channel."


def open_build_form(ack: Ack, ctx: ListenerContext, command: dict, client, logger: logging.Logger) -> None:
    """``/scan build``: the modal, for people allowed to build."""
    channel, user, trigger = (text_id(command.get(k)) for k in ("channel_id", "user_id", "trigger_id"))
    denial = build_denied(ctx.settings, channel, user) or (None if trigger else NOT_FROM_A_MESSAGE)
    if denial:
        ack(text=denial, response_type="ephemeral")
        return
    ack()
    _open_modal(client, logger, trigger, build_modal(channel), text_id(command.get("response_url")))


def register(app: App, ctx: ListenerContext) -> None:
    @app.shortcut(SHORTCUT_CALLBACK)
    def dockerfile_shortcut(ack: Ack, shortcut: dict, client, logger: logging.Logger) -> None:
        ack()
        channel, user = nested_id(shortcut, "channel"), nested_id(shortcut, "user")
        trigger, message = text_id(shortcut.get("trigger_id")), shortcut.get("message")
        denial = build_denied(ctx.settings, channel, user)
        if not denial and (not trigger or not isinstance(message, dict)):
            denial = NOT_FROM_A_MESSAGE
        text, snippet = dockerfile_from_message(_as_slack_sends(message)) if not denial else ("", None)
        if not denial and not text and not snippet:
            denial = NO_DOCKERFILE
        if denial:
            if not tell_user(text_id(shortcut.get("response_url")), denial):  # best effort, never raises
                log.info("shortcut refused, and not told through a response_url: %s", denial)
            return
        _open_modal(client, logger, trigger, build_modal(channel, text, snippet), None)

    @app.view(BUILD_CALLBACK)
    def build_submitted(ack: Ack, body: dict, view: dict) -> None:
        meta = _metadata(view)
        channel, user = text_id(meta.get("channel")), nested_id(body, "user")
        denial = build_denied(ctx.settings, channel, user)
        if denial:
            ack(response_action="errors", errors={DOCKERFILE_BLOCK: denial})
            return
        text = _field(view, DOCKERFILE_BLOCK, DOCKERFILE_ACTION)
        snippet = text_id(meta.get("file"))
        # Pasted text wins; an empty field is fine only when the modal came with a snippet.
        problem = check_dockerfile(text) if text.strip() or not snippet else None
        problem = problem or over_limit(ctx, Action.BUILD, channel, user)
        if problem:
            ack(response_action="errors", errors={DOCKERFILE_BLOCK: problem})
            return
        request = {
            "channel": channel,
            "user": user,
            "team": nested_id(body, "team"),
            "dockerfile": text if text.strip() else None,
            "file": None if text.strip() else snippet,
        }
        failure = enqueue_or_explain(lambda: enqueue_open_build_thread(ctx.queue, request), "a build")
        if failure:
            ack(response_action="errors", errors={DOCKERFILE_BLOCK: failure})
            return
        ack()


def _as_slack_sends(message: dict) -> dict:
    """The parts of a shortcut's message that are read, with the types Slack gives them: the text a string,
    each file an object of strings with an id. Anything else is left out."""
    text, files = message.get("text"), message.get("files")
    files = [f for f in files if isinstance(f, dict) and text_id(f.get("id"))] if isinstance(files, list) else []
    return {
        "text": text if isinstance(text, str) else "",
        "files": [{key: value for key, value in f.items() if isinstance(value, str)} for f in files],
    }


def _metadata(view: dict) -> dict:
    """The modal's ``private_metadata`` (JSON we wrote); anything else reads as empty."""
    raw = view.get("private_metadata") if isinstance(view, dict) else None
    try:
        meta = json.loads(raw) if isinstance(raw, str) and raw else {}
    except ValueError:
        return {}
    return meta if isinstance(meta, dict) else {}


def _field(view: dict, block: str, action: str) -> str:
    """A text input's value from ``view.state.values``; a missing or odd shape reads as ""."""
    node = view
    for key in ("state", "values", block, action):
        node = node.get(key) if isinstance(node, dict) else None
    value = node.get("value") if isinstance(node, dict) else None
    return value if isinstance(value, str) else ""


def _open_modal(client, logger: logging.Logger, trigger_id: str, view: dict, response_url: str | None) -> None:
    try:
        client.views_open(trigger_id=trigger_id, view=view)
    except SlackApiError as exc:
        logger.warning("views.open failed: %s", error_code(exc))
        tell_user(response_url, f"I could not open the Dockerfile form: {explain(exc)}")
