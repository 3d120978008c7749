"""Scan engine figures, each against a baseline measured in the same run.

(a) a cold scan through the queue (enqueue → worker → resolve → Trivy → store →
    result) vs the raw ``trivy image`` command on the same image with the same
    flags: ratio of medians (target ≤ 1.15);
(b) a cached re-scan vs a cold one: median ms (target ≤ 50 ms);
(c) 20 concurrent identical requests on a 4-worker pool: Trivy runs (target 1);
(d) (a) on a real Debian 12 + mariadb-server image (debootstrap, about 500 MB, built once per machine): the
    ratio of medians (target <= 1.10).
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import time

from redis import Redis
from rq import Queue

from bench.world import prepare
from workers.config import Settings
from workers.scan import trivy
from workers.scan.queue import enqueue_scan, wait_for
from workers.scan.store import ReportStore

IMAGE = "big:1"
REAL_IMAGE = "bench/debian-mariadb:12"  # docker.io/bench/…: served by the mirror
ROUNDS = 6


def forget_reports(redis: Redis) -> None:
    """Make the next scan fully cold: no cached report, digest answer, base attribution or layer in Trivy's cache."""
    for pattern in (
        "chainscan:report:*",
        "chainscan:inventory:*",
        "chainscan:distribution:*",
        "chainscan:base:*",
        "fanal::*",
    ):
        for key in redis.scan_iter(pattern, count=1000):
            redis.delete(key)


def through_queue(queue: Queue, settings: Settings, reference: str) -> float:
    """The scan's latency (enqueue to result); then wait, untimed, for the inventory the job keeps after answering
    (workers.inventory), so its `trivy convert` never runs beside the next measurement."""
    started = time.perf_counter()
    outcome = wait_for(enqueue_scan(queue, settings, reference), timeout=300)
    elapsed = time.perf_counter() - started
    if outcome.error:
        raise SystemExit(f"scan failed: {outcome.error.message}")
    deadline = time.monotonic() + 30
    while not any(queue.connection.scan_iter("chainscan:inventory:*", count=1000)) and time.monotonic() < deadline:
        time.sleep(0.02)
    return elapsed


def raw_trivy(target: str, settings: Settings) -> float:
    args = trivy.image_command(settings.trivy_bin, target, timeout=settings.scan_timeout, skip_java_db=True)
    started = time.perf_counter()
    env = {**os.environ, "TRIVY_CACHE_BACKEND": "memory"}  # Trivy alone, as before the layer cache
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - started


def alternated(queue: Queue, settings: Settings, targets: list[tuple[str, str]], before=lambda: None):
    """(through the queue, raw trivy) timings over ``targets`` ((reference, registry target) pairs); which goes
    first alternates, so warm caches favour neither; ``before`` runs ahead of each pair, untimed."""
    queued, raw = [], []
    for round_, (reference, target) in enumerate(targets):
        before()
        if round_ % 2:
            queued.append(through_queue(queue, settings, reference))
            raw.append(raw_trivy(target, settings))
        else:
            raw.append(raw_trivy(target, settings))
            queued.append(through_queue(queue, settings, reference))
    return queued, raw


def cold_vs_raw(queue: Queue, settings: Settings, redis: Redis, reference: str, target: str):
    """(cold scans through the queue, raw runs), ROUNDS of each. The first scan (untimed) warms the pool and
    verifies the layers once (workers.scan.layers)."""
    through_queue(queue, settings, reference)
    return alternated(queue, settings, [(reference, target)] * ROUNDS, before=lambda: forget_reports(redis))


def push_real_debian(env: dict[str, str]) -> None:
    """Push the real ~500 MB Debian 12 + mariadb-server base (built with debootstrap once) as REAL_IMAGE."""
    from bench.scale_bench import debian_app_tags

    debian_app_tags(env["REGISTRY"], [])


def main() -> None:
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    env = prepare(redis_url)
    redis = Redis.from_url(redis_url)
    redis.flushdb()
    settings = Settings.from_env()
    queue = Queue(settings.queue_name, connection=redis)
    pool = subprocess.Popen(
        [sys.executable, "-m", "bot", "worker", "--size", "4"],
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        time.sleep(2)  # let the pool's workers register
        through_queue(queue, settings, IMAGE)  # warm-up: page cache, imports in the pool
        cold, raw = cold_vs_raw(queue, settings, redis, IMAGE, f"{env['REGISTRY']}/library/{IMAGE}")
        cached = [through_queue(queue, settings, IMAGE) for _ in range(30)]

        push_real_debian(env)
        real = cold_vs_raw(queue, settings, redis, REAL_IMAGE, f"{env['REGISTRY']}/{REAL_IMAGE}")

        forget_reports(redis)
        store = ReportStore(redis)
        before = store.trivy_runs()
        jobs = [enqueue_scan(queue, settings, IMAGE) for _ in range(20)]
        outcomes = [wait_for(job, timeout=300) for job in jobs]
        runs = store.trivy_runs() - before
    finally:
        pool.terminate()  # the pool stops its workers
        try:
            pool.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(pool.pid, signal.SIGKILL)  # its whole process group, so nothing outlives the bench
        redis.flushdb()

    med = statistics.median
    print(f"scan engine, image {IMAGE} ({ROUNDS} rounds, medians)")
    print(f"  (a) raw `trivy image`            {med(raw) * 1000:8.0f} ms")
    print(
        f"      cold scan through the queue  {med(cold) * 1000:8.0f} ms   ratio {med(cold) / med(raw):.3f}  (target <= 1.15)"
    )
    print(
        f"  (b) cached re-scan               {med(cached) * 1000:8.1f} ms   (p90 {sorted(cached)[int(0.9 * len(cached))] * 1000:.1f} ms;"
        f" {med(cold) / med(cached):.0f}x faster than cold; target median <= 50 ms)"
    )
    ok = sum(1 for o in outcomes if o.report)
    print(f"  (c) 20 concurrent identical requests, 4 workers: {runs} Trivy run(s), {ok}/20 answered  (target 1)")
    real_cold, real_raw = med(real[0]), med(real[1])
    print(f"  (d) Debian 12 + mariadb-server (~500 MB): raw `trivy image` {real_raw * 1000:6.0f} ms,")
    print(
        f"      cold scan through the queue {real_cold * 1000:6.0f} ms   ratio {real_cold / real_raw:.3f}"
        "  (target <= 1.10)"
    )


if __name__ == "__main__":
    main()
