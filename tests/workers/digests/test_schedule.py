"""Digest schedules: parsing, the due period, and daylight saving time. Pure, with an injected clock."""

from datetime import UTC, datetime

import pytest

from workers.digests.schedule import ScheduleError, parse_schedule


def test_a_schedule_reads_as_written():
    schedule = parse_schedule("Monday 09:00 Europe/Berlin")
    assert str(schedule) == "monday 09:00 Europe/Berlin"
    assert str(parse_schedule("fri 17:30")) == "friday 17:30 UTC"


@pytest.mark.parametrize(
    "text",
    ["", "monday", "someday 09:00", "monday 25:00", "monday 09:00 Mars/Olympus", "monday 09:00 Europe/Berlin extra"],
)
def test_bad_schedules_are_one_sentence(text):
    with pytest.raises(ScheduleError) as caught:
        parse_schedule(text)
    assert str(caught.value).endswith(".")


def test_the_current_period_is_the_latest_scheduled_moment_at_or_before_now():
    schedule = parse_schedule("monday 09:00 Europe/Berlin")
    assert schedule.current_period(datetime(2026, 11, 30, 7, 59, tzinfo=UTC)) == "2026-W48"  # 08:59 Berlin
    assert schedule.current_period(datetime(2026, 11, 30, 8, 0, tzinfo=UTC)) == "2026-W49"  # 09:00 Berlin
    assert schedule.moment("2026-W49") == datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def test_nine_in_berlin_stays_nine_in_berlin_across_daylight_saving_time():
    schedule = parse_schedule("monday 09:00 Europe/Berlin")
    before, after = schedule.moment("2027-W12"), schedule.moment("2027-W13")  # clocks go forward on 28 March 2027
    assert before.astimezone(UTC).hour == 8 and after.astimezone(UTC).hour == 7
    assert before.hour == after.hour == 9
    assert schedule.next_moment(datetime(2027, 3, 22, 8, 30, tzinfo=UTC)) == after
