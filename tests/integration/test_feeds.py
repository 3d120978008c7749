"""The risk feeds with real parts: a local HTTP server serving them in the published formats, a real Redis,
the real CLI. A cut, missing or slow file never replaces the last good copy."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from datetime import UTC, datetime

import pytest
from rq import Queue, SimpleWorker

from bot.scheduler import update_feeds_if_due
from tests.helpers.feeds import FeedServer, epss_bytes, kev_bytes
from workers.config import Settings
from workers.feeds.parse import FeedKind
from workers.feeds.store import data_key, lookup, status
from workers.feeds.update import update_feed, update_feeds

pytestmark = pytest.mark.integration

NOW = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)


@pytest.fixture
def feeds():
    with FeedServer() as server:
        yield server


def settings_for(feeds, epss="/epss.csv.gz", kev="/kev.json", **extra) -> Settings:
    return Settings(epss_url=feeds.url(epss), kev_url=feeds.url(kev), **extra)


def test_both_feeds_load_from_their_urls_and_one_hmget_finds_a_cves_entries(feeds, redis_client):
    outcomes = update_feeds(redis_client, settings_for(feeds), NOW)
    assert [o.ok for o in outcomes] == [True, True]
    found = lookup(redis_client, ["CVE-2024-2961", "CVE-2023-4911", "CVE-1999-0001"])
    assert found.kev["CVE-2023-4911"].ransomware is True
    assert found.epss["CVE-2024-2961"].percentile == pytest.approx(0.99812)
    assert "CVE-1999-0001" not in found.epss and "CVE-1999-0001" not in found.kev
    assert (found.epss_status.date, found.kev_status.date) == ("2026-12-04", "2026-12-04")
    assert redis_client.type(data_key(FeedKind.EPSS)) == b"hash"


@pytest.mark.parametrize(
    ("kind", "path", "problem"),
    [
        (FeedKind.EPSS, "/truncated.csv.gz", "truncated or corrupt gzip"),
        (FeedKind.KEV, "/truncated.json", "not valid JSON"),
        (FeedKind.KEV, "/cut.json", "transfer was cut"),
        (FeedKind.KEV, "/gone.json", "HTTP 404"),
    ],
)
def test_a_bad_download_keeps_the_last_good_copy_and_says_why(feeds, redis_client, kind, path, problem):
    update_feeds(redis_client, settings_for(feeds), NOW)
    before = redis_client.hgetall(data_key(kind))
    bad = settings_for(feeds, **{"epss": path} if kind is FeedKind.EPSS else {"kev": path})
    outcome = update_feed(redis_client, bad, kind, datetime(2026, 12, 6, tzinfo=UTC))
    assert problem in outcome.error
    assert redis_client.hgetall(data_key(kind)) == before
    kept = status(redis_client, kind)
    assert (kept.date, kept.error) == ("2026-12-04", outcome.error)
    assert kept.checked_at.startswith("2026-12-06")


def test_a_slow_server_is_cut_off_at_feed_timeout(feeds, redis_client):
    outcome = update_feed(redis_client, settings_for(feeds, kev="/slow.json", feed_timeout=1), FeedKind.KEV, NOW)
    assert "took longer than 1 s (FEED_TIMEOUT)" in outcome.error
    assert not status(redis_client, FeedKind.KEV).loaded


def test_a_new_feed_replaces_the_old_one_whole_with_no_leftover_entries(feeds, redis_client):
    update_feeds(redis_client, settings_for(feeds), NOW)
    feeds.files["/epss.csv.gz"] = epss_bytes({"CVE-2025-0001": (0.5, 0.9)})
    update_feed(redis_client, settings_for(feeds), FeedKind.EPSS, NOW)
    assert set(redis_client.hkeys(data_key(FeedKind.EPSS))) == {b"CVE-2025-0001"}
    assert not list(redis_client.scan_iter("chainscan:feeds:*:staging:*"))


def test_readers_during_a_load_see_the_old_feed_or_the_new_one_never_a_mixture(feeds, redis_client):
    old = {f"CVE-2020-{n:05d}": (0.1, 0.1) for n in range(20000)}
    new = {f"CVE-2021-{n:05d}": (0.2, 0.2) for n in range(20000)}
    feeds.files["/epss.csv.gz"] = epss_bytes(old)
    update_feed(redis_client, settings_for(feeds), FeedKind.EPSS, NOW)
    feeds.files["/epss.csv.gz"] = epss_bytes(new)
    probe = ["CVE-2020-00000", "CVE-2020-19999", "CVE-2021-00000", "CVE-2021-19999"]
    seen, done = set(), threading.Event()

    def read():
        while not done.is_set():
            seen.add(tuple(sorted(lookup(redis_client, probe).epss)))

    reader = threading.Thread(target=read)
    reader.start()
    update_feed(redis_client, settings_for(feeds), FeedKind.EPSS, NOW)
    done.set()
    reader.join()
    assert seen <= {tuple(probe[:2]), tuple(probe[2:])}


def test_a_mirror_on_disk_is_a_feed_location(tmp_path, redis_client):
    (tmp_path / "epss.csv.gz").write_bytes(epss_bytes())
    (tmp_path / "kev.json").write_bytes(kev_bytes())
    settings = Settings(epss_url=str(tmp_path / "epss.csv.gz"), kev_url=f"file://{tmp_path}/kev.json")
    assert all(o.ok for o in update_feeds(redis_client, settings, NOW))


def test_the_cli_updates_the_feeds_and_reports_them_as_json(feeds, redis_url, redis_client):
    env = {"REDIS_URL": redis_url, "EPSS_URL": feeds.url("/epss.csv.gz"), "KEV_URL": feeds.url("/missing.json")}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "feeds", "update", "--format", "json"],
        env={**_base_env(), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr
    rows = {row["feed"]: row for row in json.loads(done.stdout)}
    assert rows["epss"]["date"] == "2026-12-04" and rows["epss"]["count"] == 8 and rows["epss"]["error"] is None
    assert rows["kev"]["date"] is None and "HTTP 404" in rows["kev"]["error"]
    shown = subprocess.run(
        [sys.executable, "-m", "bot", "feeds", "status"],
        env={**_base_env(), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "EPSS: 8 entries of 2026-12-04" in shown.stdout
    assert "KEV: nothing loaded" in shown.stdout and "HTTP 404" in shown.stdout


def test_two_schedulers_enqueue_one_feed_update_a_day_and_a_worker_runs_it(feeds, redis_client, monkeypatch):
    settings = settings_for(feeds)
    monkeypatch.setenv("EPSS_URL", settings.epss_url)
    monkeypatch.setenv("KEV_URL", settings.kev_url)
    assert update_feeds_if_due(redis_client, settings, NOW) is True
    assert update_feeds_if_due(redis_client, settings, NOW) is False
    queue = Queue(settings.queue_name, connection=redis_client)
    assert len(queue) == 1
    SimpleWorker([queue], connection=redis_client).work(burst=True)
    assert status(redis_client, FeedKind.KEV).date == "2026-12-04"
    assert update_feeds_if_due(redis_client, settings, datetime(2026, 12, 6, 0, 1, tzinfo=UTC)) is True


def _base_env() -> dict:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith(("EPSS_", "KEV_", "REDIS_"))}


def test_status_says_which_feeds_are_loaded_how_old_and_why_one_failed(feeds, redis_client):
    from bot.status import status_text

    update_feed(redis_client, settings_for(feeds), FeedKind.EPSS, NOW)
    update_feed(redis_client, settings_for(feeds, kev="/gone.json"), FeedKind.KEV, NOW)
    text = status_text(redis_client, Settings())
    assert "*Ranking feeds*: EPSS of 2026-12-04 (" in text
    assert "no KEV loaded (" in text and "gone.json answered HTTP 404" in text
