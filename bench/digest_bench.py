"""Digest figures, each against a baseline measured in the same run.

(a) the weekly digest of a channel watching 50 images (20 distinct digests: 30 are other tags of the same
    images), right after a Trivy DB update so no report is cached: the whole job (lease, rescan through the
    engine, compose, post, chart into the thread) vs 50 raw ``trivy image`` runs on the same images, as a ratio.
    The two alternate which goes first; each round gets a DB update of its own.
(b) the next week's digest with the same DB: Trivy runs (target 0: unchanged digests are not rescanned).
(c) Redis memory per watched image with a year (52 weeks) of history: MEMORY USAGE summed over every key the
    watch list and digests keep (watch set, schedule, snapshots with first-seen dates, weekly counts, the 52
    periods' records), divided by the images watched.

``--images N --distinct D`` scales it down (defaults 50 and 20); ``--rounds R`` (default 2).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from redis import Redis
from rq import SimpleWorker

from bench.world import prepare
from tests.helpers.images import IMAGES, ConfigStep, push_image
from tests.helpers.slack_api import SlackAPIServer
from tests.helpers.trivydb import build_updated_trivy_db
from workers.config import Settings
from workers.scan import trivy
from workers.scan.store import ReportStore

TEAM, CHANNEL = "T0BENCH", "C0BENCH"
BASES = ("library/mariadb", "library/python", "chainguard/mariadb", "chainguard/python", "library/clean")
FIRST_MONDAY = datetime(2026, 1, 5, 9, 5, tzinfo=UTC)  # 2026-W02, 09:05 UTC


def push_bench_images(registry: str, images: int, distinct: int) -> list[str]:
    """``distinct`` images made different by a label (so each has its own digest) and ``images`` tags over them;
    returns the watched references (docker.io/bench/…, served by the mirror)."""
    extra = images - distinct
    references = []
    for i in range(distinct):
        spec = IMAGES[BASES[i % len(BASES)]]
        label = ConfigStep(f"LABEL chainscan.bench={i}", labels=(("chainscan.bench", str(i)),))
        variant = replace(spec.variants[0], steps=spec.variants[0].steps + (label,))
        tags = ("1",) + tuple(f"alias{k}" for k in range(extra // distinct + (1 if i < extra % distinct else 0)))
        pushed = push_image(replace(spec, repository=f"bench/img-{i:02d}", tags=tags, variants=(variant,)), registry)
        references += [f"docker.io/{info.repository}:{info.tag}" for info in pushed.values()]
    return sorted(references)


def digest_once(redis: Redis, settings: Settings, now: datetime) -> float:
    from bot.jobs.digest_thread import digest_queue, enqueue_due_digests

    started = time.perf_counter()
    if enqueue_due_digests(redis, settings, now) != 1:
        raise SystemExit("the digest was not due")
    SimpleWorker([digest_queue(redis, settings)], connection=redis).work(burst=True, logging_level="WARNING")
    return time.perf_counter() - started


def raw_trivy(targets: list[str], settings: Settings) -> float:
    started = time.perf_counter()
    for target in targets:
        args = trivy.image_command(settings.trivy_bin, target, timeout=settings.scan_timeout)
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def memory_per_image(redis: Redis, settings: Settings, references: list[str]) -> tuple[float, int, float]:
    """Fill a year of weekly history through the store's own code, then MEMORY USAGE over the digest keys."""
    from bot.jobs.digest_thread import collect
    from workers.digests.schedule import parse_schedule
    from workers.digests.store import DigestStore

    store, schedule = DigestStore(redis), parse_schedule("monday 09:00 UTC")
    for week in range(52):
        now = FIRST_MONDAY + timedelta(weeks=week)
        period = schedule.current_period(now)
        digest, snapshots = collect(redis, settings_for_bot(), TEAM, CHANNEL, period, now)
        store.save_scanned(TEAM, CHANNEL, period, digest, snapshots)
        store.record_message(TEAM, CHANNEL, period, f"{1_700_000_000 + week}.000100")
        store.mark_posted(TEAM, CHANNEL, period)
    keys = [
        *redis.scan_iter("chainscan:watch:*"),
        *redis.scan_iter("chainscan:digest:*"),
    ]
    total = sum(redis.memory_usage(key, samples=0) or 0 for key in keys)
    weeks = len(store.weeks(TEAM, CHANNEL, references[0]))
    findings = statistics.mean(len(store.snapshot(TEAM, CHANNEL, r).findings) for r in references)
    return total / len(references), weeks, findings


def settings_for_bot():
    from bot import config as bot_config

    return bot_config.current()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=50)
    parser.add_argument("--distinct", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    env = prepare(redis_url)
    redis = Redis.from_url(redis_url)
    redis.flushdb()
    references = push_bench_images(env["REGISTRY"], args.images, args.distinct)
    targets = [f"{env['REGISTRY']}/{r.removeprefix('docker.io/')}" for r in references]
    slack = SlackAPIServer(token="xoxb-bench").start()
    os.environ.update(
        {"SLACK_BOT_TOKEN": "xoxb-bench", "SLACK_SIGNING_SECRET": "bench", "SLACK_API_URL": slack.base_url}
    )
    os.environ["WATCH_LIMIT"] = str(max(50, args.images))
    settings = Settings.from_env()
    from workers.digests.store import DigestStore

    DigestStore(redis).watch(TEAM, CHANNEL, references, limit=settings.watch_limit)
    reports = ReportStore(redis)
    digests, raws, runs = [], [], []
    try:
        for round_ in range(args.rounds):  # each round after a DB update of its own, so nothing is cached
            db = Path(tempfile.mkdtemp(prefix="chainscan-bench-db-"))
            build_updated_trivy_db(db, days_later=round_ + 1)
            os.environ["TRIVY_CACHE_DIR"] = str(db)
            raw_trivy(targets[:1], settings)  # Trivy opens the new DB once before either side is timed
            now = FIRST_MONDAY + timedelta(weeks=2 * round_)
            before = reports.trivy_runs()
            if round_ % 2:
                digests.append(digest_once(redis, settings, now))
                runs.append(reports.trivy_runs() - before)
                raws.append(raw_trivy(targets, settings))
            else:
                raws.append(raw_trivy(targets, settings))
                digests.append(digest_once(redis, settings, now))
                runs.append(reports.trivy_runs() - before)
        before = reports.trivy_runs()
        unchanged = digest_once(redis, settings, FIRST_MONDAY + timedelta(weeks=2 * args.rounds + 1))
        unchanged_runs = reports.trivy_runs() - before
        posted = len([c for c in slack.calls("chat.postMessage") if c.ok])
        charts = len([u for u in slack.uploads(completed_only=True) if u.filename.endswith(".png")])
        redis.flushdb()
        DigestStore(redis).watch(TEAM, CHANNEL, references, limit=settings.watch_limit)
        per_image, weeks, findings = memory_per_image(redis, settings, references)
    finally:
        slack.stop()
        redis.flushdb()

    report(args, raws, digests, runs, (unchanged, unchanged_runs, posted, charts), (per_image, weeks, findings))


def report(args, raws: list, digests: list, runs: list, unchanged: tuple, memory: tuple) -> None:
    (again, again_runs, posted, charts), (per_image, weeks, findings) = unchanged, memory
    med = statistics.median
    print(
        f"weekly digest, {args.images} watched images ({args.distinct} distinct digests), {args.rounds} rounds, medians"
    )
    print(f"  (a) {args.images} raw `trivy image` runs        {med(raws):8.1f} s")
    print(
        f"      digest after a DB update         {med(digests):8.1f} s   ratio {med(digests) / med(raws):.3f}"
        f"  (Trivy runs per digest: {', '.join(map(str, runs))}; at most {args.distinct})"
    )
    print(
        f"  (b) next week, same DB               {again:8.1f} s   Trivy runs: {again_runs}  (target 0);"
        f" {posted} digests posted, {charts} charts"
    )
    print(
        f"  (c) Redis per watched image, {weeks} weeks of history: {per_image / 1024:.1f} KiB"
        f"  ({findings:.0f} findings per image on average)"
    )


if __name__ == "__main__":
    main()
