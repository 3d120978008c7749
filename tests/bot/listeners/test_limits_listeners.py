"""Scan and build limits, dispatched in process: the N+1th gets the sentence, nobody else is affected."""

from __future__ import annotations

import json

import pytest

from bot.limits import Action
from bot.listeners.context import QUEUE_DOWN, over_limit
from bot.render.views import BUILD_CALLBACK, DOCKERFILE_ACTION, DOCKERFILE_BLOCK
from tests.bot.listeners.conftest import text_of
from tests.helpers.slack_requests import block_action_body, slash_command_body, view_submission_body

SCAN = "bot.jobs.scan_thread.open_thread"


def test_the_scan_after_the_users_limit_gets_the_sentence_and_another_user_is_unaffected(dispatcher):
    app = dispatcher.app(SCAN_RATE_LIMIT="3/hour")
    answers = [text_of(dispatcher.send(app, slash_command_body("mariadb", user_id="U0ONE"))) for _ in range(4)]
    assert all("Queued a scan" in a for a in answers[:3])
    assert answers[3].startswith("You have started 3 scans in the last hour; try again in 20 minutes.")
    assert "Queued a scan" in text_of(dispatcher.send(app, slash_command_body("mariadb", user_id="U0TWO")))
    assert dispatcher.queued() == [SCAN] * 4


def test_the_channel_limit_counts_everyone_in_the_channel(dispatcher):
    app = dispatcher.app(SCAN_CHANNEL_RATE_LIMIT="2/minute")
    for user in ("U0A", "U0B"):
        assert "Queued" in text_of(dispatcher.send(app, slash_command_body("mariadb", user_id=user)))
    refused = text_of(dispatcher.send(app, slash_command_body("mariadb", user_id="U0C")))
    assert refused == "This channel has started 2 scans in the last minute; try again in 30 seconds."
    assert "Queued" in text_of(dispatcher.send(app, slash_command_body("mariadb", user_id="U0C", channel_id="C0ELSE")))


def test_rescans_count_against_the_same_limit_and_are_told_through_the_response_url(dispatcher, slack):
    app = dispatcher.app(SCAN_RATE_LIMIT="1/hour")
    assert "Queued" in text_of(dispatcher.send(app, slash_command_body("mariadb")))
    dispatcher.send(app, block_action_body("rescan", "mariadb", response_url=slack.response_url("limited")))
    assert any("You have started 1 scan in the last hour" in json.dumps(c) for c in slack.responses())
    assert dispatcher.queued() == [SCAN]


def test_off_disables_a_limit(dispatcher):
    app = dispatcher.app(SCAN_RATE_LIMIT="off", SCAN_CHANNEL_RATE_LIMIT="0")
    answers = [text_of(dispatcher.send(app, slash_command_body("mariadb"))) for _ in range(25)]
    assert all("Queued" in a for a in answers)


def test_the_build_after_the_limit_is_refused_on_the_form(dispatcher):
    app = dispatcher.app(BUILDS_ENABLED="true", BUILD_RATE_LIMIT="1/hour")
    values = {DOCKERFILE_BLOCK: {DOCKERFILE_ACTION: {"type": "plain_text_input", "value": "FROM mariadb\n"}}}
    meta = json.dumps({"channel": "C0TEST", "file": None})
    first = dispatcher.send(app, view_submission_body(BUILD_CALLBACK, values, private_metadata=meta))
    second = dispatcher.send(app, view_submission_body(BUILD_CALLBACK, values, private_metadata=meta))
    assert first.status == 200 and not first.body
    errors = json.loads(second.body)["errors"]
    assert errors[DOCKERFILE_BLOCK] == "You have started 1 build in the last hour; try again in 60 minutes."


@pytest.mark.http_only("it delivers no request: it asks over_limit itself")
def test_a_redis_that_does_not_answer_is_the_queue_down_sentence(dispatcher):
    from bot.listeners.context import ListenerContext

    down = dispatcher.redis_down()
    ctx = ListenerContext(dispatcher.settings(), down, None)
    assert over_limit(ctx, Action.SCAN, "C0TEST", "U0TEST") == QUEUE_DOWN


def test_attack_watch_digest_now_and_vex_spend_the_scan_limit(dispatcher):
    app = dispatcher.app(SCAN_RATE_LIMIT="3/hour")
    for text in ("watch mariadb", "digest now", "vex mariadb"):
        assert "You have started" not in text_of(dispatcher.send(app, slash_command_body(text)))
    for text in ("watch postgres", "digest now", "vex mariadb", "mariadb"):
        assert text_of(dispatcher.send(app, slash_command_body(text))).startswith("You have started 3 scans")


def test_listing_watches_and_setting_the_schedule_spend_nothing(dispatcher):
    app = dispatcher.app(SCAN_RATE_LIMIT="1/hour")
    for text in ("watch list", "digest", "digest monday 09:00 UTC", "unwatch mariadb", "watch list", "digest off"):
        assert "You have started" not in text_of(dispatcher.send(app, slash_command_body(text)))
    assert "Queued a scan" in text_of(dispatcher.send(app, slash_command_body("mariadb")))


def test_attack_the_workspace_watch_cap_counts_every_channel(dispatcher):
    app = dispatcher.app(WATCH_WORKSPACE_LIMIT="3", SCAN_RATE_LIMIT="off", SCAN_CHANNEL_RATE_LIMIT="off")
    for channel, image in (("C0A", "mariadb"), ("C0B", "postgres"), ("C0C", "nginx")):
        assert "Watching" in text_of(dispatcher.send(app, slash_command_body(f"watch {image}", channel_id=channel)))
    refused = text_of(dispatcher.send(app, slash_command_body("watch redis", channel_id="C0D")))
    assert refused.startswith("This workspace watches 3 images and may watch at most 3 (WATCH_WORKSPACE_LIMIT)")
    assert "Already watching" in text_of(dispatcher.send(app, slash_command_body("watch nginx", channel_id="C0C")))


def test_attack_the_watch_weekly_button_spends_the_scan_limit(dispatcher, slack):
    from bot.render.blocks import WATCH_ACTION

    app = dispatcher.app(SCAN_RATE_LIMIT="1/hour")
    assert "Queued a scan" in text_of(dispatcher.send(app, slash_command_body("mariadb")))
    dispatcher.send(app, block_action_body(WATCH_ACTION, "postgres", response_url=slack.response_url("watch")))
    assert any("You have started 1 scan in the last hour" in json.dumps(c) for c in slack.responses())
    assert "watches nothing yet" in text_of(dispatcher.send(app, slash_command_body("watch list")))
