"""``/scan build``, the Dockerfile shortcut and the build modal, dispatched in process. Builds are
authorized where they are asked for and again where they are submitted."""

from __future__ import annotations

import json

from bot.render.views import BUILD_CALLBACK, DOCKERFILE_ACTION, DOCKERFILE_BLOCK
from tests.bot.listeners.conftest import text_of
from tests.helpers.slack_requests import message_shortcut_body, slash_command_body, view_submission_body

ON = {"BUILDS_ENABLED": "true"}
DOCKERFILE = "FROM mariadb:latest\nRUN true\n"


def _submission(text=DOCKERFILE, metadata=None, **kwargs):
    metadata = json.dumps({"channel": "C0TEST", "file": None}) if metadata is None else metadata
    values = {DOCKERFILE_BLOCK: {DOCKERFILE_ACTION: {"type": "plain_text_input", "value": text}}}
    return view_submission_body(BUILD_CALLBACK, values, private_metadata=metadata, **kwargs)


def _errors(response) -> dict:
    body = json.loads(response.body)
    assert body["response_action"] == "errors"
    return body["errors"]


def test_build_opens_the_modal_when_builds_are_on(dispatcher, slack):
    response = dispatcher.send(dispatcher.app(**ON), slash_command_body("build"))
    assert response.status == 200
    assert slack.last("views.open").params["view"]


def test_build_is_refused_when_builds_are_off(dispatcher, slack):
    before = len(slack.calls("views.open"))
    assert "turned off" in text_of(dispatcher.send(dispatcher.app(), slash_command_body("build")))
    assert len(slack.calls("views.open")) == before


def test_a_build_without_a_channel_is_refused(dispatcher):
    response = dispatcher.send(dispatcher.app(**ON), slash_command_body("build", channel_id=""))
    assert "did not say which channel" in text_of(response)


def test_a_submission_is_queued_when_allowed(dispatcher):
    response = dispatcher.send(dispatcher.app(**ON), _submission())
    assert response.status == 200 and not response.body
    assert dispatcher.queued() == ["bot.jobs.build_thread.open_build_thread"]


def test_a_submission_is_refused_when_builds_were_turned_off_after_the_modal_opened(dispatcher):
    assert "turned off" in _errors(dispatcher.send(dispatcher.app(), _submission()))[DOCKERFILE_BLOCK]
    assert dispatcher.queued() == []


def test_a_submission_from_someone_not_on_the_builder_list_is_refused(dispatcher):
    app = dispatcher.app(**ON, BUILD_ALLOWED_USERS="U0OTHER")
    assert "BUILD_ALLOWED_USERS" in _errors(dispatcher.send(app, _submission()))[DOCKERFILE_BLOCK]
    app = dispatcher.app(**ON, BUILD_ALLOWED_CHANNELS="C0OTHER")
    assert "BUILD_ALLOWED_CHANNELS" in _errors(dispatcher.send(app, _submission()))[DOCKERFILE_BLOCK]
    assert dispatcher.queued() == []


def test_a_bad_dockerfile_is_an_inline_error(dispatcher):
    errors = _errors(dispatcher.send(dispatcher.app(**ON), _submission("echo hello")))
    assert "no FROM" in errors[DOCKERFILE_BLOCK]


def test_malformed_metadata_is_refused_not_a_500(dispatcher):
    for metadata in ("{not json", "[]", "null", json.dumps({"channel": 5})):
        response = dispatcher.send(dispatcher.app(**ON), _submission(metadata=metadata))
        assert response.status == 200
        assert "did not say which channel" in _errors(response)[DOCKERFILE_BLOCK]
    assert dispatcher.queued() == []


def test_a_submission_when_the_queue_is_down_is_an_inline_sentence(dispatcher):
    down = dispatcher.redis_down()
    errors = _errors(dispatcher.send(dispatcher.app(redis=down, **ON), _submission()))
    assert "job queue (Redis) is not answering" in errors[DOCKERFILE_BLOCK]


def test_the_shortcut_opens_the_modal_with_the_code_block(dispatcher, slack):
    body = message_shortcut_body("scan_dockerfile", message_text=f"see\n```{DOCKERFILE}```")
    assert dispatcher.send(dispatcher.app(**ON), body).status == 200
    view = slack.last("views.open").params["view"]
    assert "FROM mariadb:latest" in json.dumps(view)


def test_the_shortcut_on_a_message_without_a_dockerfile_says_so(dispatcher, slack):
    body = message_shortcut_body("scan_dockerfile", message_text="hello", response_url=slack.response_url("nodf"))
    dispatcher.send(dispatcher.app(**ON), body)
    assert any("found no Dockerfile" in r.get("text", "") for r in slack.responses("nodf"))


def test_the_shortcut_is_refused_when_builds_are_off(dispatcher, slack):
    body = message_shortcut_body(
        "scan_dockerfile", message_text=f"```{DOCKERFILE}```", response_url=slack.response_url("off")
    )
    dispatcher.send(dispatcher.app(), body)
    assert any("turned off" in r.get("text", "") for r in slack.responses("off"))
