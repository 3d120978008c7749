"""App Home, served by ``python -m bot serve`` over both of Slack's transports (``slack_app``: a signed POST, and
a Socket Mode envelope acked within 3 s): ``app_home_opened`` → a worker publishes the user's teams with the open
counts of the stored reports through the team's triage; a decision republishes; a user in no team gets the
sentence; a user in a team's user group sees the team (Slack asked once per group while its answer is cached),
and when Slack will not say, the file's members alone; the Home buttons scan in the team's channel only."""

from __future__ import annotations

import json
import logging

import pytest

from tests.helpers.slack_requests import JSON, event_body
from tests.integration.conftest import routing_file, run_workers, scan, stored_report

pytestmark = pytest.mark.integration
CHANNEL = "C0SCANS"  # where `scan` posts: the team's channel here


@pytest.fixture
def owners_file(tmp_path, monkeypatch):
    """A routing file with one team; set before ``slack_app`` starts, which reads it."""
    owners = f"teams:\n  - {{name: data, channel: {CHANNEL}, members: [U0ALICE], repositories: [mariadb]}}\n"
    routing_file(tmp_path, monkeypatch, owners)


@pytest.fixture
def home_app(owners_file, slack_app):
    return slack_app


@pytest.fixture
def grouped_owners_file(slack, tmp_path, monkeypatch):
    """Two teams with user groups: data (nobody named) and web (U0BOB named as a member); set before ``slack_app``
    starts."""
    owners = (
        "teams:\n"
        f"  - {{name: data, channel: {CHANNEL}, group: S0DATA, repositories: [mariadb]}}\n"
        "  - {name: web, channel: C0WEB, group: S0WEB, members: [U0BOB], repositories: [nginx]}\n"
    )
    slack.usergroups.update({"S0DATA": ["U0BOB", "U0CAROL"], "S0WEB": ["U0DAVE"]})
    routing_file(tmp_path, monkeypatch, owners)


@pytest.fixture
def grouped_app(grouped_owners_file, slack_app):
    return slack_app


def _teams_shown(slack, user: str) -> list[str]:
    text = _home(slack, user)
    return [name for name in ("data", "web") if f"*{name}* in <#" in text]


def _opened(app, user: str):
    body = event_body({"type": "app_home_opened", "user": user, "channel": "D0HOME", "tab": "home"})
    return app.send(body, content_type=JSON)


def _home(slack, user: str) -> str:
    published = [c for c in slack.calls("views.publish") if c.ok and c.params.get("user_id") == user]
    assert published, "nothing published"
    view = published[-1].params["view"]
    return json.dumps(json.loads(view) if isinstance(view, str) else view, ensure_ascii=False)


def test_opening_home_publishes_the_users_team_with_the_open_counts(home_app, slack, redis_client, test_images):
    from workers.digests.store import DigestStore

    DigestStore(redis_client).watch("T0TEST", CHANNEL, ["docker.io/library/mariadb:latest"], limit=50)
    scan(home_app, slack, "mariadb --no-alternative")
    run_workers(redis_client)
    report = stored_report(redis_client, "library/mariadb")
    assert _opened(home_app, "U0ALICE").status_code == 200
    run_workers(redis_client)
    text = _home(slack, "U0ALICE")
    c, h = report.counts["critical"], report.counts["high"]
    assert f"`mariadb:latest` · {c} critical, {h} high open" in text
    assert "*data* in <#C0SCANS>" in text and "Open thread" in text

    from datetime import UTC, datetime

    from workers.triage.model import Decision, Justification, TriageState
    from workers.triage.store import DecisionStore

    worst = next(f for f in report.vulnerabilities if f.severity == "critical")
    DecisionStore(redis_client).set(
        Decision(
            "T0TEST",
            "docker.io/library/mariadb",
            worst.id,
            worst.package,
            TriageState.FALSE_POSITIVE,
            "U0ALICE",
            datetime.now(UTC).isoformat(),
            justification=Justification.COMPONENT_NOT_PRESENT,
        )
    )
    from rq import Queue

    from bot.jobs.home import enqueue_home

    redis_client.delete("chainscan:home:queued:T0TEST:U0ALICE")
    assert enqueue_home(Queue("chainscan", connection=redis_client), redis_client, "T0TEST", "U0ALICE")
    assert not enqueue_home(Queue("chainscan", connection=redis_client), redis_client, "T0TEST", "U0ALICE")  # coalesced
    run_workers(redis_client)
    hidden = sum(
        1 for f in report.vulnerabilities if f.severity == "critical" and (f.id, f.package) == (worst.id, worst.package)
    )
    assert f"`mariadb:latest` · {c - hidden} critical, {h} high open" in _home(slack, "U0ALICE")


def test_a_user_in_no_team_gets_the_sentence(home_app, slack, redis_client):
    _opened(home_app, "U0BOB")
    run_workers(redis_client)
    assert "You are in no team of the routing file" in _home(slack, "U0BOB")


def test_a_user_in_a_teams_user_group_sees_the_team_and_slack_is_asked_once_per_group(grouped_app, slack, redis_client):
    for user in ("U0CAROL", "U0DAVE", "U0BOB", "U0CAROL"):
        redis_client.delete(f"chainscan:home:queued:T0TEST:{user}")
        assert _opened(grouped_app, user).status_code == 200
        run_workers(redis_client)
    assert _teams_shown(slack, "U0CAROL") == ["data"]  # by S0DATA alone
    assert _teams_shown(slack, "U0DAVE") == ["web"]
    assert _teams_shown(slack, "U0BOB") == ["data", "web"]  # a member of web by name, of data by its group
    asked = [c.params.get("usergroup") for c in slack.calls("usergroups.users.list")]
    assert sorted(asked) == ["S0DATA", "S0WEB"]  # four opens, each group asked once: the rest came from Redis


def test_when_slack_will_not_say_who_is_in_a_group_home_shows_the_files_members_and_logs_one_line(
    grouped_app, slack, redis_client, caplog
):
    slack.fail_next("usergroups.users.list", "missing_scope", times=10)
    with caplog.at_level(logging.WARNING, logger="bot.usergroups"):
        for user in ("U0CAROL", "U0BOB"):
            assert _opened(grouped_app, user).status_code == 200
            run_workers(redis_client)
    assert "You are in no team of the routing file" in _home(slack, "U0CAROL")
    assert _teams_shown(slack, "U0BOB") == ["web"]  # named in the file; S0DATA unread
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.usergroups"]
    assert len(lines) == 2 and all("missing_scope" in line for line in lines)  # one line a publish
    assert len(slack.calls("usergroups.users.list")) == 2  # after the first failure, no other group is asked
