"""The App Home view: teams, open counts by image, acceptances ending, buttons, and Slack's 100-block limit."""

from __future__ import annotations

import json

from bot.render.home import HOME_RESCAN, HOME_TRIAGE, MAX_BLOCKS, ImageHome, TeamHome, home_view
from tests.helpers.markup import live_markup, strings


def test_a_team_shows_its_images_worst_first_with_their_buttons():
    team = TeamHome(
        "payments",
        "C0PAY",
        (
            ImageHome(
                "docker.io/library/mariadb:latest",
                3,
                7,
                (("CVE-1", "zlib1g", "2026-12-10"),),
                "https://x.slack.com/archives/C0PAY/p1",
            ),
            ImageHome("docker.io/library/nginx:1", None, None),
        ),
    )
    view = home_view([team], "2026-12-06 10:00 UTC")
    text = json.dumps(view, ensure_ascii=False)
    assert view["type"] == "home"
    assert "*payments* in <#C0PAY> · 2 watched images · 3 critical, 7 high open" in text
    assert (
        "`mariadb:latest` · 3 critical, 7 high open" in text and "acceptance of CVE-1 in zlib1g ends 2026-12-10" in text
    )
    assert "`nginx:1` · not scanned yet" in text
    actions = [b for b in view["blocks"] if b["type"] == "actions"]
    assert [e["action_id"] for e in actions[0]["elements"]] == [HOME_RESCAN, HOME_TRIAGE, "home_open_thread"]
    assert actions[0]["elements"][0]["value"] == "C0PAY|docker.io/library/mariadb:latest"
    assert len(actions[1]["elements"]) == 2  # no thread yet, no link


def test_a_user_in_no_team_gets_a_sentence_saying_how_to_be_in_one():
    assert "You are in no team of the routing file" in json.dumps(home_view([], "now"), ensure_ascii=False)
    assert "No routing file is in force" in json.dumps(home_view([], "now", routed=False), ensure_ascii=False)


def test_a_fleet_of_300_images_stays_within_100_blocks_and_says_how_many_are_left_out():
    teams = [
        TeamHome(f"team{t}", f"C0T{t}", tuple(ImageHome(f"img{t}-{i}:1", 1, 1) for i in range(100))) for t in range(3)
    ]
    view = home_view(teams, "now")
    assert len(view["blocks"]) <= MAX_BLOCKS
    shown = sum(1 for b in view["blocks"] if b["type"] == "actions")
    assert f"{300 - shown} more images are not shown here" in json.dumps(view, ensure_ascii=False)


def test_attack_an_image_or_team_name_is_text():
    team = TeamHome("payments", "C0PAY", (ImageHome("docker.io/evil/<!channel>:1", 1, 0, (("<!here>", "p", "d"),)),))
    shown = [b for b in home_view([team], "now")["blocks"] if b["type"] != "actions"]  # a button value is not read
    assert not [t for s in strings(shown) for t in live_markup(s)]


def test_the_manifest_creates_what_the_code_listens_for():
    from pathlib import Path

    import yaml

    from bot.app import BOT_SCOPES

    manifest = yaml.safe_load((Path(__file__).parents[3] / "deploy" / "slack-app-manifest.yml").read_text())
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert "app_home_opened" in manifest["settings"]["event_subscriptions"]["bot_events"]
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == ["/scan"]
    assert {s["callback_id"] for s in manifest["features"]["shortcuts"]} == {"scan_dockerfile", "import_triage"}
    assert set(BOT_SCOPES) <= set(manifest["oauth_config"]["scopes"]["bot"])
