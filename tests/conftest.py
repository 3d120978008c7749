"""Shared fixtures. The offline world (Trivy DB, registry, test images) lives in tests/helpers."""

from __future__ import annotations

import os

import pytest
from redis import Redis

pytest_plugins = ["tests.helpers.fixtures", "tests.helpers.transport"]

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(autouse=True)
def fresh_process_settings():
    """Each test is a new process as far as settings go: they are read once, after the test's own
    environment is set up, as a worker process reads them once at start."""
    from bot import config

    config.install(None)
    yield
    config.install(None)


@pytest.fixture
def redis_url() -> str:
    return TEST_REDIS_URL


@pytest.fixture
def redis_client(redis_url):
    """A real Redis (database 15 by default), emptied before and after each test."""
    client = Redis.from_url(redis_url)
    try:
        client.ping()
    except Exception as exc:  # pragma: no cover - .ci/run starts one
        pytest.fail(f"No Redis at {redis_url} ({exc}); start redis-server or set TEST_REDIS_URL.")
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def engine_env(monkeypatch, redis_url, trivy_cache_dir, registry):
    """Environment for the engine: the test DB, no DB download, docker.io and Chainguard from the local registry."""
    values = {
        "REDIS_URL": redis_url,
        "TRIVY_CACHE_DIR": str(trivy_cache_dir),
        "TRIVY_SKIP_DB_UPDATE": "true",
        "DOCKERHUB_MIRROR": registry,
        "CHAINGUARD_REGISTRY": f"{registry}/chainguard",
        "JOB_RETRIES": "0",
        "SCAN_TIMEOUT": "120",
        "REGISTRY_ALLOWLIST": "127.0.0.1",  # the tests' registries are loopback ones, on ports of their own
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values
