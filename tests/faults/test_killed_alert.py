"""A worker SIGKILLed in the alert's one uncovered window: Slack has posted the grouped alert and the worker dies
before recording its ts. RQ retries the pass once the dead worker's lease has run out; the retry finds the message
by its metadata in the channel's history and updates it: one alert message for the vulnerability that day."""

from __future__ import annotations

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
from tests.integration.conftest import CHANNEL
from workers.alerts.store import AlertStore, GroupState
from workers.config import Settings
from workers.digests.store import DigestStore

pytestmark = [pytest.mark.integration, pytest.mark.faults, pytest.mark.timeout(300)]

TEAM = "T0TEST"
NOW = datetime(2026, 12, 6, 10, 5, tzinfo=UTC)


def _until(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.5)
    pytest.fail(f"{what} within {timeout} s")


def _alerts(slack) -> list[dict]:
    return [
        m
        for m in slack.messages(CHANNEL)
        if (m.get("metadata") or {}).get("event_type") == ALERT_EVENT and "thread_ts" not in m
    ]


def test_a_worker_killed_after_slack_posted_the_alert_and_before_it_was_recorded_gives_one_alert(
    slack, slack_env, redis_client, test_images, tmp_path, monkeypatch
):
    from tests.helpers.trivydb import build_updated_trivy_db, new_critical

    reference = "docker.io/library/mariadb:latest"
    DigestStore(redis_client).watch(TEAM, CHANNEL, [reference], limit=50)
    assert check_alerts(SlackSettings.from_env(), redis_client, NOW) == 0  # the baseline
    build_updated_trivy_db(tmp_path / "db2", [new_critical("CVE-2026-7001", "zlib")])
    env = {**os.environ, **slack_env, "TRIVY_CACHE_DIR": str(tmp_path / "db2")}
    monkeypatch.setenv("TRIVY_CACHE_DIR", str(tmp_path / "db2"))
    slack.hang_after("chat.postMessage", 120)  # Slack posts it; the worker waits for the answer and is killed
    with worker_pool(env, tmp_path / "worker.log"):
        assert enqueue_alert_check_if_due(redis_client, Settings.from_env(), NOW)
        _until(lambda: _alerts(slack), 120, "the alert was never posted")
        registry = StartedJobRegistry(digest_queue(redis_client, Settings.from_env()).name, connection=redis_client)
        (job_id,) = registry.get_job_ids()
        (worker,) = [w for w in Worker.all(connection=redis_client) if w.get_current_job_id() == job_id]
        record = AlertStore(redis_client).group(TEAM, CHANNEL, NOW.date().isoformat(), "CVE-2026-7001")
        assert record.state is GroupState.PENDING and record.ts is None  # in the window: posted, not recorded
        os.kill(worker.pid, signal.SIGKILL)
        slack.hang_after("chat.postMessage", 0)  # a repost would now be answered at once, and counted
        day = NOW.date().isoformat()
        _until(
            lambda: AlertStore(redis_client).group(TEAM, CHANNEL, day, "CVE-2026-7001").state is GroupState.POSTED,
            240,
            "the retry never finished the alert",
        )
        time.sleep(2)
    (alert,) = _alerts(slack)
    assert AlertStore(redis_client).group(TEAM, CHANNEL, day, "CVE-2026-7001").ts == alert["ts"]
    assert "CVE-2026-7001" in alert["text"]
