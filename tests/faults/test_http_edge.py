"""The HTTP edge over real HTTP (``python -m bot serve``, gunicorn): unsigned, forged, stale and malformed
requests are refused with 401/400/413/415 and one log line each, never a 500 and never a traceback; a
replayed or retried request is answered once and acted on once; the scan limits hold across processes."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from collections import Counter
from urllib.parse import urlencode

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers.slack_requests import FORM, JSON, post_signed, slash_command_body
from tests.helpers.tally import report
from tests.integration.conftest import CHANNEL, SECRET, serving

pytestmark = [pytest.mark.faults, pytest.mark.integration]

REFUSED = (400, 401, 413, 415)
tally: Counter = Counter()


@pytest.fixture(scope="module", autouse=True)
def summary(request):
    yield
    report(request, tally, "HTTP edge (gunicorn)")


@pytest.fixture
def served(slack_env, redis_client, tmp_path):
    """The app served for real, with its log kept: ``(events URL, log path)``."""
    log = tmp_path / "server.log"
    env = {**os.environ, **slack_env, "SCAN_RATE_LIMIT": "3/hour", "SCAN_CHANNEL_RATE_LIMIT": "off"}
    with serving(env, log=log) as url:
        yield f"{url}/slack/events", log


def signature(body: bytes, timestamp: str, secret: str = SECRET) -> str:
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()
    return f"v0={digest}"


def post(url: str, body: bytes | str, headers: dict) -> requests.Response:
    raw = body.encode() if isinstance(body, str) else body
    response = requests.post(url, data=raw, headers=headers, timeout=10)
    tally["tried"] += 1
    tally["5xx"] += response.status_code >= 500
    return response


def signed(body: bytes | str, content_type: str | None = FORM, **extra: str) -> dict:
    raw = body.encode() if isinstance(body, str) else body
    now = str(int(time.time()))
    headers = {"X-Slack-Request-Timestamp": now, "X-Slack-Signature": signature(raw, now), **extra}
    return {**headers, "Content-Type": content_type} if content_type else headers


def _payload(value) -> str:
    return urlencode({"payload": value if isinstance(value, str) else json.dumps(value)})


def refusals(url: str) -> list[tuple[str, bytes | str, dict, int]]:
    """(what, body, headers, expected status)."""
    scan = slash_command_body("mariadb", channel_id=CHANNEL)
    now = int(time.time())
    cases = [
        (f"unsigned {name}", body, {"Content-Type": ctype}, 401)
        for name, body, ctype in [
            ("payload=null", "payload=null", FORM),
            ("payload=[]", "payload=%5B%5D", FORM),
            ("bad JSON", "{", JSON),
            ("JSON null", "null", JSON),
            ("empty", "", FORM),
            ("/scan", scan, FORM),
            ("text/plain", scan, "text/plain"),
        ]
    ]
    for ts in ("abc", "", "1e9", "0x10", "-1", "+1", "1.5", "9" * 30):
        headers = {
            "Content-Type": FORM,
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signature(b"payload=null", ts),
        }
        cases.append((f"timestamp {ts!r}", "payload=null", headers, 401))
    for sig in ("", "v0=", "v0=zz", "v1=" + "0" * 64, "v0=" + "0" * 64):
        cases.append(
            (
                f"signature {sig!r}",
                scan,
                {"Content-Type": FORM, "X-Slack-Request-Timestamp": str(now), "X-Slack-Signature": sig},
                401,
            )
        )
    for offset in (-3600, 3600):
        stale = {
            "X-Slack-Request-Timestamp": str(now + offset),
            "X-Slack-Signature": signature(scan.encode(), str(now + offset)),
        }
        cases.append((f"timestamp {offset:+d} s", scan, {"Content-Type": FORM, **stale}, 401))
    cases.append(
        (
            "forged",
            scan,
            {
                "Content-Type": FORM,
                "X-Slack-Request-Timestamp": str(now),
                "X-Slack-Signature": signature(scan.encode(), str(now), "nope"),
            },
            401,
        )
    )
    for ctype in ("text/plain", "multipart/form-data; boundary=x", "application/xml", None):
        cases.append((f"signed {ctype}", scan, signed(scan, ctype), 415))
    for name, body in [
        ("payload=null", _payload("null")),
        ("payload=[]", _payload("[]")),
        ("payload={", _payload("{")),
        ("actions a dict", _payload({"type": "block_actions", "actions": {"action_id": "rescan"}})),
        ("actions empty", _payload({"type": "block_actions", "actions": []})),
        ("actions a string", _payload({"type": "block_actions", "actions": "rescan"})),
        ("view a string", _payload({"type": "view_submission", "view": "x"})),
        ("callback_id a number", _payload({"type": "message_action", "callback_id": 5})),
    ]:
        cases.append((f"signed {name}", body, signed(body), 400))
    for name, body in [
        ("JSON {", "{"),
        ("JSON null", "null"),
        ("JSON []", "[]"),
        ("event a string", '{"type": "event_callback", "event": "x"}'),
    ]:
        cases.append((f"signed {name}", body, signed(body, JSON), 400))
    cases.append(("signed, not UTF-8", b"text=\xff\xfe", signed(b"text=\xff\xfe"), 400))
    cases.append(("2 MB", b"x" * (2 * 1024 * 1024), {"Content-Type": FORM}, 413))
    return cases


def test_unsigned_forged_and_malformed_requests_are_refused_with_a_log_line_and_no_traceback(served, redis_client):
    url, log = served
    cases = refusals(url)
    answers = {what: post(url, body, headers).status_code for what, body, headers, _ in cases}
    wrong = {what: (answers[what], want) for what, _, _, want in cases if answers[what] != want}
    assert not wrong, f"{len(wrong)} of {len(cases)} answered otherwise (got, wanted): {wrong}"
    assert redis_client.llen("rq:queue:chainscan") == 0
    text = log.read_text()
    assert "Traceback" not in text and "Exception on /slack/events" not in text, text[-3000:]
    assert text.count("refused a request") == len(cases), (
        f"{len(cases)} refused, log lines: {text.count('refused a request')}"
    )


latin1 = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=70).map(
    str.lstrip
)


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.binary(max_size=300) | st.sampled_from([b"payload=null", b"payload=%5B%5D", b"{", b"command=/scan&text=x"]),
    timestamp=latin1 | st.integers(-(10**12), 10**12).map(str),
    sig=latin1 | st.just("v0=" + "a" * 64),
    content_type=st.sampled_from([FORM, JSON, "text/plain", "", "multipart/form-data"]),
)
def test_any_unsigned_request_over_http_is_refused(served, body, timestamp, sig, content_type):
    url, log = served
    headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": sig}
    response = post(url, body, headers)
    assert response.status_code in REFUSED, f"{response.status_code} for {body!r} {headers} ({tally['5xx']} 5xx)"
    assert "Traceback" not in log.read_text()


def test_a_replayed_scan_is_answered_once_and_queued_once(served, redis_client, slack):
    url, log = served
    body = slash_command_body("mariadb", channel_id=CHANNEL, response_url=slack.response_url())
    headers = signed(body)
    answers = [post(url, body, headers) for _ in range(5)]
    assert [r.status_code for r in answers] == [200] * 5
    assert "Queued a scan" in answers[0].json()["text"] and [r.content for r in answers[1:]] == [b""] * 4
    assert redis_client.llen("rq:queue:chainscan") == 1, "5 identical signed requests, one job"
    assert log.read_text().count(": replay (") == 4


def test_a_slack_retry_is_answered_with_an_empty_200_and_not_acted_on(served, redis_client, slack):
    url, _ = served
    body = slash_command_body("mariadb", channel_id=CHANNEL, response_url=slack.response_url())
    response = post(url, body, signed(body, **{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}))
    assert (response.status_code, response.content) == (200, b"")
    assert redis_client.llen("rq:queue:chainscan") == 0


def test_the_scan_after_the_limit_gets_the_sentence_and_another_user_does_not(served, redis_client, slack):
    url, _ = served

    def scan(user: str) -> str:
        body = slash_command_body("mariadb", channel_id=CHANNEL, user_id=user, response_url=slack.response_url())
        response = post_signed(url, body, SECRET)
        tally["tried"] += 1
        tally["5xx"] += response.status_code >= 500
        return response.json()["text"]

    answers = [scan("U0ONE") for _ in range(4)]
    assert all("Queued a scan" in a for a in answers[:3]), answers
    assert answers[3].startswith("You have started 3 scans in the last hour; try again in "), answers[3]
    assert "Queued a scan" in scan("U0TWO")
    assert redis_client.llen("rq:queue:chainscan") == 4


def test_health_and_install_pages_still_answer(served):
    url, _ = served
    base = url.removesuffix("/slack/events")
    assert requests.get(f"{base}/healthz", timeout=5).json() == {"ok": True}
    assert requests.get(f"{base}/slack/install", timeout=5).status_code == 404  # single-workspace mode: no OAuth
