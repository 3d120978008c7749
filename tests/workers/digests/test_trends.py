"""A channel's history: weekly counts kept for a year, first-seen dates carried by identity, ages and the SLA. Pure."""

from datetime import UTC, date, datetime, timedelta

import pytest

from workers.config import ConfigError, Settings
from workers.digests.trends import KEEP_WEEKS, Sla, WeekCounts, age_days, carry_first_seen, period_of, record_week


def _weeks_from(start: date, count: int) -> list[str]:
    return [period_of(start + timedelta(weeks=i)) for i in range(count)]


def test_a_year_of_weeks_is_kept_and_older_ones_are_dropped():
    weeks = {}
    periods = _weeks_from(date(2025, 11, 3), 60)
    for i, period in enumerate(periods):
        weeks = record_week(weeks, period, WeekCounts(i, i, i, i))
    assert len(weeks) == KEEP_WEEKS == 52
    assert min(weeks) == periods[8] and max(weeks) == periods[-1]  # the oldest eight went, across the new year


def test_recording_the_same_week_again_rewrites_it():
    weeks = record_week({}, "2026-W49", WeekCounts(3, 5, 3, 5))
    weeks = record_week(weeks, "2026-W49", WeekCounts(2, 5, 1, 5))
    assert weeks == {"2026-W49": WeekCounts(2, 5, 1, 5)}


def test_week_counts_keep_open_and_decided_apart():
    counts = WeekCounts.of({"critical": 3, "high": 5}, {"critical": 1, "high": 5})
    assert counts == WeekCounts(3, 5, 1, 5) and WeekCounts.from_list(counts.to_list()) == counts


def test_a_finding_keeps_its_first_seen_date_and_a_fixed_one_is_forgotten():
    before = {("CVE-1", "a"): "2026-11-02", ("CVE-2", "b"): "2026-11-09"}
    after = carry_first_seen(before, [("CVE-1", "a"), ("CVE-3", "c")], date(2026, 11, 30))
    assert after == {("CVE-1", "a"): "2026-11-02", ("CVE-3", "c"): "2026-11-30"}


def test_ages_count_whole_days_from_an_injected_now():
    now = datetime(2026, 11, 30, 9, tzinfo=UTC)
    assert age_days("2026-11-02", now) == 28
    assert age_days(None, now) == 0 and age_days("2026-12-24", now) == 0


def test_a_finding_is_past_the_sla_once_older_than_its_severity_allows():
    sla = Sla(critical=7, high=30)
    assert not sla.past("critical", 7) and sla.past("critical", 8)
    assert not sla.past("high", 30) and sla.past("high", 31)
    assert not sla.past("medium", 400)


def test_the_sla_settings_default_to_7_and_30_days_and_a_bad_one_names_itself():
    defaults = Settings.from_env({})
    assert (defaults.sla_days_critical, defaults.sla_days_high) == (7, 30)
    assert Settings.from_env({"SLA_DAYS_CRITICAL": "3"}).sla_days_critical == 3
    with pytest.raises(ConfigError, match="SLA_DAYS_HIGH must be a whole number"):
        Settings.from_env({"SLA_DAYS_HIGH": "a month"})
