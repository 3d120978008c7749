"""The weekly digest message and its Markdown file. Pure: a Digest in, a Message (or text) out.

The message: a head line, one line per watched image (open and decided apart, what changed and why), the findings
that matter most with their age, those past the SLA, triage that needs attention. It stays within Slack's limits
(blocks.py ``_fit``); when something is cut, the message says the full digest is in its thread as a file.
"""

from __future__ import annotations

from datetime import datetime

from bot.render.blocks import MAX_SECTION_TEXT, Message, _chunks, _fit, context, escape, section, severity_emoji
from workers.digests.contents import ChangeReason, Digest, ImageEntry
from workers.digests.priorities import Attention, Priority
from workers.triage.model import Decision

SHOWN_PRIORITIES = 10  # findings listed under "Matters most" in the message (the file has all of them)
SHOWN_PAST_SLA = 5
CUT_NOTE = "…the rest did not fit in one Slack message: the full digest is in the thread as a file."
STATE_WORDS = {
    "accepted": "accepted the risk of",
    "false_positive": "marked as false positive",
    "acknowledged": "acknowledged",
    "assigned": "assigned",
    "open": "reopened",
    "resolved": "saw fixed",
}


def digest_message(channel: str, period: str, moment: datetime, digest: Digest, *, late: bool) -> Message:
    blocks = [section(_head(channel, period, moment, late))]
    entries = digest.entries
    lines = [image_line(e) for e in entries] or ["Nothing is watched here: `/scan watch IMAGE` adds one."]
    if entries and not digest.changed:
        lines.insert(0, f"No change in {len(entries)} watched image{'s' if len(entries) != 1 else ''} since last week.")
    blocks += [section("\n".join(chunk)) for chunk in _chunks(lines, MAX_SECTION_TEXT)]
    if digest.top:
        shown = digest.top[:SHOWN_PRIORITIES]
        more = len(digest.top) - len(shown)
        text = "*Matters most* (critical first, then fixable, then oldest)\n" + "\n".join(map(priority_line, shown))
        blocks.append(section(text + (f"\n…and {more} more in the preview." if more > 0 else "")))
    if digest.past_sla:
        blocks.append(section(past_sla_text(digest)))
    if digest.attention:
        blocks.append(section(attention_text(digest.attention)))
    if digest.weeks:
        blocks.append(context("Critical and high per image over the past weeks: the chart is in the thread."))
    return _fit(Message(text=_fallback(period, digest), blocks=blocks), CUT_NOTE)


def _head(channel: str, period: str, moment: datetime, late: bool) -> str:
    when = moment.strftime("%a %d %b, %H:%M") + f" {moment.tzinfo}"
    head = f"*Weekly images*: <#{channel}>, week {period.split('-W')[1].lstrip('0')} ({when})"
    return head + (" · sent late: the bot was down at the scheduled time" if late else "")


def _fallback(period: str, digest: Digest) -> str:
    text = f"Weekly images, week {period}: " + (
        f"{sum(len(e.new) for e in digest.entries)} new findings." if digest.changed else "no change."
    )
    if digest.past_sla:
        text += f" {len(digest.past_sla)} past the SLA."
    return text


def image_line(e: ImageEntry) -> str:
    name = escape(e.reference.removeprefix("docker.io/library/"))
    if e.error:
        return f"⚠️ *{name}* could not be scanned: {escape(e.error)}"
    counts, opened = e.counts or {}, e.open_counts or e.counts or {}
    line = (
        f"{severity_emoji(opened)} *{name}*  {opened.get('critical', 0)} critical · {opened.get('high', 0)} high open"
    )
    decided = counts.get("critical", 0) + counts.get("high", 0) - opened.get("critical", 0) - opened.get("high", 0)
    if decided:
        line += f" ({decided} decided)"
    if e.known_exploited:
        line += f" · 🔥 {len(e.known_exploited)} known exploited"
    if e.reason is ChangeReason.BASELINE:
        line += "  · first digest: baseline set"
    elif e.new or e.fixed:
        line += f"  · +{len(e.new)} new ({e.reason.value}) · −{len(e.fixed)} fixed"
    else:
        line += "  · no change"
    if e.alternative and e.alternative_counts is not None:
        fewer_c = counts.get("critical", 0) - e.alternative_counts.get("critical", 0)
        fewer_h = counts.get("high", 0) - e.alternative_counts.get("high", 0)
        if fewer_c > 0 or fewer_h > 0:
            line += f"  → {escape(e.alternative.rsplit('/', 1)[-1])} removes {max(fewer_c, 0)} C, {max(fewer_h, 0)} H"
    return line


def priority_line(p: Priority) -> str:
    mark = "🔴" if p.severity == "critical" else "🟠"
    fix = f"{escape(p.installed)} → {escape(p.fixed)}" if p.fixed else f"{escape(p.installed)}, no fix yet"
    age = f"first seen {p.age_days} day{'s' if p.age_days != 1 else ''} ago" if p.age_days else "new this week"
    late = " · *past SLA*" if p.past_sla else ""
    state = f" · {p.state}" if p.state != "open" else ""
    exploited = " · 🔥 known exploited" if p.known_exploited else ""
    return (
        f"{mark} {escape(p.id)} {escape(p.package)} {fix} (`{escape(_short(p.image))}`) · {age}{late}{state}{exploited}"
    )


def past_sla_text(digest: Digest) -> str:
    """How many open findings are past the SLA; those not listed above already, a few of them."""
    count, sla = len(digest.past_sla), digest.sla
    head = (
        f"*Past the SLA* (critical {sla.critical} days, high {sla.high}): "
        f"{count} open finding{'s' if count != 1 else ''}"
    )
    listed = set(digest.top[:SHOWN_PRIORITIES])
    rest = [p for p in digest.past_sla if p not in listed][:SHOWN_PAST_SLA]
    if not rest:
        return head + ", all listed above."
    return head + "\n" + "\n".join(map(priority_line, rest))


def attention_text(attention: Attention) -> str:
    lines = ["*Needs attention*"]
    lines += [
        f"⏳ <@{d.by}>'s acceptance of {escape(d.vulnerability)} in {escape(d.package)} "
        f"(`{escape(_short(d.repository))}`) ends on {d.until}"
        for d in attention.expiring
    ]
    lines += [decision_line(d) for d in attention.decided]
    return "\n".join(lines)


def decision_line(d: Decision) -> str:
    words = STATE_WORDS.get(d.state.value, d.state.value)
    who = "chainscan" if d.by == "chainscan" else f"<@{d.by}>"
    return f"✍️ {who} {words} {escape(d.vulnerability)} in {escape(d.package)} (`{escape(_short(d.repository))}`) on {d.at[:10]}"


def _short(reference: str) -> str:
    return reference.removeprefix("docker.io/library/")


def digest_markdown(channel: str, period: str, moment: datetime, digest: Digest) -> str:
    """The whole digest as Markdown: every image, every priority, everything past the SLA, all triage news."""
    out = [
        f"# Weekly images, week {period}",
        "",
        f"Channel {channel}, {moment:%a %d %b %Y, %H:%M} {moment.tzinfo}.",
        "",
    ]
    out += [
        "## Images",
        "",
        "| image | critical open | high open | decided | change | note |",
        "|---|---|---|---|---|---|",
    ]
    for e in digest.entries:
        if e.error:
            out.append(f"| {_md(_short(e.reference))} | | | | | could not be scanned: {_md(e.error)} |")
            continue
        opened, decided = e.open_counts or e.counts or {}, e.decided_counts or {}
        change = e.reason.value if not (e.new or e.fixed) else f"+{len(e.new)} / −{len(e.fixed)} ({e.reason.value})"
        out.append(
            f"| {_md(_short(e.reference))} | {opened.get('critical', 0)} | {opened.get('high', 0)} | "
            f"{decided.get('critical', 0) + decided.get('high', 0)} | {_md(change)} | "
            + ", ".join(f"new {i} {p}" for i, p, _ in e.new[:20])
            + " |"
        )
    for title, items in (("Matters most", digest.top), ("Past the SLA", digest.past_sla)):
        if items:
            out += [
                "",
                f"## {title}",
                "",
                "| severity | vulnerability | package | installed | fixed | image | age (days) |",
            ]
            out.append("|---|---|---|---|---|---|---|")
            out += [
                f"| {p.severity} | {p.id} | {_md(p.package)} | {_md(p.installed)} | {_md(p.fixed or '')} | "
                f"{_md(_short(p.image))} | {p.age_days}{' (past SLA)' if p.past_sla else ''} |"
                for p in items
            ]
    if digest.attention:
        out += ["", "## Needs attention", ""]
        out += [
            f"- acceptance of {d.vulnerability} in {d.package} ({_short(d.repository)}) by {d.by} ends on {d.until}"
            for d in digest.attention.expiring
        ]
        out += [
            f"- {d.by} {STATE_WORDS.get(d.state.value, d.state.value)} {d.vulnerability} in {d.package} "
            f"({_short(d.repository)}) on {d.at[:10]}"
            for d in digest.attention.decided
        ]
    return "\n".join(out) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def alert_text(reference: str, finding, link: str | None) -> str:
    """The alert for one new serious finding in a watched image: what, where, the fix, and where to look."""
    name = escape(reference.removeprefix("docker.io/library/"))
    fixed = f", fixed in {escape(finding.fixed)}" if finding.fixed else ", no fix yet"
    where = f"<{link}|Its latest thread>." if link else f"`/scan {name}` for the full thread."
    return (
        f"New {finding.severity} in watched `{name}`: {escape(finding.id)} in {escape(finding.package)} "
        f"{escape(finding.installed)}{fixed}. {where}"
    )
