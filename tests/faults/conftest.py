"""What the fault tests share: a real ``python -m bot worker`` pool against the test Redis, a Trivy that
takes its time (a wrapper that sleeps, then runs the real binary), and polling the Slack stand-in for a
thread's final answer."""

from __future__ import annotations

import base64
import os
import shutil
import signal
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from redis import Redis

from tests.integration.conftest import CHANNEL, all_text, slack, slack_env, web  # noqa: F401 (fixtures shared)
from tests.integration.test_resilience import AofRedis

FINAL_WORDS = ("scanning", "waiting for the other")


@pytest.fixture(scope="module")
def private_redis(tmp_path_factory):
    """A redis-server of this module alone (append-only, as deploy/redis.conf has it): other test runs on
    the shared database cannot take its jobs or flush its keys, and it can be restarted."""
    server = AofRedis(tmp_path_factory.mktemp("fault-redis"))
    server.start()
    yield server
    try:
        Redis(port=server.port).shutdown(nosave=True)
    except Exception:
        pass  # shutdown drops the connection


@pytest.fixture
def redis_url(private_redis):  # overrides the shared fixture
    return private_redis.url


@pytest.fixture
def slow_trivy(tmp_path) -> Path:
    """A TRIVY_BIN whose image scans sleep ``$TRIVY_DELAY`` seconds first (only the first one when
    ``$TRIVY_DELAY_ONCE`` is set), writing ``<pid of the worker> <own pid>`` to ``trivy.started``."""
    real = shutil.which("trivy") or "trivy"
    script = tmp_path / "slow-trivy"
    script.write_text(
        "#!/bin/sh\n"
        f'started="{tmp_path}/trivy.started"\n'
        'if [ "$1" = image ] && { [ -z "$TRIVY_DELAY_ONCE" ] || mkdir "$started.once" 2>/dev/null; }; then\n'
        '  echo "$PPID $$" > "$started.tmp" && mv "$started.tmp" "$started"\n'
        '  sleep "${TRIVY_DELAY:-0}"\n'
        "fi\n"
        f'exec "{real}" "$@"\n'
    )
    script.chmod(0o755)
    return script


def wait_for_file(path: Path, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return path.read_text().strip()
        time.sleep(0.05)
    pytest.fail(f"{path.name} never appeared")


@contextmanager
def worker_pool(env: dict, log: Path, size: int = 2) -> Iterator[subprocess.Popen]:
    """``python -m bot worker`` in a session of its own (so its forked workers and their RQ scheduler end
    with it); its output goes to ``log``."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "worker"],
            env={**env, "WORKER_POOL_SIZE": str(size)},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield proc
        finally:
            with _gone():
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
            with _gone():
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


@contextmanager
def _gone():
    try:
        yield
    except ProcessLookupError:
        pass


def final_parent(api, timeout: float) -> tuple[str, dict]:
    """Wait until the first parent message of the channel is no longer "scanning…"; its ts and text."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        posts = [c for c in api.calls("chat.postMessage") if c.ok and not c.params.get("thread_ts")]
        if posts:
            ts = posts[0].response["ts"]
            parent = api.messages_in_thread(CHANNEL, ts)[0]
            if not any(word in all_text(parent).lower() for word in FINAL_WORDS):
                return ts, parent
        time.sleep(0.2)
    pytest.fail(f"no final answer within {timeout} s")


def top_level_posts(api) -> int:
    return len([c for c in api.calls("chat.postMessage") if c.ok and not c.params.get("thread_ts")])


def redis_values(redis: Redis) -> list[bytes]:
    """Every key and value in the database, RQ's compressed job data and results unpacked as well."""
    found: list[bytes] = []
    for key in redis.scan_iter(count=1000):
        kind = redis.type(key).decode()
        if kind == "string":
            values = [redis.get(key) or b""]
        elif kind == "hash":
            values = [b for pair in redis.hgetall(key).items() for b in pair]
        elif kind == "list":
            values = redis.lrange(key, 0, -1)
        elif kind == "set":
            values = list(redis.smembers(key))
        elif kind == "zset":
            values = redis.zrange(key, 0, -1)
        elif kind == "stream":
            values = [b for _, entry in redis.xrange(key) for pair in entry.items() for b in pair]
        else:
            values = []
        found.append(key)
        for value in values:
            found += _unpacked(value)
    return found


def _unpacked(value: bytes) -> list[bytes]:
    out = [value]
    for decode in (lambda v: zlib.decompress(v), lambda v: zlib.decompress(base64.b64decode(v, validate=True))):
        try:
            out.append(decode(value))
        except Exception:
            pass
    try:
        out.append(base64.b64decode(value, validate=True))
    except Exception:
        pass
    return out
