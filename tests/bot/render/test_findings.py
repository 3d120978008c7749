"""A finding row's decision in words: a team- or base-wide decision says its scope, a stranger's base name stays
text, and the decision a row shows is the one the counts apply, whatever its scope."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from bot.render.findings import decided, decision_note
from tests.bot.test_risk_rendering import finding, report
from tests.helpers.markup import HOSTILE, live_markup
from workers.triage.apply import apply
from workers.triage.model import Decision, Justification, TriageState

NOW = datetime(2026, 12, 7, tzinfo=UTC)


REPOSITORY_WIDE = Decision(
    team="T0TEST",
    repository="docker.io/library/app",
    vulnerability="CVE-1",
    package="pkg",
    state=TriageState.ACCEPTED,
    by="U0ANA",
    at="2026-12-01T00:00:00+00:00",
    reason="not reachable",
    until="2027-01-10",
)


def _decision(**fields) -> Decision:
    return replace(REPOSITORY_WIDE, **fields)


def test_a_repositorys_acceptance_reads_as_before():
    assert decision_note(_decision(), TriageState.ACCEPTED) == "✔ accepted by <@U0ANA> until 2027-01-10: not reachable"


def test_a_team_wide_acceptance_says_it_holds_for_every_image_of_the_team():
    team_wide = _decision(repository="team:data", owner_team="data")
    said = "✔ accepted by <@U0ANA> for every image of team data until 2027-01-10: not reachable"
    assert decision_note(team_wide, TriageState.ACCEPTED) == said


def test_a_base_wide_false_positive_names_the_base():
    base_wide = _decision(
        repository="base:docker.io/library/debian",
        base="docker.io/library/debian",
        state=TriageState.FALSE_POSITIVE,
        until=None,
        justification=Justification.COMPONENT_NOT_PRESENT,
    )
    said = decision_note(base_wide, TriageState.FALSE_POSITIVE)
    assert said.startswith("✔ false positive (component not present) by <@U0ANA> for every image built on docker.io/")


def test_attack_a_base_named_by_a_stranger_is_text_on_the_row():
    base_wide = _decision(repository=f"base:{HOSTILE}", base=HOSTILE)
    assert not live_markup(decision_note(base_wide, TriageState.ACCEPTED))


def test_the_row_shows_the_team_wide_decision_the_counts_apply_and_an_ended_one_as_open():
    critical = finding("CVE-1", "critical")
    scanned = report(critical)
    team_wide = _decision(repository="team:data", owner_team="data")
    applied = apply(scanned, [team_wide], NOW)
    assert decided(applied, critical) == (team_wide, TriageState.ACCEPTED)
    assert applied.open_counts["critical"] == 0
    ended = apply(scanned, [team_wide], datetime(2027, 2, 1, tzinfo=UTC))
    assert decided(ended, critical) == (team_wide, TriageState.OPEN)
    assert decided(apply(scanned, [], NOW), critical) == (None, TriageState.OPEN)
