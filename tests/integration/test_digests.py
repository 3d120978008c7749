"""Watch lists and weekly digests with real parts and a controlled clock: one digest per channel and period
however many schedulers tick, an update rather than a repost on retry (found by its metadata when its ts was never
recorded), an unscannable or deleted image kept with its reason, the weekly trend chart in the thread, ages and the
SLA across weeks, and a new disclosure in an updated Trivy DB alerting once (never for a decided finding)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from rq import Queue, SimpleWorker

from bot.jobs.digest_thread import digest_queue, enqueue_due_digests
from tests.helpers.slack_requests import post_signed, slash_command_body
from tests.integration.conftest import CHANNEL, SECRET
from workers.config import Settings
from workers.digests.schedule import parse_schedule
from workers.digests.store import DigestStore

pytestmark = pytest.mark.integration
TEAM = "T0TEST"
WEEK = "2026-W49"
AFTER = datetime(2026, 11, 30, 9, 5, tzinfo=UTC)  # Monday 09:05 UTC, week 49


def _work(redis_client) -> None:
    settings = Settings.from_env()
    queues = [Queue(settings.queue_name, connection=redis_client), digest_queue(redis_client, settings)]
    SimpleWorker(queues, connection=redis_client).work(burst=True)


def _digests(slack):
    return [c for c in slack.calls("chat.postMessage") if c.ok and "Weekly images" in c.params.get("text", "")]


def test_two_schedulers_and_a_retry_give_one_digest(slack_env, slack, redis_client, test_images):
    from prometheus_client import REGISTRY

    sent_before = REGISTRY.get_sample_value("chainscan_digests_sent_total") or 0.0
    store = DigestStore(redis_client)
    store.watch(TEAM, CHANNEL, ["docker.io/library/mariadb:latest", "docker.io/library/nosuch:1"], limit=50)
    store.set_schedule(TEAM, CHANNEL, parse_schedule("monday 09:00 UTC"))
    settings = Settings.from_env()
    assert enqueue_due_digests(redis_client, settings, AFTER) == 1
    assert enqueue_due_digests(redis_client, settings, AFTER) == 0  # the second scheduler
    _work(redis_client)
    (digest,) = _digests(slack)
    text = json.dumps(digest.params["blocks"])
    assert "mariadb:latest" in text and "baseline" in text
    assert "nosuch:1" in text and "could not be scanned" in text  # never dropped
    _assert_reads_as_the_thread(digest.params["blocks"], redis_client)
    assert store.posted(TEAM, CHANNEL, WEEK) == digest.response["ts"]
    assert enqueue_due_digests(redis_client, settings, AFTER) == 0  # posted: nothing more this week
    from bot.jobs.digest_thread import send_digest

    digest_queue(redis_client, settings).enqueue(send_digest, TEAM, CHANNEL, WEEK, False)  # a retried job
    _work(redis_client)
    assert len(_digests(slack)) == 1
    assert REGISTRY.get_sample_value("chainscan_digests_sent_total") - sent_before == 1  # the update is not counted


def _assert_reads_as_the_thread(blocks: list[dict], redis_client) -> None:
    """Matters most has the thread's grouped rows (one line for glibc's libc6 and libc-bin), a first digest calls
    nothing new, and the health line ends the message: the test DB's age against the digest's clock, and the
    image that could not be scanned with its sentence."""
    from tests.helpers.trivydb import DEFAULT_UPDATED_AT
    from workers.groups import group_findings

    matters = next(t for b in blocks if (t := b.get("text", {}).get("text", "")).startswith("*Matters most*"))
    findings = [f for f in _mariadb_findings(redis_client) if f.severity in ("critical", "high")]
    grouped = next(g for g in group_findings(findings) if g.source == "glibc" and len(g.packages) > 1)
    assert set(grouped.packages) == {"libc6", "libc-bin"} and f"{grouped.id} {grouped.package_label} " in matters
    assert matters.count(f"{grouped.id} ") == 1  # one line, where the packages used to be one line each
    assert "new this week" not in matters and "· current state" in matters
    health = blocks[-1]["elements"][0]["text"]
    days = (AFTER - DEFAULT_UPDATED_AT).days  # the test DB's UpdatedAt, against the digest's clock
    assert health.startswith(f"🩺 *Health*: ⚠️ DB updated {days} days ago"), health
    assert "1 of 2 not rescanned this week: `nosuch:1` (could not be scanned: " in health


def test_a_missed_period_is_sent_once_and_marked_late(slack_env, slack, redis_client, test_images):
    store = DigestStore(redis_client)
    store.watch(TEAM, CHANNEL, ["docker.io/library/mariadb:latest"], limit=50)
    late = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)  # Wednesday: everything was down on Monday
    assert enqueue_due_digests(redis_client, Settings.from_env(), late) == 1
    _work(redis_client)
    (digest,) = _digests(slack)
    assert "sent late" in json.dumps(digest.params["blocks"])


def test_the_watch_limit_is_told(slack_env, redis_client):
    store = DigestStore(redis_client)
    store.watch(TEAM, CHANNEL, ["docker.io/library/a:1", "docker.io/library/b:1"], limit=2)
    with pytest.raises(ValueError, match="at most 2"):
        store.watch(TEAM, CHANNEL, ["docker.io/library/c:1"], limit=2)


def test_slash_watch_and_digest_commands(web, slack, redis_client):
    def cmd(text):
        return post_signed(web, slash_command_body(text, channel_id=CHANNEL, team_id=TEAM), SECRET).json()["text"]

    assert "Watching `mariadb:latest`, `postgres:16`" in cmd("watch mariadb postgres:16")
    assert "postgres:16" in cmd("watch list")
    assert "No longer watching `postgres:16`" in cmd("unwatch postgres:16")
    assert "monday 09:00 Europe/Berlin" in cmd("digest monday 09:00 Europe/Berlin")
    assert "not a time zone" in cmd("digest monday 09:00 Mars/Base")
    assert "next at" in cmd("digest")
    assert "off" in cmd("digest off")
    assert DigestStore(redis_client).watched(TEAM, CHANNEL) == ["docker.io/library/mariadb:latest"]


def test_the_cli_watches_schedules_previews_and_refuses_bad_input(engine_env, redis_client, test_images):
    def cli(*args):
        return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True, timeout=180)

    assert cli("watch", "add", CHANNEL, "mariadb", "--team", TEAM).returncode == 0
    listed = json.loads(cli("watch", "list", CHANNEL, "--team", TEAM, "--format", "json").stdout)
    assert listed["images"] == ["docker.io/library/mariadb:latest"] and listed["schedule"] == "monday 09:00 UTC"
    assert cli("digest", "schedule", CHANNEL, "friday 17:30 America/New_York", "--team", TEAM).returncode == 0
    preview = json.loads(cli("digest", "preview", CHANNEL, "--team", TEAM, "--format", "json").stdout)
    (image,) = preview["images"]
    assert image["reference"] == "docker.io/library/mariadb:latest" and image["error"] is None
    assert image["counts"] == image["open_counts"] and image["new"] == [] and "top" in preview
    worst = preview["top"][0]
    assert worst["image"] == image["reference"] and worst["severity"] == "critical" and worst["age_days"] == 0
    assert {"id", "package", "fixed", "first_seen", "past_sla", "state"} <= set(worst)
    assert preview["needs_attention"] == {"expiring": [], "decided": []} and preview["past_sla"] == []
    for bad in (
        ["watch", "add", "general", "mariadb"],
        ["digest", "schedule", CHANNEL, "someday 9"],
        ["digest", "schedule", CHANNEL, "monday 09:00 Nowhere/City"],
        ["watch", "add", CHANNEL, "Bad Name"],
    ):
        proc = cli(*bad)
        assert proc.returncode == 2 and proc.stderr.strip() and "Traceback" not in proc.stderr, bad


def test_a_new_critical_alerts_once_and_a_decided_one_never(slack_env, slack, redis_client, test_images):
    from bot.config import SlackSettings
    from bot.jobs.alerts import check_alerts
    from workers.alerts.store import SEEN as ALERT_SEEN
    from workers.triage.model import Decision, TriageState
    from workers.triage.store import DecisionStore

    store = DigestStore(redis_client)
    reference = "docker.io/library/mariadb:latest"
    store.watch(TEAM, CHANNEL, [reference], limit=50)
    settings = SlackSettings.from_env()
    assert check_alerts(settings, redis_client, AFTER) == 0  # the first pass sets the baseline
    seen = f"{ALERT_SEEN}{TEAM}:{CHANNEL}:{reference}"
    known = sorted(m.decode() for m in redis_client.smembers(seen) if m)
    assert len(known) >= 2, "the test image has criticals"
    first, second = known[0].split("|"), known[1].split("|")
    redis_client.srem(seen, known[0], known[1])  # as if both appeared since the last pass (a new DB disclosure)
    DecisionStore(redis_client).set(
        Decision(
            team=TEAM,
            repository="docker.io/library/mariadb",
            vulnerability=second[0],
            package=second[1],
            state=TriageState.FALSE_POSITIVE,
            by="U1",
            at="2026-11-30T09:00:00+00:00",
            justification=None,
        )
    )
    assert check_alerts(settings, redis_client, AFTER) == 1  # the decided one is not told
    assert check_alerts(settings, redis_client, AFTER) == 0  # and the new one only once
    (alert,) = [c for c in slack.calls("chat.postMessage") if c.ok and c.params["text"].startswith("New critical")]
    assert first[0] in alert.params["text"] and alert.params["channel"] == CHANNEL


def test_an_alert_links_to_the_images_latest_thread_and_a_failed_post_is_told_next_pass(
    slack_env, slack, redis_client, test_images
):
    from slack_sdk import WebClient

    from bot.config import SlackSettings
    from bot.jobs.alerts import check_alerts
    from bot.threads import ThreadState, ThreadStore
    from workers.alerts.store import SEEN as ALERT_SEEN

    reference = "docker.io/library/mariadb:latest"
    DigestStore(redis_client).watch(TEAM, CHANNEL, [reference], limit=50)
    settings = SlackSettings.from_env()
    assert check_alerts(settings, redis_client, AFTER) == 0
    parent = WebClient(token="xoxb-test", base_url=slack.base_url).chat_postMessage(channel=CHANNEL, text="card")
    ThreadStore(redis_client).remember_latest(ThreadState(CHANNEL, parent["ts"], "U1", reference), reference)
    seen = f"{ALERT_SEEN}{TEAM}:{CHANNEL}:{reference}"
    newest = sorted(m.decode() for m in redis_client.smembers(seen) if m)[0]
    redis_client.srem(seen, newest)

    slack.fail_next("chat.postMessage", error="channel_not_found")
    assert check_alerts(settings, redis_client, AFTER) == 0  # Slack refused: the finding is not marked as told
    assert check_alerts(settings, redis_client, AFTER) == 1
    (alert,) = [c for c in slack.calls("chat.postMessage") if c.ok and c.params["text"].startswith("New critical")]
    assert newest.split("|")[0] in alert.params["text"]
    assert f"{CHANNEL}/p{parent['ts'].replace('.', '')}|latest thread>" in json.dumps(alert.params["blocks"])


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
REFERENCE = "docker.io/library/mariadb:latest"


def _chart_uploads(slack):
    return [u for u in slack.uploads(completed_only=True) if u.filename.endswith(".png")]


def _digest_on(redis_client, now: datetime) -> None:
    assert enqueue_due_digests(redis_client, Settings.from_env(), now) == 1
    _work(redis_client)


def test_the_thread_gets_a_trend_chart_once_a_week_and_old_findings_go_past_the_sla(
    slack_env, slack, redis_client, test_images, monkeypatch
):
    monkeypatch.setenv("SLA_DAYS_CRITICAL", "5")
    store = DigestStore(redis_client)
    store.watch(TEAM, CHANNEL, [REFERENCE], limit=50)
    _digest_on(redis_client, AFTER)
    (first,) = _digests(slack)
    (chart,) = _chart_uploads(slack)
    assert chart.thread_ts == first.response["ts"] and chart.channel == CHANNEL
    assert chart.content[:8] == PNG_SIGNATURE and 5_000 < len(chart.content) < 500_000
    assert "One week of history so far" in chart.alt_txt and "One week of history" in chart.initial_comment
    assert "Past the SLA" not in json.dumps(first.params["blocks"])

    _digest_on(redis_client, datetime(2026, 12, 7, 9, 5, tzinfo=UTC))  # a week later: week 50
    first_blocks, second = json.dumps(first.params["blocks"]), _digests(slack)[1]
    text = json.dumps(second.params["blocks"])
    assert "first seen 7 days ago" in text and "Past the SLA" in text and "Matters most" in first_blocks
    charts = _chart_uploads(slack)
    assert len(charts) == 2 and charts[1].thread_ts == second.response["ts"]
    assert "over 2 weeks, 2026-W49 to 2026-W50" in charts[1].alt_txt
    assert list(store.weeks(TEAM, CHANNEL, REFERENCE)) == ["2026-W49", "2026-W50"]


def test_a_digest_posted_by_a_try_that_never_recorded_it_is_found_by_its_metadata_and_updated(
    slack_env, slack, redis_client, test_images
):
    store = DigestStore(redis_client)
    store.watch(TEAM, CHANNEL, [REFERENCE], limit=50)
    _digest_on(redis_client, AFTER)
    (digest,) = _digests(slack)
    assert digest.params["metadata"] == {"event_type": "chainscan_digest", "event_payload": {"period": WEEK}}
    for key in redis_client.scan_iter("chainscan:digest:*"):  # as if the try was killed right after Slack answered
        if any(part in key for part in (b":sent:", b":lease:", b":enqueued:")):
            redis_client.delete(key)  # the period's record (its ts, its parts), the lease, the scheduler's marker
    _digest_on(redis_client, AFTER)
    assert len(_digests(slack)) == 1
    assert [c.params["ts"] for c in slack.calls("chat.update") if c.ok] == [digest.response["ts"]]
    assert store.posted(TEAM, CHANNEL, WEEK) == digest.response["ts"]
    assert len(_chart_uploads(slack)) == 1  # the chart was in the thread already: not uploaded again


def test_an_app_installed_without_the_history_scopes_still_posts_its_digest_once(
    slack_env, slack, redis_client, test_images
):
    DigestStore(redis_client).watch(TEAM, CHANNEL, [REFERENCE], limit=50)
    slack.fail_next("conversations.history", "missing_scope")
    slack.fail_next("conversations.replies", "missing_scope")
    _digest_on(redis_client, AFTER)
    assert len(_digests(slack)) == 1 and len(_chart_uploads(slack)) == 1
    assert DigestStore(redis_client).posted(TEAM, CHANNEL, WEEK)


def test_a_deleted_image_stays_in_the_digest_with_the_reason(slack_env, slack, redis_client, registry, monkeypatch):
    import uuid

    import requests

    from tests.helpers.images import IMAGES, push_image

    monkeypatch.setenv("RESOLVE_TTL", "0")
    repository = f"library/gone-{uuid.uuid4().hex[:8]}"
    info = next(iter(push_image(IMAGES["library/mariadb"], registry, repository=repository).values()))
    reference = f"docker.io/{repository}:{info.tag}"
    store = DigestStore(redis_client)
    store.watch(TEAM, CHANNEL, [reference], limit=50)
    _digest_on(redis_client, AFTER)
    assert "baseline" in json.dumps(_digests(slack)[0].params["blocks"])
    deleted = requests.delete(f"http://{registry}/v2/{repository}/manifests/{info.digest}", timeout=30)
    assert deleted.status_code == 202, deleted.text
    _digest_on(redis_client, datetime(2026, 12, 7, 9, 5, tzinfo=UTC))
    text = json.dumps(_digests(slack)[1].params["blocks"])
    assert f"gone-{repository[-8:]}" in text and "could not be scanned" in text
    assert "does not exist" in text or "not found" in text, text
    assert list(store.weeks(TEAM, CHANNEL, reference)) == ["2026-W49"]  # kept, and no week made up for it


def test_a_new_disclosure_in_the_db_alerts_once_is_new_in_the_digest_and_a_decided_one_never_alerts(
    slack_env, slack, redis_client, test_images, monkeypatch, tmp_path
):
    from bot.config import SlackSettings
    from bot.jobs.alerts import check_alerts
    from tests.helpers.trivydb import build_updated_trivy_db, new_critical
    from workers.scan.store import ReportStore
    from workers.triage.model import Decision, TriageState
    from workers.triage.store import DecisionStore

    store = DigestStore(redis_client)
    store.watch(TEAM, CHANNEL, [REFERENCE], limit=50)
    assert check_alerts(SlackSettings.from_env(), redis_client, AFTER) == 0  # the baseline
    _digest_on(redis_client, AFTER)
    runs = ReportStore(redis_client).trivy_runs()
    assert check_alerts(SlackSettings.from_env(), redis_client, AFTER) == 0  # same digest, same DB: cached
    assert ReportStore(redis_client).trivy_runs() == runs

    told, decided = new_critical("CVE-2026-0001", "pcre2"), new_critical("CVE-2026-0002", "zlib")
    build_updated_trivy_db(tmp_path / "db2", [told, decided])
    monkeypatch.setenv("TRIVY_CACHE_DIR", str(tmp_path / "db2"))
    zlib = next(f.package for f in _mariadb_findings(redis_client) if f.id == "CVE-2023-45853")
    DecisionStore(redis_client).set(
        Decision(
            TEAM,
            "docker.io/library/mariadb",
            "CVE-2026-0002",
            zlib,
            TriageState.FALSE_POSITIVE,
            "U1",
            "2026-11-30T10:00:00+00:00",
        )
    )
    assert check_alerts(SlackSettings.from_env(), redis_client, AFTER) == 1
    assert check_alerts(SlackSettings.from_env(), redis_client, AFTER) == 0
    alerts = [c for c in slack.calls("chat.postMessage") if c.ok and c.params["text"].startswith("New critical")]
    assert len(alerts) == 1 and "CVE-2026-0001" in alerts[0].params["text"]

    _digest_on(redis_client, datetime(2026, 12, 7, 9, 5, tzinfo=UTC))
    text = json.dumps(_digests(slack)[1].params["blocks"])
    assert "+2 new (new disclosure in the DB)" in text and "(1 decided)" in text
    assert "CVE-2026-0001" in text and "CVE-2026-0002" not in text.split("Matters most")[1].split("Needs attention")[0]


def _mariadb_findings(redis_client):
    return _mariadb_report(redis_client).vulnerabilities


def test_a_digest_too_big_for_one_message_puts_the_whole_of_it_in_the_thread_as_a_file_once(
    slack_env, slack, redis_client, test_images
):
    store = DigestStore(redis_client)
    missing = [f"docker.io/team-{i:02d}/{'service-' * 24}{i:02d}:1" for i in range(49)]
    store.watch(TEAM, CHANNEL, [REFERENCE, *missing], limit=50)
    _digest_on(redis_client, AFTER)
    (digest,) = _digests(slack)
    assert "the full digest is in the thread as a file" in json.dumps(digest.params["blocks"])
    (file,) = [u for u in slack.uploads(completed_only=True) if u.filename.endswith(".md")]
    assert file.thread_ts == digest.response["ts"] and file.filename == f"chainscan-digest-{WEEK}.md"
    text = file.content.decode()
    assert all(m.removeprefix("docker.io/") in text for m in missing) and "CVE-" in text
    from bot.jobs.digest_thread import send_digest

    digest_queue(redis_client, Settings.from_env()).enqueue(send_digest, TEAM, CHANNEL, WEEK, False)
    _work(redis_client)
    assert len([u for u in slack.uploads(completed_only=True) if u.filename.endswith(".md")]) == 1


def test_a_week_without_a_db_update_serves_last_weeks_report_and_the_health_line_says_so(
    slack_env, slack, redis_client, test_images
):
    from datetime import timedelta

    from workers.digests.priorities import moment_of

    DigestStore(redis_client).watch(TEAM, CHANNEL, [REFERENCE], limit=50)
    _digest_on(redis_client, AFTER)
    assert "the watched image rescanned this week" in _digests(slack)[0].params["blocks"][-1]["elements"][0]["text"]
    scanned = moment_of(_mariadb_report(redis_client).scanned_at)
    _digest_on(redis_client, scanned + timedelta(days=8))  # same digest, same DB: the cache serves the old report
    health = _digests(slack)[1].params["blocks"][-1]["elements"][0]["text"]
    assert f"`mariadb:latest` (served from an older report, made {scanned.date().isoformat()})" in health, health
    assert "1 of 1 not rescanned this week" in health and "⚠️ DB updated" in health


def _mariadb_report(redis_client):
    from workers.reference import parse_reference
    from workers.scan.engine import Scanner

    return Scanner(Settings.from_env(), redis_client).scan(parse_reference(REFERENCE))
