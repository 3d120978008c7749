"""The scan engine with the real parts: Redis, RQ workers, dockerd, a registry and Trivy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from rq import Queue, SimpleWorker

from bot import config
from workers.config import Settings, default_trivy_binary
from workers.scan.queue import enqueue_scan, outcome_of
from workers.scan.store import ReportStore

pytestmark = pytest.mark.integration

TRIVY_FLAGS = [
    "--scanners",
    "vuln",
    "--skip-db-update",
    "--skip-java-db-update",
    "--skip-version-check",
    "--disable-telemetry",
    "--cache-backend",
    "memory",
    "--format",
    "json",
    "--quiet",
]


def scan_through_queue(redis_client, reference: str, **kwargs):
    settings = Settings.from_env()
    queue = Queue(settings.queue_name, connection=redis_client)
    job = enqueue_scan(queue, settings, reference, **kwargs)
    SimpleWorker([queue], connection=redis_client).work(burst=True)
    outcome = outcome_of(job)
    assert outcome is not None, f"job {job.id} did not finish: {job.get_status()}"
    return outcome


def direct_trivy_counts(target: str, cache_dir, *extra: str) -> Counter:
    proc = subprocess.run(
        [
            default_trivy_binary(),
            "image",
            *TRIVY_FLAGS,
            "--cache-dir",
            str(cache_dir),
            "--image-src",
            "remote",
            *extra,
            target,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    data = json.loads(proc.stdout)
    return Counter(v["Severity"].lower() for r in data.get("Results") or [] for v in r.get("Vulnerabilities") or [])


@pytest.mark.parametrize("image", ["mariadb", "mariadb:11.4", "python:3.12", "clean:1", "noos:1", "big:1"])
def test_counts_equal_trivy_run_directly(engine_env, redis_client, registry, trivy_cache_dir, test_images, image):
    outcome = scan_through_queue(redis_client, image)
    assert outcome.error is None, outcome.error
    report = outcome.report
    name, _, tag = image.partition(":")
    expected = direct_trivy_counts(f"{registry}/library/{name}:{tag or 'latest'}", trivy_cache_dir)
    assert {k: v for k, v in report.counts.items() if v} == dict(expected)
    assert report.image.reference == f"docker.io/library/{name}:{tag or 'latest'}"
    assert report.image.digest.startswith("sha256:")
    assert report.db.version == 2 and report.db.updated_at


def test_chainguard_image_counts_and_layers(engine_env, redis_client, registry, trivy_cache_dir, test_images):
    outcome = scan_through_queue(redis_client, f"{registry}/chainguard/mariadb:latest")
    report = outcome.report
    expected = direct_trivy_counts(f"{registry}/chainguard/mariadb:latest", trivy_cache_dir)
    assert {k: v for k, v in report.counts.items() if v} == dict(expected)
    assert report.image.os.startswith("wolfi")


def test_report_keeps_layers_with_their_instructions(engine_env, redis_client, test_images):
    report = scan_through_queue(redis_client, "mariadb").report
    assert len(report.layers) >= 3
    assert all(layer.created_by for layer in report.layers)
    assert sum(sum(layer.counts.values()) for layer in report.layers) == report.total
    assert {v.layer for v in report.vulnerabilities} <= {layer.diff_id for layer in report.layers}
    assert report.fixable["critical"] + report.fixable["high"] > 0
    assert any(v.fixed is None for v in report.vulnerabilities)
    assert any(v.cvss_score for v in report.vulnerabilities)


def test_second_scan_is_answered_from_the_cache(engine_env, redis_client, test_images):
    store = ReportStore(redis_client)
    first = scan_through_queue(redis_client, "mariadb").report
    runs = store.trivy_runs()
    second = scan_through_queue(redis_client, "mariadb:latest").report
    assert store.trivy_runs() == runs == 1
    assert second.cached and not first.cached
    assert second.counts == first.counts and second.image.digest == first.image.digest
    forced = scan_through_queue(redis_client, "mariadb", force=True).report
    assert store.trivy_runs() == 2 and not forced.cached
    assert len(store.history("docker.io/library/mariadb")) == 2  # the Trivy runs; cache hits add nothing


def test_concurrent_identical_requests_run_trivy_once(engine_env, redis_client, test_images):
    settings = Settings.from_env()
    queue = Queue(settings.queue_name, connection=redis_client)
    jobs = [enqueue_scan(queue, settings, "python:3.12") for _ in range(8)]
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "rq.cli",
                "worker",
                "--burst",
                "-q",
                "-u",
                engine_env["REDIS_URL"],
                settings.queue_name,
            ],
            env=os.environ.copy(),
        )
        for _ in range(4)
    ]
    for proc in workers:
        assert proc.wait(timeout=120) == 0
    outcomes = [outcome_of(job) for job in jobs]
    assert all(o and o.report for o in outcomes), [o.error for o in outcomes if o]
    assert ReportStore(redis_client).trivy_runs() == 1
    assert len({json.dumps(o.report.counts) for o in outcomes}) == 1


def test_multi_arch_index_scans_the_configured_platform(engine_env, redis_client, monkeypatch, test_images):
    amd = scan_through_queue(redis_client, "multi:1").report
    monkeypatch.setenv("SCAN_PLATFORM", "linux/arm64")
    config.install(None)  # workers read their settings once, at start: this is a worker started anew
    arm = scan_through_queue(redis_client, "multi:1").report
    assert amd.image.platform == "linux/amd64" and arm.image.platform == "linux/arm64"
    assert amd.counts != arm.counts
    monkeypatch.setenv("SCAN_PLATFORM", "linux/s390x")
    config.install(None)
    error = scan_through_queue(redis_client, "multi:1").error
    assert error.kind == "platform_missing" and "linux/arm64" in error.message


@pytest.mark.parametrize(
    "reference, kind, says",
    [
        ("mariadb:99.99", "not_found", "does not exist"),
        ("no-such-image", "not_found", "does not exist"),
        ("127.0.0.1:1/library/mariadb:latest", "unreachable", "Could not reach 127.0.0.1:1, the registry of"),
    ],
)
def test_registry_failures_are_sentences(engine_env, redis_client, test_images, reference, kind, says):
    error = scan_through_queue(redis_client, reference).error
    assert error.kind == kind and says in error.message
    assert "Traceback" not in error.message and "\n" not in error.message
    assert ReportStore(redis_client).recent_failures()[0]["kind"] == kind


def test_private_registry_without_credentials_is_access_denied(engine_env, redis_client, auth_registry):
    error = scan_through_queue(redis_client, f"{auth_registry.address}/library/mariadb:latest").error
    assert error.kind == "access_denied" and "REGISTRY_CREDENTIALS" in error.message


def test_missing_db_is_a_sentence(engine_env, redis_client, monkeypatch, tmp_path, test_images):
    monkeypatch.setenv("TRIVY_CACHE_DIR", str(tmp_path))
    error = scan_through_queue(redis_client, "mariadb").error
    assert error.kind == "no_db" and "DB" in error.message


def test_cli_scan_uses_an_embedded_redis_and_prints_the_json_contract(engine_env, test_images):
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "scan", "mariadb", "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert set(data) >= {"image", "db", "counts", "fixable", "layers", "vulnerabilities"}
    assert set(data["image"]) >= {"reference", "digest", "os", "size_bytes", "created"}
    assert set(data["db"]) >= {"version", "updated_at"}
    for key in ("counts", "fixable"):
        assert set(data[key]) == {"critical", "high", "medium", "low", "unknown"}
    assert set(data["layers"][0]) >= {"diff_id", "created_by", "counts"}
    finding = data["vulnerabilities"][0]
    assert set(finding) >= {"id", "package", "installed", "fixed", "status", "severity", "cvss_score", "title", "layer"}
    assert finding["severity"] == finding["severity"].lower()
    assert time.monotonic() - started < 120
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    contract = readme.split("### JSON contract", 1)[1].split("\n## ", 1)[0]
    undocumented = [key for key in [*data, *finding] if f'"{key}"' not in contract and f"`{key}`" not in contract]
    assert not undocumented, f"the README's JSON contract does not name {undocumented}"


def test_cli_text_output_and_bad_reference(engine_env, test_images):
    proc = subprocess.run([sys.executable, "-m", "bot", "scan", "mariadb"], capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    assert (
        "docker.io/library/mariadb:latest" in proc.stdout
        and "Layers" in proc.stdout
        and "Worst findings" in proc.stdout
    )
    bad = subprocess.run(
        [sys.executable, "-m", "bot", "scan", "MariaDB;rm -rf /"], capture_output=True, text=True, timeout=60
    )
    assert bad.returncode != 0 and bad.stdout == ""
    assert len(bad.stderr.strip().splitlines()) == 1


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True, timeout=180, env=env)


def test_cli_scan_compares_with_the_chainguard_alternative(engine_env, registry, trivy_cache_dir, test_images):
    proc = run_cli("scan", "mariadb", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    alternative = data["alternative"]
    assert alternative["image"]["reference"] == f"{registry}/chainguard/mariadb:latest"
    expected = direct_trivy_counts(f"{registry}/chainguard/mariadb:latest", trivy_cache_dir)
    assert {k: v for k, v in alternative["counts"].items() if v} == dict(expected)
    comparison = data["comparison"]
    assert comparison["verdict"].startswith("Switching removes")
    key = lambda f: (f["id"], f["package"])  # noqa: E731
    original, theirs = {key(v) for v in data["vulnerabilities"]}, {key(v) for v in alternative["vulnerabilities"]}
    assert {key(f) for f in comparison["removed"]} == original - theirs
    assert {key(f) for f in comparison["kept"]} == original & theirs
    assert {key(f) for f in comparison["added"]} == theirs - original
    assert data["alternative_reason"] is None and data["alternative_mapping"]["free_tier"] is True
    text = run_cli("scan", "mariadb")
    assert "Chainguard alternative: " in text.stdout and "removed by switching" in text.stdout


def test_cli_no_alternative(engine_env, test_images):
    data = json.loads(run_cli("scan", "python:3.12", "--format", "json", "--no-alternative").stdout)
    assert data["alternative"] is None and data["comparison"] is None and data["alternative_reason"]


def test_an_unreachable_chainguard_registry_still_gives_the_original(engine_env, test_images):
    env = {**os.environ, "CHAINGUARD_REGISTRY": "127.0.0.1:1/chainguard"}
    proc = run_cli("scan", "mariadb", "--format", "json", env=env)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["counts"]["critical"] > 0 and data["alternative"] is None
    assert (
        "could not be scanned" in data["alternative_reason"]
        and "Could not reach 127.0.0.1:1" in data["alternative_reason"]
    )


def test_cli_alternative_needs_no_scan(engine_env):
    data = json.loads(run_cli("alternative", "mariadb:11.4", "--format", "json").stdout)
    assert data["reference"].endswith("/chainguard/mariadb:latest") and data["free_tier"] is True
    assert "only :latest and :latest-dev" in data["tag_advice"]
    unknown = json.loads(run_cli("alternative", "mariadbx", "--format", "json").stdout)
    assert (
        unknown["reference"] is None
        and unknown["reason"] == "no known Chainguard equivalent"
        and "mariadb" in unknown["close_names"]
    )
    paid = json.loads(run_cli("alternative", "mysql", "--format", "json").stdout)
    assert paid["reference"] is None and paid["free_tier"] is False and "CHAINGUARD_ORG_REGISTRY" in paid["reason"]


def test_the_scan_lock_is_renewed_while_held_and_expires_when_its_holder_dies(redis_client):
    from workers.scan.keepalive import kept_alive

    store = ReportStore(redis_client)
    lock = store.lock("chainscan:report:x", timeout=0.6, wait=0)
    assert lock.acquire()
    with kept_alive(lock, 0.6):
        time.sleep(1.5)
        assert lock.owned()
    orphan = store.lock("chainscan:report:y", timeout=0.6, wait=0)
    assert orphan.acquire()  # never renewed: as if its worker were killed
    time.sleep(0.8)
    assert store.lock("chainscan:report:y", timeout=0.6, wait=0).acquire()


def test_catalog_refresh_from_the_registry_is_shared_through_redis(engine_env, redis_client, registry, test_images):
    before = json.loads(run_cli("alternative", "nginx", "--format", "json").stdout)
    assert before["reference"] == f"{registry}/chainguard/nginx:latest"
    refreshed = run_cli("catalog", "refresh")
    assert refreshed.returncode == 0, refreshed.stderr
    assert "2 catalog images served" in refreshed.stdout  # the test registry has chainguard/mariadb and python
    after = json.loads(run_cli("alternative", "nginx", "--format", "json").stdout)
    assert after["reference"] is None and after["free_tier"] is False  # this registry does not serve it
    assert json.loads(run_cli("alternative", "mariadb", "--format", "json").stdout)["reference"].endswith(
        "chainguard/mariadb:latest"
    )


def test_catalog_refresh_of_an_unreachable_registry_is_a_sentence(engine_env, redis_client):
    proc = run_cli("catalog", "refresh", env={**os.environ, "CHAINGUARD_REGISTRY": "127.0.0.1:1/chainguard"})
    assert (
        proc.returncode == 1
        and proc.stderr.startswith("Could not refresh the catalog")
        and "Traceback" not in proc.stderr
    )


def test_registry_credentials_from_configuration_open_a_private_registry(
    engine_env, redis_client, auth_registry, monkeypatch, trivy_cache_dir
):
    from tests.helpers.images import IMAGES, push_image

    push_image(IMAGES["library/python"], auth_registry.address, repository="team/app", auth=auth_registry.auth)
    user, password = auth_registry.auth
    monkeypatch.setenv(
        "REGISTRY_CREDENTIALS", json.dumps({auth_registry.address: {"username": user, "password": password}})
    )
    outcome = scan_through_queue(redis_client, f"{auth_registry.address}/team/app:3.12")
    assert outcome.error is None, outcome.error
    assert outcome.report.counts["critical"] > 0
    assert password not in json.dumps(outcome.report.to_dict())


def test_trivy_environment_variables_keep_working(engine_env, redis_client, monkeypatch, test_images):
    monkeypatch.setenv("TRIVY_TIMEOUT", "1ms")  # Trivy's own variable, honoured over our default --timeout
    error = scan_through_queue(redis_client, "big:1").error
    assert error.kind == "timeout" and "took longer than" in error.message


def test_trivy_bin_override(engine_env, redis_client, monkeypatch, tmp_path, test_images):
    monkeypatch.setenv("TRIVY_BIN", str(tmp_path / "no-trivy-here"))
    error = scan_through_queue(redis_client, "clean:1").error
    assert error.kind == "trivy_missing" and "TRIVY_BIN" in error.message


def test_cli_status_reports_queue_workers_db_and_failures(engine_env, redis_client, test_images):
    scan_through_queue(redis_client, "mariadb:99.99")
    scan_through_queue(redis_client, "clean:1")
    proc = run_cli("status")
    assert proc.returncode == 0, proc.stderr
    assert "Workers alive: 0" in proc.stdout and "Trivy runs so far: 1" in proc.stdout
    assert "v2, built 2025-03-04" in proc.stdout and "mariadb:99.99" in proc.stdout


def test_no_docker_engine_is_a_sentence(engine_env, redis_client, monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    error = scan_through_queue(redis_client, "mariadb:1.0").error
    assert error.kind == "docker_unavailable" and "dockerd is running" in error.message


def test_cli_with_redis_down_says_so_and_alternative_still_answers(engine_env):
    env = {**os.environ, "REDIS_URL": "redis://127.0.0.1:1/0"}
    scan = run_cli("scan", "mariadb", env=env)
    assert scan.returncode == 1 and scan.stderr.strip().endswith("unset REDIS_URL to use an embedded one.")
    assert "Traceback" not in scan.stderr
    alternative = run_cli("alternative", "mariadb", "--format", "json", env=env)
    assert alternative.returncode == 0 and json.loads(alternative.stdout)["reference"].endswith(
        "/chainguard/mariadb:latest"
    )


def test_a_broken_image_is_a_sentence_not_a_traceback(engine_env, redis_client, registry):
    from tests.helpers.images import _Blob, _Registry

    push = _Registry(registry)
    layer = _Blob.of(os.urandom(4096), "application/vnd.docker.image.rootfs.diff.tar.gzip")  # not a gzip, not a tar
    config = _Blob.of(
        json.dumps(
            {
                "architecture": "amd64",
                "os": "linux",
                "rootfs": {"type": "layers", "diff_ids": [layer.digest]},
                "config": {},
                "history": [{"created_by": "ADD garbage /"}],
            }
        ).encode(),
        "application/vnd.docker.container.image.v1+json",
    )
    manifest = _Blob.of(
        json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {"mediaType": config.media_type, "size": len(config.data), "digest": config.digest},
                "layers": [{"mediaType": layer.media_type, "size": len(layer.data), "digest": layer.digest}],
            }
        ).encode(),
        "application/vnd.docker.distribution.manifest.v2+json",
    )
    for blob in (layer, config):
        push.push_blob("broken/image", blob)
    push.push_manifest("broken/image", "1", manifest)
    error = scan_through_queue(redis_client, f"{registry}/broken/image:1").error
    assert error.kind == "trivy_failed" and error.message.startswith("Trivy could not scan")
    assert "Traceback" not in error.message and "goroutine" not in error.message and len(error.message) < 400
