"""Block Kit messages for the scan thread. Pure: reports in, ``Message`` out.

Slack's limits are enforced here, not hoped for: at most 50 blocks a message,
3,000 characters a section text, 10 fields a section, and a total kept well under
the ~13k characters Slack accepts. What does not fit is left to the attached
file, and the message says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.render.slack_text import escape  # noqa: F401  (the renderers import it from here)
from workers.feeds.risk import feeds_note, known_exploited, ranking_available
from workers.report import Finding, ScanReport, at_or_above
from workers.scan.layers import inconsistency_note

from .format import (
    age,
    counts_line,
    day,
    human_size,
    layer_label,
    short_counts,
    short_digest,
    truncate,
)

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_FIELDS = 10
MAX_TOTAL_CHARS = 11000  # Slack refuses around 13k; leave room for JSON overhead
CUT_NOTE = "…the rest did not fit in one Slack message; the attached report has everything."


@dataclass
class Message:
    text: str  # the notification / screen-reader fallback: the verdict in one line, plain words
    blocks: list[dict] = field(default_factory=list)
    truncated: bool = False  # something was left out to fit: the full report file must be attached

    def __post_init__(self) -> None:
        # Slack parses the fallback as mrkdwn: written as plain words, it is escaped here, once, for every message
        self.text = escape(self.text)

    def size(self) -> int:
        return len(self.text) + sum(_block_chars(b) for b in self.blocks)


def severity_emoji(counts: dict[str, int]) -> str:
    if counts.get("critical"):
        return "🔴"
    if counts.get("high"):
        return "🟠"
    if counts.get("medium"):
        return "🟡"
    return "🟢"


def section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, MAX_SECTION_TEXT)}}


def context(text: str) -> dict:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": truncate(text, MAX_SECTION_TEXT)}]}


def count_summary(report: ScanReport) -> str:
    fixable = sum(report.fixable.values())
    return f"{counts_line(report.counts)}  ({fixable} fixable)"


def image_line(report: ScanReport) -> str:
    return f"{severity_emoji(report.counts)} *{escape(report.image.reference)}* — {count_summary(report)}"


def facts_line(report: ScanReport) -> str:
    image = report.image
    layers = len(report.layers)
    return (
        f"{human_size(image.size_bytes)}, {age(image.created)}, {layers} layer{'s' if layers != 1 else ''}"
        f" · {escape(image.os or 'OS not recognised')} · `{short_digest(image.digest)}`"
    )


def progress_message(reference: str, state: str) -> Message:
    """The parent message while work is running ("queued", "scanning 1 of 2 images…")."""
    text = f"{reference}: {state}"  # read aloud and in notifications: no emoji first
    return Message(text=text, blocks=[section(f"⏳ *{escape(reference)}* — {escape(state)}")])


def summary_card(
    report: ScanReport, *, extra_lines: list[str] | None = None, notes: list[str] | None = None
) -> Message:
    """The parent message once the scan is done: the verdict in the first two lines."""
    lines = [image_line(report), *(extra_lines or [])]
    lines.append(
        f"{facts_line(report)} · DB of {day(report.db.updated_at)}" + (" · cached result" if report.cached else "")
    )
    blocks = [section("\n".join(lines))]
    if notes:
        blocks.append(context("\n".join(f"Note: {escape(n)}" for n in notes)))
    text = f"{report.image.reference}: {counts_line(report.counts)} ({sum(report.fixable.values())} fixable)"
    return Message(text=text, blocks=blocks)


def layers_message(report: ScanReport) -> Message:
    """Where the findings come from, one line per layer, like ``docker scout quickview``: what the layer is,
    its size, its counts with zeros."""
    if not report.layers:
        return Message(
            text="No layer information.", blocks=[section("No layer information was available for this image.")]
        )
    lines = [
        f"`{layer.index:>2}` {escape(layer_label(layer.created_by))} · {human_size(layer.size_bytes)} · "
        f"{short_counts(layer.counts)}"
        for layer in report.layers
    ]
    count = len(report.layers)
    blocks = [section("*Where the findings come from*")] + [
        section("\n".join(chunk)) for chunk in _chunks(lines, MAX_SECTION_TEXT)
    ]
    if report.base:
        about = [base_line(report.base, report.total) + ".", refresh_line(report.base)]
        blocks.append(context(escape(" ".join(part for part in about if part))))
    text = f"{count} layer{'s' if count != 1 else ''} in {report.image.reference}"
    return _fit(Message(text=text, blocks=blocks))


def finding_line(finding: Finding) -> str:
    link = finding.url or (f"https://nvd.nist.gov/vuln/detail/{finding.id}" if finding.id.startswith("CVE-") else None)
    ident = f"<{link}|{escape(finding.id)}>" if link else escape(finding.id)
    fix = f"→ {escape(finding.fixed)}" if finding.fixed else f"(no fix: {escape(finding.status)})"
    cvss = f"CVSS {finding.cvss_score:.1f}" if finding.cvss_score is not None else "CVSS n/a"
    title = escape(truncate(finding.title, 90)) if finding.title else ""
    return f"{ident}  *{finding.severity.upper()}*  `{escape(finding.package)}` {escape(finding.installed)} {fix}  {cvss}  {title}".rstrip()


def selected_findings(report: ScanReport, *, severity: str = "unknown", only_fixed: bool = False) -> list[Finding]:
    wanted = at_or_above(severity)
    return [f for f in report.vulnerabilities if f.severity in wanted and (f.fixable or not only_fixed)]


def findings_message(
    report: ScanReport,
    *,
    severity: str = "unknown",
    only_fixed: bool = False,
    top: int = 20,
    file_attached: bool = True,
) -> tuple[Message, bool]:
    """The worst findings first; returns the message and whether the rest needs the attached file."""
    selected = selected_findings(report, severity=severity, only_fixed=only_fixed)
    scope = _scope(severity, only_fixed)
    if not selected:
        text = (
            f"No {scope}findings in {report.image.reference}."
            if report.image.os
            else (f"Trivy found no OS packages in {report.image.reference}, so there is nothing to report.")
        )
        return Message(text=text, blocks=[section(escape(text))]), False
    header_budget = 400
    lines, used = [], header_budget
    for finding in selected[:top]:
        line = finding_line(finding)
        if used + len(line) + 1 > MAX_TOTAL_CHARS - 500:
            break
        lines.append(line)
        used += len(line) + 1
    overflow = len(lines) < len(selected) or len(selected) < report.total
    header = f"*Worst {scope}findings* — showing {len(lines)} of {len(selected)}"
    if overflow and file_attached:
        header += f" ({report.total} in all); the full list is attached"
    blocks = [section(header)] + [section("\n".join(chunk)) for chunk in _chunks(lines, MAX_SECTION_TEXT)]
    text = f"{len(selected)} {scope}findings in {report.image.reference}"
    message = _fit(Message(text=text, blocks=blocks))
    return message, overflow or message.truncated


def error_message(reference: str, sentence: str) -> Message:
    return Message(
        text=f"⚠️ {escape(reference)}: {escape(sentence)}",
        blocks=[section(f"⚠️ *{escape(reference)}* — {escape(sentence)}")],
    )


def _scope(severity: str, only_fixed: bool) -> str:
    parts = []
    if severity != "unknown":
        parts.append(f"{severity}-or-worse")
    if only_fixed:
        parts.append("fixable")
    return " ".join(parts) + " " if parts else ""


def _chunks(lines: list[str], limit: int) -> list[list[str]]:
    """Group lines into chunks whose joined text stays under ``limit``."""
    chunks: list[list[str]] = [[]]
    size = 0
    for line in lines:
        line = truncate(line, limit)
        if chunks[-1] and size + len(line) + 1 > limit:
            chunks.append([])
            size = 0
        chunks[-1].append(line)
        size += len(line) + 1
    return [c for c in chunks if c]


def _fit(message: Message, cut_note: str = CUT_NOTE, tail: list[dict] | None = None) -> Message:
    """Keep a message within Slack's limits; whatever is dropped is announced in the message itself. ``tail``:
    blocks that always end the message, after the cut note when something was cut (the digest's health line)."""
    tail = tail or []
    room = sum(_block_chars(b) for b in tail)
    if len(message.blocks) + len(tail) <= MAX_BLOCKS and message.size() + room <= MAX_TOTAL_CHARS:
        message.blocks += tail
        return message
    note = context(cut_note)
    message.blocks = message.blocks[: MAX_BLOCKS - 1 - len(tail)]
    while len(message.blocks) > 1 and message.size() + len(cut_note) + room > MAX_TOTAL_CHARS:
        message.blocks.pop()
    message.blocks += [note, *tail]
    message.truncated = True
    return message


def _block_chars(block: dict) -> int:
    total = 0
    if "text" in block:
        total += len(block["text"].get("text", ""))
    for element in block.get("elements", []) + block.get("fields", []):
        total += (
            len(element.get("text", "")) if isinstance(element.get("text"), str) else len(str(element.get("text", "")))
        )
    return total


RESCAN_ACTION = "rescan"


def rescan_button(reference: str) -> dict:
    """The card's one action: scan the same reference again, ignoring the cache (a new thread)."""
    return {
        "type": "actions",
        "block_id": "card_actions",
        "elements": [
            {
                "type": "button",
                "action_id": RESCAN_ACTION,
                "text": {"type": "plain_text", "text": "Rescan"},
                "value": reference[:2000],
            },
        ],
    }


SHOW_FINDINGS_ACTION = "show_findings"
WATCH_ACTION = "watch_weekly"
CARD_LINE = 80  # a card line longer than this wraps on a 390-px phone


def pair_card(result, applied=None, *, findings_link: str | None = None, now=None) -> Message:
    """The summary card: the image and its open critical/high, the verdict with the next step, counts with zeros
    and decisions, then facts and caveats. ``applied``: the team's decisions on the report (or None)."""
    report, alt = result.report, result.alternative_report
    mapping = result.mapping
    open_counts = applied.open_counts if applied else report.counts
    name = _short_reference(report.image.reference)
    lines = [
        f"{severity_emoji(open_counts)} *{escape(name)}*: {_open_phrase(open_counts)}{_exploited_phrase(report)}",
        escape(card_verdict(result, open_counts)),
        decided_counts_line(report.counts, applied) + f" ({sum(report.fixable.values())} fixable)",
    ]
    if alt is not None:
        lines.append(
            f"{severity_emoji(alt.counts)} {escape(_short_reference(alt.image.reference))}: {decided_counts_line(alt.counts)}"
        )
    if report.inconsistent_layers:
        lines.append(":warning: " + escape(inconsistency_note(report.inconsistent_layers)))
    if report.base:
        lines.append(escape(base_line(report.base, report.total)))
    facts = _facts_short(report, now) + (f"  vs  {_facts_short(alt, now)}" if alt else "")
    facts += f" · DB of {day(report.db.updated_at)}" + (" · cached" if report.cached else "")
    notes = ([mapping.tag_advice] if mapping and mapping.tag_advice else []) + (
        list(mapping.notes[:3]) if mapping else []
    )
    stale = feeds_note(report) if ranking_available(report) else None
    if stale:
        notes.append(stale)
    if alt is None and result.reason and mapping is not None and not mapping.reference:
        notes = [f"Chainguard alternative: {result.reason}.", *notes]
    elif alt is None and result.reason and mapping is not None:
        notes = [f"Chainguard alternative: {result.reason}", *notes]
    blocks = [section("\n".join(lines)), context(escape(facts))]
    if notes:
        blocks.append(context("\n".join(f"Note: {escape(n)}" for n in notes)))
    blocks.append(card_buttons(report.image.reference, findings_link))
    return Message(text=card_text(result, open_counts), blocks=blocks)


def card_verdict(result, open_counts: dict[str, int]) -> str:
    """The verdict in plain words with the next step, short enough for one phone line. Pure.
    (The thread's comparison message gives the long form, naming the worst package left.)"""
    report, alt = result.report, result.alternative_report
    total, fixable = sum(report.counts.values()), sum(report.fixable.values())
    if not total:
        return "No known vulnerabilities: nothing to do."
    if alt is not None:
        fewer = {name: report.counts[name] - alt.counts[name] for name in ("critical", "high")}
        removed = _and([f"{n} {name}" for name, n in fewer.items() if n > 0])
        left = _and([f"{alt.counts[name]} {name}" for name in ("critical", "high") if alt.counts[name]])
        head = f"Switching removes {removed}" if removed else "Switching removes no critical or high"
        return f"{head}; {left} remain." if left else f"{head}; none remain."
    if not sum(open_counts.values()):
        return "The team has decided on every finding: nothing open."
    if fixable:
        return f"No Chainguard image; {fixable} of {total} have a fix: rebuild on a fresh base."
    return f"No Chainguard image, and no fix yet for any of the {total} findings."


def _and(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else " and ".join([", ".join(parts[:-1]), parts[-1]]) if parts else ""


def card_text(result, open_counts: dict[str, int]) -> str:
    """The notification and screen-reader line: the verdict, readable aloud (commas, words, no emoji first)."""
    name = _short_reference(result.report.image.reference)
    exploited = _exploited_phrase(result.report).replace(" · ", ", ")
    return f"{name}: {_open_phrase(open_counts)}{exploited}. {card_verdict(result, open_counts)}"


def _exploited_phrase(report: ScanReport) -> str:
    """`` · 1 known exploited`` when CISA's KEV lists any of the findings; empty otherwise."""
    count = known_exploited(report.vulnerabilities)
    return f" · {count} known exploited" if count else ""


def base_line(base: dict, total: int) -> str:
    """``base: debian:12 (layer 1) brings 20 of 27 findings``: where the base image ends and what it carries."""
    layers = base.get("layers") or 0
    where = "layer 1" if layers == 1 else f"layers 1-{layers}"
    if not base.get("layers"):
        return f"base: {truncate(_short_reference(base['name']), 28)} (its layers were not found in the image)"
    brought = sum((base.get("counts") or {}).values())
    return f"base: {truncate(_short_reference(base['name']), 28)} ({where}) brings {brought} of {total} findings"


def refresh_line(base: dict | None) -> str | None:
    """``Rebuilding on the current debian:12 removes 3 of them (1 high, 2 medium).`` when the base is outdated."""
    refresh = (base or {}).get("refresh")
    if not refresh:
        return None
    name = _short_reference(base["name"])
    if not refresh["removes"]:
        return f"The base is older than the current {name}, but rebuilding on it removes none of them."
    return (
        f"Rebuilding on the current {name} removes {refresh['removes']} of them ({counts_phrase(refresh['counts'])})."
    )


def counts_phrase(counts: dict[str, int]) -> str:
    """``1 high, 2 medium``: the severities that have any."""
    return ", ".join(f"{n} {name}" for name, n in counts.items() if n)


def decided_counts_line(counts: dict[str, int], applied=None) -> str:
    """``2 critical (1 accepted) · 28 high (3 acknowledged, 1 false positive) · 9 medium · 10 low``. Pure."""
    parts = []
    for severity in ("critical", "high", "medium", "low"):
        decided = []
        if applied is not None:
            for state, number in (applied.by_state.get(severity) or {}).items():
                if number and state.value != "open":
                    decided.append(f"{number} {state.value.replace('_', ' ')}")
        parts.append(f"{counts.get(severity, 0)} {severity}" + (f" ({', '.join(decided)})" if decided else ""))
    return " · ".join(parts)


def card_buttons(reference: str, findings_link: str | None) -> dict:
    buttons = []
    if findings_link:
        buttons.append(
            {
                "type": "button",
                "action_id": SHOW_FINDINGS_ACTION,
                "text": {"type": "plain_text", "text": "Show findings"},
                "url": findings_link,
            }
        )
    block = rescan_button(reference)
    watch = {
        "type": "button",
        "action_id": WATCH_ACTION,
        "text": {"type": "plain_text", "text": "Watch weekly"},
        "value": reference[:2000],
    }
    block["elements"] = buttons + block["elements"] + [watch]
    return block


def _open_phrase(counts: dict[str, int]) -> str:
    critical, high = counts.get("critical", 0), counts.get("high", 0)
    return f"{critical} critical, {high} high open"


def _short_reference(reference: str) -> str:
    """The name people type (``mariadb:latest``, ``ghcr.io/org/app:1``), cut to fit a phone's line."""
    for prefix in ("docker.io/library/", "docker.io/"):
        if reference.startswith(prefix):
            reference = reference[len(prefix) :]
            break
    return truncate(reference, 48)


COMPARISON_LIST = 15  # findings listed per group; more go to the attached file


def comparison_message(result, limit: int = COMPARISON_LIST) -> Message | None:
    """What switching removes, what stays and what it adds, by (vulnerability, package)."""
    c = result.comparison
    if c is None:
        return None
    alt = result.alternative_report.image.reference

    def listing(findings) -> str:
        shown = [
            f"• {escape(f.id)} `{escape(f.package)}` {f.severity}" + (f" → {escape(f.fixed)}" if f.fixed else "")
            for f in findings[:limit]
        ]
        more = len(findings) - limit
        return (
            "\n".join(shown) + (f"\n…and {more} more (in the attached file)" if more > 0 else "")
            if shown
            else "nothing"
        )

    refresh = refresh_line(result.report.base)
    blocks = [
        section(
            f"*Switching to {escape(alt)}*\n{escape(c.verdict)}" + (f"\nInstead: {escape(refresh)}" if refresh else "")
        ),
        section(f"*Removed* ({counts_line(c.removed_counts)})\n{listing(c.removed)}"),
        section(f"*Still there* ({counts_line(c.kept_counts)})\n{listing(c.kept)}"),
        section(f"*New in the alternative* ({counts_line(c.added_counts)})\n{listing(c.added)}"),
    ]
    return _fit(Message(text=f"Switching to {alt}: {c.verdict}", blocks=blocks))


def _facts_short(report: ScanReport, now=None) -> str:
    layers = len(report.layers)
    built = age(report.image.created, now)
    return f"{human_size(report.image.size_bytes)}, {built}, {layers} layer{'s' if layers != 1 else ''}"
