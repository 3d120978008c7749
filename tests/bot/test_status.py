from datetime import UTC, datetime

from bot.cli.db import describe
from bot.status import db_line, failures_for
from workers.report import DbInfo
from workers.scan.dbupdate import UpdateOutcome, UpdateResult

DB = DbInfo(version=2, updated_at="2026-12-04T06:00:00Z")


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_a_db_younger_than_a_day_is_shown_with_its_age_and_no_warning():
    line = db_line(DB, at("2026-12-04T18:00:00"))
    assert line.startswith("v2, built ")
    assert "12 hours old" in line and "⚠" not in line


def test_a_db_older_than_a_day_warns_and_says_what_to_run():
    line = db_line(DB, at("2026-12-05T07:00:00"))
    assert "25 hours old" in line and "⚠ older than 24 hours" in line and "python -m bot db update" in line


def test_the_db_update_says_whether_it_downloaded_or_kept_another_workers_download():
    java = DbInfo(version=1, updated_at="2026-12-03T00:00:00Z")
    assert describe(UpdateOutcome(UpdateResult.DOWNLOADED, DB, java)).startswith("Downloaded: vulnerability DB v2")
    kept = describe(UpdateOutcome(UpdateResult.FRESH, DB, None))
    assert kept.startswith("Another worker downloaded the DBs while this one waited") and "no Java DB" in kept


FAILURES = [
    {"reference": "ghcr.io/acme/secret-app:1", "channel": "C0OTHER"},
    {"reference": "mariadb:99.99", "channel": "C0HERE"},
    {"reference": "nginx:0", "channel": None},
]


def test_attack_a_channel_sees_only_its_own_failed_images():
    assert [f["reference"] for f in failures_for(FAILURES, "C0HERE")] == ["mariadb:99.99"]


def test_a_failure_without_a_channel_is_shown_to_no_channel():
    assert failures_for(FAILURES, "") == []


def test_the_operators_command_line_sees_every_failure():
    assert failures_for(FAILURES, None) == FAILURES
