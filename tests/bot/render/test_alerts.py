"""The grouped alert message: the headline, a row per image with its menu, one for all, and escaping."""

from __future__ import annotations

import json

from bot.render.alerts import ROWS, group_message, summary_markdown, summary_message
from tests.helpers.markup import live_markup, strings
from workers.alerts.grouping import Affected, Remedy, RemedyKind, group_new
from workers.report import Finding


def _group(images: int, package="zlib1g", vuln="CVE-2099-1"):
    finding = Finding(vuln, package, "1.0", None, "affected", "critical", 9.8, None, "t", None, None)
    return group_new(
        [Affected(f"docker.io/library/app{i}:1", finding, Remedy(RemedyKind.NONE)) for i in range(images)], images + 6
    )[0]


def test_the_headline_says_how_many_of_the_watched_images_and_what_fixes_them():
    message, rows = group_message(
        _group(3), {f"docker.io/library/app{i}:1": f"t1:{i:012d}" for i in range(3)}, "t1:all", {}
    )
    assert message.text == "New critical CVE-2099-1 in 3 of 9 watched images: 3 have no fix yet."
    text = json.dumps(message.blocks)
    assert "*3 of 9* images this channel watches" in text and "`app0:1`" in text
    assert set(rows) == {"t1:000000000000", "t1:000000000001", "t1:000000000002", "t1:all"}
    assert "*All 3 images* with CVE-2099-1" in text


def test_many_images_fit_one_message():
    group = _group(60)
    message, rows = group_message(group, {r: f"t1:{i:012d}" for i, r in enumerate(group.references)}, "t1:all", {})
    assert len(message.blocks) <= ROWS + 3 and len(rows) == ROWS + 1
    assert "And 50 more:" in json.dumps(message.blocks)


def test_an_update_counts_the_images_told_earlier_today():
    message, _ = group_message(_group(1), {}, None, {}, earlier=("docker.io/library/old:1",))
    assert "in 2 of 7 watched images" in message.text and "Told earlier today: old:1" in json.dumps(message.blocks)


def test_attack_a_hostile_package_name_reaches_slack_as_text():
    message, _ = group_message(_group(2, package="<!channel> <https://evil.example|x>"), {}, None, {})
    assert not [t for text in strings(message.blocks) for t in live_markup(text)]
    summary = summary_message([_group(2, package="<!here>")], 5, "2026-12-06")
    assert not [t for text in strings(summary.blocks) for t in live_markup(text)]


def test_the_summary_names_the_limit_and_its_file_lists_every_finding():
    groups = [_group(2, vuln=f"CVE-2099-{i}") for i in range(3)]
    summary = summary_message(groups, 5, "2026-12-06")
    assert "*3 more new vulnerabilities* in 2 watched images today" in json.dumps(summary.blocks)
    text = summary_markdown(groups, "2026-12-06")
    assert all(f"## CVE-2099-{i} (critical) in 2 images" in text for i in range(3))
    assert text.count("- app") == 6
