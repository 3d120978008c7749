import json
import logging

from workers.telemetry.context import RequestContext, bound
from workers.telemetry.logs import formatter, scrub, secrets_of

RESPONSE_URL = "https://hooks.slack.com/commands/T0001/2219/abcDEF123"


def test_configured_secrets_and_anything_shaped_like_a_slack_token_are_masked():
    line = scrub(
        "token xoxb-1-2-abc, app xapp-1-A1-99, signing s3cret-signing, url " + RESPONSE_URL, ["s3cret-signing"]
    )
    assert "xoxb-" not in line and "xapp-" not in line and "s3cret" not in line and "hooks.slack" not in line


def test_the_password_of_a_url_is_masked_but_image_digests_and_times_are_kept():
    line = scrub("redis://:pw-9911@redis:6379/0 docker.io/library/mariadb@sha256:abc at 12:30:45")
    assert "pw-9911" not in line and "redis://:••••@redis:6379/0" in line
    assert "mariadb@sha256:abc" in line and "12:30:45" in line


def test_the_redis_password_is_among_the_secrets_to_mask():
    assert secrets_of("xoxb-1", None, urls=["redis://u:hunter22@h:6379/0", None]) == ("xoxb-1", "hunter22")


def record(message: str, *args, exc_info=None) -> logging.LogRecord:
    return logging.LogRecord("bot.jobs", logging.INFO, __file__, 1, message, args, exc_info)


def test_a_json_line_is_one_object_with_the_request_id_and_no_secret():
    from workers.telemetry.logs import _RequestId

    made = formatter("json", ["s3cret-signing"])
    entry = record("posted to %s with s3cret-signing", RESPONSE_URL)
    with bound(RequestContext("req-42")):
        _RequestId().filter(entry)
    line = made.format(entry)
    data = json.loads(line)
    assert "\n" not in line
    assert data["request_id"] == "req-42" and data["level"] == "INFO" and data["logger"] == "bot.jobs"
    assert data["ts"].endswith("+00:00") and "T" in data["ts"]
    assert "s3cret" not in data["msg"] and "hooks.slack" not in data["msg"]


def test_a_traceback_is_scrubbed_too():
    try:
        raise RuntimeError("could not post with xoxb-999-secret")
    except RuntimeError:
        import sys

        entry = record("failed", exc_info=sys.exc_info())
    entry.request_id = "-"
    text = formatter("text").format(entry)
    assert "request_id=- msg=failed" in text and "RuntimeError" in text and "xoxb-999" not in text


def test_the_oauth_redirects_code_and_state_never_reach_a_log_line():
    from workers.telemetry.logs import scrub

    line = '127.0.0.1 - - "GET /slack/oauth_redirect?code=1234.5678.abcdef&state=s3cr3t-state HTTP/1.1" 302'
    masked = scrub(line)
    assert "1234.5678.abcdef" not in masked and "s3cr3t-state" not in masked
    assert "/slack/oauth_redirect?code=" in masked and "&state=" in masked
    assert scrub("GET /slack/install HTTP/1.1") == "GET /slack/install HTTP/1.1"
