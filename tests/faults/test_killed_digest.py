"""A worker SIGKILLed in the one window the period's record cannot cover: Slack has posted the digest and the worker
dies before it records the message's ts. RQ finds the job abandoned (its heartbeat stops), retries it, and the retry
finds the message by its metadata in the channel's history: one digest message, one chart, the period posted."""

from __future__ import annotations

import json
import os
import signal
import time
from datetime import UTC, datetime

import pytest
from rq import Worker
from rq.registry import StartedJobRegistry

from bot.jobs.digest_thread import digest_queue, enqueue_due_digests
from tests.faults.conftest import worker_pool
from tests.integration.conftest import CHANNEL
from workers.config import Settings
from workers.digests.store import DigestStore

pytestmark = [pytest.mark.integration, pytest.mark.faults, pytest.mark.timeout(240)]

TEAM, WEEK = "T0TEST", "2026-W49"
AFTER = datetime(2026, 11, 30, 9, 5, tzinfo=UTC)


def _until(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.2)
    pytest.fail(f"{what} within {timeout} s")


def _digest_messages(slack) -> list[dict]:
    return [m for m in slack.messages(CHANNEL) if "Weekly images" in m.get("text", "") and "thread_ts" not in m]


def test_a_worker_killed_after_slack_posted_the_digest_and_before_it_was_recorded_gives_one_digest(
    slack, slack_env, redis_client, test_images, tmp_path
):
    store = DigestStore(redis_client)
    store.watch(TEAM, CHANNEL, ["docker.io/library/mariadb:latest"], limit=50)
    settings = Settings.from_env()
    slack.hang_after("chat.postMessage", 120)  # Slack posts it; the worker waits for the answer and is killed
    with worker_pool({**os.environ, **slack_env}, tmp_path / "worker.log"):  # a pool of 2: one dies, one retries
        assert enqueue_due_digests(redis_client, settings, AFTER) == 1
        _until(lambda: _digest_messages(slack), 120, "the digest was never posted")
        registry = StartedJobRegistry(digest_queue(redis_client, settings).name, connection=redis_client)
        (job_id,) = registry.get_job_ids()
        (worker,) = [w for w in Worker.all(connection=redis_client) if w.get_current_job_id() == job_id]
        assert store.message_ts(TEAM, CHANNEL, WEEK) is None  # in the window: posted, not recorded
        os.kill(worker.pid, signal.SIGKILL)
        slack.hang_after("chat.postMessage", 0)  # a repost would now be answered at once, and counted
        killed = time.monotonic()
        _until(lambda: store.posted(TEAM, CHANNEL, WEEK), 150, "the retry never finished the digest")
        done = time.monotonic() - killed
        time.sleep(3)  # anything late (a second try) would show now
    print(f"\ndigest finished {done:.1f} s after SIGKILL")
    (digest,) = _digest_messages(slack)
    assert store.posted(TEAM, CHANNEL, WEEK) == digest["ts"]
    assert digest["metadata"]["event_payload"] == {"period": WEEK}
    assert "mariadb:latest" in json.dumps(digest["blocks"])
    charts = [u for u in slack.uploads(completed_only=True) if u.filename.endswith(".png")]
    assert len(charts) == 1 and charts[0].thread_ts == digest["ts"]
