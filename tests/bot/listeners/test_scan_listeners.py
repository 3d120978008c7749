"""``/scan`` and the Rescan button, dispatched in process: what each answers, and what it queues."""

from __future__ import annotations

import json

from tests.bot.listeners.conftest import text_of
from tests.helpers.slack_requests import block_action_body, slash_command_body


def test_a_scan_is_acked_with_a_sentence_and_one_job_queued(dispatcher):
    response = dispatcher.send(dispatcher.app(), slash_command_body("mariadb"))
    assert response.status == 200
    assert "Queued a scan of `mariadb:latest`" in text_of(response)
    assert dispatcher.queued() == ["bot.jobs.scan_thread.open_thread"]


def test_help_and_unknown_words_get_the_help_text_and_queue_nothing(dispatcher):
    app = dispatcher.app()
    assert "Scan a container image" in text_of(dispatcher.send(app, slash_command_body("help")))
    assert "I did not understand `--bogus`" in text_of(dispatcher.send(app, slash_command_body("mariadb --bogus")))
    assert dispatcher.queued() == []


def test_an_invalid_image_name_is_a_sentence(dispatcher):
    response = dispatcher.send(dispatcher.app(), slash_command_body("Mariadb;rm -rf /"))
    assert response.status == 200 and "/scan help" in text_of(response)
    assert dispatcher.queued() == []


def test_status_answers_from_redis(dispatcher):
    assert "Workers alive" in text_of(dispatcher.send(dispatcher.app(), slash_command_body("status")))


def test_channels_and_users_outside_the_allow_lists_are_told_so(dispatcher):
    app = dispatcher.app(ALLOWED_CHANNELS="C0OTHER")
    assert "ALLOWED_CHANNELS" in text_of(dispatcher.send(app, slash_command_body("mariadb")))
    app = dispatcher.app(ALLOWED_USERS="U0OTHER")
    assert "ALLOWED_USERS" in text_of(dispatcher.send(app, slash_command_body("mariadb")))
    assert dispatcher.queued() == []


def test_missing_ids_are_reported_as_missing_not_as_redis_down(dispatcher):
    response = dispatcher.send(dispatcher.app(), slash_command_body("mariadb", channel_id="", user_id=""))
    assert response.status == 200
    assert "did not say which channel and user" in text_of(response)
    assert "Redis" not in text_of(response)


def test_a_queue_that_does_not_answer_is_a_sentence_not_a_500(dispatcher):
    down = dispatcher.redis_down()
    response = dispatcher.send(dispatcher.app(redis=down), slash_command_body("mariadb"))
    assert response.status == 200 and "job queue (Redis) is not answering" in text_of(response)
    status = dispatcher.send(dispatcher.app(redis=down), slash_command_body("status"))
    assert "Redis is not answering" in text_of(status)


def test_a_queue_that_accepts_and_never_answers_is_a_sentence_within_slacks_3_seconds(dispatcher):
    with dispatcher.silent_redis() as silent:
        response = dispatcher.send(dispatcher.app(redis=silent), slash_command_body("mariadb"))  # fails after 3 s
    assert "job queue (Redis) is not answering" in text_of(response)


def test_rescan_queues_a_fresh_scan_of_the_reference_on_the_button(dispatcher):
    response = dispatcher.send(dispatcher.app(), block_action_body("rescan", "docker.io/library/mariadb:latest"))
    assert response.status == 200
    assert dispatcher.queued() == ["bot.jobs.scan_thread.open_thread"]
    from rq import Queue

    (job,) = Queue("chainscan", connection=dispatcher.redis).get_jobs()
    assert job.args[0]["force"] is True and job.args[0]["image"] == "docker.io/library/mariadb:latest"


def test_rescan_denied_is_told_through_the_response_url(dispatcher, slack):
    body = block_action_body("rescan", "mariadb", response_url=slack.response_url("deny"))
    dispatcher.send(dispatcher.app(ALLOWED_USERS="U0OTHER"), body)
    (call,) = [c for c in slack.responses() if "ALLOWED_USERS" in json.dumps(c)]
    assert dispatcher.queued() == []


def test_a_tampered_rescan_value_is_ignored_with_a_200(dispatcher):
    for value in ("", "--help", "mariadb; rm -rf /", "x" * 5000):
        response = dispatcher.send(dispatcher.app(), block_action_body("rescan", value))
        assert response.status == 200
    assert dispatcher.queued() == []


def test_the_watch_weekly_button_adds_the_image_to_the_channels_watch_list(dispatcher, slack):
    from workers.digests.store import DigestStore

    body = block_action_body("watch_weekly", "docker.io/library/mariadb:latest", response_url=slack.response_url("w"))
    assert dispatcher.send(dispatcher.app(), body).status == 200
    assert DigestStore(dispatcher.redis).watched("T0TEST", "C0TEST") == ["docker.io/library/mariadb:latest"]
    assert any("Watching `mariadb:latest`" in r.get("text", "") for r in slack.responses("w"))
    tampered = block_action_body("watch_weekly", "a b; rm", response_url=slack.response_url("t"))
    assert dispatcher.send(dispatcher.app(), tampered).status == 200
    assert any("could not read which image" in r.get("text", "") for r in slack.responses("t"))
