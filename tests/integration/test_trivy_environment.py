"""The real Trivy, started by the real runner, does not inherit the worker's secrets: its environment is read from
``/proc/<pid>/environ`` while it waits on a registry that accepts its connection and never answers."""

import json
import os
import socket
import threading
from pathlib import Path

from tests.helpers.fixtures import free_port, process_environ
from workers.errors import ScanError
from workers.scan import trivy

SECRET = "xoxb-attack-canary-7Qm"


def _descendants(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [], [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        found += children
        frontier += children
    return found


def test_attack_trivy_does_not_inherit_the_workers_secrets(trivy_binary, trivy_cache_dir, monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", SECRET)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    monkeypatch.setenv("REGISTRY_CREDENTIALS", json.dumps({"ghcr.io": {"username": "u", "password": SECRET}}))
    monkeypatch.setenv("TRIVY_CACHE_DIR", str(trivy_cache_dir))
    port = free_port()
    listener = socket.create_server(("127.0.0.1", port))
    listener.settimeout(60)
    args = trivy.image_command(trivy_binary, f"127.0.0.1:{port}/silent:1", timeout=20, insecure=True, skip_db=True)
    errors: list[Exception] = []
    run = threading.Thread(
        target=lambda: _capture(errors, args, {"TRIVY_USERNAME": "scan-user", "TRIVY_PASSWORD": "scan-password"})
    )
    run.start()
    connection, _ = listener.accept()  # Trivy is running and talking to "the registry"
    try:
        environs = [env for pid in _descendants(os.getpid()) if (env := _safe_environ(pid)) is not None]
        trivy_envs = [env for env in environs if env.get("TRIVY_USERNAME") == "scan-user"]
        assert trivy_envs, "the Trivy process was found by the credentials of its scan"
        for env in environs:
            assert SECRET not in "\0".join(f"{k}={v}" for k, v in env.items())
            assert "SLACK_SIGNING_SECRET" not in env and "REGISTRY_CREDENTIALS" not in env
        assert all(env["TRIVY_CACHE_DIR"] == str(trivy_cache_dir) for env in trivy_envs)
    finally:
        connection.close()
        listener.close()
        run.join(90)
    assert errors and isinstance(errors[0], ScanError), "the silent registry is a sentence"


def _capture(errors: list, args: list[str], extra_env: dict) -> None:
    try:
        trivy.run_json(args, timeout=20, extra_env=extra_env, what="silent:1")
    except Exception as exc:  # noqa: BLE001 - handed to the test thread
        errors.append(exc)


def _safe_environ(pid: int) -> dict[str, str] | None:
    try:
        return process_environ(pid)
    except OSError:  # it ended while the others were read
        return None
