"""After a DB update the fleet is judged again from its stored inventories, on the workers: the update job queues
the re-evaluation, the images the soonest digest reads first, and nothing reads an image (no `trivy image`)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from rq import Queue, SimpleWorker

from tests.helpers.dbartifact import push_db_artifacts
from workers.config import Settings
from workers.digests.schedule import parse_schedule
from workers.digests.store import DigestStore
from workers.scan import trivy
from workers.scan.engine import Scanner
from workers.scan.store import cache_key, db_version_key

pytestmark = pytest.mark.integration

UPDATED = datetime(2025, 8, 1, 6, 0, tzinfo=UTC)  # the update's DB: not the shared test DB's date
NOW = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)  # a Monday, an hour before the Monday digest
MONDAY = ("T1", "C-monday", ["mariadb:latest", "python:3.12"])
FRIDAY = ("T1", "C-friday", ["debian:12", "chainguard/mariadb:latest"])
ALERTS_ONLY = ("T2", "C-alerts", ["chainguard/python:latest"])


@pytest.fixture(scope="module")
def update_repositories(registry):
    return push_db_artifacts(registry, "reeval", updated_at=UPDATED)


def _watch(redis_client) -> list[str]:
    store = DigestStore(redis_client)
    for team, channel, references in (MONDAY, FRIDAY, ALERTS_ONLY):
        store.watch(team, channel, references, limit=50)
    store.set_schedule("T1", "C-monday", parse_schedule("monday 09:00 UTC"))
    store.set_schedule("T1", "C-friday", parse_schedule("friday 09:00 UTC"))
    store.set_schedule("T2", "C-alerts", None)  # digests off: only the hourly alert pass reads its images
    return MONDAY[2] + FRIDAY[2] + ALERTS_ONLY[2]


def test_a_db_update_queues_the_fleet_by_digest_and_the_workers_judge_it_without_reading_an_image(
    engine_env, monkeypatch, redis_client, test_images, update_repositories, tmp_path
):
    references = _watch(redis_client)
    scanner = Scanner(Settings.from_env(), redis_client)
    for reference in references:  # last week: each scanned, its inventory kept
        scanner.scan(reference)
    scanned = scanner.store.trivy_runs()
    db, java = update_repositories
    monkeypatch.delenv("TRIVY_SKIP_DB_UPDATE")
    monkeypatch.setenv("TRIVY_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TRIVY_DB_REPOSITORY", db)
    monkeypatch.setenv("TRIVY_JAVA_DB_REPOSITORY", java)
    queue = Queue(Settings.from_env().queue_name, connection=redis_client)
    queue.enqueue("workers.jobs.update_db_job", NOW.isoformat())
    SimpleWorker([queue], connection=redis_client).work(burst=True, max_jobs=1)

    queued = queue.get_jobs()
    assert [job.func_name for job in queued] == ["workers.jobs.reevaluate_job", "workers.jobs.reevaluate_stored_job"]
    expected = [*sorted(MONDAY[2]), *sorted(FRIDAY[2]), *ALERTS_ONLY[2]]
    assert queued[0].args[0] == expected, "the Monday digest's images, then Friday's, then those only alerts read"
    SimpleWorker([queue], connection=redis_client).work(burst=True)

    results = [job.latest_result().return_value for job in queued]
    assert results[0]["judged"] == len(references) and results[0]["without_inventory"] == 0
    assert results[0]["trivy_runs"] < len(references), "inventories of one OS release share a Trivy run"
    assert results[1]["judged"] == 0, "every stored digest was led to by a watched tag"
    version = db_version_key(trivy.db_info().updated_at, trivy.db_info().version)
    after = Scanner(Settings.from_env(), redis_client)
    for reference in references:
        report = after.scan(reference)
        assert report.cached and report.db.updated_at == "2025-08-01T06:00:00Z", reference
        assert redis_client.exists(cache_key(report.image.digest, report.image.platform or "linux/amd64", version))
    assert after.store.trivy_runs() == scanned + results[0]["trivy_runs"], "no image was read again"
