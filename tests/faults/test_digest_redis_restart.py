"""Redis restarts (append-only, as deploy/redis.conf runs it) while a worker is posting the week's digest: the worker
rides out the outage, records the message when Redis is back, and the channel gets exactly one digest, marked
posted, with its chart. A second scheduler tick after the restart queues nothing."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime

import pytest
from redis import Redis

from bot.jobs.digest_thread import enqueue_due_digests
from tests.faults.conftest import worker_pool
from tests.faults.test_killed_digest import AFTER, TEAM, WEEK, _digest_messages, _until
from tests.integration.conftest import CHANNEL
from workers.config import Settings
from workers.digests.store import DigestStore

pytestmark = [pytest.mark.integration, pytest.mark.faults, pytest.mark.timeout(240)]

OUTAGE = 6  # seconds Redis is down, while Slack holds the digest post's answer


def test_a_redis_restart_while_the_digest_is_posted_still_gives_one_digest(
    slack, slack_env, redis_client, private_redis, test_images, tmp_path
):
    store = DigestStore(redis_client)
    store.watch(TEAM, CHANNEL, ["docker.io/library/mariadb:latest"], limit=50)
    settings = Settings.from_env()
    slack.hang_after("chat.postMessage", OUTAGE + 4)  # the post lands; its answer comes after Redis is back
    with worker_pool({**os.environ, **slack_env}, tmp_path / "worker.log"):
        assert enqueue_due_digests(redis_client, settings, AFTER) == 1
        _until(lambda: _digest_messages(slack), 120, "the digest was never posted")
        try:
            Redis(port=private_redis.port).shutdown(nosave=True)  # the AOF alone carries the lease and the record
        except Exception:
            pass  # shutdown drops the connection
        time.sleep(OUTAGE)
        private_redis.start()
        slack.hang_after("chat.postMessage", 0)
        _until(lambda: store.posted(TEAM, CHANNEL, WEEK), 150, "the digest was never marked posted")
        assert enqueue_due_digests(redis_client, settings, datetime(2026, 11, 30, 9, 10, tzinfo=UTC)) == 0
        time.sleep(3)  # a second try, had there been one, would show now
    (digest,) = _digest_messages(slack)
    assert store.posted(TEAM, CHANNEL, WEEK) == digest["ts"]
    charts = [u for u in slack.uploads(completed_only=True) if u.filename.endswith(".png")]
    assert len(charts) == 1 and charts[0].thread_ts == digest["ts"]
