"""The triage modals: Assign…, Accept risk…, False positive…. Pure: what the modal shows and, back from a
submission, the fields it carries (any odd shape reads as empty, and the checks say what is missing)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from bot.render.format import truncate
from workers.triage.model import Justification

ASSIGN_CALLBACK = "triage_assign"
ACCEPT_CALLBACK = "triage_accept"
FALSE_POSITIVE_CALLBACK = "triage_fp"
CALLBACKS = (ASSIGN_CALLBACK, ACCEPT_CALLBACK, FALSE_POSITIVE_CALLBACK)
IMPORT_CALLBACK = "triage_import"
REPOSITORY = "repository"
IMPORT_LISTED = 20

# block ids, which are also the field names the checks report problems on
ASSIGNEE, REASON, UNTIL, SCOPE, JUSTIFICATION = "assignee", "reason", "until", "scope", "justification"
DEFAULT_ACCEPT_DAYS = 90

JUSTIFICATION_LABELS = {
    Justification.COMPONENT_NOT_PRESENT: "The component is not present",
    Justification.VULNERABLE_CODE_NOT_PRESENT: "The vulnerable code is not present",
    Justification.VULNERABLE_CODE_NOT_IN_EXECUTE_PATH: "The vulnerable code is never run",
    Justification.VULNERABLE_CODE_CANNOT_BE_CONTROLLED_BY_ADVERSARY: "An attacker cannot reach the code",
    Justification.INLINE_MITIGATIONS_ALREADY_EXIST: "Mitigations are already in place",
}


def triage_modal(
    callback: str, key: str, title: str, *, today: date, max_days: int, scopes: tuple[tuple[str, str], ...] = ()
) -> dict:
    """The modal for one menu choice; ``private_metadata`` carries only the row's action key. ``scopes``: the
    wider scopes this finding may be decided for (("team", "Every image of team payments"), ("base", …))."""
    blocks: list[dict] = [{"type": "section", "text": {"type": "mrkdwn", "text": truncate(title, 2900)}}]
    if callback == ASSIGN_CALLBACK:
        blocks.append(_input(ASSIGNEE, "Assign to", {"type": "users_select", "action_id": ASSIGNEE}))
        blocks.append(_input(REASON, "Note", _text(REASON, multiline=True), optional=True))
        heading, submit = "Assign finding", "Assign"
    elif callback == ACCEPT_CALLBACK:
        default = min(DEFAULT_ACCEPT_DAYS, max_days)
        blocks.append(_input(REASON, "Why is this risk acceptable?", _text(REASON, multiline=True)))
        blocks.append(
            _input(
                UNTIL,
                "Accept until",
                {
                    "type": "datepicker",
                    "action_id": UNTIL,
                    "initial_date": (today + timedelta(days=default)).isoformat(),
                },
                hint=f"At most {max_days} days. The acceptance ends at 00:00 UTC on this date, and the finding "
                "reopens; you are reminded 7 days before.",
            )
        )
        blocks.append(_scope_input([("digest", "Only this image digest"), *scopes]))
        heading, submit = "Accept risk", "Accept"
    else:
        options = [_option(j.value, label) for j, label in JUSTIFICATION_LABELS.items()]
        blocks.append(
            _input(
                JUSTIFICATION,
                "Justification (OpenVEX)",
                {"type": "static_select", "action_id": JUSTIFICATION, "options": options},
            )
        )
        blocks.append(_input(REASON, "Statement", _text(REASON, multiline=True), optional=True))
        if scopes:
            blocks.append(_scope_input(list(scopes)))
        heading, submit = "False positive", "Mark"
    return {
        "type": "modal",
        "callback_id": callback,
        "title": {"type": "plain_text", "text": heading},
        "submit": {"type": "plain_text", "text": submit},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": json.dumps({"key": key}),
        "blocks": blocks,
    }


def import_waiting() -> dict:
    """Shown at once (the trigger lasts 3 seconds) while a worker reads the file."""
    return _import_view([{"type": "section", "text": {"type": "mrkdwn", "text": "Reading the file…"}}], submit=False)


def import_problem(sentence: str) -> dict:
    return _import_view(
        [{"type": "section", "text": {"type": "mrkdwn", "text": truncate(sentence, 2900)}}], submit=False
    )


def import_confirmation(key: str, name: str, proposals: list) -> dict:
    """What importing would decide, for the person to confirm; names the repository when the file does not."""
    lines = [
        f"• `{p.vulnerability}` in `{p.package}`: "
        + ("false positive" if p.state.value == "false_positive" else f"accepted until {p.until or '(no date)'}")
        for p in proposals[:IMPORT_LISTED]
    ]
    if len(proposals) > IMPORT_LISTED:
        lines.append(f"…and {len(proposals) - IMPORT_LISTED} more")
    named = sorted({p.repository for p in proposals if p.repository})
    blocks = [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": truncate(f"*{len(proposals)} decisions in {name}*\n" + "\n".join(lines), 2900),
            },
        }
    ]
    element = {"type": "plain_text_input", "action_id": REPOSITORY, "max_length": 255}
    if len(named) == 1:
        element["initial_value"] = named[0]
    blocks.append(
        _input(
            REPOSITORY,
            "Image repository",
            element,
            hint="The decisions apply to this repository, e.g. mariadb or ghcr.io/org/app.",
        )
    )
    view = _import_view(blocks, submit=True)
    view["private_metadata"] = json.dumps({"key": key})
    return view


def _import_view(blocks: list[dict], *, submit: bool) -> dict:
    view = {
        "type": "modal",
        "callback_id": IMPORT_CALLBACK,
        "title": {"type": "plain_text", "text": "Import decisions"},
        "close": {"type": "plain_text", "text": "Cancel" if submit else "Close"},
        "blocks": blocks,
    }
    if submit:
        view["submit"] = {"type": "plain_text", "text": "Import"}
    return view


def submitted_repository(view: Any) -> str | None:
    value = _dig(view, "state", "values", REPOSITORY, REPOSITORY, "value")
    return value.strip() if isinstance(value, str) and value.strip() else None


def submitted_fields(view: Any) -> dict[str, str | None]:
    """assignee, reason, until, scope, justification from ``view.state.values``; odd shapes read as None."""
    values = _dig(view, "state", "values")

    def text(value: Any) -> str | None:
        return value if isinstance(value, str) and value.strip() else None

    def picked(block: str, key: str) -> str | None:
        return text(_dig(values, block, block, key))

    return {
        ASSIGNEE: picked(ASSIGNEE, "selected_user"),
        REASON: picked(REASON, "value"),
        UNTIL: picked(UNTIL, "selected_date"),
        SCOPE: text(_dig(values, SCOPE, SCOPE, "selected_option", "value")),
        JUSTIFICATION: text(_dig(values, JUSTIFICATION, JUSTIFICATION, "selected_option", "value")),
    }


def _dig(node: Any, *keys: str) -> Any:
    """``node[k1][k2]…`` when every step is a dict, else None."""
    for key in keys:
        node = node.get(key) if isinstance(node, dict) else None
    return node


def metadata_key(view: Any) -> str | None:
    raw = view.get("private_metadata") if isinstance(view, dict) else None
    try:
        data = json.loads(raw) if isinstance(raw, str) and raw else {}
    except ValueError:
        return None
    key = data.get("key") if isinstance(data, dict) else None
    return key if isinstance(key, str) else None


def _scope_input(more: list[tuple[str, str]]) -> dict:
    """Where the decision applies: this repository (the default), or the narrower or wider scopes offered."""
    everywhere = _option("repository", "Every image of this repository")
    options = [everywhere, *(_option(value, label[:75]) for value, label in more)]
    return _input(
        SCOPE,
        "Applies to",
        {"type": "radio_buttons", "action_id": SCOPE, "initial_option": everywhere, "options": options},
    )


def _input(block_id: str, label: str, element: dict, *, optional: bool = False, hint: str | None = None) -> dict:
    block = {
        "type": "input",
        "block_id": block_id,
        "optional": optional,
        "label": {"type": "plain_text", "text": label},
        "element": element,
    }
    if hint:
        block["hint"] = {"type": "plain_text", "text": hint}
    return block


def _text(action_id: str, *, multiline: bool = False) -> dict:
    return {"type": "plain_text_input", "action_id": action_id, "multiline": multiline, "max_length": 2000}


def _option(value: str, label: str) -> dict:
    return {"text": {"type": "plain_text", "text": label}, "value": value}
