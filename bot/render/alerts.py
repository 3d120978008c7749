"""Grouped alert messages: one per vulnerability and channel and day, and the day's summary past the daily limit.
Pure: groups in, :class:`~bot.render.blocks.Message` and Markdown out; every stranger's word is escaped."""

from __future__ import annotations

from bot.render.blocks import Message, context, section
from bot.render.findings import decided_block
from bot.render.slack_text import Mrkdwn, escape, group, link, mrkdwn
from workers.alerts.grouping import AlertGroup
from workers.triage.model import TriageState

ROWS = 10  # images listed with their own menu; the rest are named in a line
EMOJI = {"critical": "🔴", "high": "🟠", "medium": "🟡", "low": "⚪", "unknown": "⚪"}


def short(reference: str) -> str:
    return reference.removeprefix("docker.io/library/").removeprefix("docker.io/")


def headline(alert: AlertGroup, earlier: int = 0) -> str:
    """``New critical CVE-2099-1 in 31 of 37 watched images: 29 are fixed by rebuilding on …``, plain words."""
    kev = " (known exploited)" if alert.kev else ""
    count = len(alert.references) + earlier
    return (
        f"New {alert.severity} {alert.vulnerability}{kev} in {count} of {alert.watched} watched "
        f"image{'' if alert.watched == 1 else 's'}: {alert.fix_sentence()}."
    )


def group_message(
    alert: AlertGroup,
    keys: dict[str, str],
    all_key: str | None,
    links: dict[str, str],
    *,
    mention: str | None = None,
    earlier: tuple[str, ...] = (),
) -> tuple[Message, dict[str, tuple[str, str]]]:
    """The alert of one vulnerability: the headline, a row per image (its menu acts on that image), and a row
    whose menu acts on all of them; ``earlier``: images this message named before today (an update adds, never
    drops). Returns the message and its rows (action key → base text, severity)."""
    first = alert.affected[0].finding
    title = link(first.url, alert.vulnerability) if first.url else mrkdwn("`{v}`", v=alert.vulnerability)
    head = Mrkdwn(f"{EMOJI.get(alert.severity, '')} ") + mrkdwn("*New {severity}* ", severity=alert.severity) + title
    head += mrkdwn(
        "{kev} in *{n} of {watched}* images this channel watches: {fixes}.",
        kev=" · known exploited" if alert.kev else "",
        n=len(alert.references) + len(earlier),
        watched=alert.watched,
        fixes=alert.fix_sentence(),
    )
    if mention:
        head += Mrkdwn(f" {group(mention)}")
    blocks, rows = [section(head)], {}
    for reference in alert.references[:ROWS]:
        base = _image_row(alert, reference, links.get(reference))
        key = keys.get(reference)
        blocks.append(decided_block(base, key, alert.severity, None, TriageState.OPEN))
        if key:
            rows[key] = (base, alert.severity)
    rest = alert.references[ROWS:]
    if rest:
        names = ", ".join(escape(short(r)) for r in rest)
        blocks.append(context(f"And {len(rest)} more: {names}"[:2900]))
    if earlier:
        blocks.append(context(f"Told earlier today: {', '.join(escape(short(r)) for r in earlier)}"[:2900]))
    if all_key and len(alert.references) > 1:
        base = mrkdwn("*All {n} images* with {v}", n=len(alert.references), v=alert.vulnerability)
        blocks.append(decided_block(base, all_key, alert.severity, None, TriageState.OPEN))
        rows[all_key] = (base, alert.severity)
    return Message(text=headline(alert, len(earlier)), blocks=blocks), rows


def _image_row(alert: AlertGroup, reference: str, thread: str | None) -> Mrkdwn:
    items = [a for a in alert.affected if a.reference == reference]
    packages = ", ".join(
        f"{escape(a.finding.package)} {escape(a.finding.installed)}"
        + (f" → {escape(a.finding.fixed)}" if a.finding.fixed else "")
        for a in items
    )
    row = mrkdwn("`{image}` · ", image=short(reference)) + Mrkdwn(packages)
    if thread:
        row += Mrkdwn(" · ") + link(thread, "latest thread")
    return row


def summary_message(groups: list[AlertGroup], limit: int, day: str) -> Message:
    """The day's one summary: every vulnerability past the limit, by how many images it is in."""
    images = len({r for g in groups for r in g.references})
    lines = [
        mrkdwn(
            "*{n} more new vulnerabilit{ies}* in {images} watched image{s} today ({day}), past this channel's "
            "{limit} alert messages a day (ALERT_DAILY_LIMIT). Every finding is in the file in this thread.",
            n=len(groups),
            ies="y" if len(groups) == 1 else "ies",
            images=images,
            s="" if images == 1 else "s",
            day=day,
            limit=limit,
        )
    ]
    for alert in groups[:40]:
        lines.append(
            mrkdwn(
                "{emoji} `{v}` ({severity}) in {n} image{s}: {fixes}",
                emoji=EMOJI.get(alert.severity, ""),
                v=alert.vulnerability,
                severity=alert.severity,
                n=len(alert.references),
                s="" if len(alert.references) == 1 else "s",
                fixes=alert.fix_sentence(),
            )
        )
    if len(groups) > 40:
        lines.append(Mrkdwn(f"…and {len(groups) - 40} more in the file."))
    text = f"{len(groups)} more new vulnerabilities in watched images today, past the daily alert limit."
    return Message(text=text, blocks=[section("\n".join(lines))])


def summary_markdown(groups: list[AlertGroup], day: str) -> str:
    """The file of the summary: every finding of every summarised group, one line each."""
    lines = [f"# New vulnerabilities past the daily alert limit, {day}", ""]
    for alert in groups:
        lines.append(f"## {alert.vulnerability} ({alert.severity}) in {len(alert.references)} images")
        lines.append(f"{alert.fix_sentence()}.")
        lines.append("")
        for item in alert.affected:
            f = item.finding
            lines.append(f"- {short(item.reference)}: {f.package} {f.installed} → {f.fixed or 'no fix yet'}")
        lines.append("")
    return "\n".join(lines)
