"""What a push brings, compared with the previous report of its tag (the repository's history in Redis)."""

from __future__ import annotations

from bot.config import SlackSettings
from bot.jobs.push_scan import brought_findings, previous_findings
from tests.workers.test_diff import load
from workers.config import Settings
from workers.scan.store import ReportStore

NAME = "docker.io/library/mariadb"


def high() -> SlackSettings:
    return SlackSettings(engine=Settings(alert_min_severity="high"))


def pushed(redis_client):
    """11.4's report, then the same tag pushed again with 11.8's findings (another digest)."""
    store = ReportStore(redis_client)
    before, after = load("mariadb-11.4.json"), load("mariadb-11.8.json")
    after.image.reference = before.image.reference
    store.put("k1", before, NAME)
    store.put("k2", after, NAME)
    return store, before, after


def test_a_push_brings_what_the_previous_report_of_its_tag_did_not_have(redis_client):
    store, _, after = pushed(redis_client)
    previous = previous_findings(store, NAME, after)
    assert ("CVE-2024-0001", "openssl") in previous
    assert [(f.id, f.severity) for f in brought_findings(after, previous, high())] == [("CVE-2024-0010", "high")]


def test_below_the_threshold_a_push_brings_nothing_to_tell(redis_client):
    store, _, after = pushed(redis_client)
    critical = SlackSettings(engine=Settings(alert_min_severity="critical"))
    assert brought_findings(after, previous_findings(store, NAME, after), critical) == []


def test_the_first_report_of_a_tag_has_nothing_before_it(redis_client):
    store = ReportStore(redis_client)
    report = load("mariadb-11.4.json")
    store.put("k1", report, NAME)
    assert previous_findings(store, NAME, report) is None
    assert len(brought_findings(report, None, high())) == 3
