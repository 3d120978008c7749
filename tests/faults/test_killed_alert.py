"""A worker SIGKILLed in the alert pass's one uncovered window: Slack has posted the first grouped alert and the
worker dies before recording its ts. The job's heartbeat stops, RQ finds it abandoned and retries it on another
worker; the retry takes over its dead try's channel lease, finds the message by its metadata in the channel's
history and updates it, then tells the vulnerability the dead try never reached: one message per (channel,
vulnerability, day), nothing lost."""

from __future__ import annotations

import json
import os
import signal
import time
from datetime import UTC, datetime

import pytest
from rq import Worker
from rq.registry import StartedJobRegistry

from bot.config import SlackSettings
from bot.jobs.alerts import ALERT_EVENT, check_alerts, enqueue_alert_check_if_due
from bot.jobs.digest_thread import digest_queue
from tests.faults.conftest import worker_pool
from tests.faults.test_killed_digest import _until
from tests.integration.conftest import CHANNEL
from tests.integration.test_grouped_alerts import _new_db
from workers.alerts.store import AlertStore, GroupState
from workers.config import Settings
from workers.digests.store import DigestStore

pytestmark = [pytest.mark.integration, pytest.mark.faults, pytest.mark.timeout(120)]

TEAM = "T0TEST"
NOW = datetime(2026, 12, 6, 10, 5, tzinfo=UTC)
DAY = NOW.date().isoformat()


def _alert_messages(slack) -> list[dict]:
    """The channel's grouped alerts as Slack holds them (a post whose answer never came is among them)."""
    return [
        m
        for m in slack.messages(CHANNEL)
        if (m.get("metadata") or {}).get("event_type") == ALERT_EVENT and "thread_ts" not in m
    ]


def _records(redis_client, ids: list[str]) -> dict:
    return {v: AlertStore(redis_client).group(TEAM, CHANNEL, DAY, v) for v in ids}


def _kill_the_worker_of_the_pass(redis_client) -> None:
    registry = StartedJobRegistry(digest_queue(redis_client, Settings.from_env()).name, connection=redis_client)
    (job_id,) = registry.get_job_ids()
    (worker,) = [w for w in Worker.all(connection=redis_client) if w.get_current_job_id() == job_id]
    os.kill(worker.pid, signal.SIGKILL)


def test_a_worker_killed_after_slack_posted_an_alert_and_before_it_was_recorded_gives_one_alert_per_vulnerability(
    slack, slack_env, redis_client, test_images, tmp_path, monkeypatch
):
    DigestStore(redis_client).watch(TEAM, CHANNEL, ["docker.io/library/mariadb:latest"], limit=50)
    assert check_alerts(SlackSettings.from_env(), redis_client, NOW) == 0  # the baseline
    ids = _new_db(tmp_path, monkeypatch, redis_client, 2)  # two new criticals: two messages
    env = {**os.environ, **slack_env, "TRIVY_CACHE_DIR": str(tmp_path / "db2")}
    slack.hang_after("chat.postMessage", 120)  # Slack posts it; the worker waits for the answer and is killed
    with worker_pool(env, tmp_path / "worker.log"):  # a pool of 2: one dies, another takes the retry
        assert enqueue_alert_check_if_due(redis_client, Settings.from_env(), NOW)
        (first,) = _until(lambda: _alert_messages(slack), 60, "the first alert was never posted")
        told = first["metadata"]["event_payload"]["vulnerability"]
        records = _records(redis_client, ids)
        assert records[told].state is GroupState.PENDING and records[told].ts is None  # posted, not recorded
        _kill_the_worker_of_the_pass(redis_client)
        slack.hang_after("chat.postMessage", 0)  # a repost would now be answered at once, and counted
        killed = time.monotonic()
        _until(
            lambda: all(r and r.state is GroupState.POSTED for r in _records(redis_client, ids).values()),
            90,
            "the retry never finished the alerts",
        )
        done = time.monotonic() - killed
        time.sleep(3)  # anything late (a second try) would show now
    print(f"\nalerts finished {done:.1f} s after SIGKILL")
    alerts = _alert_messages(slack)
    assert sorted(m["metadata"]["event_payload"]["vulnerability"] for m in alerts) == sorted(ids)
    assert {m["metadata"]["event_payload"]["day"] for m in alerts} == {DAY}
    assert {v: r.ts for v, r in _records(redis_client, ids).items()} == {
        m["metadata"]["event_payload"]["vulnerability"]: m["ts"] for m in alerts
    }
    assert [c.params["ts"] for c in slack.calls("chat.update") if c.ok] == [first["ts"]]  # found, not reposted
    assert all("mariadb:latest" in json.dumps(m["blocks"]) for m in alerts)
    assert check_alerts(SlackSettings.from_env(), redis_client, NOW) == 0  # everything was marked told
    assert len(_alert_messages(slack)) == len(ids)
