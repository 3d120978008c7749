"""The findings message of a scan thread: grouped rows, worst first, each critical and high row with the
triage menu, its decision shown on the row. Pure: a report, the team's decisions applied to it, and the
action keys naming each row in, a ``Message`` out.

One row per vulnerability and source package (``CVE-2024-2961  glibc (libc6, libc-bin) 2.36-9 → 2.36-9+deb12u7``),
short enough for one line on a desktop thread. Lows and unknowns are counted, not listed, while anything worse
is shown. What does not fit goes to the attached file, and the header says so in one sentence.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.render.blocks import MAX_BLOCKS, MAX_TOTAL_CHARS, Message, _fit, escape, section
from bot.render.format import truncate
from bot.render.slack_text import user
from workers.feeds.risk import feeds_note, matches, ranking_available
from workers.groups import FindingGroup, group_findings
from workers.report import Finding, ScanReport, at_or_above
from workers.triage.apply import Applied, finding_key
from workers.triage.model import SUPPRESSING, Decision, Scope, TriageState

TRIAGE_ACTION = "triage_menu"
TRIAGED_SEVERITIES = ("critical", "high")
LISTED_WHILE_WORSE = ("critical", "high", "medium")
MAX_ROWS = 40  # leaves room for headings within Slack's 50 blocks


class Verb:
    """The triage menu's options; an option's value is ``verb|action-key`` (Slack allows 150 characters)."""

    ACKNOWLEDGE = "ack"
    ASSIGN = "assign"
    ACCEPT = "accept"
    FALSE_POSITIVE = "fp"
    REOPEN = "reopen"

    LABELS = {
        ACKNOWLEDGE: "Acknowledge",
        ASSIGN: "Assign…",
        ACCEPT: "Accept risk…",
        FALSE_POSITIVE: "False positive…",
        REOPEN: "Reopen",
    }


@dataclass(frozen=True)
class Row:
    group: FindingGroup
    decision: Decision | None
    state: TriageState  # what counts now (an acceptance that ended is open)
    key: str | None  # the action key of this row's menu, when it has one
    ranked: bool = False  # the KEV and EPSS feeds were joined in: rows say their severity and risk


def rows_for(
    report: ScanReport,
    applied: Applied | None,
    *,
    severity: str = "unknown",
    only_fixed: bool = False,
    kev_only: bool = False,
    epss_min: float | None = None,
) -> list[Row]:
    """Every group the user asked for, worst first, with its decision."""
    wanted = at_or_above(severity)
    findings = [
        f
        for f in report.vulnerabilities
        if f.severity in wanted and (f.fixable or not only_fixed) and matches(f, kev_only=kev_only, epss_min=epss_min)
    ]
    ranked = ranking_available(report)
    suppressed = {id(f) for f, _ in applied.suppressed} if applied else set()
    rows = []
    for group in group_findings(findings):
        decision, state = decided(applied, group.first, suppressed)
        rows.append(Row(group, decision, state, None, ranked))
    return rows


def decided(
    applied: Applied | None, finding: Finding, suppressed: set[int] | None = None
) -> tuple[Decision | None, TriageState]:
    """The decision that applies to ``finding`` (whatever its scope: digest, repository, base or team) and the
    state that counts now: an acceptance that ended is open. ``suppressed``: ids of the hidden findings, when the
    caller has them already."""
    decision = applied.decided.get(finding_key(finding)) if applied else None
    if decision is None:
        return None, TriageState.OPEN
    if decision.state in SUPPRESSING:
        hidden = suppressed if suppressed is not None else {id(f) for f, _ in applied.suppressed}
        return decision, decision.state if id(finding) in hidden else TriageState.OPEN
    return decision, decision.state


def base_text(group: FindingGroup, *, ranked: bool = False) -> str:
    """One finding group on one line: id (linked), package, installed → fixed, the score when known; ranked,
    its severity first and what KEV and EPSS say after (``KEV since 2025-05-07, ransomware · EPSS 93.1%, 99.8th
    percentile``)."""
    ident = f"<{group.url}|{escape(group.id)}>" if group.url else escape(group.id)
    fix = f"→ {escape(group.fixed)}" if group.fixed else "no fix yet"
    score = f"  CVSS {group.cvss_score:.1f}" if group.cvss_score is not None else ""
    text = f"{ident}  `{escape(truncate(group.package_label, 48))}` {escape(group.first.installed)} {fix}{score}"
    if not ranked:
        return text
    risk = risk_text(group.kev, group.epss)
    return f"*{group.severity}* {text}" + (f"\n{risk}" if risk else "")


def risk_text(kev: dict | None, epss: dict | None) -> str:
    """``🔥 KEV since 2025-05-07 (ransomware) · EPSS 93.1%, 99.8th percentile``; empty when neither knows it."""
    parts = []
    if kev:
        parts.append(f"🔥 KEV since {kev['date_added']}" + (" (ransomware)" if kev["ransomware"] else ""))
    if epss:
        parts.append(f"EPSS {epss['score'] * 100:.1f}%, {epss['percentile'] * 100:.1f}th percentile")
    return " · ".join(parts)


def row_text(row: Row) -> str:
    return with_decision(base_text(row.group, ranked=row.ranked), row.decision, row.state)


def with_decision(base: str, decision: Decision | None, state: TriageState) -> str:
    decided = decision_note(decision, state)
    return f"{base}\n{decided}" if decided else base


def decision_note(decision: Decision | None, state: TriageState) -> str:
    """``✔ accepted by @ana until 2027-03-01: only used in the build stage``; a team- or base-wide decision says
    so (``✔ accepted by @ana for every image of team data until …``); empty for an open finding."""
    if decision is None or decision.state is TriageState.OPEN:
        return ""
    who = user(decision.by) + _wide(decision)
    reason = f": {escape(truncate(decision.reason, 120))}" if decision.reason else ""
    if decision.state is TriageState.ACCEPTED:
        until = "until a fix exists" if decision.until_fixed else f"until {decision.until}"
        ended = " (ended: open again)" if state is TriageState.OPEN else ""
        return f"✔ accepted by {who} {until}{reason}{ended}"
    if decision.state is TriageState.FALSE_POSITIVE:
        why = decision.justification.value.replace("_", " ") if decision.justification else ""
        return f"✔ false positive ({why}) by {who}{reason}"
    if decision.state is TriageState.ASSIGNED:
        return f"→ assigned to {user(decision.assignee or '')} by {who}{reason}"
    return f"👀 acknowledged by {who}{reason}"


def _wide(decision: Decision) -> str:
    """`` for every image of team data`` when the decision is team- or base-wide (a base's name is a label's or a
    Dockerfile's: escaped)."""
    return f" for {escape(decision.scope_target)}" if decision.scope in (Scope.TEAM, Scope.BASE) else ""


def menu(key: str | None, severity: str, decision: Decision | None) -> dict | None:
    """The overflow menu of a critical or high row; None for other rows or without a key."""
    if key is None or severity not in TRIAGED_SEVERITIES:
        return None
    verbs = [Verb.ACKNOWLEDGE, Verb.ASSIGN, Verb.ACCEPT, Verb.FALSE_POSITIVE]
    if decision is not None and decision.state is not TriageState.OPEN:
        verbs = [v for v in verbs if not _is_current(v, decision.state)] + [Verb.REOPEN]
    return {
        "type": "overflow",
        "action_id": TRIAGE_ACTION,
        "options": [{"text": {"type": "plain_text", "text": Verb.LABELS[v]}, "value": f"{v}|{key}"} for v in verbs],
    }


def row_block(row: Row) -> dict:
    return decided_block(base_text(row.group, ranked=row.ranked), row.key, row.group.severity, row.decision, row.state)


def decided_block(base: str, key: str | None, severity: str, decision: Decision | None, state: TriageState) -> dict:
    """A row's block: its text with the decision, and the menu; rebuilt in place after every decision."""
    block = section(with_decision(base, decision, state))
    if key:
        block["block_id"] = f"row:{key}"
    accessory = menu(key, severity, decision)
    if accessory:
        block["accessory"] = accessory
    return block


def findings_blocks(
    report: ScanReport, rows: list[Row], *, top: int, file_attached: bool = True, filtered: str = ""
) -> tuple[Message, bool]:
    """The findings message and whether the rest needs the attached file (``filtered``: the risk filters asked
    for, in words, for the message saying none matched)."""
    reference = report.image.reference
    note = feeds_note(report)
    if not rows:
        text = (
            f"No {filtered}findings in {reference}." + (f" {note}" if note else "")
            if report.image.os
            else f"Trivy found no OS packages in {reference}, so there is nothing to report."
        )
        return Message(text=text, blocks=[section(escape(text))]), False
    worse = [r for r in rows if r.group.severity in LISTED_WHILE_WORSE or r.group.kev]
    listed = (worse or rows)[: min(top, MAX_ROWS)]
    blocks, used, shown = [], 400, []
    heading = None
    for row in listed:
        if heading_of(row) != heading:
            heading = heading_of(row)
            count = sum(len(r.group.findings) for r in (worse or rows) if heading_of(r) == heading)
            blocks.append(section(f"*{heading}* ({count})"))
        block = row_block(row)
        size = len(block["text"]["text"]) + 300 * ("accessory" in block)
        if used + size > MAX_TOTAL_CHARS - 600 or len(blocks) >= MAX_BLOCKS - 2:
            break
        blocks.append(block)
        used += size
        shown.append(row)
    unlisted = [r for r in rows if r not in shown and r not in worse and worse]
    total_groups = len(rows)
    overflow = len(shown) < total_groups
    header = f"*Worst findings*: showing {len(shown)} of {total_groups}"
    if overflow and file_attached:
        header += "; all in the attached file"
    if unlisted:
        lows = sum(len(r.group.findings) for r in unlisted)
        header += f". {lows} low or unrated finding{'s' if lows != 1 else ''} not listed"
    if note:
        header += f"\n_{escape(note)}_"
    message = _fit(Message(text=f"{total_groups} findings in {reference}", blocks=[section(header), *blocks]))
    return message, overflow or message.truncated


KNOWN_EXPLOITED = "Known exploited (CISA KEV)"
LIKELY_EXPLOITED = "Most likely to be exploited next (EPSS)"


def heading_of(row: Row) -> str:
    """Rows are headed by severity; ranked by KEV and EPSS, by what they rank on."""
    if not row.ranked:
        return row.group.severity.capitalize()
    return KNOWN_EXPLOITED if row.group.kev else LIKELY_EXPLOITED


def _is_current(verb: str, state: TriageState) -> bool:
    return (verb, state) in {
        (Verb.ACKNOWLEDGE, TriageState.ACKNOWLEDGED),
        (Verb.ACCEPT, TriageState.ACCEPTED),
        (Verb.FALSE_POSITIVE, TriageState.FALSE_POSITIVE),
    }
