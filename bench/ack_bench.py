"""Ack latency of ``/scan`` over real HTTP: chainscan vs a bare Bolt app that only acks.

200 signed ``/scan mariadb`` requests at concurrency 20 against each server, both
``gunicorn`` + Flask with the same settings, in the same run. Prints p50/p99 and
the ratio. Needs a Redis (REDIS_URL, default redis://127.0.0.1:6379/14).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import requests
from redis import Redis

from tests.helpers.slack_api import SlackAPIServer
from tests.helpers.slack_requests import sign, slash_command_body

SECRET = "bench-secret"
REQUESTS, CONCURRENCY = 200, 20


def start(cmd: list[str], env: dict, port: int) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, env={**env, "PORT": str(port)}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok:
                return proc
        except requests.ConnectionError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"{cmd} did not start")


def measure(url: str, response_url: str) -> list[float]:
    body = slash_command_body("mariadb", channel_id="C0BENCH", response_url=response_url)
    session_per_thread: dict[int, requests.Session] = {}

    def one(_: int) -> float:
        import threading

        session = session_per_thread.setdefault(threading.get_ident(), requests.Session())
        headers = {**sign(body, SECRET), "Content-Type": "application/x-www-form-urlencoded"}
        started = time.perf_counter()
        response = session.post(url, data=body, headers=headers, timeout=10)
        elapsed = time.perf_counter() - started
        assert response.status_code == 200, response.status_code
        return elapsed * 1000

    with ThreadPoolExecutor(CONCURRENCY) as pool:
        list(pool.map(one, range(40)))  # warm-up: connections, imports, first requests
        return sorted(pool.map(one, range(REQUESTS)))


def pct(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main() -> None:
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    redis = Redis.from_url(redis_url)
    redis.flushdb()
    with SlackAPIServer(token="xoxb-bench") as slack:
        env = {**os.environ, "SLACK_BOT_TOKEN": "xoxb-bench", "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": slack.base_url,
               "REDIS_URL": redis_url, "HOST": "127.0.0.1", "WEB_THREADS": str(CONCURRENCY), "LOG_LEVEL": "WARNING"}
        results = {}
        for name, cmd, port in (
            ("bare Bolt app (ack only)", [sys.executable, "-m", "bench.bare_app"], 3901),
            ("chainscan /scan (parse + enqueue + ack)", [sys.executable, "-m", "bot", "serve"], 3902),
        ):
            proc = start(cmd, env, port)
            try:
                results[name] = measure(f"http://127.0.0.1:{port}/slack/events", slack.response_url("bench"))
            finally:
                proc.terminate()
                proc.wait(10)
    queued = redis.llen("rq:queue:chainscan")
    redis.flushdb()
    print(f"ack latency, {REQUESTS} signed /scan requests at concurrency {CONCURRENCY} (ms)")
    for name, values in results.items():
        print(f"  {name:<42} p50 {pct(values, 50):6.1f}   p99 {pct(values, 99):6.1f}   mean {statistics.mean(values):6.1f}")
    (bare, ours) = results.values()
    print(f"  ratio p99 chainscan/bare: {pct(ours, 99) / pct(bare, 99):.2f}   (target <= 1.5, and p99 < 100 ms)")
    print(f"  jobs enqueued by chainscan: {queued} (expected {REQUESTS + 40})")


if __name__ == "__main__":
    main()
