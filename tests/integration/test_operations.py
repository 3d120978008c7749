"""Operating chainscan, with real processes scraped over HTTP: health, readiness, metrics and logs.

A slash command goes through ``python -m bot serve`` and a ``python -m bot worker`` pool of two processes
(prometheus_client's multiprocess mode), both logging JSON: one request id runs from the ack to the thread's
replies, no log line holds a token, the signing secret or the response_url, the worker pool's METRICS_PORT
counts the scans by source, and the web process's /metrics has the fleet's gauges, read from Redis."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.faults.conftest import final_parent, worker_pool
from tests.helpers.fixtures import free_port
from tests.helpers.slack_requests import post_signed, slash_command_body
from tests.integration.conftest import CHANNEL, SECRET, serving

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def scrape(url: str) -> dict[tuple[str, tuple], float]:
    """Every sample of a Prometheus text page, parsed by prometheus_client: (name, sorted labels) → value."""
    response = requests.get(url, timeout=10)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def total(samples: dict, name: str, **labels) -> float:
    return sum(v for (n, ls), v in samples.items() if n == name and labels.items() <= dict(ls).items())


def wait_until_answers(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    pytest.fail(f"nothing answered at {url}")


def json_lines(path: Path) -> list[dict]:
    lines = path.read_text(errors="replace").splitlines()
    parsed = [json.loads(line) for line in lines if line.startswith("{")]
    assert parsed and len(parsed) >= len(lines) - 2, lines[:20]  # a line or two from before logging is set up
    return parsed


def check(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot", "status", "--check"], env=env, capture_output=True, text=True, timeout=30
    )


def test_a_slash_command_is_one_request_id_from_ack_to_reply_counted_and_logged_without_secrets(
    slack, slack_env, redis_client, test_images, tmp_path
):
    response_url = slack.response_url("r-ops")
    metrics_port = free_port()
    env = {**os.environ, **slack_env, "LOG_FORMAT": "json", "WEB_CONCURRENCY": "2"}
    worker_env = {**env, "METRICS_PORT": str(metrics_port), "METRICS_HOST": "127.0.0.1"}
    web_log, worker_log = tmp_path / "web.log", tmp_path / "worker.log"
    assert check(env).returncode == 1  # no worker on this host yet
    with serving(env, log=web_log) as url, worker_pool(worker_env, worker_log, size=2):
        wait_until_answers(f"http://127.0.0.1:{metrics_port}/metrics")
        body = slash_command_body("mariadb", channel_id=CHANNEL, response_url=response_url)
        assert post_signed(f"{url}/slack/events", body, SECRET).status_code == 200
        ts, parent = final_parent(slack, timeout=90)

        assert requests.get(f"{url}/healthz", timeout=5).json() == {"ok": True}
        ready = requests.get(f"{url}/readyz", timeout=5)  # the test DB was built in March 2025
        assert ready.status_code == 503 and ready.json()["problems"][0].startswith("The Trivy DB is")
        fleet = scrape(f"{url}/metrics")
        assert total(fleet, "chainscan_workers_alive") == 2 and total(fleet, "chainscan_redis_up") == 1
        assert ("chainscan_queue_depth", (("queue", "chainscan"),)) in fleet
        assert total(fleet, "chainscan_trivy_db_age_seconds") > 86400

        worker = scrape(f"http://127.0.0.1:{metrics_port}/metrics")
        passed = check(env)
        assert passed.returncode == 1 and "The Trivy DB is" in passed.stderr  # healthy but for the old DB
        assert check({**env, "DB_MAX_AGE_HOURS": "1000000"}).returncode == 0
    # mariadb and its Chainguard alternative, one per worker process: the scrape adds both processes up
    assert total(worker, "chainscan_scans_total", source="slash_command") == 2
    assert total(worker, "chainscan_trivy_runs_total", result="ok") == 2
    assert total(worker, "chainscan_scan_duration_seconds_count", cached="false") == 2

    web_lines, worker_lines = json_lines(web_log), json_lines(worker_log)
    (queued,) = [line for line in web_lines if line["msg"].startswith("queued a scan of mariadb")]
    request_id = queued["request_id"]
    traced = [line["msg"] for line in worker_lines if line.get("request_id") == request_id]
    assert any(m.startswith("opened the thread") for m in traced)
    assert any(m.startswith("posted the ") and ts in m for m in traced), traced
    logs = web_log.read_text() + worker_log.read_text()
    for secret in (SECRET, slack_env["SLACK_BOT_TOKEN"], response_url, response_url.split("://")[1]):
        assert secret not in logs


def test_the_scheduler_serves_its_own_metrics_on_metrics_port(slack_env, redis_client):
    port = free_port()
    env = {**os.environ, **slack_env, "METRICS_PORT": str(port), "LOG_FORMAT": "json"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "scheduler"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_until_answers(f"http://127.0.0.1:{port}/metrics")
        samples = scrape(f"http://127.0.0.1:{port}/metrics")
    finally:
        proc.terminate()
        proc.wait(15)
    assert any(name == "python_info" for name, _ in samples)  # the process's own registry
    assert ("chainscan_cache_hits_total", ()) in samples


def test_readiness_follows_the_db_age_limit(slack_env, redis_client):
    env = {**os.environ, **slack_env, "DB_MAX_AGE_HOURS": "1000000"}
    with serving(env) as url:
        assert requests.get(f"{url}/readyz", timeout=5).json() == {"ready": True}


def test_with_trivy_server_set_the_scans_run_as_clients_of_one_shared_db(
    engine_env, test_images, trivy_binary, trivy_cache_dir, tmp_path
):
    """compose's `trivy` profile: the workers have no DB of their own (and may not download one); every scan
    goes to the `trivy server` that holds it."""
    port = free_port()
    server = subprocess.Popen(
        [
            trivy_binary,
            "server",
            "--listen",
            f"127.0.0.1:{port}",
            "--cache-dir",
            str(trivy_cache_dir),
            "--skip-db-update",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_answers(f"http://127.0.0.1:{port}/healthz")
        env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
        env.update({**engine_env, "TRIVY_SERVER": f"http://127.0.0.1:{port}", "TRIVY_CACHE_DIR": str(tmp_path)})
        env.pop("REDIS_URL")
        done = subprocess.run(
            [sys.executable, "-m", "bot", "scan", "mariadb", "--no-alternative", "--format", "json"],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    finally:
        server.terminate()
        server.wait(15)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["counts"]["critical"] > 0
    assert not (tmp_path / "db").exists()  # no DB was downloaded beside the client


def test_an_air_gapped_worker_downloads_the_trivy_db_from_the_internal_registry(
    engine_env, registry, test_images, trivy_cache_dir, tmp_path
):
    """TRIVY_DB_REPOSITORY at a registry of the site's own: a worker with an empty cache (and DB updates on)
    fetches the DB from there, not from ghcr.io (there is no internet here), and scans with it."""
    from tests.helpers.dbartifact import push_db_artifacts

    repository, java_repository = push_db_artifacts(registry, "mirror")
    env = {k: v for k, v in {**os.environ, **engine_env}.items() if k not in ("REDIS_URL", "TRIVY_SKIP_DB_UPDATE")}
    env.update(
        {
            "TRIVY_CACHE_DIR": str(tmp_path),
            "TRIVY_DB_REPOSITORY": repository,
            "TRIVY_JAVA_DB_REPOSITORY": java_repository,
        }
    )
    done = subprocess.run(
        [sys.executable, "-m", "bot", "scan", "mariadb", "--no-alternative", "--format", "json"],
        env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["counts"]["critical"] > 0
    assert (tmp_path / "db" / "trivy.db").exists() and (tmp_path / "db" / "metadata.json").exists()
