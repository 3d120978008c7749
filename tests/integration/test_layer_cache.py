"""Trivy's layer cache in Redis, with the real parts: a redis-server of this module (with a password, so the
tests can look for it where it must not be), the registry, the real Trivy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue

from tests.helpers.fixtures import free_port, trivy_scan_json
from tests.helpers.images import push_extra
from workers.config import Settings
from workers.scan.engine import Scanner
from workers.scan.queue import enqueue_scan, outcome_of

pytestmark = pytest.mark.integration

PASSWORD = "layer-cache-pw-7Q"

# in this order: app:2 and app:3 reuse app:1's base and dependency layers, mariadb reuses the same base
IMAGES = (
    "app:1",
    "app:2",
    "app:3",
    "mariadb:latest",
    "python:3.12",
    "chainguard/mariadb:latest",
)


@pytest.fixture(scope="module")
def cache_redis(tmp_path_factory):
    """A redis-server of this module alone, with a password: the layer cache under test."""
    directory = tmp_path_factory.mktemp("layer-cache-redis")
    port = free_port()
    subprocess.run(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--requirepass", PASSWORD, "--save", ""]
        + ["--appendonly", "no", "--dir", str(directory), "--daemonize", "yes"]
        + ["--pidfile", str(directory / "redis.pid")],
        check=True,
    )
    client = Redis(port=port, password=PASSWORD)
    for _ in range(100):
        try:
            client.ping()
            break
        except Exception:
            time.sleep(0.05)
    yield client, f"redis://:{PASSWORD}@127.0.0.1:{port}/0"
    try:
        client.shutdown(nosave=True)
    except Exception:
        pass  # shutdown drops the connection


@pytest.fixture(scope="module")
def app_images(registry):
    return push_extra(registry, "library/app:1", "library/app:2", "library/app:3")


@pytest.fixture
def recording_trivy(tmp_path) -> Path:
    """A TRIVY_BIN that writes each command line it gets to ``argv.log``, then runs the real Trivy."""
    script = tmp_path / "trivy"
    real = subprocess.run(["sh", "-c", "command -v trivy"], capture_output=True, text=True).stdout.strip()
    script.write_text(f'#!/bin/sh\necho "$@" >> "{tmp_path}/argv.log"\nexec "{real}" "$@"\n')
    script.chmod(0o755)
    return script


def scanner(redis_client, **env: str) -> Scanner:
    return Scanner(Settings.from_env({**os.environ, **env}), redis_client)


def comparable(report) -> dict:
    data = report.to_dict()
    for volatile in ("scanned_at", "cached"):
        data.pop(volatile, None)
    return data


def test_reports_with_the_redis_layer_cache_equal_reports_without_it(
    engine_env, redis_client, cache_redis, app_images, test_images, recording_trivy
):
    cache, url = cache_redis
    cache.flushdb()
    cached_scanner = scanner(redis_client, TRIVY_LAYER_CACHE_URL=url, TRIVY_BIN=str(recording_trivy))
    plain_scanner = scanner(redis_client, TRIVY_LAYER_CACHE="memory")
    for image in IMAGES:
        with_cache = cached_scanner.scan(image, force=True)
        without = plain_scanner.scan(image, force=True)
        assert comparable(with_cache) == comparable(without), image
        assert with_cache.vulnerabilities or image == "clean:1", f"{image} should have findings to compare"
    upgraded, first = plain_scanner.scan("app:3"), plain_scanner.scan("app:1")
    assert upgraded.counts != first.counts, "app:3 upgrades OpenSSL in its top layer: its findings differ"
    assert cache.keys("fanal::blob::*"), "the reports above came through the Redis layer cache"
    argv = (recording_trivy.parent / "argv.log").read_text()
    assert "image" in argv and PASSWORD not in argv and "--cache-backend" not in argv


def test_trivys_own_json_is_the_same_with_the_layer_cache_layer_digests_included(
    cache_redis, app_images, trivy_cache_dir, registry
):
    cache, url = cache_redis
    cache.flushdb()
    for image in ("library/app:1", "library/app:2", "library/app:3"):
        reference = app_images[image].reference
        memory = trivy_scan_json(trivy_cache_dir, reference)
        cached = trivy_scan_json(
            trivy_cache_dir, reference, env={"TRIVY_CACHE_BACKEND": url}, extra_args=("--cache-ttl", "1h")
        )
        assert cached["Results"] == memory["Results"], image
        assert cached["Metadata"]["Layers"] == memory["Metadata"]["Layers"], image
        assert all(v["Layer"].get("Digest") for r in cached["Results"] for v in r.get("Vulnerabilities") or [])


def test_two_workers_scanning_two_images_on_one_base_analyse_the_base_once(
    engine_env, redis_client, cache_redis, app_images
):
    """Two worker processes (``python -m bot worker --burst``), one image each, the second after the first; counted
    in Redis, not timed: each layer Trivy analyses is one SET of a ``fanal::blob::`` key."""
    cache, url = cache_redis
    cache.flushdb()
    cache.config_resetstat()
    settings = Settings.from_env()
    queue = Queue(settings.queue_name, connection=redis_client)
    env = {**os.environ, "TRIVY_LAYER_CACHE_URL": url}
    first, second = app_images["library/app:1"].platform(), app_images["library/app:2"].platform()

    sets, jobs, logs = [], [], b""
    for image in ("app:1", "app:2"):
        job = enqueue_scan(queue, settings, image)
        jobs.append(job)
        worker = subprocess.run(
            [sys.executable, "-m", "bot", "worker", "--burst", "--size", "1"], env=env, capture_output=True, timeout=300
        )
        assert worker.returncode == 0, worker.stderr[-2000:]
        logs += worker.stdout + worker.stderr
        assert (outcome := outcome_of(job)) and outcome.report, f"{image}: {outcome and outcome.error}"
        sets.append(_sets(cache))

    assert sets[0] == len(first.layers) + 1  # every layer, and the image's config (the "artifact")
    assert sets[1] - sets[0] == 2  # app:2's own top layer and its config: the two shared layers are reused
    diff_ids = {layer.diff_id for layer in (*first.layers, *second.layers)}
    assert len(cache.keys("fanal::blob::*")) == len(diff_ids) == len(first.layers) + 1
    assert len(cache.keys("fanal::artifact::*")) == 2
    ttl = cache.ttl(cache.keys("fanal::blob::*")[0])
    assert 7 * 24 * 3600 - 120 < ttl <= 7 * 24 * 3600, "entries live TRIVY_LAYER_CACHE_TTL (7 days by default)"
    assert b"workers.jobs.scan_image('app:1'" in logs, "the workers logged their jobs (LOG_LEVEL=INFO)"
    assert PASSWORD.encode() not in logs, "the cache's password is never in the workers' logs"
    assert not any(PASSWORD in f"{j.description} {j.args} {j.kwargs}" for j in jobs), "nor in a job"


def test_a_layer_cache_that_does_not_answer_costs_speed_not_the_scan(engine_env, redis_client, app_images, caplog):
    dead = f"redis://:{PASSWORD}@127.0.0.1:{free_port()}/0"
    report = scanner(redis_client, TRIVY_LAYER_CACHE_URL=dead).scan("app:1", force=True)
    assert comparable(report) == comparable(scanner(redis_client, TRIVY_LAYER_CACHE="memory").scan("app:1", force=True))
    assert "layer cache (redis) did not answer; scanning" in caplog.text and PASSWORD not in caplog.text


def _sets(client: Redis) -> int:
    stats = client.info("commandstats")
    return sum(stats.get(f"cmdstat_{name}", {}).get("calls", 0) for name in ("set", "setex", "psetex"))


def test_the_layer_cache_costs_about_this_much_redis_memory_per_layer(
    engine_env, redis_client, cache_redis, test_images
):
    """The README's figure, measured: MEMORY USAGE of each blob Trivy stored for the mariadb image."""
    cache, url = cache_redis
    cache.flushdb()
    scanner(redis_client, TRIVY_LAYER_CACHE_URL=url).scan("mariadb:latest", force=True)
    sizes = sorted(cache.memory_usage(key) for key in cache.keys("fanal::blob::*"))
    assert sizes and max(sizes) < 2_000_000
    print(json.dumps({"blobs": len(sizes), "bytes": sizes}))
