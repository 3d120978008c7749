"""The weekly digest message and its Markdown file. Pure: a Digest in, a Message (or text) out.

The message: a head line, one line per watched image (open and decided apart, what changed and why), the findings
that matter most with their age (one line per vulnerability and source package, as the scan thread's rows), those
past the SLA, triage that needs attention, and last the health line (the DB's age, the images not rescanned this
week and why). It stays within Slack's limits (blocks.py ``_fit``, which keeps the health line last); when
something is cut, the message says the full digest is in its thread as a file.
"""

from __future__ import annotations

from datetime import datetime

from bot.render.blocks import MAX_SECTION_TEXT, Message, _chunks, _fit, context, escape, section, severity_emoji
from bot.render.format import ago, truncate
from bot.render.slack_text import Mrkdwn, mrkdwn
from workers.digests.contents import Digest, ImageEntry
from workers.digests.health import Health, Missed, NotRescanned
from workers.digests.priorities import Attention, Priority
from workers.triage.model import Decision

SHOWN_PRIORITIES = 10  # findings listed under "Matters most" in the message (the file has all of them)
SHOWN_PAST_SLA = 5
SHOWN_MISSED = 5  # images named in the health line (the file names all of them)
DB_UPDATE_HINT = "`python -m bot db update` refreshes it; is the scheduler running?"
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
    lines = [image_line(e) for e in digest.entries] or ["Nothing is watched here: `/scan watch IMAGE` adds one."]
    blocks += [section("\n".join(chunk)) for chunk in _chunks(_summary(digest) + lines, MAX_SECTION_TEXT)]
    if digest.top:
        shown = digest.top[:SHOWN_PRIORITIES]
        more = len(digest.top) - len(shown)
        text = _matters_head(shown) + "\n" + "\n".join(map(priority_line, shown))
        blocks.append(section(text + (f"\n…and {more} more in the preview." if more > 0 else "")))
    if digest.past_sla:
        blocks.append(section(past_sla_text(digest)))
    if digest.attention:
        blocks.append(section(attention_text(digest.attention)))
    if digest.weeks:
        blocks.append(context("Critical and high per image over the past weeks: the chart is in the thread."))
    message = Message(text=_fallback(period, digest), blocks=blocks)
    return _fit(message, CUT_NOTE, tail=[context(health_text(digest.health))])


def _matters_head(shown: list[Priority]) -> str:
    head = "*Matters most* (critical first, then fixable, then oldest)"
    if any(p.baseline for p in shown):
        head += ": _current state_ marks an image's first digest, where the baseline is set (nothing in it is new)"
    return head


def _summary(digest: Digest) -> list[str]:
    """The lines above the images when nothing changed: baselines set (nothing in them is new), or no change."""
    if digest.changed or not digest.entries:
        return []
    lines, firsts = [], digest.baselines
    if firsts:
        lines.append(
            f"First digest of {firsts} image{'s' if firsts != 1 else ''}: the baseline is set, so nothing is "
            "called new; next week's digest says what changed."
        )
    if unchanged := len(digest.entries) - firsts:
        lines.append(f"No change in {unchanged} watched image{'s' if unchanged != 1 else ''} since last week.")
    return lines


def _head(channel: str, period: str, moment: datetime, late: bool) -> str:
    when = moment.strftime("%a %d %b, %H:%M") + f" {moment.tzinfo}"
    head = f"*Weekly images*: <#{channel}>, week {period.split('-W')[1].lstrip('0')} ({when})"
    return head + (" · sent late: the bot was down at the scheduled time" if late else "")


def _fallback(period: str, digest: Digest) -> str:
    if digest.changed:
        news = f"{sum(len(e.new) for e in digest.entries)} new findings."
    elif digest.baselines:
        news = f"baseline set for {digest.baselines} image{'s' if digest.baselines != 1 else ''}."
    else:
        news = "no change."
    text = f"Weekly images, week {period}: {news}"
    if digest.past_sla:
        text += f" {len(digest.past_sla)} past the SLA."
    if missed := len(digest.health.missed):
        text += f" {missed} not rescanned this week."
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
    if e.baseline:
        line += "  · first digest: baseline set (its current state)"
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
    late = " · *past SLA*" if p.past_sla else ""
    state = f" · {p.state}" if p.state != "open" else ""
    exploited = " · 🔥 known exploited" if p.known_exploited else ""
    return (
        f"{mark} {escape(p.id)} {escape(p.package_label)} {fix} (`{escape(_short(p.image))}`) · {age_text(p)}"
        f"{late}{state}{exploited}"
    )


def age_text(p: Priority) -> str:
    """``first seen 7 days ago``, ``new this week``; in an image's first digest, its current state (not new)."""
    if p.baseline:
        return "current state"
    return f"first seen {p.age_days} day{'s' if p.age_days != 1 else ''} ago" if p.age_days else "new this week"


def health_text(health: Health) -> Mrkdwn:
    """The digest's last line: the vulnerability DB's age, and the images not rescanned this week and why."""
    if health.db_age_seconds is None:
        db = "DB age unknown: no scan this week said which DB it used"
    elif health.db_stale:
        db = f"⚠️ DB updated {ago(health.db_age_seconds)}: {DB_UPDATE_HINT}"
    else:
        db = f"DB updated {ago(health.db_age_seconds)}"
    images, missed = health.images, health.missed
    if not images:
        return mrkdwn("🩺 *Health*: {db}", db=Mrkdwn(db))
    if not missed:
        scanned = f"all {images} watched images" if images > 1 else "the watched image"
        scanned += " rescanned this week"
        return mrkdwn("🩺 *Health*: {db} · {scanned}", db=Mrkdwn(db), scanned=scanned)
    named = "; ".join(missed_text(m) for m in missed[:SHOWN_MISSED])
    more = f"; and {len(missed) - SHOWN_MISSED} more (the file names them)" if len(missed) > SHOWN_MISSED else ""
    return mrkdwn(
        "🩺 *Health*: {db} · ⚠️ {count} of {images} not rescanned this week: {named}{more}",
        db=Mrkdwn(db),
        count=len(missed),
        images=images,
        named=Mrkdwn(named),
        more=more,
    )


def missed_text(m: Missed) -> Mrkdwn:
    """```nosuch:1` (could not be scanned: …)``, ```x:1` (served from an older report, made 2026-11-20)``."""
    if m.why is NotRescanned.OLDER_REPORT:
        return mrkdwn("`{name}` ({why}, made {day})", name=_short(m.reference), why=m.why.value, day=m.detail)
    return mrkdwn(
        "`{name}` ({why}: {detail})", name=_short(m.reference), why=m.why.value, detail=truncate(m.detail, 160)
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
                f"| {p.severity} | {p.id} | {_md(p.package_label)} | {_md(p.installed)} | {_md(p.fixed or '')} | "
                f"{_md(_short(p.image))} | {'baseline' if p.baseline else p.age_days}"
                f"{' (past SLA)' if p.past_sla else ''} |"
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
    return "\n".join(out + _health_markdown(digest.health)) + "\n"


def _health_markdown(health: Health) -> list[str]:
    """Every image not rescanned this week, with the whole sentence; the DB's age first."""
    when = f"updated {ago(health.db_age_seconds)} ({health.db_updated_at})" if health.db_age_seconds is not None else ""
    out = ["", "## Health", "", f"- vulnerability DB: {when or 'age unknown'}{' (stale)' if health.db_stale else ''}"]
    if not health.missed:
        return out + [f"- all {health.images} watched images rescanned this week"]
    out.append(f"- {len(health.missed)} of {health.images} watched images not rescanned this week:")
    return out + [f"  - {_short(m.reference)}: {m.why.value} ({m.detail})" for m in health.missed]


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
