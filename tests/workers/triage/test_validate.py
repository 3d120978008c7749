from datetime import date

import pytest

from workers.triage.validate import TriageInputError, problems, validate_change

TODAY = date(2025, 3, 1)


def check(state, severity="high", reason=None, until=None, justification=None, assignee=None, **kwargs):
    return problems(
        state,
        severity=severity,
        reason=reason,
        until=until,
        justification=justification,
        assignee=assignee,
        today=TODAY,
        **kwargs,
    )


def test_a_complete_acceptance_has_no_problems():
    assert check("accepted", reason="not exposed", until="2025-04-01") == []


def test_acceptance_needs_a_reason_and_an_end():
    assert check("accepted", reason="  ") == [
        ("reason", "Accepting a risk needs a reason."),
        ("until", "Accepting a risk needs an expiry date (YYYY-MM-DD) or “until a fix exists”."),
    ]


def test_until_a_fix_exists_is_an_end_as_keyword_or_flag():
    assert check("accepted", reason="r", until="Until a fix  exists") == []
    assert check("accepted", reason="r", until_fixed=True) == []


@pytest.mark.parametrize("until", ["2025-03-01", "2025-02-28"])
def test_the_expiry_date_must_be_after_today(until):
    assert check("accepted", reason="r", until=until) == [("until", "The expiry date must be in the future.")]


@pytest.mark.parametrize("until", ["next week", "2025-13-01", "20250401", "2025-4-1"])
def test_the_expiry_date_must_be_a_real_date(until):
    assert check("accepted", reason="r", until=until) == [("until", "The expiry date must be a date like 2025-03-31.")]


def test_acceptance_is_capped_at_the_maximum_days():
    assert check("accepted", reason="r", until="2025-08-28") == []  # 180 days
    assert check("accepted", reason="r", until="2025-08-29") == [
        ("until", "Accepting a risk is allowed for at most 180 days (TRIAGE_MAX_ACCEPT_DAYS).")
    ]
    assert check("accepted", reason="r", until="2025-03-11", max_accept_days=7)[0][0] == "until"


def test_a_critical_is_capped_at_its_own_maximum():
    assert check("accepted", severity="critical", reason="r", until="2025-03-31") == []
    assert check("accepted", severity="critical", reason="r", until="2025-04-01") == [
        ("until", "Accepting a critical is allowed for at most 30 days (TRIAGE_MAX_ACCEPT_DAYS_CRITICAL).")
    ]


def test_a_false_positive_needs_an_openvex_justification():
    assert check("false_positive") == [("justification", "A false positive needs a justification.")]
    assert check("false_positive", justification="it_is_fine")[0] == (
        "justification",
        "That is not an OpenVEX justification; pick one of the five offered.",
    )
    assert check("false_positive", justification="component_not_present") == []


def test_assigning_needs_an_assignee():
    assert check("assigned") == [("assignee", "Assigning needs someone to assign it to.")]
    assert check("assigned", assignee="U2") == []


def test_an_unknown_state_is_a_sentence():
    assert check("wontfix") == [
        ("state", "That is not a triage state; pick open, acknowledged, assigned, accepted or false positive.")
    ]


def test_open_and_acknowledged_need_nothing():
    assert check("open") == [] and check("acknowledged") == []


def test_validate_change_raises_the_first_problem_with_its_field():
    with pytest.raises(TriageInputError) as err:
        validate_change(
            "accepted", severity="low", reason=None, until="2025-04-01", justification=None, assignee=None, today=TODAY
        )
    assert (err.value.field, err.value.sentence) == ("reason", "Accepting a risk needs a reason.")
