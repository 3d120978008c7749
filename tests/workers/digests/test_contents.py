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
