"""``python -m bot …``: the command line.

``scan`` goes the real way: it enqueues on RQ and a worker runs the job. With no
``REDIS_URL`` (or no worker alive) it runs a burst worker of its own, so it works
on a fresh machine with nothing configured.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from redis.exceptions import ConnectionError as RedisConnectionError
from rq import Queue, SimpleWorker, Worker

from bot import config as bot_config
from bot.render.terminal import alternative_text, pair_text
from bot.runtime import redis_connection, setup_logging
from workers.chainguard.state import plan_alternative
from workers.config import ConfigError
from workers.errors import ErrorKind, ScanError
from workers.pair import combine
from workers.reference import InvalidReference, parse_reference
from workers.scan.queue import Outcome, enqueue_pair, outcome_of, scan_queue, wait_for


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = bot_config.current()  # read once, here; a bad value ends in its sentence and status 2
        setup_logging("WARNING" if args.command in ("scan", "alternative") else settings.engine.log_level)
        return args.handler(args)
    except ConfigError as exc:
        print(f"Configuration problem: {exc}", file=sys.stderr)
        return 2
    except InvalidReference as exc:  # a bad image name: the parser's sentence, before anything is queued
        return _fail(str(exc))
    except RedisConnectionError:
        return _fail("Could not reach Redis at REDIS_URL. Start it, or unset REDIS_URL to use an embedded one.")
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot", description="chainscan: container image scans, from Slack or here."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    scan = sub.add_parser("scan", help="scan an image through the queue and print the report")
    scan.add_argument("image", help="image reference, e.g. mariadb or ghcr.io/org/app:1.2")
    scan.add_argument("--format", choices=("text", "json"), default="text")
    scan.add_argument("--force", action="store_true", help="ignore the cached result and run Trivy again")
    scan.add_argument("--top", type=int, default=15, help="how many findings to list in text output")
    scan.add_argument("--timeout", type=float, default=None, help="seconds to wait for the result")
    scan.add_argument("--no-alternative", action="store_true", help="skip the Chainguard alternative")
    scan.add_argument(
        "--team", help="Slack workspace whose triage decisions apply (default: the only one, else 'local')"
    )
    scan.set_defaults(handler=cmd_scan)

    alternative = sub.add_parser("alternative", help="show the Chainguard alternative of an image, without scanning")
    alternative.add_argument("image")
    alternative.add_argument("--format", choices=("text", "json"), default="text")
    alternative.add_argument("--dev", action="store_true", help="the -dev variant (shell and package manager)")
    alternative.set_defaults(handler=cmd_alternative)

    worker = sub.add_parser("worker", help="run an RQ worker pool for scan jobs")
    worker.add_argument(
        "--size", type=int, default=None, help="number of worker processes (WORKER_POOL_SIZE, default 2)"
    )
    worker.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    worker.set_defaults(handler=cmd_worker)

    serve = sub.add_parser("serve", help="run the Slack app (HTTP on PORT, or Socket Mode with SLACK_APP_TOKEN)")
    serve.add_argument("--web-workers", type=int, default=None, help="gunicorn worker processes (WEB_CONCURRENCY)")
    serve.set_defaults(handler=cmd_serve)

    scheduler = sub.add_parser("scheduler", help="run periodic jobs: closing threads stuck at scanning…")
    scheduler.add_argument("--once", action="store_true", help="run one round and exit")
    scheduler.set_defaults(handler=cmd_scheduler)

    catalog = sub.add_parser("catalog", help="the Chainguard catalog: list it, or refresh it from the registry")
    catalog.add_argument("action", choices=("list", "refresh"))
    catalog.set_defaults(handler=cmd_catalog)

    from bot import triage_cli

    triage_cli.add_parser(sub)

    status = sub.add_parser("status", help="queue depth, workers alive, DB age, recent failures")
    status.set_defaults(handler=cmd_status)
    return parser


def cmd_scan(args: argparse.Namespace) -> int:
    settings = bot_config.current().engine
    ref = parse_reference(args.image)
    with redis_connection(settings) as (redis, embedded):
        result, error = scan_pair(
            redis, embedded, settings, ref, alternative=not args.no_alternative, force=args.force, timeout=args.timeout
        )
        if error:
            return _fail(error.message)
        applied = apply_decisions(redis, None if embedded else getattr(args, "team", None), result.report)
    if args.format == "json":
        print(json.dumps(scan_json(result, applied), indent=2))
    else:
        print(pair_text(result, top=args.top))
    return 0


def scan_pair(
    redis, embedded: bool, settings, ref, *, alternative: bool = True, force: bool = False, timeout: float | None = None
):
    """Scan ``ref`` (and its Chainguard alternative) through the queue: ``(PairResult, None)`` or ``(None, error)``."""
    timeout = timeout or settings.scan_timeout * (settings.job_retries + 1) + 120
    mapping = plan_alternative(ref, settings, redis) if alternative else None
    queue = scan_queue(redis, settings)
    target = mapping.reference if mapping and mapping.scannable else None
    original, other = enqueue_pair(queue, settings, ref, target, force=force)
    jobs = [job for job in (original, other) if job]
    if embedded or not Worker.all(queue=queue):
        outcomes = _run_until_done(queue, jobs, timeout)
    else:
        outcomes = [wait_for(job, timeout) for job in jobs]
    if outcomes[0].error:
        return None, outcomes[0].error
    return combine(outcomes[0].report, mapping, outcomes[1] if other else None), None


def apply_decisions(redis, team: str | None, report):
    """The team's decisions applied to ``report`` now (none with an embedded Redis: it keeps nothing)."""
    from datetime import UTC, datetime

    from workers.triage.apply import apply, repository_of
    from workers.triage.store import DecisionStore
    from workers.triage.teams import default_team

    repository = repository_of(report.image.reference)
    decisions = DecisionStore(redis).get(team or default_team(redis), repository) if redis and repository else []
    return apply(report, decisions, datetime.now(UTC))


def scan_json(result, applied) -> dict:
    """The JSON contract: Trivy's counts as they are, plus what the team decided (open_counts, suppressed, triage)."""
    from workers.triage.apply import contract, triage_of

    data = result.to_dict()
    data.update(contract(applied))
    for entry, finding in zip(data["vulnerabilities"], result.report.vulnerabilities, strict=True):
        entry["triage"] = triage_of(applied, finding)
    return data


def _run_until_done(queue: Queue, jobs: list, timeout: float) -> list[Outcome]:
    """Work the queue in this process (burst) until our jobs are done, retries included."""
    deadline = time.monotonic() + timeout
    worker = SimpleWorker([queue], connection=queue.connection)
    while time.monotonic() < deadline:
        worker.work(burst=True, with_scheduler=True, logging_level="WARNING")
        outcomes = [outcome_of(job) for job in jobs]
        if all(outcomes):
            return outcomes
        time.sleep(0.5)  # a retry is scheduled for later
    late = Outcome(error=ScanError.of(ErrorKind.TIMEOUT, "cli", seconds=int(timeout)))
    return [outcome_of(job) or late for job in jobs]


def cmd_alternative(args: argparse.Namespace) -> int:
    from redis import Redis

    settings = bot_config.current().engine
    ref = parse_reference(args.image)
    alt = plan_alternative(
        ref, settings, Redis.from_url(settings.redis_url) if settings.redis_url else None, dev=args.dev
    )
    print(json.dumps(alt.to_dict(), indent=2) if args.format == "json" else alternative_text(alt))
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from rq.worker_pool import WorkerPool

    settings = bot_config.current().engine
    if not settings.redis_url:
        return _fail("Set REDIS_URL so the workers and the bot share a Redis, e.g. REDIS_URL=redis://127.0.0.1:6379/0.")
    size = args.size or settings.worker_pool_size
    preload()
    with redis_connection(settings) as (redis, _):
        queues = [settings.queue_name]
        # SimpleWorker runs each job in the worker process instead of a fork: the jobs only orchestrate
        # (Trivy and builds run as subprocesses or in dockerd), so isolation buys little and a fork
        # per job costs ~10 ms. A worker that dies is restarted by the pool; its job is retried.
        if size == 1:
            SimpleWorker(queues, connection=redis).work(burst=args.burst, with_scheduler=True)
        else:
            WorkerPool(queues, connection=redis, num_workers=size, worker_class=SimpleWorker).start(burst=args.burst)
    return 0


def preload() -> None:
    """Import the job modules and load the catalog before workers fork, so each job starts warm."""
    import bot.jobs.build_thread  # noqa: F401
    import bot.jobs.scan_thread  # noqa: F401
    import workers.jobs  # noqa: F401
    from workers.chainguard.catalog import load_catalog

    load_catalog()


def _fail(message: str) -> int:
    print(message, file=sys.stderr)
    return 1


def cmd_catalog(args: argparse.Namespace) -> int:
    from workers.chainguard.state import current_catalog, refresh_and_store

    settings = bot_config.current().engine
    with redis_connection(settings) as (redis, embedded):
        store = None if embedded else redis  # an embedded server forgets everything on exit
        if args.action == "refresh":
            result = refresh_and_store(store, settings)
            if not result.reachable:
                return _fail(f"Could not refresh the catalog from {settings.chainguard_registry}: {result.error}")
            print(
                f"{settings.chainguard_registry}: {len(result.available)} catalog images served, {len(result.missing)} not served"
                + ("" if store else " (not stored: set REDIS_URL to share it with the workers)")
            )
            for name in result.missing:
                print(f"  not served: {name}")
            return 0
        for entry in current_catalog(store, settings).entries:
            print(f"{entry.upstream:<40} → {entry.chainguard:<28} {'free' if entry.free_tier else 'paid'}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the Slack app. Without REDIS_URL, an embedded Valkey and a worker pool come along."""
    import os
    import subprocess

    from bot.runtime import embedded_url

    settings = bot_config.current()
    if not (settings.bot_token or settings.oauth) or not (settings.signing_secret or settings.app_token):
        return _fail(
            "Set SLACK_BOT_TOKEN (or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET for OAuth installs) and "
            "SLACK_SIGNING_SECRET (or SLACK_APP_TOKEN for Socket Mode); see the README."
        )
    with redis_connection(settings.engine) as (redis, embedded):
        url = settings.engine.redis_url or embedded_url(redis)
        helper = None
        if embedded:  # nobody else can reach an embedded server: run the workers here too
            env = {**os.environ, "REDIS_URL": url}
            helper = subprocess.Popen([sys.executable, "-m", "bot", "worker"], env=env)
        try:
            if settings.app_token:
                from slack_bolt.adapter.socket_mode import SocketModeHandler

                from bot.app import create_app

                _serve_socket_mode(SocketModeHandler(create_app(settings, redis), settings.app_token))
            else:
                from bot.web import serve

                serve(settings, url, workers=args.web_workers)
        finally:
            if helper:
                helper.terminate()
                helper.wait(10)
    return 0


def _serve_socket_mode(handler) -> None:
    """Run Socket Mode until SIGTERM/SIGINT, then close, so ``serve``'s clean-up (embedded Valkey,
    its worker pool) runs; ``handler.start()`` would block with no way to stop it cleanly."""
    import signal
    import threading

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    handler.connect()
    stop.wait()
    handler.close()


def cmd_scheduler(args: argparse.Namespace) -> int:
    from bot.scheduler import run_scheduler

    settings = bot_config.current().engine
    if not settings.redis_url:
        return _fail("Set REDIS_URL so the scheduler shares the workers' Redis.")
    with redis_connection(settings) as (redis, _):
        run_scheduler(redis, settings, once=args.once)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from bot.status import status_text

    settings = bot_config.current().engine
    if not settings.redis_url:
        return _fail("Set REDIS_URL to see the status of a running installation.")
    with redis_connection(settings) as (redis, _):
        print(status_text(redis, settings).replace("*", ""))
    return 0
