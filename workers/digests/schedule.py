"""A channel's digest schedule: a weekday, a time and an IANA time zone, and which weekly period is due.
Pure: ``now`` is always an argument. 09:00 Berlin stays 09:00 Berlin across daylight saving time.

A period is the ISO week of the scheduled moment in the channel's zone (``2026-W49``): one digest per
channel and period, claimed in Redis by the job that sends it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DEFAULT = "monday 09:00 UTC"


class ScheduleError(ValueError):
    """The schedule text cannot be used; the message says how to write it."""


@dataclass(frozen=True)
class Schedule:
    weekday: int  # 0 = Monday
    at: time
    zone: str  # IANA name

    def __str__(self) -> str:
        return f"{WEEKDAYS[self.weekday]} {self.at.strftime('%H:%M')} {self.zone}"

    def moment(self, period: str) -> datetime:
        """When the digest of ``period`` (``2026-W49``) is due, as an aware datetime."""
        year, week = period.split("-W")
        day = datetime.fromisocalendar(int(year), int(week), self.weekday + 1)
        return datetime.combine(day.date(), self.at, tzinfo=ZoneInfo(self.zone))

    def current_period(self, now: datetime) -> str:
        """The period whose scheduled moment is the latest one at or before ``now``."""
        local = now.astimezone(ZoneInfo(self.zone))
        year, week, _ = local.isocalendar()
        period = f"{year}-W{week:02d}"
        if self.moment(period) > now:
            earlier = (local - timedelta(days=7)).isocalendar()
            period = f"{earlier[0]}-W{earlier[1]:02d}"
        return period

    def next_moment(self, now: datetime) -> datetime:
        current = self.moment(self.current_period(now))
        later = (current.astimezone(ZoneInfo(self.zone)) + timedelta(days=7)).isocalendar()
        return self.moment(f"{later[0]}-W{later[1]:02d}")

    def to_text(self) -> str:
        return str(self)


def parse_schedule(text: str) -> Schedule:
    """``monday 09:00 Europe/Berlin`` (zone optional: UTC) → a Schedule, or :class:`ScheduleError`."""
    words = text.split()
    if len(words) not in (2, 3):
        raise ScheduleError(
            f"Write a schedule as a weekday, a time and a time zone, e.g. `{'monday 09:00 Europe/Berlin'}`."
        )
    day, clock = words[0].lower(), words[1]
    matches = [i for i, name in enumerate(WEEKDAYS) if name.startswith(day) and len(day) >= 3]
    if len(matches) != 1:
        raise ScheduleError(f"`{day[:20]}` is not a weekday; use monday to sunday.")
    try:
        at = time.fromisoformat(clock if len(clock) >= 5 else f"0{clock}")
    except ValueError:
        raise ScheduleError(f"`{clock[:20]}` is not a time; write it as HH:MM, e.g. 09:00.") from None
    zone = words[2] if len(words) == 3 else "UTC"
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"`{zone[:40]}` is not a time zone I know; use an IANA name like Europe/Berlin.") from None
    return Schedule(matches[0], at.replace(second=0, microsecond=0, tzinfo=None), zone)
