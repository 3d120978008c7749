"""The diff rendered for a terminal and for Slack, against golden files; Slack's text stays text."""

from __future__ import annotations

import json

from bot.render.diff import diff_message, diff_text
from tests.workers.test_diff import golden, load, mariadb_diff
from workers.diff import diff


def test_the_terminal_diff_matches_the_golden_text():
    golden("mariadb-11.4-to-11.8.txt", diff_text(mariadb_diff()) + "\n")


def test_the_slack_diff_matches_the_golden_blocks():
    message = diff_message(mariadb_diff())
    golden(
        "mariadb-11.4-to-11.8.slack.json", json.dumps({"text": message.text, "blocks": message.blocks}, indent=2) + "\n"
    )


def test_a_hostile_package_name_reaches_slack_as_text():
    a, b = load("mariadb-11.4.json"), load("mariadb-11.8.json")
    b.vulnerabilities[0].package = "<!channel> <https://evil.example|click>"
    b.layers[-1].created_by = "RUN <!here>"
    text = json.dumps(diff_message(diff(a, b)).blocks)
    assert "<!channel>" not in text and "<!here>" not in text and "<https://evil" not in text
    assert "&lt;!channel&gt;" in text
