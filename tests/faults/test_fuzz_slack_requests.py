"""Property-based fuzz of everything a Slack request can carry, through the in-process Flask app (the edge,
then Bolt, then the listeners): ``/scan`` text, the Rescan button, the Dockerfile shortcut and the build
form's submission, with their fields swapped for any JSON value or left out. Whatever arrives, the answer
is never a 5xx and never shows an exception."""

from __future__ import annotations

import json
import re
from collections import Counter
from urllib.parse import parse_qs, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.listeners.build import SHORTCUT_CALLBACK
from bot.render.views import BUILD_CALLBACK, DOCKERFILE_ACTION, DOCKERFILE_BLOCK
from tests.helpers.dispatch import Dispatcher, text_of
from tests.helpers.slack_api import SlackAPIServer
from tests.helpers.slack_requests import (
    UNUSED_RESPONSE_URL,
    block_action_body,
    message_shortcut_body,
    slash_command_body,
    view_submission_body,
)
from tests.helpers.tally import report

pytestmark = pytest.mark.faults

EXAMPLES = 150
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same examples every run: a failure here is reproducible, not flaky
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
ENV = {"BUILDS_ENABLED": "true", "SCAN_RATE_LIMIT": "off", "SCAN_CHANNEL_RATE_LIMIT": "off", "BUILD_RATE_LIMIT": "off"}
EXCEPTION_TEXT = re.compile(r"Traceback|\b[A-Z][A-Za-z]*(Error|Exception)\b|File \"")
DELETE = object()

tally: Counter = Counter()

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


@pytest.fixture(scope="module")
def slack_stand_in():
    with SlackAPIServer(token="xoxb-test") as server:
        yield server


@pytest.fixture(scope="module", autouse=True)
def summary(request):
    yield
    report(request, tally, "fuzz (in process)")


@pytest.fixture
def web(slack_stand_in, redis_client, redis_url):
    dispatcher = Dispatcher(slack_stand_in, redis_client, redis_url)
    return dispatcher, dispatcher.web(**ENV)


def response_urls(slack: SlackAPIServer):
    """Where a listener may answer: the stand-in, a closed port, or something that is not a URL at all
    (never a random host: a fuzz must not wait on the network)."""
    return st.sampled_from([slack.response_url("fuzz"), UNUSED_RESPONSE_URL, "", "not a url", None, 5])


def mutated(payload: dict, paths: list[tuple], data) -> dict:
    """``payload`` with up to three of ``paths`` set to any JSON value or deleted."""
    for path in data.draw(st.lists(st.sampled_from(paths), max_size=3, unique=True)):
        node = payload
        for step in path[:-1]:
            node = node[step] if isinstance(node, dict) and step in node else None
            if not isinstance(node, dict):
                break
        if isinstance(node, dict):
            value = data.draw(st.one_of(st.just(DELETE), json_values))
            if value is DELETE:
                node.pop(path[-1], None)
            else:
                node[path[-1]] = value
    return payload


def payload_of(body: str) -> dict:
    return json.loads(parse_qs(body)["payload"][0])


def send(web, body: str):
    dispatcher, client = web
    response = dispatcher.post(client, body)
    tally["tried"] += 1
    tally["5xx"] += response.status_code >= 500
    reply = response.get_data(as_text=True)
    assert response.status_code < 500, f"{response.status_code} for {body[:300]!r} ({tally['5xx']} 5xx so far)"
    assert not EXCEPTION_TEXT.search(reply), f"exception text in the reply {reply[:300]!r} to {body[:300]!r}"
    return response


words = st.text(max_size=40) | st.sampled_from(["mariadb", "`", "```", "build", "status", "--severity", "help"])


@FUZZ
@given(text=st.lists(words, max_size=5).map(" ".join), channel=st.text(max_size=5), user=st.text(max_size=5))
def test_any_scan_text_is_answered_with_a_sentence(web, text, channel, user):
    response = send(web, slash_command_body(text, channel_id=channel, user_id=user))
    answer = text_of(response)
    assert answer.count("`") % 2 == 0, f"unbalanced code span in {answer!r}"


RESCAN_PATHS = [
    ("actions",),
    ("actions", 0),
    ("user",),
    ("user", "id"),
    ("channel",),
    ("team",),
    ("response_url",),
    ("container",),
    ("message",),
    ("trigger_id",),
    ("type",),
]


@FUZZ
@given(data=st.data(), value=st.text(max_size=40) | st.just("mariadb"))
def test_any_rescan_click_is_answered(web, slack_stand_in, data, value):
    payload = payload_of(block_action_body("rescan", value, response_url=slack_stand_in.response_url("fuzz")))
    payload["actions"][0]["value"] = data.draw(st.just(value) | json_values)
    payload["response_url"] = data.draw(response_urls(slack_stand_in))
    send(web, urlencode({"payload": json.dumps(mutated(payload, RESCAN_PATHS, data))}))


SHORTCUT_PATHS = [
    ("channel",),
    ("channel", "id"),
    ("user",),
    ("user", "id"),
    ("trigger_id",),
    ("message",),
    ("message", "text"),
    ("message", "files"),
    ("team",),
    ("callback_id",),
]


@FUZZ
@given(data=st.data(), text=st.text(max_size=60) | st.just("```FROM mariadb:latest\nRUN true```"))
def test_any_dockerfile_shortcut_is_answered(web, slack_stand_in, data, text):
    payload = payload_of(message_shortcut_body(SHORTCUT_CALLBACK, text))
    payload["type"] = data.draw(st.sampled_from(["message_action", "shortcut"]))  # the global-shortcut shape too
    payload["response_url"] = data.draw(response_urls(slack_stand_in))
    send(web, urlencode({"payload": json.dumps(mutated(payload, SHORTCUT_PATHS, data))}))


VIEW_PATHS = [
    ("view", "state"),
    ("view", "state", "values"),
    ("view", "private_metadata"),
    ("view", "type"),
    ("view", "callback_id"),
    ("user",),
    ("user", "id"),
    ("team",),
    ("response_urls",),
]


@FUZZ
@given(data=st.data(), dockerfile=json_values | st.just("FROM mariadb:latest\n"), metadata=st.text(max_size=30))
def test_any_build_submission_is_answered(web, data, dockerfile, metadata):
    values = {DOCKERFILE_BLOCK: {DOCKERFILE_ACTION: {"type": "plain_text_input", "value": dockerfile}}}
    meta = data.draw(
        st.just(json.dumps({"channel": "C0TEST", "file": None})) | st.just(metadata) | json_values.map(json.dumps)
    )
    payload = payload_of(view_submission_body(BUILD_CALLBACK, values, private_metadata="x"))
    payload["view"]["private_metadata"] = meta
    send(web, urlencode({"payload": json.dumps(mutated(payload, VIEW_PATHS, data))}))
