"""Watch lists and weekly digests with real parts and a controlled clock: one digest per channel and period
however many schedulers tick, an update rather than a repost on retry, an unscannable image kept with its reason."""

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
    assert store.posted(TEAM, CHANNEL, WEEK) == digest.response["ts"]
    assert enqueue_due_digests(redis_client, settings, AFTER) == 0  # posted: nothing more this week
    from bot.jobs.digest_thread import send_digest

    digest_queue(redis_client, settings).enqueue(send_digest, TEAM, CHANNEL, WEEK, False)  # a retried job
    _work(redis_client)
    assert len(_digests(slack)) == 1
    assert REGISTRY.get_sample_value("chainscan_digests_sent_total") - sent_before == 1  # the update is not counted


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
    from bot.jobs.digest_thread import ALERT_SEEN, check_alerts
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
