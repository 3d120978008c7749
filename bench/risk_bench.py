"""KEV/EPSS and base-attribution figures, each against a baseline measured in the same run.

(a) loading a full-size EPSS file (300,000 CVEs, gzip CSV in the published format): parse whole + stage + RENAME,
    against writing the same entries with plain pipelined HSETs (what a load costs beyond the bare Redis writes);
(b) joining the feeds to the report of ``big:1`` (one HMGET per feed + the pure join), against reading that
    report from the scan cache (what a cached re-scan already pays);
(c) base attribution of ``big:1``: from the registry (cold) and from its Redis cache, against the same cache read.
"""

from __future__ import annotations

import gzip
import os
import random
import statistics
import time
from datetime import UTC, datetime

from redis import Redis

from bench.world import prepare
from workers.base.find import find_base
from workers.config import Settings
from workers.feeds.parse import parse_epss
from workers.feeds.risk import cves_of, join
from workers.feeds.store import lookup, store_feed
from workers.scan.engine import Scanner

IMAGE = "big:1"
ROWS = 300_000
ROUNDS = 5


def epss_file(report_cves: list[str]) -> bytes:
    rng = random.Random(7)
    cves = [f"CVE-{2000 + n % 26}-{n:06d}" for n in range(ROWS - len(report_cves))] + report_cves
    lines = ["#model_version:v2025.03.14,score_date:2026-12-04T12:55:00Z", "cve,epss,percentile"]
    lines += [f"{cve},{rng.random():.5f},{rng.random():.5f}" for cve in cves]
    return gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0)


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main() -> None:
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    prepare(redis_url)
    redis = Redis.from_url(redis_url)
    redis.flushdb()
    settings = Settings.from_env()
    scanner = Scanner(settings, redis)
    now = datetime.now(UTC)
    try:
        report = scanner.scan(IMAGE)
        key = next(iter(redis.scan_iter("chainscan:report:*"))).decode()
        data = epss_file(cves_of([report]))
        feed = parse_epss(data)

        def bare_hset() -> None:
            items = [(cve, f"{s.score!r},{s.percentile!r}") for cve, s in feed.scores.items()]
            with redis.pipeline(transaction=False) as pipe:
                for start in range(0, len(items), 5000):
                    pipe.hset("bench:bare", mapping=dict(items[start : start + 5000]))
                pipe.execute()
            redis.delete("bench:bare")

        load = [timed(lambda: store_feed(redis, parse_epss(data), source="bench", now=now)) for _ in range(ROUNDS)]
        bare = [timed(bare_hset) for _ in range(ROUNDS)]
        read = [timed(lambda: scanner.store.get(key)) for _ in range(30)]
        joins = [timed(lambda: join(report, lookup(redis, cves_of([report])), now)) for _ in range(30)]
        cold_base = []
        for _ in range(ROUNDS):
            for stale in redis.scan_iter("chainscan:base:*"):
                redis.delete(stale)
            cold_base.append(timed(lambda: find_base(scanner, report)))
        cached_base = [timed(lambda: find_base(scanner, report)) for _ in range(30)]
        base = find_base(scanner, report)
    finally:
        redis.flushdb()

    med = statistics.median
    print(f"risk feeds and base image, image {IMAGE} ({len(report.vulnerabilities)} findings), medians")
    print(f"  (a) EPSS load, {ROWS} CVEs ({len(data) / 1e6:.1f} MB gz): {med(load) * 1000:7.0f} ms;"
          f" bare HSETs {med(bare) * 1000:6.0f} ms   ratio {med(load) / med(bare):.2f}")  # fmt: skip
    print(f"  (b) join (2 HMGET + pure): {med(joins) * 1000:6.1f} ms; cached report read {med(read) * 1000:5.1f} ms"
          f"   ratio {med(joins) / med(read):.2f}")  # fmt: skip
    print(f"  (c) base attribution: cold {med(cold_base) * 1000:6.1f} ms, cached {med(cached_base) * 1000:5.1f} ms;"
          f" ratio cached/report read {med(cached_base) / med(read):.2f}   -> {base and base['name']}")  # fmt: skip


if __name__ == "__main__":
    main()
