"""Checks on a triage change before it is stored: each problem is a field and one plain sentence. Pure, no I/O.

An acceptance needs a reason and an end: a date (``YYYY-MM-DD``, strictly after ``today``, at most
``max_accept_days`` ahead, ``max_accept_days_critical`` for a critical) or "until a fix exists".
The acceptance ends at 00:00 UTC on that date, as Trivy reads ``expired_at`` in ``.trivyignore.yaml``.
"""

from __future__ import annotations

import re
from datetime import date
from enum import Enum

from workers.triage.model import SETTABLE, Justification, TriageState

UNTIL_FIXED_KEYWORD = "until a fix exists"
MAX_ACCEPT_DAYS = 180
MAX_ACCEPT_DAYS_CRITICAL = 30
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")


class Problem(str, Enum):
    UNKNOWN_STATE = "unknown_state"
    REASON_MISSING = "reason_missing"
    UNTIL_MISSING = "until_missing"
    UNTIL_INVALID = "until_invalid"
    UNTIL_PAST = "until_past"
    UNTIL_TOO_FAR = "until_too_far"
    UNTIL_TOO_FAR_CRITICAL = "until_too_far_critical"
    JUSTIFICATION_MISSING = "justification_missing"
    JUSTIFICATION_UNKNOWN = "justification_unknown"
    ASSIGNEE_MISSING = "assignee_missing"

    @property
    def field(self) -> str:
        return _FIELDS[self]

    def sentence(self, days: int = 0) -> str:
        return _SENTENCES[self].format(days=days)


_FIELDS = {
    Problem.UNKNOWN_STATE: "state",
    Problem.REASON_MISSING: "reason",
    Problem.UNTIL_MISSING: "until",
    Problem.UNTIL_INVALID: "until",
    Problem.UNTIL_PAST: "until",
    Problem.UNTIL_TOO_FAR: "until",
    Problem.UNTIL_TOO_FAR_CRITICAL: "until",
    Problem.JUSTIFICATION_MISSING: "justification",
    Problem.JUSTIFICATION_UNKNOWN: "justification",
    Problem.ASSIGNEE_MISSING: "assignee",
}
_SENTENCES = {
    Problem.UNKNOWN_STATE: "That is not a triage state; pick open, acknowledged, assigned, accepted or false positive.",
    Problem.REASON_MISSING: "Accepting a risk needs a reason.",
    Problem.UNTIL_MISSING: f"Accepting a risk needs an expiry date (YYYY-MM-DD) or “{UNTIL_FIXED_KEYWORD}”.",
    Problem.UNTIL_INVALID: "The expiry date must be a date like 2025-03-31.",
    Problem.UNTIL_PAST: "The expiry date must be in the future.",
    Problem.UNTIL_TOO_FAR: "Accepting a risk is allowed for at most {days} days (TRIAGE_MAX_ACCEPT_DAYS).",
    Problem.UNTIL_TOO_FAR_CRITICAL: (
        "Accepting a critical is allowed for at most {days} days (TRIAGE_MAX_ACCEPT_DAYS_CRITICAL)."
    ),
    Problem.JUSTIFICATION_MISSING: "A false positive needs a justification.",
    Problem.JUSTIFICATION_UNKNOWN: "That is not an OpenVEX justification; pick one of the five offered.",
    Problem.ASSIGNEE_MISSING: "Assigning needs someone to assign it to.",
}


class TriageInputError(ValueError):
    """A change that cannot be stored; ``field`` names the input, ``sentence`` says why."""

    def __init__(self, field: str, sentence: str):
        self.field, self.sentence = field, sentence
        super().__init__(sentence)


def problems(
    state: TriageState | str,
    *,
    severity: str,
    reason: str | None,
    until: str | date | None,
    justification: Justification | str | None,
    assignee: str | None,
    today: date,
    until_fixed: bool = False,
    max_accept_days: int = MAX_ACCEPT_DAYS,
    max_accept_days_critical: int = MAX_ACCEPT_DAYS_CRITICAL,
) -> list[tuple[str, str]]:
    """Every problem with the change, as (field, sentence); empty when it can be stored."""
    try:
        state = TriageState(state)
    except ValueError:
        state = None
    if state not in SETTABLE:
        return [(Problem.UNKNOWN_STATE.field, Problem.UNKNOWN_STATE.sentence())]
    found: list[tuple[Problem, int]] = []
    if state is TriageState.ACCEPTED:
        if not (reason or "").strip():
            found.append((Problem.REASON_MISSING, 0))
        critical = severity == "critical"
        days = max_accept_days_critical if critical else max_accept_days
        found += _until_problems(until, until_fixed, today, days, critical)
    elif state is TriageState.FALSE_POSITIVE:
        if justification is None or justification == "":
            found.append((Problem.JUSTIFICATION_MISSING, 0))
        elif justification not in {j.value for j in Justification}:
            found.append((Problem.JUSTIFICATION_UNKNOWN, 0))
    elif state is TriageState.ASSIGNED and not (assignee or "").strip():
        found.append((Problem.ASSIGNEE_MISSING, 0))
    return [(problem.field, problem.sentence(days)) for problem, days in found]


def validate_change(state: TriageState | str, **kwargs) -> None:
    """Raise :class:`TriageInputError` for the first problem :func:`problems` finds."""
    for field, sentence in problems(state, **kwargs):
        raise TriageInputError(field, sentence)


def is_until_fixed(until: str | date | None) -> bool:
    return isinstance(until, str) and " ".join(until.lower().split()) == UNTIL_FIXED_KEYWORD


def parse_until(until: str | date) -> date | None:
    """``YYYY-MM-DD`` as a date; None for anything else."""
    if isinstance(until, date):
        return until
    text = until.strip()
    if not _DATE.match(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _until_problems(until, until_fixed: bool, today: date, days: int, critical: bool) -> list[tuple[Problem, int]]:
    if until_fixed or is_until_fixed(until):
        return []
    if until is None or (isinstance(until, str) and not until.strip()):
        return [(Problem.UNTIL_MISSING, 0)]
    end = parse_until(until)
    if end is None:
        return [(Problem.UNTIL_INVALID, 0)]
    if end <= today:
        return [(Problem.UNTIL_PAST, 0)]
    if (end - today).days > days:
        return [(Problem.UNTIL_TOO_FAR_CRITICAL if critical else Problem.UNTIL_TOO_FAR, days)]
    return []
