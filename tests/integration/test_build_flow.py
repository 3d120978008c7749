"""``/scan build`` end to end: signed requests → modal → real builds in dockerd → thread content."""

from __future__ import annotations

import json
import logging

import pytest

from tests.helpers.slack_requests import (
    message_shortcut_body,
    post_signed,
    slash_command_body,
    view_submission_body,
)
from tests.integration.conftest import (
    CHANNEL,
    SECRET,
    all_text,
    parent_and_replies,
    run_workers,
)

pytestmark = pytest.mark.integration

ROOT_PASSWORD = "hunter2-root-pw"
SEED = f"""FROM mariadb:latest
ENV MYSQL_ROOT_PASSWORD={ROOT_PASSWORD}
ENV MYSQL_DATABASE=shop
EXPOSE 3306
"""


@pytest.fixture
def builds_on(monkeypatch, slack_env):
    monkeypatch.setenv("BUILDS_ENABLED", "true")
    slack_env["BUILDS_ENABLED"] = "true"


def submit(web, slack, text: str, file: str | None = None):
    view = view_submission_body(
        "scan_build",
        values={"dockerfile": {"text": {"type": "plain_text_input", "value": text}}},
        private_metadata=json.dumps({"channel": CHANNEL, "file": file}),
    )
    return post_signed(web, view, SECRET)


def everything_sent(slack) -> str:
    return "\n".join(json.dumps(c.params) for c in slack.calls()) + "\n".join(
        (u.content or b"").decode() for u in slack.uploads()
    )


def test_builds_are_off_unless_configured(web, slack, redis_client):
    response = post_signed(
        web, slash_command_body("build", channel_id=CHANNEL, response_url=slack.response_url()), SECRET
    )
    assert "turned off" in response.json()["text"] and slack.calls("views.open") == []


def test_scan_build_opens_the_modal(builds_on, web, slack, redis_client):
    response = post_signed(
        web, slash_command_body("build", channel_id=CHANNEL, response_url=slack.response_url()), SECRET
    )
    assert response.status_code == 200
    view = slack.wait_for("views.open")[0].params["view"]
    assert view["callback_id"] == "scan_build" and json.loads(view["private_metadata"])["channel"] == CHANNEL
    assert view["blocks"][-1]["element"]["multiline"] is True


def test_the_seed_dockerfile_is_built_twice_compared_and_secrets_never_leave(
    builds_on, web, slack, redis_client, test_images, caplog
):
    assert submit(web, slack, SEED).status_code == 200
    with caplog.at_level(logging.DEBUG):
        run_workers(redis_client)
    ts, (parent, *replies) = parent_and_replies(slack)
    card = parent["blocks"][0]["text"]["text"].splitlines()
    assert card[0].startswith("🔴 *your Dockerfile* — 5 critical · 15 high")
    assert card[1].startswith(("🔴 *its Chainguard version* — 2 critical · 4 high", "🟠"))
    assert card[2].startswith("Switching removes")
    texts = [all_text(r) for r in replies]
    rewrite = next(t for t in texts if "What the Chainguard version changes" in t)
    assert "line 1: `FROM mariadb:latest` → `FROM 127.0.0.1:5000/chainguard/mariadb:latest`" in rewrite
    problems = next(t for t in texts if "Dockerfile problems" in t)
    assert "DS-0031" in problems and "DS-0002" in problems and "MYSQL_ROOT_PASSWORD" in problems
    assert ROOT_PASSWORD not in everything_sent(slack)
    assert ROOT_PASSWORD not in caplog.text
    assert all(r.get("thread_ts") == ts for r in replies)


def test_a_failing_build_ends_in_a_sentence_with_the_log_tail(builds_on, web, slack, redis_client, test_images):
    submit(web, slack, f"FROM mariadb:latest\nENV API_TOKEN={ROOT_PASSWORD}\nRUN echo building && exit 3\n")
    run_workers(redis_client)
    ts, (parent, *replies) = parent_and_replies(slack)
    assert "failed" in all_text(parent) and "scanning" not in all_text(parent).lower()
    failure = all_text(replies[0])
    assert "The build of your Dockerfile failed" in failure and "Last lines of the build log" in failure
    assert "Traceback" not in failure and ROOT_PASSWORD not in everything_sent(slack)


def test_invalid_dockerfile_is_refused_in_the_modal(builds_on, web, slack, redis_client):
    response = submit(web, slack, "echo hello")
    assert response.json() == {
        "response_action": "errors",
        "errors": {"dockerfile": "That does not look like a Dockerfile: there is no FROM line."},
    }


def test_message_shortcut_prefills_the_modal_from_a_code_block(builds_on, web, slack, redis_client):
    body = message_shortcut_body(
        "scan_dockerfile",
        message_text=f"can you check this?\n```{SEED}```",
        channel_id=CHANNEL,
        response_url=slack.response_url(),
    )
    assert post_signed(web, body, SECRET).status_code == 200
    view = slack.wait_for("views.open")[0].params["view"]
    assert view["blocks"][-1]["element"]["initial_value"].startswith("FROM mariadb:latest")


def test_a_snippet_is_downloaded_by_the_worker_and_built(builds_on, web, slack, redis_client, test_images):
    snippet = slack.add_snippet(SEED)
    message = {"type": "message", "text": "", "files": [snippet], "ts": "1700000000.000001", "user": "U0OTHER"}
    body = message_shortcut_body(
        "scan_dockerfile", message=message, channel_id=CHANNEL, response_url=slack.response_url()
    )
    post_signed(web, body, SECRET)
    view = slack.wait_for("views.open")[0].params["view"]
    assert json.loads(view["private_metadata"])["file"] == snippet["id"]
    assert submit(web, slack, "", file=snippet["id"]).status_code == 200
    run_workers(redis_client)
    ts, (parent, *replies) = parent_and_replies(slack)
    assert "your Dockerfile" in all_text(parent) and "Switching" in all_text(parent)
