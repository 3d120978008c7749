"""Digest entries: new and fixed by identity, with the reason, and a baseline the first time. Pure."""

import json
from dataclasses import replace
from datetime import UTC, datetime

from tests.workers.triage.builders import decision, finding, report
from workers.digests.contents import ChangeReason, Digest, Observed, Snapshot, compose, entry
from workers.digests.trends import Sla, WeekCounts
from workers.triage.apply import apply
from workers.triage.model import TriageState


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


NOW = datetime(2026, 11, 30, 9, tzinfo=UTC)
REF = "docker.io/library/mariadb:latest"


def _week(findings, previous=None, weeks=None, now=NOW, period="2026-W49", decisions=()):
    scanned = report(findings)
    seen = Observed(REF, scanned, previous, weeks or {}, apply(scanned, decisions, now))
    return compose(period, [seen], list(decisions), now, Sla(7, 30))


def test_a_digest_records_this_week_and_carries_first_seen_dates_into_next_weeks_ages():
    digest, snapshots = _week([finding("CVE-1", "a", "critical")])
    assert digest.weeks[REF] == {"2026-W49": WeekCounts(1, 0, 1, 0)}
    assert snapshots[REF].first_seen == {("CVE-1", "a"): "2026-11-30"}
    later = datetime(2026, 12, 14, 9, tzinfo=UTC)
    findings = [finding("CVE-1", "a", "critical"), finding("CVE-2", "b", "high")]
    digest, snapshots = _week(findings, snapshots[REF], digest.weeks[REF], later, "2026-W51")
    assert [(p.id, p.age_days, p.past_sla) for p in digest.top] == [("CVE-1", 14, True), ("CVE-2", 0, False)]
    assert list(digest.weeks[REF]) == ["2026-W49", "2026-W51"] and digest.entries[0].new == [("CVE-2", "b", "high")]


def test_an_image_that_cannot_be_scanned_keeps_its_history_and_records_no_week():
    weeks = {"2026-W48": WeekCounts(1, 0, 1, 0)}
    seen = Observed(REF, None, None, weeks, error="the tag no longer exists")
    digest, snapshots = compose("2026-W49", [seen], [], NOW, Sla())
    assert digest.entries[0].error == "the tag no longer exists" and digest.weeks[REF] == weeks and not snapshots


def test_decided_findings_are_counted_apart_and_the_digest_round_trips():
    fp = decision("CVE-1", "a", TriageState.FALSE_POSITIVE, at="2026-11-29T10:00:00+00:00")
    digest, _ = _week([finding("CVE-1", "a", "critical"), finding("CVE-2", "b", "critical")], decisions=[fp])
    image = digest.to_dict()["images"][0]
    assert image["open_counts"]["critical"] == 1 and image["decided_counts"]["critical"] == 1
    assert [p.id for p in digest.top] == ["CVE-2"] and [d.vulnerability for d in digest.attention.decided] == ["CVE-1"]
    assert Digest.from_dict(json.loads(json.dumps(digest.to_dict()))) == digest


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


def test_an_image_s_first_digest_sets_its_baseline_and_lists_its_findings_as_the_current_state_not_as_new():
    digest, _ = _week([finding("CVE-1", "a", "critical"), finding("CVE-2", "b", "high")])
    (image,) = digest.entries
    assert image.baseline and image.new == [] and not digest.changed and digest.baselines == 1
    assert [(p.id, p.baseline) for p in digest.top] == [("CVE-1", True), ("CVE-2", True)]
    snapshot = Snapshot.of(report([finding("CVE-1", "a", "critical")]))
    later, _ = _week([finding("CVE-1", "a", "critical"), finding("CVE-3", "c", "high")], previous=snapshot)
    assert [(p.id, p.baseline) for p in later.top] == [("CVE-1", False), ("CVE-3", False)]
    assert later.entries[0].new == [("CVE-3", "c", "high")] and later.baselines == 0


def test_the_digest_carries_its_health_and_a_retry_reads_the_same_health_back():
    scanned = replace(report([finding("CVE-1", "a", "critical")]), scanned_at="2026-11-30T08:00:00+00:00")
    scanned.db.updated_at = "2026-11-30T06:00:00Z"
    observed = [
        Observed(REF, scanned, None, {}, apply(scanned, [], NOW)),
        Observed("docker.io/library/nosuch:1", None, error="The image does not exist."),
    ]
    digest, _ = compose("2026-W49", observed, [], NOW, Sla())
    assert digest.health.db_age_seconds == 3 * 3600 and digest.health.images == 2
    assert [(m.reference, m.detail) for m in digest.health.missed] == [
        ("docker.io/library/nosuch:1", "The image does not exist.")
    ]
    assert Digest.from_dict(json.loads(json.dumps(digest.to_dict()))) == digest
    assert digest.to_dict()["health"]["not_rescanned"][0]["why"] == "could not be scanned"
