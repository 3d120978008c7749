"""Modals. Pure."""

from __future__ import annotations

import json
import re

BUILD_CALLBACK = "scan_build"
DOCKERFILE_BLOCK = "dockerfile"
DOCKERFILE_ACTION = "text"
MODAL_MAX = 3000  # Slack's limit for a plain_text_input

_CODE_BLOCK = re.compile(r"```(?:dockerfile|Dockerfile)?\s*\n?(.*?)```", re.S)


def build_modal(channel: str, initial: str = "", snippet: dict | None = None) -> dict:
    """The "Scan a Dockerfile" modal; ``private_metadata`` carries the channel (and a snippet's file id)."""
    element = {
        "type": "plain_text_input",
        "action_id": DOCKERFILE_ACTION,
        "multiline": True,
        "max_length": MODAL_MAX,
        "placeholder": {"type": "plain_text", "text": "FROM mariadb:latest\nENV MARIADB_DATABASE=shop\n…"},
    }
    if initial:
        element["initial_value"] = initial[:MODAL_MAX]
    blocks: list[dict] = []
    if snippet:
        blocks.append(
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f"Using the attached snippet *{_plain(snippet.get('name', 'Dockerfile'))}*. Paste text below only to use that instead.",
                },
            }
        )
        element.pop("initial_value", None)
    blocks.append(
        {
            "type": "input",
            "block_id": DOCKERFILE_BLOCK,
            "optional": bool(snippet),
            "label": {"type": "plain_text", "text": "Dockerfile"},
            "element": element,
            "hint": {
                "type": "plain_text",
                "text": "It is built with no build context and no network, then again with each FROM switched to Chainguard; both are scanned.",
            },
        }
    )
    return {
        "type": "modal",
        "callback_id": BUILD_CALLBACK,
        "title": {"type": "plain_text", "text": "Scan a Dockerfile"},
        "submit": {"type": "plain_text", "text": "Build and scan"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": json.dumps({"channel": channel, "file": (snippet or {}).get("id")}),
        "blocks": blocks,
    }


def dockerfile_from_message(message: dict) -> tuple[str, dict | None]:
    """The Dockerfile in a message: its first code block, or an attached snippet (returned as a file). Pure."""
    match = _CODE_BLOCK.search(message.get("text") or "")
    if match and "FROM" in match.group(1).upper():
        return _unescape(match.group(1).strip("\n")), None
    for file in message.get("files") or []:
        if file.get("mode") == "snippet" or file.get("filetype") in ("dockerfile", "text"):
            return "", {"id": file.get("id"), "name": file.get("name") or file.get("title") or "Dockerfile"}
    return "", None


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _plain(text: str) -> str:
    return text.replace("*", "").replace("<", "").replace(">", "")[:80]
