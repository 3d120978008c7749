"""Digest entries: new and fixed by identity, with the reason, and a baseline the first time. Pure."""

from dataclasses import replace

from tests.workers.triage.builders import finding, report
from workers.digests.contents import ChangeReason, Snapshot, entry


def test_the_first_digest_sets_the_baseline_and_calls_nothing_new():
    e = entry("mariadb", report([finding("CVE-1", "a", "critical")]), None)
    assert e.reason is ChangeReason.BASELINE and e.new == [] and e.counts["critical"] == 1


def test_new_and_fixed_by_identity_and_why():
    last = report([finding("CVE-1", "a", "critical"), finding("CVE-2", "b", "high")])
    same_digest = report([finding("CVE-2", "b", "high"), finding("CVE-3", "c", "critical")])
    e = entry("mariadb", same_digest, Snapshot.of(last))
    assert e.new == [("CVE-3", "c", "critical")] and e.fixed == [("CVE-1", "a", "critical")]
    assert e.reason is ChangeReason.NEW_DISCLOSURE
    rebuilt = replace(same_digest, image=replace(same_digest.image, digest="sha256:" + "c" * 64))
    assert entry("mariadb", rebuilt, Snapshot.of(last)).reason is ChangeReason.NEW_DIGEST
    assert entry("mariadb", last, Snapshot.of(last)).reason is ChangeReason.NONE


def test_an_image_that_cannot_be_scanned_stays_with_its_reason():
    e = entry("ghcr.io/x/gone:1", None, None, error="the tag no longer exists")
    assert e.error == "the tag no longer exists" and e.changed


def test_a_snapshot_round_trips():
    snap = Snapshot.of(report([finding("CVE-1", "a", "high")]))
    assert Snapshot.from_dict(snap.to_dict()) == snap


def test_a_known_exploited_new_finding_comes_before_worse_severities_and_is_named():
    last = report([finding("CVE-1", "a", "critical")])
    exploited = finding("CVE-9", "z", "medium")
    exploited.kev = {"date_added": "2026-11-02", "due_date": None, "ransomware": False}
    now = report([finding("CVE-1", "a", "critical"), finding("CVE-3", "c", "critical"), exploited])
    e = entry("mariadb", now, Snapshot.of(last))
    assert e.new == [("CVE-9", "z", "medium"), ("CVE-3", "c", "critical")]
    assert e.known_exploited == ("CVE-9",) and e.to_dict()["known_exploited"] == ["CVE-9"]


def test_a_digest_line_says_how_many_are_known_exploited():
    from bot.render.digest import image_line

    exploited = finding("CVE-9", "z", "high")
    exploited.kev = {"date_added": "2026-11-02", "due_date": None, "ransomware": False}
    line = image_line(entry("docker.io/library/mariadb:latest", report([exploited]), None))
    assert "🔥 1 known exploited" in line
