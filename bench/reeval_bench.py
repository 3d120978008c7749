"""Re-evaluation figures (a new DB judges stored inventories again), each against a baseline in the same run.

(a) the weekly digest of a channel watching 50 images (20 distinct digests) right after a DB update, last week's
    digest having kept their inventories: the whole job (lease, re-evaluation in batches, compose, post, chart)
    vs 50 raw ``trivy image`` runs on the same images, as a ratio of medians (target <= 0.10); the two alternate
    which goes first, each round with a DB update of its own;
(b) registry requests that digest made, from the registry's own access log, against the watched tags (target:
    at most one per watched tag), beside those of last week's cold digest;
(c) 1,000 stored inventories judged again after a DB update (``Scanner.reevaluate_stored``, REEVALUATE_BATCH and
    REEVALUATE_CONCURRENCY as configured), in a process of its own: wall time, Trivy runs, peak memory of the
    process and of its largest Trivy child; baseline: one inventory a Trivy run, on a sample, per inventory;
(d) Redis memory per stored inventory (MEMORY USAGE), by package count.

``--images N --distinct D --rounds R --fleet F`` scale it (defaults 50, 20, 4, 1000).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from redis import Redis

from bench.digest_bench import CHANNEL, FIRST_MONDAY, TEAM, digest_once, push_bench_images, raw_trivy
from bench.world import prepare
from bot.cli.processes import preload
from tests.helpers.fixtures import free_port
from tests.helpers.registry import start_registry
from tests.helpers.slack_api import SlackAPIServer
from tests.helpers.trivydb import build_updated_trivy_db
from workers.config import Settings
from workers.inventory.store import InventoryStore

SAMPLE = 40  # inventories judged one a run for (c)'s baseline


def new_db(days_later: int) -> str:
    directory = tempfile.mkdtemp(prefix="chainscan-bench-db-")
    build_updated_trivy_db(directory, days_later=days_later)
    os.environ["TRIVY_CACHE_DIR"] = directory
    return directory


def registry_reads(registry, since: int) -> dict[str, int]:
    """Requests the registry logged after the first ``since``, by kind."""
    kinds = {"manifests": 0, "blobs": 0, "other": 0}
    for _, path in registry.requests()[since:]:
        kind = "manifests" if "/manifests/" in path else "blobs" if "/blobs/" in path else "other"
        kinds[kind] += 1
    return kinds


def digest_figures(args, redis: Redis, references: list[str], targets: list[str], registry) -> dict:
    """(a) and (b): last week's cold digest keeps the inventories, then each round a DB update and the digest."""
    from workers.digests.store import DigestStore

    settings = Settings.from_env()
    DigestStore(redis).watch(TEAM, CHANNEL, references, limit=settings.watch_limit)
    mark = len(registry.requests())
    cold = digest_once(redis, settings, FIRST_MONDAY - timedelta(weeks=1))
    cold_reads = registry_reads(registry, mark)
    preload()  # as `python -m bot worker` does once at start: warm imports, and the heap so far frozen (here the
    # bench's own set-up too, which a worker does not have and whose garbage collections it would not pay)
    digests, raws, reads = [], [], []
    for round_ in range(args.rounds):
        new_db(days_later=10 + round_)
        raw_trivy(targets[:1], settings)  # Trivy opens the new DB once before either side is timed
        now = FIRST_MONDAY + timedelta(weeks=2 * round_)
        if round_ % 2:
            mark = len(registry.requests())
            digests.append(digest_once(redis, settings, now))
            reads.append(registry_reads(registry, mark))
            raws.append(raw_trivy(targets, settings))
        else:
            raws.append(raw_trivy(targets, settings))
            mark = len(registry.requests())
            digests.append(digest_once(redis, settings, now))
            reads.append(registry_reads(registry, mark))
    fleet_jobs, after_fleet = [], []
    for round_ in range(args.rounds):  # the production path: the update job queues the fleet, the digest comes later
        new_db(days_later=20 + round_)
        raw_trivy(targets[:1], settings)
        fleet_jobs.append(fleet_once(redis, settings))
        after_fleet.append(digest_once(redis, settings, FIRST_MONDAY + timedelta(weeks=2 * (args.rounds + round_))))
    return {"cold": cold, "cold_reads": cold_reads, "digests": digests, "raws": raws, "reads": reads,
            "fleet_jobs": fleet_jobs, "after_fleet": after_fleet}  # fmt: skip


def fleet_once(redis: Redis, settings: Settings) -> float:
    """What ``db update`` queues when the DB changed (workers.inventory.fleet), worked by one worker: seconds."""
    from rq import Queue, SimpleWorker

    from workers.inventory import fleet

    started = time.perf_counter()
    fleet.enqueue(redis, settings, FIRST_MONDAY)
    queue = Queue(settings.queue_name, connection=redis)
    SimpleWorker([queue], connection=redis).work(burst=True, logging_level="WARNING")
    return time.perf_counter() - started


def fleet_child(count: int, batch: int | None) -> dict:
    """(c), in this process alone: copy the stored inventories to ``count`` digests, update the DB, judge them."""
    from workers.scan.engine import Scanner

    if batch is not None:
        os.environ["REEVALUATE_BATCH"] = str(batch)
    settings = Settings.from_env()
    redis = Redis.from_url(os.environ["REDIS_URL"])
    store = InventoryStore(redis)
    seeds = [i for i in store.get_many(sorted(store.all())) if i is not None]
    for key in redis.scan_iter("chainscan:inventory:*"):
        redis.delete(key)
    for n in range(count):
        seed = seeds[n % len(seeds)]
        store.put(replace(seed, digest=f"sha256:{n:064x}", reference=f"bench/fleet-{n}@sha256:{n:064x}"))
    new_db(days_later=30 + (batch or 0))
    started = time.perf_counter()
    judged = Scanner(settings, redis).reevaluate_stored()
    wall = time.perf_counter() - started
    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"count": count, "judged": judged.count, "runs": judged.runs, "wall": wall,
            "self_mb": self_kb / 1024, "child_mb": child_kb / 1024}  # fmt: skip


def run_fleet(count: int, batch: int | None = None) -> dict:
    args = [sys.executable, "-m", "bench.reeval_bench", "--fleet-child", str(count)]
    if batch is not None:
        args += ["--batch", str(batch)]
    done = subprocess.run(args, check=True, capture_output=True, text=True, env=os.environ.copy())
    return json.loads(done.stdout.strip().splitlines()[-1])


def inventory_sizes(redis: Redis) -> list[tuple[int, int]]:
    """(packages, bytes in Redis) of every stored inventory, distinct package counts only."""
    store, sizes = InventoryStore(redis), {}
    for digest, platform in store.all():
        inventory = store.get(digest, platform)
        if inventory is not None:
            sizes.setdefault(inventory.packages, store.stored_bytes(digest, platform))
    return sorted(sizes.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=50)
    parser.add_argument("--distinct", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--fleet", type=int, default=1000)
    parser.add_argument("--fleet-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fleet_child:
        print(json.dumps(fleet_child(args.fleet_child, args.batch)))
        return
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    prepare(redis_url)
    registry = start_registry(free_port(), root=Path(tempfile.mkdtemp(prefix="chainscan-bench-reg-")), access_log=True)
    os.environ.update({"DOCKERHUB_MIRROR": registry.address, "CHAINGUARD_REGISTRY": f"{registry.address}/chainguard"})
    os.environ["REGISTRY_ALLOWLIST"] = "127.0.0.1"
    os.environ["WATCH_LIMIT"] = str(max(50, args.images))
    redis = Redis.from_url(redis_url)
    redis.flushdb()
    references = push_bench_images(registry.address, args.images, args.distinct)
    targets = [f"{registry.address}/{r.removeprefix('docker.io/')}" for r in references]
    slack = SlackAPIServer(token="xoxb-bench").start()
    os.environ.update(
        {"SLACK_BOT_TOKEN": "xoxb-bench", "SLACK_SIGNING_SECRET": "bench", "SLACK_API_URL": slack.base_url}
    )
    try:
        figures = digest_figures(args, redis, references, targets, registry)
        sizes = inventory_sizes(redis)
        fleet = run_fleet(args.fleet)
        alone = run_fleet(SAMPLE, batch=1)
    finally:
        slack.stop()
        registry.stop()
        redis.flushdb()
    report(args, figures, sizes, fleet, alone)


def report(args, figures: dict, sizes: list[tuple[int, int]], fleet: dict, alone: dict) -> None:
    med = statistics.median
    digest, raw = med(figures["digests"]), med(figures["raws"])
    print(f"re-evaluation on a new DB, {args.images} watched images ({args.distinct} digests), {args.rounds} rounds")
    print(f"  (a) {args.images} raw `trivy image` runs        {raw:8.2f} s")
    print(f"      digest after a DB update         {digest:8.2f} s   ratio {digest / raw:.3f}  (target <= 0.10)")
    jobs, after = med(figures["fleet_jobs"]), med(figures["after_fleet"])
    print(
        f"      after the update job's fleet re-evaluation ({jobs:.2f} s, {jobs / raw:.3f}): the digest"
        f" {after:.2f} s, ratio {after / raw:.3f}; both {(jobs + after) / raw:.3f}"
    )
    reads = figures["reads"][-1]
    total = sum(reads.values())
    print(
        f"  (b) registry requests of that digest: {total} ({reads['manifests']} manifest, {reads['blobs']} blob,"
        f" {reads['other']} other) for {args.images} watched tags = {total / args.images:.2f} a tag (target <= 1);"
        f" last week's cold digest: {sum(figures['cold_reads'].values())} ({figures['cold_reads']['blobs']} blob)"
    )
    per, per_alone = fleet["wall"] / fleet["count"], alone["wall"] / alone["count"]
    print(
        f"  (c) {fleet['count']} stored inventories judged again: {fleet['wall']:.1f} s, {fleet['runs']} Trivy runs,"
        f" peak memory {fleet['self_mb']:.0f} MB (process) / {fleet['child_mb']:.0f} MB (largest Trivy);"
        f" {per * 1000:.1f} ms an inventory vs {per_alone * 1000:.1f} ms one a run (ratio {per / per_alone:.3f})"
    )
    print("  (d) Redis per stored inventory: " + ", ".join(f"{p} packages {b / 1024:.1f} KiB" for p, b in sizes))


if __name__ == "__main__":
    main()
