"""A repository's scan history expires HISTORY_TTL_DAYS after its latest scan."""

from __future__ import annotations

from workers.config import Settings
from workers.report import DbInfo, ImageInfo, ScanReport, tally
from workers.scan.store import ReportStore


def report() -> ScanReport:
    counts, fixable = tally([])
    return ScanReport(
        ImageInfo("r", "sha256:x", "debian 12", 1, "2026-01-01T00:00:00Z"), DbInfo(2, "t"), counts, fixable, [], []
    )


def test_history_ttl_days_defaults_to_400_and_is_read_from_the_environment():
    assert Settings.from_env({}).history_ttl_days == 400
    assert Settings.from_env({"HISTORY_TTL_DAYS": "30"}).history_ttl_days == 30


def test_each_scan_pushes_the_history_expiry_back(redis_client):
    ReportStore(redis_client, history_ttl=3600).put("chainscan:report:k", report(), "docker.io/library/r")
    assert 3590 < redis_client.ttl("chainscan:history:docker.io/library/r") <= 3600
