"""Small formatting helpers shared by every renderer. Pure."""

from __future__ import annotations

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


def day(value: str | None) -> str:
    when = parse_time(value)
    return when.date().isoformat() if when else "unknown date"


def counts_line(counts: dict[str, int], *, include_unknown: bool = False) -> str:
    """``2 critical · 28 high · 9 medium · 10 low``: fixed order, zeros shown."""
    names = SEVERITIES if include_unknown or counts.get("unknown") else SEVERITIES[:4]
    return " · ".join(f"{counts.get(name, 0)} {name}" for name in names)


def short_counts(counts: dict[str, int]) -> str:
    """``2 C · 25 H`` for per-layer lines: only non-zero severities, or ``none``."""
    parts = [f"{counts[name]} {SEVERITY_LETTER[name]}" for name in SEVERITIES if counts.get(name)]
    return " · ".join(parts) or "none"


def short_digest(digest: str | None) -> str:
    return digest.split(":", 1)[-1][:12] if digest else "unknown"


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"
