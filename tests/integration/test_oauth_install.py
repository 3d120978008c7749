"""Multi-workspace mode: the OAuth install stores the bot token in Redis; workers post with it."""

from __future__ import annotations

import os
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.helpers.slack_api import SlackAPIServer
from tests.helpers.slack_requests import post_signed, slash_command_body
from tests.integration.conftest import SECRET, run_workers, serving

pytestmark = pytest.mark.integration


@pytest.fixture
def oauth_slack():
    with SlackAPIServer(token="xoxb-unused") as server:
        yield server


@pytest.fixture
def oauth_web(engine_env, oauth_slack, monkeypatch, redis_client):
    env = {
        "SLACK_CLIENT_ID": "111.222",
        "SLACK_CLIENT_SECRET": "client-secret",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": oauth_slack.base_url,
        "SLACK_BOT_TOKEN": "",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with serving(dict(os.environ)) as url:
        yield url


def test_install_then_scan_posts_with_the_installed_token(oauth_web, oauth_slack, redis_client, test_images):
    install = requests.get(f"{oauth_web}/slack/install", allow_redirects=False, timeout=5)
    assert install.status_code in (200, 302)
    location = install.headers.get("Location") or install.text
    state = parse_qs(urlsplit(location[location.index("https://slack.com/oauth/v2/authorize") :].split('"')[0]).query)[
        "state"
    ][0]
    oauth_slack.add_install("code-1", team_id="T0OTHER", token="xoxb-installed")

    # Bolt ties the state to the browser with a Secure cookie, which requests will not send over plain HTTP.
    cookie = install.headers["Set-Cookie"].split(";", 1)[0]
    assert cookie.endswith(state)
    done = requests.get(
        f"{oauth_web}/slack/oauth_redirect",
        params={"code": "code-1", "state": state},
        headers={"Cookie": cookie},
        timeout=10,
    )
    assert done.status_code == 200
    assert redis_client.exists("chainscan:install:none:T0OTHER:bot")
    replay = requests.get(
        f"{oauth_web}/slack/oauth_redirect",
        params={"code": "code-1", "state": state},
        headers={"Cookie": cookie},
        timeout=10,
    )
    assert replay.status_code != 200  # a state is good once

    body = slash_command_body(
        "mariadb", channel_id="C0OTHER", team_id="T0OTHER", response_url=oauth_slack.response_url()
    )
    assert post_signed(f"{oauth_web}/slack/events", body, SECRET).status_code == 200
    run_workers(redis_client)
    posts = [c for c in oauth_slack.calls("chat.postMessage") if c.ok]
    assert posts and all(c.headers.get("Authorization") == "Bearer xoxb-installed" for c in posts)
    assert "critical" in oauth_slack.calls("chat.update")[-1].params["text"]


def test_a_workspace_that_never_installed_is_refused(oauth_web, oauth_slack, redis_client):
    body = slash_command_body("mariadb", channel_id="C0X", team_id="T0NEVER", response_url=oauth_slack.response_url())
    response = post_signed(f"{oauth_web}/slack/events", body, SECRET)
    assert response.status_code == 200  # Bolt declines politely: no 500, nothing queued
    assert redis_client.llen("rq:queue:chainscan") == 0
