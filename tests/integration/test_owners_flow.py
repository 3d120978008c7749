"""Owners in Slack: ``/scan owners IMAGE`` over real HTTP and a real worker (labels read from the registry), and
the note a scan thread gets when another team owns the image."""

from __future__ import annotations

import os

import pytest

from tests.helpers.slack_requests import post_signed, slash_command_body
from tests.integration.conftest import CHANNEL, SECRET, all_text, parent_and_replies, run_workers, serving

pytestmark = pytest.mark.integration

OWNERS = """\
teams:
  - name: payments
    channel: C0PAYMENTS
    group: S0PAYONCALL
    repositories: ["mariadb"]
  - name: web
    channel: C0WEB
    sources: ["https://github.com/acme/*"]
"""


@pytest.fixture
def owned_web(slack_env, tmp_path, redis_client, monkeypatch):
    path = tmp_path / "owners.yaml"
    path.write_text(OWNERS)
    monkeypatch.setenv("OWNERS_FILE", str(path))  # the workers of this process read it too
    with serving({**os.environ, **slack_env}) as url:
        yield f"{url}/slack/events"


def _command(web, slack, text: str, channel: str = CHANNEL):
    body = slash_command_body(text, channel_id=channel, response_url=slack.response_url("r1"))
    return post_signed(web, body, SECRET)


def test_scan_owners_answers_privately_with_the_team_and_why(owned_web, slack, redis_client, test_images):
    response = _command(owned_web, slack, "owners mariadb")
    assert response.status_code == 200 and "Looking up who owns `mariadb:latest`" in response.json()["text"]
    run_workers(redis_client)
    answer = slack.responses("r1")[-1]
    assert answer["response_type"] == "ephemeral"
    assert "`mariadb:latest` is owned by *payments* in <#C0PAYMENTS> (<!subteam^S0PAYONCALL>)" in answer["text"]
    assert "repository glob `mariadb` of team payments (line 2)" in answer["text"]
    assert slack.calls("chat.postMessage") == []  # nothing said in the channel


def test_the_owner_of_an_unclaimed_repository_comes_from_its_source_label(owned_web, slack, redis_client, test_images):
    _command(owned_web, slack, "owners webapp:1")
    run_workers(redis_client)
    text = slack.responses("r1")[-1]["text"]
    assert "`webapp:1` is owned by *web* in <#C0WEB>" in text
    assert "label `org.opencontainers.image.source` matches `https://github.com/acme/*`" in text


def test_a_scan_in_another_channel_says_who_owns_the_image(owned_web, slack, redis_client, test_images):
    _command(owned_web, slack, "mariadb --no-alternative")
    run_workers(redis_client)
    _, thread = parent_and_replies(slack)
    notes = [all_text(m) for m in thread if "its alerts and digests are theirs" in all_text(m)]
    assert len(notes) == 1 and "owned by *payments* (<#C0PAYMENTS>)" in notes[0]


def test_a_scan_in_the_owning_channel_has_no_owner_note(owned_web, slack, redis_client, test_images):
    _command(owned_web, slack, "mariadb --no-alternative", channel="C0PAYMENTS")
    run_workers(redis_client)
    posts = [c.params for c in slack.calls("chat.postMessage") if c.ok]
    assert posts and not any("its alerts and digests are theirs" in str(p) for p in posts)


def test_a_bad_routing_file_keeps_the_last_good_one_and_says_so(owned_web, slack, redis_client, test_images, tmp_path):
    _command(owned_web, slack, "owners mariadb")
    run_workers(redis_client)  # the good file is read (and remembered)
    (tmp_path / "owners.yaml").write_text(OWNERS.replace("    channel: C0WEB\n", ""))
    _command(owned_web, slack, "owners mariadb")
    run_workers(redis_client)
    text = slack.responses("r1")[-1]["text"]
    assert "owned by *payments*" in text
    assert "Line 6 of the routing file: the team has no `channel`." in text
    assert "The last good routing file stays in force." in text
