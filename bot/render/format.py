"""Small formatting helpers shared by every renderer. Pure."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from workers.report import SEVERITIES

SEVERITY_LETTER = {"critical": "C", "high": "H", "medium": "M", "low": "L", "unknown": "U"}


def human_size(size: int | None) -> str:
    if size is None:
        return "size unknown"
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit in ("B", "kB") or value >= 100 else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def age(created: str | None, now: datetime | None = None) -> str:
    """``built 6 weeks ago`` style age of an RFC 3339 timestamp."""
    when = parse_time(created)
    if when is None:
        return "build date unknown"
    days = ((now or datetime.now(UTC)) - when).days
    if days < 1:
        return "built today"
    if days < 14:
        return f"built {days} day{'s' if days != 1 else ''} ago"
    if days < 90:
        return f"built {days // 7} weeks ago"
    if days < 730:
        return f"built {days // 30} months ago"
    return f"built {days // 365} years ago"


def ago(seconds: int) -> str:
    """``just now``, ``12 min ago``, ``3 h ago`` (up to two days), ``9 days ago``."""
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 48 * 3600:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"


def day(value: str | None) -> str:
    when = parse_time(value)
    return when.date().isoformat() if when else "unknown date"


def counts_line(counts: dict[str, int], *, include_unknown: bool = False) -> str:
    """``2 critical · 28 high · 9 medium · 10 low``: fixed order, zeros shown."""
    names = SEVERITIES if include_unknown or counts.get("unknown") else SEVERITIES[:4]
    return " · ".join(f"{counts.get(name, 0)} {name}" for name in names)


def short_counts(counts: dict[str, int]) -> str:
    """``0 C · 25 H · 3 M · 0 L`` for per-layer lines: fixed order, zeros shown, so layers compare at a glance."""
    names = SEVERITIES if counts.get("unknown") else SEVERITIES[:4]
    return " · ".join(f"{counts.get(name, 0)} {SEVERITY_LETTER[name]}" for name in names)


_HASHED = re.compile(r"^(COPY|ADD) (?:--\S+ )*(?:dir|file|multi):[0-9a-f]{16,} in (\S+)(.*)$")
_SHELL = re.compile(r"^RUN (?:\|\d+ (?:\S+=\S+ )*)?/bin/sh -c ")
_RUN_NOISE = re.compile(r"^RUN (?:\|\d+ \S+=\S+ )*(?:set -[a-z]+(?:o pipefail)?;? ?(?:&& )?)?")


def layer_label(created_by: str | None, limit: int = 48) -> str:
    """What a layer is, in the words of its instruction: ``COPY … /srv/app``, ``RUN apt-get install mariadb…``,
    ``base filesystem`` for the ``ADD file:… in /`` of a base image. Pure."""
    if not created_by:
        return "(no instruction recorded)"
    text = " ".join(created_by.split())
    hashed = _HASHED.match(text)
    if hashed:
        verb, target = hashed.group(1), hashed.group(2)
        return "base filesystem (ADD)" if verb == "ADD" and target == "/" else f"{verb} … {target}"
    text = text.removesuffix(" # buildkit").strip()
    if text.startswith("RUN "):
        text = "RUN " + _RUN_NOISE.sub("", _SHELL.sub("RUN ", text, count=1)).strip()
        text = text.replace("apt-get update && ", "").replace("apt-get install -y ", "apt-get install ")
        text = text.replace("--no-install-recommends ", "")
    return truncate(text, limit)


def short_digest(digest: str | None) -> str:
    return digest.split(":", 1)[-1][:12] if digest else "unknown"


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"
