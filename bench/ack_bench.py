"""Ack latency of ``/scan`` over real HTTP: chainscan vs a bare Bolt app that only acks.

200 signed ``/scan mariadb`` requests at concurrency 20 against each server, both
``gunicorn`` + Flask with the same settings, in the same run. Prints p50/p99 and
the ratio. Needs a Redis (REDIS_URL, default redis://127.0.0.1:6379/14).
"""

from __future__ import annotations

import http.client
import os
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests
from redis import Redis

from tests.helpers.slack_api import SlackAPIServer
from tests.helpers.slack_requests import sign, slash_command_body

SECRET = "bench-secret"
REQUESTS, CONCURRENCY = 200, 20
REPEATS = 5  # each server gets 5 runs of 200, interleaved; percentiles are over all 1000


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


def measure(port: int, response_url: str) -> list[float]:
    """Latency of each request, from a keep-alive http.client connection per thread (a light client,
    so the load generator's own CPU use distorts the figures as little as possible). Each request is a
    distinct invocation (its own trigger_id), as Slack's are: identical signed bodies are replays, which
    chainscan answers without acting."""
    bodies = [
        slash_command_body("mariadb", channel_id="C0BENCH", response_url=response_url).encode()
        for _ in range(40 + REQUESTS)
    ]
    local = threading.local()

    def one(i: int) -> float:
        body = bodies[i]
        if not hasattr(local, "conn"):
            local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        headers = {**sign(body.decode(), SECRET), "Content-Type": "application/x-www-form-urlencoded"}
        started = time.perf_counter()
        local.conn.request("POST", "/slack/events", body=body, headers=headers)
        response = local.conn.getresponse()
        response.read()
        elapsed = time.perf_counter() - started
        assert response.status == 200, response.status
        return elapsed * 1000

    with ThreadPoolExecutor(CONCURRENCY) as pool:
        list(pool.map(one, range(40)))  # warm-up: connections, imports, first requests
        return sorted(pool.map(one, range(40, 40 + REQUESTS)))


def pct(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main() -> None:
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    redis = Redis.from_url(redis_url)
    redis.flushdb()
    with SlackAPIServer(token="xoxb-bench") as slack:
        env = {
            **os.environ,
            "SLACK_BOT_TOKEN": "xoxb-bench",
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": slack.base_url,
            "REDIS_URL": redis_url,
            "HOST": "127.0.0.1",
            "WEB_THREADS": str(CONCURRENCY),
            "LOG_LEVEL": "WARNING",
            "SCAN_RATE_LIMIT": "off",  # one bench user sends 1200 scans: the limits would refuse most
            "SCAN_CHANNEL_RATE_LIMIT": "off",
        }
        servers = {
            "bare Bolt app (ack only)": start([sys.executable, "-m", "bench.bare_app"], env, 3901),
            "chainscan /scan (parse + enqueue + ack)": start([sys.executable, "-m", "bot", "serve"], env, 3902),
        }
        results: dict[str, list[float]] = {name: [] for name in servers}
        try:
            for _ in range(REPEATS):
                for (name, _proc), port in zip(servers.items(), (3901, 3902), strict=False):
                    results[name] += measure(port, slack.response_url("bench"))
        finally:
            for proc in servers.values():
                proc.terminate()
                proc.wait(10)
        results = {name: sorted(values) for name, values in results.items()}
    queued = redis.llen("rq:queue:chainscan")
    redis.flushdb()
    print(f"ack latency, {REPEATS} x {REQUESTS} signed /scan requests at concurrency {CONCURRENCY} (ms)")
    for name, values in results.items():
        print(
            f"  {name:<42} p50 {pct(values, 50):6.1f}   p99 {pct(values, 99):6.1f}   mean {statistics.mean(values):6.1f}"
        )
    (bare, ours) = results.values()
    print(f"  ratio p99 chainscan/bare: {pct(ours, 99) / pct(bare, 99):.2f}   (target <= 1.5, and p99 < 100 ms)")
    print(f"  jobs enqueued by chainscan: {queued} (expected {REPEATS * (REQUESTS + 40)})")


if __name__ == "__main__":
    main()
