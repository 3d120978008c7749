"""A scan report seen through the team's decisions: what stays open, what is hidden and why. Pure, no I/O.

Counting stays Trivy's: each finding is hidden or open on its own, so per severity
``open_counts + len(suppressed)`` equals ``report.counts``; the report itself is never altered.
A decision matches a finding by vulnerability id and package name, within the report's repository,
and, when it has a digest, only in that image. It stops hiding the finding when its date has passed
(00:00 UTC on ``until``) or, "until a fix exists", once the finding has a fixed version.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from workers.base.attribution import official_candidate
from workers.reference import InvalidReference, parse_reference
from workers.report import SEVERITIES, Finding, ScanReport, empty_counts
from workers.triage.model import PRECEDENCE, SUPPRESSING, Decision, Scope, TriageState

FindingKey = tuple[str, str]  # (vulnerability id, package name), as decisions are kept


@dataclass(frozen=True)
class Applied:
    open_counts: dict[str, int]  # same keys as report.counts
    open_fixable: dict[str, int]
    suppressed: list[tuple[Finding, Decision]]
    expired: list[Decision]  # acceptances that ended: the date passed, or a fix exists for an until-fixed one
    decided: dict[FindingKey, Decision]  # every decision that matched a finding, whatever its state
    by_state: dict[str, dict[TriageState, int]]  # severity → effective state → findings

    @property
    def suppressed_counts(self) -> dict[str, int]:
        counts = empty_counts()
        for finding, _ in self.suppressed:
            counts[finding.severity] += 1
        return counts


def finding_key(finding: Finding) -> FindingKey:
    return (finding.id, finding.package)


def repository_of(reference: str) -> str | None:
    """``docker.io/library/mariadb`` for ``mariadb:11.4``; None when the reference cannot be parsed."""
    try:
        return parse_reference(reference).name
    except InvalidReference:
        return None


def effective_state(decision: Decision | None, finding: Finding, now: datetime) -> TriageState:
    """The state that counts right now: an acceptance that ended is open again."""
    if decision is None:
        return TriageState.OPEN
    if decision.state is TriageState.ACCEPTED and _ended(decision, finding, now):
        return TriageState.OPEN
    return decision.state


def apply(
    report: ScanReport, decisions: Iterable[Decision], now: datetime, *, owner_team: str | None = None
) -> Applied:
    """What ``decisions`` make of ``report`` at ``now``. Team-wide decisions match when they are
    ``owner_team``'s, or, with ``owner_team`` None, whichever were given (the loader,
    :func:`workers.triage.decide.decisions_for`, loaded only the owning team's). Base-wide decisions match the
    base the report names or its OS's official image."""
    candidates = _matching_decisions(report, decisions, owner_team)
    suppressed: list[tuple[Finding, Decision]] = []
    expired: dict[tuple, Decision] = {}
    decided: dict[FindingKey, Decision] = {}
    by_state = {severity: dict.fromkeys(TriageState, 0) for severity in SEVERITIES}
    for finding in report.vulnerabilities:
        decision = candidates.get(finding_key(finding))
        if decision is not None:
            decided[finding_key(finding)] = decision
            if decision.state is TriageState.ACCEPTED and _ended(decision, finding, now):
                expired[decision.key] = decision
        state = effective_state(decision, finding, now)
        by_state.setdefault(finding.severity, dict.fromkeys(TriageState, 0))[state] += 1
        if decision is not None and state in SUPPRESSING:
            suppressed.append((finding, decision))
    hidden = _tally(f for f, _ in suppressed)
    return Applied(
        open_counts={severity: count - hidden.get(severity, 0) for severity, count in report.counts.items()},
        open_fixable={
            severity: count - _tally(f for f, _ in suppressed if f.fixable).get(severity, 0)
            for severity, count in report.fixable.items()
        },
        suppressed=suppressed,
        expired=list(expired.values()),
        decided=decided,
        by_state=by_state,
    )


def absent(report: ScanReport, decisions: Iterable[Decision]) -> tuple[list[Decision], list[Decision]]:
    """The team's live decisions on this image's repository: (those whose finding this scan no longer has,
    those whose finding it has). Resolved decisions and ones scoped to another digest are left out."""
    repository = repository_of(report.image.reference)
    present = {finding_key(f) for f in report.vulnerabilities}
    gone, seen = [], []
    for decision in decisions:
        if decision.repository != repository or decision.state in (TriageState.RESOLVED, TriageState.OPEN):
            continue
        if decision.digest and decision.digest != report.image.digest:
            continue
        (seen if (decision.vulnerability, decision.package) in present else gone).append(decision)
    return gone, seen


def _matching_decisions(
    report: ScanReport, decisions: Iterable[Decision], owner_team: str | None = None
) -> dict[FindingKey, Decision]:
    """The decisions for this image, by finding key; the narrowest wins (digest, repository, base, team)."""
    repository, base = repository_of(report.image.reference), base_repository(report)
    found: dict[FindingKey, Decision] = {}
    for decision in decisions:
        if (
            repository is None
            or decision.state is TriageState.RESOLVED
            or not _covers(decision, repository, base, owner_team)
        ):
            continue
        if decision.digest and decision.digest != report.image.digest:
            continue
        key = (decision.vulnerability, decision.package)
        if key not in found or PRECEDENCE[decision.scope] > PRECEDENCE[found[key].scope]:
            found[key] = decision
    return found


def _covers(decision: Decision, repository: str, base: str | None, owner_team: str | None) -> bool:
    if decision.scope is Scope.TEAM:
        return owner_team is None or decision.owner_team == owner_team
    if decision.scope is Scope.BASE:
        return base is not None and decision.base == base
    return decision.repository == repository


def base_repository(report: ScanReport) -> str | None:
    """The repository of the base the image is built on (``docker.io/library/debian``): the base it names (labels,
    Dockerfile, layers), else its OS's official image (a Debian 12 image is built on debian, however many
    images sit between)."""
    name = (report.base or {}).get("name") or official_candidate(report.image.os)
    return repository_of(name) if name else None


def _ended(decision: Decision, finding: Finding, now: datetime) -> bool:
    return decision.expired(now) or (decision.until_fixed and finding.fixable)


def _tally(findings: Iterable[Finding]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for finding in findings:
        counts[finding.severity] = counts.get(finding.severity, 0) + 1
    return counts


def contract(applied: Applied) -> dict:
    """The JSON contract's triage additions: ``open_counts``, ``suppressed``, and per finding key its
    ``triage`` (None when open). Counts stay Trivy's in ``counts``; these say what the team decided."""
    return {
        "open_counts": dict(applied.open_counts),
        "suppressed": [
            {
                "id": finding.id,
                "package": finding.package,
                "severity": finding.severity,
                "state": decision.state.value,
                "by": decision.by,
                "reason": decision.reason,
                "until": decision.until,
                "until_fixed": decision.until_fixed,
                "justification": decision.justification.value if decision.justification else None,
            }
            for finding, decision in applied.suppressed
        ],
    }


def triage_of(applied: Applied, finding: Finding) -> dict | None:
    """One finding's ``triage`` entry in the JSON contract: None when nobody decided on it."""
    decision = applied.decided.get(finding_key(finding))
    if decision is None:
        return None
    return {
        "state": decision.state.value,
        "by": decision.by,
        "at": decision.at,
        "reason": decision.reason,
        "until": decision.until,
        "until_fixed": decision.until_fixed,
        "justification": decision.justification.value if decision.justification else None,
        "assignee": decision.assignee,
        "suppressed": any(f is finding for f, _ in applied.suppressed),
    }
