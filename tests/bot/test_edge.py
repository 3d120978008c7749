"""``bot/edge.py``: what reaches Bolt, decided from the headers, the raw body and the time."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from bot.edge import MAX_BODY, Admitted, Refusal, check, replay_key
from tests.helpers.slack_requests import FORM, JSON, block_action_body, sign, slash_command_body

SECRET = "edge-secret"
NOW = 1_700_000_000


def _check(body: str | bytes, *, content_type: str = FORM, headers: dict | None = None, secret: str = SECRET):
    raw = body if isinstance(body, bytes) else body.encode()
    signed = sign(raw.decode("utf-8", errors="replace"), secret, NOW)
    return check({"Content-Type": content_type, **signed, **(headers or {})}, raw, SECRET, NOW)


def test_a_signed_slash_command_is_admitted_with_its_signature_as_the_replay_key():
    verdict = _check(slash_command_body("mariadb"))
    assert isinstance(verdict, Admitted)
    assert replay_key(verdict) == f"chainscan:edge:seen:{verdict.signature[3:]}"


def test_a_forged_signature_and_a_missing_one_are_401():
    assert _check(slash_command_body("mariadb"), secret="not-the-secret") is Refusal.BAD_SIGNATURE
    assert check({"Content-Type": FORM}, b"text=mariadb", SECRET, NOW) is Refusal.UNSIGNED
    assert Refusal.BAD_SIGNATURE.status == Refusal.UNSIGNED.status == 401


@pytest.mark.parametrize("timestamp", ["abc", "", "1e9", "0x10", " 1700000000", "-1", "１７００", "9" * 40])
def test_a_timestamp_that_is_not_plain_digits_is_401_not_an_exception(timestamp):
    headers = {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": "v0=" + "0" * 64}
    verdict = check({"Content-Type": FORM, **headers}, b"payload=null", SECRET, NOW)
    assert verdict in (Refusal.UNSIGNED, Refusal.BAD_TIMESTAMP) and verdict.status == 401


@pytest.mark.parametrize("signature", ["v0=é" + "0" * 63, "v1=" + "0" * 64, "v0=" + "0" * 63, "x"])
def test_a_signature_of_the_wrong_shape_is_401(signature):
    headers = {"X-Slack-Request-Timestamp": str(NOW), "X-Slack-Signature": signature}
    assert check({"Content-Type": FORM, **headers}, b"a=b", SECRET, NOW) is Refusal.UNSIGNED


def test_a_stale_request_is_401():
    body = slash_command_body("mariadb")
    headers = {"Content-Type": FORM, **sign(body, SECRET, NOW - 301)}
    assert check(headers, body.encode(), SECRET, NOW) is Refusal.STALE


def test_a_body_that_is_not_utf8_is_400_and_a_huge_one_413():
    assert _check(b"text=\xff\xfe") is Refusal.UNREADABLE and Refusal.UNREADABLE.status == 400
    assert _check(b"x" * (MAX_BODY + 1)) is Refusal.TOO_LARGE and Refusal.TOO_LARGE.status == 413


@pytest.mark.parametrize("content_type", ["text/plain", "multipart/form-data; boundary=x", ""])
def test_a_signed_body_of_another_content_type_is_415(content_type):
    assert _check(slash_command_body("mariadb"), content_type=content_type) is Refusal.CONTENT_TYPE


def test_form_and_json_content_types_with_parameters_are_accepted():
    assert isinstance(_check(slash_command_body("x"), content_type=f"{FORM}; charset=utf-8"), Admitted)
    assert isinstance(_check('{"type": "url_verification"}', content_type=JSON.upper()), Admitted)


def test_a_slack_retry_is_answered_with_an_empty_200_and_not_handed_on():
    verdict = _check(slash_command_body("mariadb"), headers={"X-Slack-Retry-Num": "1"})
    assert verdict is Refusal.RETRY and verdict.status == 200


def _payload(value) -> str:
    return urlencode({"payload": value if isinstance(value, str) else json.dumps(value)})


@pytest.mark.parametrize(
    "body",
    [
        _payload("null"),
        _payload("[]"),
        _payload('"x"'),
        _payload("{"),
        _payload({"type": "block_actions", "actions": {"action_id": "rescan"}}),
        _payload({"type": "block_actions", "actions": []}),
        _payload({"type": "block_actions", "actions": "rescan"}),
        _payload({"type": "block_actions", "actions": [{"value": "no action id"}]}),
        _payload({"type": "view_submission", "view": "x"}),
        _payload({"type": "view_submission", "view": {"callback_id": 7, "type": "modal"}}),
        _payload({"type": "message_action", "callback_id": 5}),
        _payload({"type": "shortcut", "callback_id": "x", "user": 5}),
        _payload({"type": "shortcut", "callback_id": "x", "team": {"id": ["T"]}}),
        _payload({"authorizations": "x"}),
        _payload({"response_urls": [1]}),
    ],
)
def test_signed_payloads_bolt_would_raise_on_are_400(body):
    assert _check(body) is Refusal.MALFORMED and Refusal.MALFORMED.status == 400


@pytest.mark.parametrize("body", ["{", "null", "[]", '{"type": "event_callback", "event": "x"}'])
def test_signed_json_bodies_bolt_would_raise_on_are_400(body):
    assert _check(body, content_type=JSON) is Refusal.MALFORMED


def test_real_shapes_with_odd_values_are_left_to_the_listeners():
    odd = _payload({"type": "block_actions", "user": {}, "actions": [{"action_id": "rescan", "value": 5}]})
    assert isinstance(_check(odd), Admitted)
    assert isinstance(_check(block_action_body("rescan", "mariadb")), Admitted)
    assert isinstance(_check(_payload({"type": "shortcut", "callback_id": "scan_dockerfile"})), Admitted)
