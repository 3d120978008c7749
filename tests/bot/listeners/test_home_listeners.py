"""The App Home listeners, dispatched in process: the event queues one publish; a Home button scans only in a
channel of the user's own team (named in the file or in its user group, as Slack says), whatever its value says."""

from __future__ import annotations

from tests.helpers.slack_requests import JSON, block_action_body, event_body


def _owners(tmp_path, who: str = "members: [U0TEST]") -> str:
    path = tmp_path / "owners.yaml"
    path.write_text(f"teams:\n  - {{name: data, channel: C0DATA, {who}, repositories: [mariadb]}}\n")
    return str(path)


def test_opening_home_queues_one_publish_for_a_burst(dispatcher, tmp_path):
    app = dispatcher.app(OWNERS_FILE=_owners(tmp_path))
    for _ in range(3):
        body = event_body({"type": "app_home_opened", "user": "U0TEST", "tab": "home"})
        assert dispatcher.send(app, body, content_type=JSON).status == 200
    assert dispatcher.queued() == ["bot.jobs.home.publish_home"]


def test_the_messages_tab_publishes_nothing(dispatcher, tmp_path):
    body = event_body({"type": "app_home_opened", "user": "U0TEST", "tab": "messages"})
    dispatcher.send(dispatcher.app(OWNERS_FILE=_owners(tmp_path)), body, content_type=JSON)
    assert dispatcher.queued() == []


def test_a_home_button_scans_in_the_users_team_channel(dispatcher, tmp_path):
    app = dispatcher.app(OWNERS_FILE=_owners(tmp_path))
    body = block_action_body("home_triage", value="C0DATA|docker.io/library/mariadb:latest")
    assert dispatcher.send(app, body).status == 200
    assert dispatcher.queued() == ["bot.jobs.scan_thread.open_thread"]


def test_attack_a_tampered_home_button_queues_nothing(dispatcher, tmp_path):
    app = dispatcher.app(OWNERS_FILE=_owners(tmp_path))
    for value in ("C0OTHER|docker.io/library/mariadb:latest", "C0DATA|Not;An;Image", "nonsense", ""):
        assert dispatcher.send(app, block_action_body("home_rescan", value=value)).status == 200
    assert dispatcher.queued() == []


def test_a_home_button_of_a_member_of_the_teams_user_group_scans_in_its_channel(dispatcher, slack, tmp_path):
    slack.usergroups["S0DATA"] = ["U0TEST"]
    app = dispatcher.app(OWNERS_FILE=_owners(tmp_path, "group: S0DATA"))
    body = block_action_body("home_rescan", value="C0DATA|docker.io/library/mariadb:latest")
    assert dispatcher.send(app, body).status == 200
    assert dispatcher.queued() == ["bot.jobs.scan_thread.open_thread"]
    assert [c.params.get("usergroup") for c in slack.calls("usergroups.users.list")] == ["S0DATA"]


def test_a_home_button_queues_nothing_when_slack_will_not_say_who_is_in_the_group(dispatcher, slack, tmp_path):
    slack.usergroups["S0DATA"] = ["U0TEST"]
    slack.rate_limit_next("usergroups.users.list", retry_after=0, times=4)  # the client retries three times
    app = dispatcher.app(OWNERS_FILE=_owners(tmp_path, "group: S0DATA"))
    body = block_action_body("home_triage", value="C0DATA|docker.io/library/mariadb:latest")
    assert dispatcher.send(app, body).status == 200
    assert dispatcher.queued() == []
