"""deploy/Dockerfile built for real and started in each role.

Chainguard's registry is not reachable here, so the bases are made locally: a Debian bookworm root filesystem
(debootstrap, with python3 and the venv module) imported into the engine as ``chainscan-test-base:…``, built
once per machine and kept by tag. It stands in for both ``python:latest-dev`` (shell, pip) and
``python:latest``; the build arguments are the ones an air-gapped site passes for its mirror. The image is
built with the classic builder (Debian's docker.io has no buildx), pip fetching from the package registry, then
each role is started against the test Redis and answers its health check."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import requests

from tests.helpers.fixtures import free_port
from tests.helpers.fresh_debian import ensure_debootstrap_image

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1200)]

ROOT = Path(__file__).resolve().parents[2]
BASE_PACKAGES = "python3,python3-venv,ca-certificates"
BASE_TAG = "chainscan-test-base:bookworm-" + hashlib.sha256(BASE_PACKAGES.encode()).hexdigest()[:12]
IMAGE_TAG = "chainscan-test:deploy"


def docker(*args: str, timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, **kwargs)


@pytest.fixture(scope="module")
def image(docker_client) -> str:
    ensure_debootstrap_image(docker_client, BASE_TAG, BASE_PACKAGES)  # built once per machine, kept by tag
    built = docker(
        "build",
        "-f",
        "deploy/Dockerfile",
        "--build-arg",
        f"BUILD_BASE={BASE_TAG}",
        "--build-arg",
        f"RUN_BASE={BASE_TAG}",
        "-t",
        IMAGE_TAG,
        ".",
        timeout=900,
        cwd=ROOT,
        env={**os.environ, "DOCKER_BUILDKIT": "0"},
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    return IMAGE_TAG


def test_the_image_runs_as_a_non_root_user_with_trivy_inside(image):
    assert docker("run", "--rm", "--entrypoint", "id", image, "-u").stdout.strip() == "65532"
    trivy = docker("run", "--rm", "--entrypoint", "trivy", image, "--version")
    assert trivy.returncode == 0 and trivy.stdout.startswith("Version: ")
    assert "python -m bot" in docker("run", "--rm", image, "--help").stdout  # the command picks the role


def wait_for(probe, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():
            return
        time.sleep(0.5)
    pytest.fail("the container did not become healthy")


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).status_code == 200
    except requests.RequestException:  # not listening yet, or still booting
        return False


def test_each_role_starts_from_the_one_image_and_answers_its_health_check(image, redis_client, redis_url, slack):
    web_port, worker_metrics, scheduler_metrics = free_port(), free_port(), free_port()
    common = {
        "REDIS_URL": redis_url,
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": "test-signing-secret",
        "SLACK_API_URL": slack.base_url,
        "LOG_FORMAT": "json",
        "HOST": "127.0.0.1",  # host networking, on loopback only
        "METRICS_HOST": "127.0.0.1",
        "DB_MAX_AGE_HOURS": "1000000",
    }
    roles = {
        "serve": {"PORT": str(web_port), "WEB_CONCURRENCY": "1"},
        "worker": {"METRICS_PORT": str(worker_metrics), "WORKER_POOL_SIZE": "2"},
        "scheduler": {"METRICS_PORT": str(scheduler_metrics)},
    }
    names = {role: f"chainscan-test-{role}-{uuid.uuid4().hex[:8]}" for role in roles}
    try:
        for role, env in roles.items():
            flags = [f"--env={k}={v}" for k, v in {**common, **env}.items()]
            started = docker("run", "-d", "--name", names[role], "--network", "host", *flags, image, role)
            assert started.returncode == 0, started.stderr
        wait_for(lambda: answers(f"http://127.0.0.1:{web_port}/readyz"))
        assert requests.get(f"http://127.0.0.1:{web_port}/healthz", timeout=5).json() == {"ok": True}
        assert "chainscan_workers_alive" in requests.get(f"http://127.0.0.1:{web_port}/metrics", timeout=5).text
        wait_for(lambda: answers(f"http://127.0.0.1:{scheduler_metrics}/metrics"))
        wait_for(lambda: answers(f"http://127.0.0.1:{worker_metrics}/metrics"))
        wait_for(lambda: docker("exec", names["worker"], "python", "-m", "bot", "status", "--check").returncode == 0)
        for name in names.values():
            assert docker("inspect", "-f", "{{.State.Running}}", name).stdout.strip() == "true"
    finally:
        for name in names.values():
            docker("stop", "-t", "20", name, timeout=60)  # SIGTERM first: a worker says goodbye to Redis
            docker("rm", "-f", name)
    stopped = docker(
        "run", "--rm", "--network", "host", *[f"--env={k}={v}" for k, v in common.items()], image, "status", "--check"
    )
    assert stopped.returncode == 1 and "No worker of host" in stopped.stderr  # a stopped pool fails the check


def scan_in_image(image: str, trivy_cache_dir: Path, tmp_path: Path, *command: str, env: dict | None = None):
    """``docker run IMAGE COMMAND…`` as a site runs a worker: the Trivy DB from a read-only volume (as the
    Kubernetes workers mount it), the engine through the socket's group (as compose adds it), no Redis set (the
    CLI brings its embedded Valkey)."""
    db = tmp_path / "trivy"
    shutil.copytree(trivy_cache_dir / "db", db / "db")
    for path in (db, db / "db", *(db / "db").iterdir()):
        path.chmod(0o755 if path.is_dir() else 0o644)  # readable by the image's user, 65532
    socket_group = str(Path("/var/run/docker.sock").stat().st_gid)
    settings = {"TRIVY_CACHE_DIR": "/var/cache/trivy", "TRIVY_SKIP_DB_UPDATE": "true", **(env or {})}
    return docker(
        "run", "--rm", "--network", "host", "--group-add", socket_group,
        "-v", "/var/run/docker.sock:/var/run/docker.sock", "-v", f"{db}:/var/cache/trivy:ro",
        *[f"--env={name}={value}" for name, value in settings.items()],
        image, *command,
        timeout=300,
    )  # fmt: skip


def test_the_image_scans_as_an_air_gapped_site_runs_it_mirrors_and_a_read_only_db(
    image, registry, test_images, trivy_cache_dir, tmp_path
):
    """Docker Hub and Chainguard images from the local mirror, the Trivy DB from a read-only volume (as the
    Kubernetes workers mount it), the engine through the socket's group (as compose adds it), no Redis set
    (the CLI brings its embedded Valkey): the image scans mariadb and its Chainguard alternative."""
    done = scan_in_image(
        image, trivy_cache_dir, tmp_path, "scan", "mariadb", "--format", "json",
        env={"DOCKERHUB_MIRROR": registry, "CHAINGUARD_REGISTRY": f"{registry}/chainguard"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["image"]["reference"] == "docker.io/library/mariadb:latest"
    assert report["alternative"]["image"]["reference"] == f"{registry}/chainguard/mariadb:latest"
    assert report["counts"]["critical"] > report["alternative"]["counts"]["critical"]


def test_the_bot_scans_its_own_image(image, registry, trivy_cache_dir, tmp_path):
    """Practising what it preaches: the image, pushed to a registry, scanned by the image itself. Offline, with the
    test DB, the counts say little; what CI checks is that its OS and packages are seen and the answer is whole."""
    pushed = f"{registry}/chainscan/chainscan:ci"
    assert docker("tag", image, pushed).returncode == 0
    assert docker("push", pushed, timeout=300).returncode == 0
    done = scan_in_image(
        image, trivy_cache_dir, tmp_path, "scan", pushed, "--no-alternative", "--format", "json",
        env={"REGISTRY_ALLOWLIST": "127.0.0.1:5000"},  # a loopback registry: listed, as an operator would
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["image"]["reference"] == pushed and report["image"]["os"].startswith("debian 12")
    assert len(report["layers"]) >= 2 and set(report["counts"]) == {"critical", "high", "medium", "low", "unknown"}
    print(
        f"\nchainscan's own image ({report['image']['os']}, {report['image']['size_bytes']} bytes): {report['counts']}"
    )
