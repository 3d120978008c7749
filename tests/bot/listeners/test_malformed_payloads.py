"""The shapes of issue 15 through the Flask app (edge, Bolt, listener), signed: a plain 200 or a sentence when
a listener can read it, a 400 from the edge when Bolt could not, never a 500. Over Socket Mode, where no HTTP
status answers, every one of them is acked and none queues anything."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlencode

import pytest

from bot.listeners.build import SHORTCUT_CALLBACK
from bot.render.views import BUILD_CALLBACK
from tests.bot.listeners.conftest import Dispatcher, text_of
from tests.helpers.slack_requests import (
    block_action_body,
    message_shortcut_body,
    slash_command_body,
    view_submission_body,
)

ON = {"BUILDS_ENABLED": "true"}


def _edit(body: str, **changes) -> str:
    payload = json.loads(parse_qs(body)["payload"][0])
    for key, value in changes.items():
        if value is None:
            payload.pop(key, None)
        else:
            payload[key] = value
    return urlencode({"payload": json.dumps(payload)})


RESCAN = block_action_body("rescan", "mariadb")
SHORTCUT = message_shortcut_body(SHORTCUT_CALLBACK, "```FROM mariadb\nRUN true```")
SUBMISSION = view_submission_body(BUILD_CALLBACK, {}, private_metadata="{")

SHAPES = {
    "actions a dict": (_edit(RESCAN, actions={"action_id": "rescan"}), 400),
    "actions empty": (_edit(RESCAN, actions=[]), 400),
    "actions a string": (_edit(RESCAN, actions="rescan"), 400),
    "a user without an id": (_edit(RESCAN, user={"name": "x"}), 200),
    "a shortcut with no channel": (_edit(SHORTCUT, channel=None), 200),
    "a shortcut with no user": (_edit(SHORTCUT, user=None), 200),
    "the global-shortcut shape": (_edit(SHORTCUT, type="shortcut", channel=None, message=None), 200),
    "a shortcut with no trigger_id": (_edit(SHORTCUT, trigger_id=None), 200),
    "malformed private_metadata": (SUBMISSION, 200),
    "private_metadata not a string": (
        _edit(
            SUBMISSION,
            view={"type": "modal", "callback_id": BUILD_CALLBACK, "private_metadata": 5, "state": {"values": 7}},
        ),
        200,
    ),
    "/scan build with no channel_id": (slash_command_body("build", channel_id=""), 200),
}


@pytest.mark.http_only("HTTP statuses from the edge; over Socket Mode the next test")
@pytest.mark.parametrize("shape", SHAPES)
def test_a_malformed_signed_payload_is_a_200_or_a_400_never_a_500(dispatcher, shape):
    body, status = SHAPES[shape]
    response = dispatcher.post(dispatcher.web(**ON), body)
    assert response.status_code == status
    assert "Error" not in response.get_data(as_text=True) and "Traceback" not in response.get_data(as_text=True)
    assert dispatcher.queued() == []


@pytest.mark.parametrize("shape", SHAPES)
def test_over_socket_mode_a_malformed_payload_is_acked_and_queues_nothing(
    slack, socket_link, redis_client, redis_url, shape
):
    dispatcher = Dispatcher(slack, redis_client, redis_url, socket_link)
    assert dispatcher.send(dispatcher.app(**ON), SHAPES[shape][0]).status == 200  # acked within 3 s
    assert dispatcher.queued() == []


@pytest.mark.http_only("a replay is a signature sent again; Socket Mode envelopes are not signed")
def test_a_replay_is_answered_empty_and_queues_nothing_more(dispatcher):
    client, body = dispatcher.web(), slash_command_body("mariadb")
    first = dispatcher.post(client, body)
    again = dispatcher.post(client, body)
    assert "Queued a scan" in text_of(first) and (again.status_code, again.data) == (200, b"")
    assert dispatcher.queued() == ["bot.jobs.scan_thread.open_thread"]
