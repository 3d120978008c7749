"""Grouped alerts vs the per-image alerts they replace, in one run.

After a Trivy DB update that discloses new criticals in the packages of 50 watched images (20 distinct digests),
one alert pass as it is now (one message per vulnerability and channel and day, at most ALERT_DAILY_LIMIT, the
rest in one summary) against the pass as it was before grouping (one message per finding per image), on the same
reports: the DB update's scans are made once before either side is timed, so both read the same cached reports
and the figures compare what each pass does (Slack calls, Redis, composing), not Trivy. Each side starts from the
same baseline in a fresh Slack stand-in.

``--images N --distinct D --new K`` (defaults 50, 20 and 8 new criticals).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from redis import Redis

from bench.digest_bench import push_bench_images
from bench.world import prepare
from tests.helpers.slack_api import SlackAPIServer
from tests.helpers.trivydb import build_updated_trivy_db, new_critical
from workers.config import Settings
from workers.reference import parse_reference
from workers.scan.engine import Scanner

TEAM, CHANNEL = "T0BENCH", "C0BENCH"
NOW = datetime(2026, 12, 7, 10, 5, tzinfo=UTC)


def per_image_pass(settings, redis: Redis, client, references: list[str]) -> int:
    """The alert pass before grouping: every new serious finding of every image, one message each."""
    from bot.jobs.triage_thread import applied_for
    from workers.alerts.store import AlertStore, finding_id
    from workers.report import at_or_above
    from workers.triage.apply import finding_key

    scanner, alerts, sent = Scanner(settings.engine, redis), AlertStore(redis), 0
    wanted = at_or_above(settings.engine.alert_min_severity)
    for reference in references:
        report = scanner.scan(parse_reference(reference))
        suppressed = {k for k, d in applied_for(redis, TEAM, report, NOW).decided.items() if d.suppressing}
        seen = alerts.seen(TEAM, CHANNEL, reference)
        for f in report.vulnerabilities:
            new = f.severity in wanted and finding_key(f) not in suppressed and finding_id(f.id, f.package) not in seen
            if new and redis.set(f"bench:alert:sent:{reference}:{f.id}|{f.package}", "1", nx=True):
                client.chat_postMessage(channel=CHANNEL, text=f"New {f.severity} in watched `{reference}`: {f.id}")
                sent += 1
        alerts.mark_seen(TEAM, CHANNEL, reference, [finding_id(f.id, f.package) for f in report.vulnerabilities])
    return sent


def baseline(redis: Redis, settings) -> dict:
    """The first pass on the old DB sets every image's baseline (tells nothing); its seen sets, kept."""
    from bot.jobs.alerts import check_alerts

    check_alerts(settings, redis, NOW)
    return {key: redis.smembers(key) for key in redis.scan_iter("chainscan:alert:seen:*")}


def restore(redis: Redis, seen: dict) -> None:
    for key in [*redis.scan_iter("chainscan:alert:*"), *redis.scan_iter("bench:alert:*")]:
        redis.delete(key)
    for key, members in seen.items():
        redis.sadd(key, *members)


def side(run, redis, seen: dict) -> tuple[float, int, int]:
    restore(redis, seen)
    with SlackAPIServer(token="xoxb-bench") as slack:
        from slack_sdk import WebClient

        client = WebClient(token="xoxb-bench", base_url=slack.base_url)
        started = time.perf_counter()
        run(client)
        elapsed = time.perf_counter() - started
        calls = len(slack.calls())
        messages = len([c for c in slack.calls("chat.postMessage") if c.ok and not c.params.get("thread_ts")])
    return elapsed, calls, messages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=50)
    parser.add_argument("--distinct", type=int, default=20)
    parser.add_argument("--new", type=int, default=8)
    args = parser.parse_args()
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    env = prepare(redis_url)
    redis = Redis.from_url(redis_url)
    redis.flushdb()
    references = push_bench_images(env["REGISTRY"], args.images, args.distinct)
    os.environ.update({"SLACK_BOT_TOKEN": "xoxb-bench", "SLACK_SIGNING_SECRET": "bench", "WATCH_LIMIT": "500"})
    from bot import config as bot_config
    from bot.jobs.alerts import check_alerts
    from workers.digests.store import DigestStore

    settings = bot_config.current()
    DigestStore(redis).watch(TEAM, CHANNEL, references, limit=500)
    scanner = Scanner(Settings.from_env(), redis)
    debian = next(r for r in references if "img-00" in r)  # library/mariadb with a label: Debian packages
    sources = sorted({f.source or f.package for f in scanner.scan(parse_reference(debian)).vulnerabilities})
    try:
        for reference in references:
            scanner.scan(parse_reference(reference))  # the old DB's reports: the baseline's
        seen = baseline(redis, settings)
        db = Path(tempfile.mkdtemp(prefix="chainscan-bench-db-"))
        build_updated_trivy_db(db, [new_critical(f"CVE-2026-9{i:03d}", s) for i, s in enumerate(sources[: args.new])])
        os.environ["TRIVY_CACHE_DIR"] = str(db)
        bot_config.install(None)  # settings are read once a process: the new DB is a new start
        settings = bot_config.current()
        new_scanner = Scanner(settings.engine, redis)
        for reference in references:
            new_scanner.scan(parse_reference(reference))  # the DB update's scans, once, before either side
        old = side(lambda c: per_image_pass(settings, redis, c, references), redis, seen)
        new = side(lambda c: check_alerts(settings, redis, NOW, client=c), redis, seen)
    finally:
        redis.flushdb()
    print(
        f"alert pass after a DB update disclosing {args.new} criticals, {args.images} watched images ({args.distinct} digests)"
    )
    print(f"  per-image alerts (before #20)  {old[0]:7.2f} s   {old[1]:5d} Slack calls   {old[2]:5d} channel messages")
    print(
        f"  grouped alerts                 {new[0]:7.2f} s   {new[1]:5d} Slack calls   {new[2]:5d} channel messages"
        f"   ratio: time {new[0] / old[0]:.3f}, calls {new[1] / max(1, old[1]):.3f}"
    )


if __name__ == "__main__":
    main()
