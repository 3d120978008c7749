"""One DB download for the fleet: ``python -m bot db update`` and workers with no DB, against the test DBs pushed
as Trivy's OCI artifacts to the test registry (TRIVY_DB_REPOSITORY, TRIVY_JAVA_DB_REPOSITORY), offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime

import pytest
from rq import Queue

from bot.scheduler import refresh_db_if_due
from tests.helpers import trivydb
from tests.helpers.dbartifact import push_db_artifacts
from tests.helpers.fixtures import free_port
from workers.config import Settings
from workers.errors import ErrorKind, ScanError
from workers.scan import dbupdate, trivy
from workers.scan.engine import Scanner

pytestmark = pytest.mark.integration

UPDATED = datetime(2025, 7, 1, 6, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def db_repositories(registry):
    return push_db_artifacts(registry, "scale", updated_at=UPDATED)


@pytest.fixture
def fleet_env(engine_env, monkeypatch, tmp_path, db_repositories) -> dict[str, str]:
    """A worker's environment with an empty Trivy cache and the DBs' repositories; Trivy may download."""
    db, java = db_repositories
    monkeypatch.delenv("TRIVY_SKIP_DB_UPDATE")
    monkeypatch.setenv("TRIVY_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TRIVY_DB_REPOSITORY", db)
    monkeypatch.setenv("TRIVY_JAVA_DB_REPOSITORY", java)
    return dict(os.environ)


def _waiting_for_the_lock(redis_client, count: int, timeout: float = 60) -> None:
    """Until ``count`` other clients of this database poll the DB lock (redis-py's blocking SET NX)."""
    me, db = redis_client.client_id(), redis_client.connection_pool.connection_kwargs.get("db", 0)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        waiting = [c for c in redis_client.client_list() if c["id"] != str(me) and c["db"] == str(db)]
        if sum(1 for c in waiting if c["cmd"] == "set") >= count:
            return
        time.sleep(0.05)
    pytest.fail(f"{count} processes never waited for the DB lock")


def test_two_processes_with_no_db_download_it_once(fleet_env, redis_client):
    held = redis_client.lock(dbupdate.LOCK_KEY, timeout=120, thread_local=False)
    assert held.acquire()  # both processes start while a download is "under way", then race for the lock
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "bot", "db", "update", "--format", "json"],
            env=fleet_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    _waiting_for_the_lock(redis_client, 2)
    held.release()
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        results.append(json.loads(out))

    assert sorted(r["result"] for r in results) == ["downloaded", "fresh"]
    assert dbupdate.downloads(redis_client) == 1, "Trivy was asked to download once"
    db = trivy.db_info(fleet_env)
    assert db.updated_at == "2025-07-01T06:00:00Z" and trivy.java_db_info(fleet_env) is not None
    assert all(r["db"]["updated_at"] == db.updated_at for r in results)


def test_a_worker_with_no_db_waits_for_the_fleets_download_instead_of_its_own(fleet_env, redis_client, test_images):
    held = redis_client.lock(dbupdate.LOCK_KEY, timeout=120, thread_local=False)
    assert held.acquire()
    outcome: dict = {}
    done = threading.Event()

    def scan() -> None:
        try:
            outcome["report"] = Scanner(Settings.from_env(), redis_client).scan("mariadb:latest")
        except Exception as exc:  # reported below
            outcome["error"] = exc
        done.set()

    worker = threading.Thread(target=scan, daemon=True)
    worker.start()
    _waiting_for_the_lock(redis_client, 1)
    assert not done.is_set(), "with no DB the scan cannot have run"
    # the download "under way" finishes: the DB lands in the shared cache, the fleet record says when
    trivydb.build_trivy_db(fleet_env["TRIVY_CACHE_DIR"], updated_at=UPDATED)
    redis_client.set(dbupdate.FLEET_KEY, json.dumps({"finished_at": time.time()}))
    held.release()
    assert done.wait(120)
    assert "error" not in outcome, outcome.get("error")
    assert outcome["report"].counts["critical"] > 0 and outcome["report"].db.updated_at == "2025-07-01T06:00:00Z"
    assert dbupdate.downloads(redis_client) == 0, "the worker did not download a DB of its own"


def test_a_download_held_longer_than_a_worker_waits_is_a_sentence(fleet_env, redis_client):
    held = redis_client.lock(dbupdate.LOCK_KEY, timeout=60, thread_local=False)
    assert held.acquire()
    try:
        with pytest.raises(ScanError) as error:
            dbupdate.update(redis_client, Settings.from_env(), fleet_env, wait=0.3)
    finally:
        held.release()
    assert error.value.kind is ErrorKind.BUSY
    assert error.value.message.startswith("The Trivy DB download under way on another worker is taking too long.")
    assert dbupdate.downloads(redis_client) == 0


def test_a_db_repository_nobody_can_reach_is_one_sentence(fleet_env):
    env = {**fleet_env, "TRIVY_DB_REPOSITORY": f"127.0.0.1:{free_port()}/nowhere/trivy-db:2"}
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "db", "update"], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith("Trivy could not download its vulnerability DB")
    assert "Traceback" not in proc.stderr


def test_the_scheduler_queues_one_db_refresh_per_interval_across_schedulers(engine_env, redis_client):
    settings = Settings.from_env()
    assert refresh_db_if_due(redis_client, settings) is True
    assert refresh_db_if_due(redis_client, settings) is False  # a second scheduler, the same round
    queued = Queue(settings.queue_name, connection=redis_client).jobs
    assert [job.func_name for job in queued] == ["workers.jobs.update_db_job"]
    assert 0 < redis_client.ttl("chainscan:schedule:db-refresh") <= 6 * 3600
