"""The digest's health: the DB's age and the images not rescanned this week, and why. Pure, with an injected now."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from tests.workers.triage.builders import finding, report
from workers.digests.health import Health, Missed, NotRescanned, health
from workers.report import DbInfo

NOW = datetime(2026, 11, 30, 9, tzinfo=UTC)


def _scanned(db_updated_at: str | None, scanned_at: str | None = "2026-11-30T08:55:00+00:00"):
    return replace(report([finding("CVE-1", "a")]), db=DbInfo(2, db_updated_at), scanned_at=scanned_at)


def test_the_db_age_is_the_newest_db_any_report_was_scanned_with():
    found = health(
        [("a", _scanned("2026-11-30T06:00:00Z"), None), ("b", _scanned("2026-11-29T06:00:00.123456789Z"), None)],
        NOW,
        db_updated_at="2026-11-01T00:00:00Z",
    )
    assert found.db_age_seconds == 3 * 3600 and not found.db_stale and found.missed == [] and found.images == 2


def test_without_a_report_that_names_its_db_the_workers_own_db_is_asked():
    found = health([("a", _scanned(None), None)], NOW, db_updated_at="2026-11-28T09:00:00Z")
    assert found.db_age_seconds == 2 * 86400 and found.db_stale  # past a day: nothing refreshes it
    assert health([("a", None, "x")], NOW).db_age_seconds is None


def test_a_db_newer_than_the_digest_s_clock_is_just_updated_and_the_stale_limit_is_the_caller_s():
    assert health([("a", _scanned("2026-11-30T09:30:00Z"), None)], NOW).db_age_seconds == 0
    older = health([("a", _scanned("2026-11-28T09:00:00Z"), None)], NOW, stale_after=timedelta(days=3))
    assert not older.db_stale


def test_an_image_that_failed_is_not_rescanned_with_its_error_sentence():
    found = health([("ghcr.io/x/gone:1", None, "The image does not exist."), ("b", None, None)], NOW)
    assert found.missed == [
        Missed("ghcr.io/x/gone:1", NotRescanned.SCAN_ERROR, "The image does not exist."),
        Missed("b", NotRescanned.SCAN_ERROR, "it could not be scanned"),
    ]


def test_a_report_made_more_than_a_week_ago_is_an_older_report_served_not_a_rescan():
    old = _scanned("2026-11-20T06:00:00Z", scanned_at="2026-11-20T09:00:00+00:00")
    fresh_enough = _scanned("2026-11-20T06:00:00Z", scanned_at="2026-11-24T09:00:00+00:00")
    found = health(
        [("old:1", old, None), ("cached:1", fresh_enough, None), ("unknown:1", _scanned(None, None), None)], NOW
    )
    assert found.missed == [Missed("old:1", NotRescanned.OLDER_REPORT, "2026-11-20")]


def test_health_round_trips():
    found = health([("a", None, "gone"), ("b", _scanned("2026-11-30T06:00:00Z"), None)], NOW)
    assert Health.from_dict(found.to_dict()) == found and Health.from_dict(None) == Health()
