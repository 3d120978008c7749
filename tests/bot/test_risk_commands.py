"""``/scan IMAGE --kev`` and ``--epss-min SCORE``: parsed into the scan command, a bad score gets help."""

from __future__ import annotations

import pytest

from bot.commands import HelpCommand, ScanCommand, parse_command


def test_kev_lists_only_the_known_exploited():
    command = parse_command("mariadb --kev")
    assert isinstance(command, ScanCommand) and command.kev_only and command.epss_min is None


@pytest.mark.parametrize("text", ["mariadb --epss-min 0.5", "mariadb --epss-min=0.5", "mariadb --epss 0.5"])
def test_epss_min_takes_a_score_as_the_next_word_or_after_an_equals_sign(text):
    assert parse_command(text).epss_min == 0.5


def test_the_filters_combine_with_the_others():
    command = parse_command("mariadb --severity high --kev --epss-min 0.1 --no-alternative")
    assert (command.severity, command.kev_only, command.epss_min, command.with_alternative) == (
        "high",
        True,
        0.1,
        False,
    )


@pytest.mark.parametrize("value", ["1.5", "-0.1", "high", "nan", ""])
def test_a_score_outside_0_to_1_gets_help_naming_what_was_written(value):
    command = parse_command(f"mariadb --epss-min {value}".rstrip())
    assert isinstance(command, HelpCommand) and "EPSS score" in command.problem
    assert (f"`{value}`" if value else "`(nothing)`") in command.problem
