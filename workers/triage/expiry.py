"""When accepted risks end: a warning seven days before, and the reopening at 00:00 UTC on the expiry date.
Pure: decisions and ``now`` in, what to do out; the scheduled job does it once per decision version."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from workers.triage.model import Decision, TriageState

WARN_BEFORE = timedelta(days=7)


class ExpiryStep(str, Enum):
    WARN = "warn"  # ends within WARN_BEFORE: remind the one who accepted it
    REOPEN = "reopen"  # ended: the finding is open again


@dataclass(frozen=True)
class Due:
    decision: Decision
    step: ExpiryStep

    @property
    def claim(self) -> str:
        """Names this step of this version of the decision, so it is done once, however often the job runs."""
        d = self.decision
        return f"{self.step.value}:{d.team}:{d.repository}:{d.vulnerability}:{d.package}:v{d.version}"


def due(decisions: Iterable[Decision], now: datetime) -> list[Due]:
    steps = []
    for decision in decisions:
        expiry = decision.expires_at()
        if decision.state is not TriageState.ACCEPTED or expiry is None:
            continue
        if now >= expiry:
            steps.append(Due(decision, ExpiryStep.REOPEN))
        elif now >= expiry - WARN_BEFORE:
            steps.append(Due(decision, ExpiryStep.WARN))
    return steps


def sentence(item: Due, *, escape=lambda text: text, mention=lambda user: user) -> str:
    """The note a thread gets; ``escape`` (the Slack face's) makes the stored names text, ``mention`` a user."""
    d = item.decision
    what = escape(f"{d.vulnerability} in {d.package} ({d.repository})")
    if item.step is ExpiryStep.REOPEN:
        return f"The acceptance of {what} by {mention(d.by)} ended on {d.until}: the finding is open again."
    return f"{mention(d.by)}, your acceptance of {what} ends on {d.until} (00:00 UTC). Extend it or fix the finding."
