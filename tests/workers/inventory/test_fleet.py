"""The order a fleet is judged in after a DB update: what the next digests read first. Pure."""

from __future__ import annotations

from datetime import UTC, datetime

from workers.inventory.fleet import order

MONDAY = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
FRIDAY = datetime(2026, 12, 11, 9, 0, tzinfo=UTC)


def test_images_read_by_the_soonest_digest_come_first():
    watches = [("friday/app:1", FRIDAY), ("monday/app:1", MONDAY)]
    assert order(watches) == ["monday/app:1", "friday/app:1"]


def test_an_image_watched_by_two_channels_goes_by_the_sooner_digest_and_once():
    watches = [("shared:1", FRIDAY), ("friday/app:1", FRIDAY), ("shared:1", MONDAY)]
    assert order(watches) == ["shared:1", "friday/app:1"]


def test_images_only_alerts_read_come_after_every_digest_in_the_order_they_were_watched():
    watches = [("alerts/b:1", None), ("friday/app:1", FRIDAY), ("alerts/a:1", None)]
    assert order(watches) == ["friday/app:1", "alerts/b:1", "alerts/a:1"]


def test_an_image_read_by_alerts_and_by_a_digest_goes_by_the_digest():
    assert order([("x:1", None), ("y:1", FRIDAY), ("x:1", MONDAY)]) == ["x:1", "y:1"]


def test_no_watches_is_nothing_to_judge():
    assert order([]) == []
