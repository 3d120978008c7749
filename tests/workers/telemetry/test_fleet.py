"""The fleet read from a real Redis: RQ's own queues, registries and worker records."""

import json
import time

import pytest
from rq import Queue, Worker

from workers.config import Settings
from workers.telemetry.fleet import parse_time, read

pytestmark = pytest.mark.integration


def test_the_fleet_is_what_rq_and_the_workers_left_in_redis(redis_client, tmp_path):
    settings = Settings(redis_url="unused", queue_name="chainscan")
    queue = Queue("chainscan", connection=redis_client)
    for n in range(3):
        queue.enqueue("workers.jobs.scan_image", f"image-{n}")
    worker = Worker([queue], connection=redis_client, name="w1")
    worker.register_birth()
    worker.heartbeat()
    redis_client.set("chainscan:db", json.dumps({"version": 2, "updated_at": "2026-12-01T06:00:00Z"}))
    try:
        fleet = read(redis_client, settings, env={"TRIVY_CACHE_DIR": str(tmp_path)})
    finally:
        worker.register_death()
    assert fleet.redis_up and fleet.queued == {"chainscan": 3, "chainscan-digest": 0}
    assert [w.host for w in fleet.workers] == [worker.hostname] and fleet.alive_hosts(time.time()) == [worker.hostname]
    assert fleet.failed == {"chainscan": 0, "chainscan-digest": 0}
    assert fleet.db_updated_at == parse_time("2026-12-01T06:00:00Z")


def test_a_redis_that_does_not_answer_is_a_fleet_that_says_so():
    from redis import Redis

    fleet = read(Redis(port=1, socket_connect_timeout=1), Settings(), env={"TRIVY_CACHE_DIR": "/nonexistent"})
    assert not fleet.redis_up and fleet.workers == ()
