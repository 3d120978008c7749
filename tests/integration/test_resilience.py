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


def test_triage_decisions_survive_a_redis_restart_and_are_honoured_by_the_next_scan(
    engine_env, aof_redis, monkeypatch, test_images
):
    """A decision stored before a restart (AOF only, no snapshot) is read back whole and still hides its
    finding in the next scan's JSON; the CLI is the client, as a script would be."""
    import json
    import sys

    monkeypatch.setenv("REDIS_URL", aof_redis.url)
    Redis.from_url(aof_redis.url).flushdb()

    def cli(*args):
        env = {**__import__("os").environ, "REDIS_URL": aof_redis.url}
        return subprocess.run(
            [sys.executable, "-m", "bot", *args], capture_output=True, text=True, env=env, timeout=180
        )

    first = json.loads(cli("scan", "mariadb", "--no-alternative", "--format", "json").stdout)
    worst = first["vulnerabilities"][0]
    decided = cli(
        "triage",
        "set",
        "mariadb",
        worst["id"],
        "--package",
        worst["package"],
        "--state",
        "false_positive",
        "--by",
        "U0ANA",
        "--justification",
        "component_not_present",
    )
    assert decided.returncode == 0, decided.stderr
    aof_redis.restart()
    again = json.loads(cli("scan", "mariadb", "--no-alternative", "--format", "json").stdout)
    assert again["counts"] == first["counts"]  # Trivy's counts, untouched
    severity = worst["severity"]
    hidden = sum(1 for v in again["vulnerabilities"] if (v["id"], v["package"]) == (worst["id"], worst["package"]))
    assert again["open_counts"][severity] == first["counts"][severity] - hidden
    assert [(s["id"], s["state"]) for s in again["suppressed"]] == [(worst["id"], "false_positive")] * hidden
    entry = next(v for v in again["vulnerabilities"] if v["id"] == worst["id"] and v["package"] == worst["package"])
    assert entry["triage"]["state"] == "false_positive" and entry["triage"]["by"] == "U0ANA"
