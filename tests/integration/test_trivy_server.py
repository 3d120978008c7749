"""Client/server mode: a real ``trivy server`` started by the test with the test DB, on a free loopback port, with a
token; the workers run ``trivy image --server`` and report exactly what local mode reports."""

from __future__ import annotations

import os
import socket
import subprocess
import time

import pytest

from tests.helpers.fixtures import free_port
from tests.helpers.images import push_extra
from workers.config import Settings
from workers.errors import ErrorKind, ScanError
from workers.scan.engine import Scanner

pytestmark = pytest.mark.integration

TOKEN = "server-token-5Kx"


@pytest.fixture(scope="module")
def trivy_server(trivy_binary, trivy_cache_dir, tmp_path_factory):
    """``trivy server`` holding the test DB; yields its URL."""
    port = free_port()
    log = (tmp_path_factory.mktemp("trivy-server") / "server.log").open("wb")
    proc = subprocess.Popen(
        [trivy_binary, "server", "--listen", f"127.0.0.1:{port}", "--cache-dir", str(trivy_cache_dir)]
        + ["--skip-db-update", "--cache-backend", "memory"],
        env={**os.environ, "TRIVY_TOKEN": TOKEN},
        stdout=log,
        stderr=log,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("trivy server did not start")
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(15)
    log.close()


@pytest.fixture
def recording_trivy(tmp_path):
    """A TRIVY_BIN that writes each command line to ``argv.log``, then runs the real Trivy."""
    real = subprocess.run(["sh", "-c", "command -v trivy"], capture_output=True, text=True).stdout.strip()
    script = tmp_path / "trivy"
    script.write_text(f'#!/bin/sh\necho "$@" >> "{tmp_path}/argv.log"\nexec "{real}" "$@"\n')
    script.chmod(0o755)
    return script


def comparable(report) -> dict:
    data = report.to_dict()
    for volatile in ("scanned_at", "cached"):
        data.pop(volatile, None)
    return data


@pytest.mark.parametrize("image", ["mariadb:latest", "app:3", "chainguard/mariadb:latest", "noos:1"])
def test_reports_through_trivy_server_equal_local_mode(
    engine_env, monkeypatch, redis_client, registry, test_images, trivy_server, recording_trivy, image
):
    push_extra(registry, "library/app:1", "library/app:3")
    local = Scanner(Settings.from_env({**os.environ, "TRIVY_LAYER_CACHE": "memory"}), redis_client)
    env = {**os.environ, "TRIVY_SERVER": trivy_server, "TRIVY_TOKEN": TOKEN, "TRIVY_BIN": str(recording_trivy)}
    remote = Scanner(Settings.from_env(env), redis_client, env=env)
    expected = local.scan(image, force=True)
    monkeypatch.setenv("TRIVY_TOKEN", TOKEN)  # Trivy reads the token from its environment, never from a flag
    got = remote.scan(image, force=True)
    assert comparable(got) == comparable(expected)
    argv = (recording_trivy.parent / "argv.log").read_text()
    assert f"--server {trivy_server}" in argv and TOKEN not in argv


def test_a_trivy_server_that_is_down_is_one_clear_sentence(engine_env, redis_client, test_images):
    down = f"http://127.0.0.1:{free_port()}"
    settings = Settings.from_env({**os.environ, "TRIVY_SERVER": down})
    with pytest.raises(ScanError) as error:
        Scanner(settings, redis_client).scan("mariadb:latest", force=True)
    assert error.value.kind is ErrorKind.TRIVY_SERVER_DOWN and error.value.transient
    assert error.value.message == (
        f"The Trivy server at {down} did not answer, so mariadb:latest was not scanned. "
        "Check that `trivy server` is running there (TRIVY_SERVER), then try again."
    )


def test_a_wrong_token_is_told_apart_from_a_server_that_is_down(
    engine_env, monkeypatch, redis_client, test_images, trivy_server
):
    settings = Settings.from_env({**os.environ, "TRIVY_SERVER": trivy_server})
    monkeypatch.setenv("TRIVY_TOKEN", "not-the-token")
    with pytest.raises(ScanError) as error:
        Scanner(settings, redis_client).scan("mariadb:latest", force=True)
    assert error.value.kind is ErrorKind.TRIVY_SERVER_DOWN and "refused the workers' token" in error.value.message


def test_a_worker_without_a_db_of_its_own_caches_server_scans_by_digest(
    engine_env, monkeypatch, redis_client, test_images, trivy_server, tmp_path
):
    """The server's DB version cannot be read from a worker with an empty cache: reports are still kept by
    digest (per DB_REFRESH_INTERVAL window), so a second request for the digest runs no Trivy."""
    from workers.scan.store import ReportStore

    monkeypatch.setenv("TRIVY_TOKEN", TOKEN)
    env = {**os.environ, "TRIVY_SERVER": trivy_server, "TRIVY_TOKEN": TOKEN, "TRIVY_CACHE_DIR": str(tmp_path)}
    scanner, store = Scanner(Settings.from_env(env), redis_client, env=env), ReportStore(redis_client)
    before = store.trivy_runs()
    first = scanner.scan("mariadb:latest")
    second = scanner.scan("mariadb:latest")
    assert store.trivy_runs() - before == 1
    assert second.cached and second.counts == first.counts and first.counts["critical"] > 0
    assert not (tmp_path / "db").exists()  # nothing was downloaded beside the client


def test_a_stored_inventory_is_judged_again_through_the_trivy_server(
    engine_env, monkeypatch, redis_client, test_images, trivy_server, recording_trivy, tmp_path
):
    """A worker with no DB of its own, scanning through the server, judges a digest it has an inventory of with
    ``trivy sbom --server``: the image is not read again, and the report is the local image scan's."""
    local = Scanner(Settings.from_env({**os.environ, "TRIVY_LAYER_CACHE": "memory"}), redis_client)
    expected = local.scan("mariadb:latest", force=True)  # keeps the digest's inventory
    monkeypatch.setenv("TRIVY_TOKEN", TOKEN)
    env = {
        **os.environ,
        "TRIVY_SERVER": trivy_server,
        "TRIVY_CACHE_DIR": str(tmp_path),
        "TRIVY_BIN": str(recording_trivy),
    }
    got = Scanner(Settings.from_env(env), redis_client, env=env).scan("mariadb:latest")
    argv = (recording_trivy.parent / "argv.log").read_text().splitlines()
    assert len(argv) == 1 and argv[0].startswith("sbom ") and f"--server {trivy_server}" in argv[0], argv
    assert TOKEN not in argv[0]
    judged, scanned = comparable(got), comparable(expected)
    assert judged.pop("db") != scanned.pop("db"), "keyed by the server's window, not the local DB"
    assert judged == scanned
