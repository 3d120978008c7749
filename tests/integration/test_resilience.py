"""Failures of the infrastructure itself: a Redis restart in the middle of a scan."""

from __future__ import annotations

import subprocess
import time

import pytest
from redis import Redis
from rq import Queue, SimpleWorker

from tests.helpers.fixtures import free_port
from tests.integration.conftest import all_text, parent_and_replies, run_workers, scan
from workers.config import Settings

pytestmark = pytest.mark.integration


class AofRedis:
    """A redis-server of this test alone, with append-only persistence as deploy/redis.conf has it."""

    def __init__(self, directory):
        self.port, self.dir = free_port(), directory

    def start(self) -> None:
        subprocess.run(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
                "--dir",
                str(self.dir),
                "--daemonize",
                "yes",
                "--pidfile",
                str(self.dir / "redis.pid"),
            ],
            check=True,
        )
        client = Redis(port=self.port)
        for _ in range(100):
            try:
                client.ping()
                return
            except Exception:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def restart(self) -> None:
        try:
            Redis(port=self.port).shutdown(nosave=True)  # the AOF alone must carry the state
        except Exception:
            pass  # shutdown drops the connection
        time.sleep(0.3)
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


@pytest.fixture(scope="module")
def aof_redis(tmp_path_factory):
    server = AofRedis(tmp_path_factory.mktemp("aof-redis"))
    server.start()
    yield server
    try:
        Redis(port=server.port).shutdown(nosave=True)
    except Exception:
        pass


@pytest.fixture
def redis_url(aof_redis):  # overrides the shared fixture: this module runs on its own Redis
    return aof_redis.url


def test_a_redis_restart_mid_scan_still_ends_in_one_answer(web, slack, redis_client, aof_redis, test_images):
    assert scan(web, slack, "mariadb").status_code == 200
    queue = Queue(Settings.from_env().queue_name, connection=redis_client)
    SimpleWorker([queue], connection=redis_client).work(burst=True, max_jobs=1)  # posts the parent, queues the scans
    assert len(queue) == 2

    aof_redis.restart()

    run_workers(redis_client)  # the same client reconnects by itself
    ts, (parent, *replies) = parent_and_replies(slack)
    assert "critical" in all_text(parent) and "scanning" not in all_text(parent).lower()
    texts = [all_text(r) for r in replies]
    assert len(texts) == len(set(texts)) == 4  # layers, findings, comparison, the attached file: each once
