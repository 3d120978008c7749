"""Grouped alerts with real parts: a DB update disclosing new criticals in 50 watched images is told once per
(channel, vulnerability, day), at most ALERT_DAILY_LIMIT messages plus one summary, nothing lost; racing passes
tell each vulnerability once; an image watched before a disclosure hears of it; a later image the same day updates
the day's message instead of posting another."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime

import pytest
import requests
from rq import Queue, SimpleWorker

from bot.config import SlackSettings
from bot.jobs.alerts import ALERT_EVENT, SUMMARY_EVENT, check_alerts, enqueue_alert_check_if_due
from bot.jobs.digest_thread import digest_queue
from bot.render.alerts import short
from tests.integration.conftest import CHANNEL
from workers.config import Settings
from workers.digests.store import DigestStore
from workers.reference import parse_reference
from workers.scan.engine import Scanner

pytestmark = pytest.mark.integration
TEAM = "T0TEST"
NOW = datetime(2026, 12, 6, 10, 5, tzinfo=UTC)
MANIFEST_TYPES = ", ".join(
    (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    )
)


def retag(registry: str, repository: str, tag: str, new_tags: list[str]) -> None:
    """More tags of one image in the test registry (the manifest put again under each name)."""
    got = requests.get(
        f"http://{registry}/v2/{repository}/manifests/{tag}", headers={"Accept": MANIFEST_TYPES}, timeout=10
    )
    got.raise_for_status()
    for name in new_tags:
        put = requests.put(
            f"http://{registry}/v2/{repository}/manifests/{name}",
            data=got.content,
            headers={"Content-Type": got.headers["Content-Type"]},
            timeout=10,
        )
        put.raise_for_status()


def _work(redis_client) -> None:
    settings = Settings.from_env()
    queues = [Queue(settings.queue_name, connection=redis_client), digest_queue(redis_client, settings)]
    SimpleWorker(queues, connection=redis_client).work(burst=True)


def _channel_posts(slack, event: str):
    return [
        c
        for c in slack.calls("chat.postMessage")
        if c.ok and (c.params.get("metadata") or {}).get("event_type") == event and not c.params.get("thread_ts")
    ]


def _fleet(redis_client, registry: str, count: int) -> list[str]:
    tags = [f"fleet-{i:02d}" for i in range(count)]
    retag(registry, "library/mariadb", "latest", tags)
    return [f"docker.io/library/mariadb:{t}" for t in tags]


def _new_db(tmp_path, monkeypatch, redis_client, count: int, prefix: str = "CVE-2026-1") -> list[str]:
    """A DB update disclosing ``count`` new criticals, each in another source package of mariadb."""
    from tests.helpers.trivydb import build_updated_trivy_db, new_critical

    report = Scanner(Settings.from_env(), redis_client).scan(parse_reference("docker.io/library/mariadb:latest"))
    sources = sorted({f.source or f.package for f in report.vulnerabilities})
    assert len(sources) >= count, f"mariadb has {len(sources)} vulnerable source packages"
    ids = [f"{prefix}{i:03d}" for i in range(count)]
    build_updated_trivy_db(tmp_path / "db2", [new_critical(v, s) for v, s in zip(ids, sources, strict=False)])
    monkeypatch.setenv("TRIVY_CACHE_DIR", str(tmp_path / "db2"))
    return ids


def test_a_flood_of_new_criticals_is_at_most_the_daily_limit_and_one_summary_and_nothing_is_lost(
    slack_env, slack, redis_client, registry, test_images, monkeypatch, tmp_path
):
    monkeypatch.setenv("ALERT_DAILY_LIMIT", "3")
    references = _fleet(redis_client, registry, 50)
    DigestStore(redis_client).watch(TEAM, CHANNEL, references, limit=50)
    assert check_alerts(SlackSettings.from_env(), redis_client, NOW) == 0  # the baseline of all 50
    ids = _new_db(tmp_path, monkeypatch, redis_client, 10)  # 10 criticals × 50 images = 500 new findings

    assert enqueue_alert_check_if_due(redis_client, Settings.from_env(), NOW)
    assert not enqueue_alert_check_if_due(redis_client, Settings.from_env(), NOW)  # a second scheduler
    _work(redis_client)

    alerts, summaries = _channel_posts(slack, ALERT_EVENT), _channel_posts(slack, SUMMARY_EVENT)
    assert len(alerts) == 3 and len(summaries) == 1
    channel_messages = [c for c in slack.calls("chat.postMessage") if c.ok and not c.params.get("thread_ts")]
    assert len(channel_messages) == 4  # nothing else reached the channel
    told = {c.params["metadata"]["event_payload"]["vulnerability"]: json.dumps(c.params["blocks"]) for c in alerts}
    assert all("of 50* images" in text for text in told.values())
    (summary_file,) = [u for u in slack.uploads(completed_only=True) if u.filename.startswith("chainscan-alerts-")]
    assert summary_file.thread_ts == summaries[0].response["ts"]
    content = summary_file.content.decode()
    for vuln in ids:  # every (image, vulnerability) is in its message or in the summary's file
        where = told.get(vuln)
        if where is not None:
            assert all(f"{short(r)}" in where for r in references), vuln
        else:
            section = content.split(f"## {vuln} ")[1].split("## ")[0]
            assert all(f"- {short(r)}:" in section for r in references), vuln
    assert sum(1 for v in ids if v not in told) == 7

    assert check_alerts(SlackSettings.from_env(), redis_client, NOW) == 0  # told: nothing more today
    assert len([c for c in slack.calls("chat.postMessage") if c.ok and not c.params.get("thread_ts")]) == 4


def test_racing_passes_tell_each_vulnerability_once(
    slack_env, slack, redis_client, registry, test_images, monkeypatch, tmp_path
):
    references = _fleet(redis_client, registry, 5)
    DigestStore(redis_client).watch(TEAM, CHANNEL, references, limit=50)
    check_alerts(SlackSettings.from_env(), redis_client, NOW)
    ids = _new_db(tmp_path, monkeypatch, redis_client, 2)
    Scanner(Settings.from_env(), redis_client).scan(parse_reference(references[0]))  # the new DB's scan, cached
    settings = SlackSettings.from_env()
    passes = [threading.Thread(target=check_alerts, args=(settings, redis_client, NOW)) for _ in range(4)]
    for thread in passes:
        thread.start()
    for thread in passes:
        thread.join(120)
    check_alerts(settings, redis_client, NOW)  # and one more after them
    alerts = _channel_posts(slack, ALERT_EVENT)
    assert sorted(c.params["metadata"]["event_payload"]["vulnerability"] for c in alerts) == sorted(ids)


def test_an_image_watched_before_a_disclosure_hears_of_it_on_the_first_pass(
    slack_env, slack, redis_client, test_images, monkeypatch, tmp_path
):
    from bot.jobs.alerts import enqueue_baseline

    reference = "docker.io/library/mariadb:latest"
    DigestStore(redis_client).watch(TEAM, CHANNEL, [reference], limit=50)
    enqueue_baseline(Queue(Settings.from_env().queue_name, connection=redis_client), TEAM, CHANNEL, [reference], NOW)
    _work(redis_client)  # watch add: the baseline is what the image has now
    (vuln,) = _new_db(tmp_path, monkeypatch, redis_client, 1)  # disclosed before the first hourly pass
    assert check_alerts(SlackSettings.from_env(), redis_client, NOW) == 1
    (alert,) = _channel_posts(slack, ALERT_EVENT)
    assert alert.params["text"].startswith(f"New critical {vuln} in 1 of 1 watched image")


def test_a_later_image_with_the_same_vulnerability_the_same_day_updates_the_message(
    slack_env, slack, redis_client, registry, test_images, monkeypatch, tmp_path
):
    first, second = _fleet(redis_client, registry, 2)
    store = DigestStore(redis_client)
    store.watch(TEAM, CHANNEL, [first], limit=50)
    check_alerts(SlackSettings.from_env(), redis_client, NOW)
    (vuln,) = _new_db(tmp_path, monkeypatch, redis_client, 1)
    assert check_alerts(SlackSettings.from_env(), redis_client, NOW) == 1
    store.watch(TEAM, CHANNEL, [second], limit=50)
    told_first = redis_client.smembers(f"chainscan:alert:seen:{TEAM}:{CHANNEL}:{first}")
    before_db = [m for m in told_first if not m.decode().startswith(f"{vuln}|")]  # its baseline predates the DB
    redis_client.sadd(f"chainscan:alert:seen:{TEAM}:{CHANNEL}:{second}", *before_db)
    assert check_alerts(SlackSettings.from_env(), redis_client, NOW) == 0  # no new message
    (alert,) = _channel_posts(slack, ALERT_EVENT)
    updates = [c for c in slack.calls("chat.update") if c.ok and c.params.get("ts") == alert.response["ts"]]
    assert updates and f"New critical {vuln} in 2 of 2 watched images" in updates[-1].params["text"]
    assert "Told earlier today: mariadb:fleet-00" in json.dumps(updates[-1].params["blocks"])
