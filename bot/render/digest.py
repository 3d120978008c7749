"""The weekly digest message: one line per watched image, what changed since last week and why. Pure."""

from __future__ import annotations

from datetime import datetime

from bot.render.blocks import Message, _fit, context, escape, section, severity_emoji
from workers.digests.contents import ChangeReason, ImageEntry


def digest_message(channel: str, period: str, moment: datetime, entries: list[ImageEntry], *, late: bool) -> Message:
    when = moment.strftime("%a %d %b, %H:%M") + f" {moment.tzinfo}"
    head = f"*Weekly images*: <#{channel}>, week {period.split('-W')[1].lstrip('0')} ({when})" + (
        " · sent late: the bot was down at the scheduled time" if late else ""
    )
    if entries and not any(e.changed for e in entries):
        quiet = f"No change in {len(entries)} watched image{'s' if len(entries) != 1 else ''} since last week."
        lines = [quiet] + [image_line(e) for e in entries]
    else:
        lines = [image_line(e) for e in entries] or ["Nothing is watched here: `/scan watch IMAGE` adds one."]
    blocks = [section(head)] + [section(line) for line in lines[:45]]
    if len(lines) > 45:
        blocks.append(context(f"…and {len(lines) - 45} more images."))
    text = f"Weekly images, week {period}: " + (
        "no change." if not any(e.changed for e in entries) else f"{sum(len(e.new) for e in entries)} new findings."
    )
    return _fit(Message(text=text, blocks=blocks))


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
