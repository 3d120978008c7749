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

from rq import Queue, SimpleWorker, Worker

from workers.config import ConfigError, Settings
from workers.errors import ScanError
from workers.queue import Outcome, enqueue_scan, outcome_of, scan_queue
from workers.reference import InvalidReference, parse_reference

from .render.terminal import report_text
from .runtime import redis_connection, setup_logging


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    setup_logging("WARNING" if args.command in ("scan", "alternative") else None)
    try:
        return args.handler(args)
    except ConfigError as exc:
        print(f"Configuration problem: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description="chainscan: container image scans, from Slack or here.")
    sub = parser.add_subparsers(dest="command", required=True)

    scan = sub.add_parser("scan", help="scan an image through the queue and print the report")
    scan.add_argument("image", help="image reference, e.g. mariadb or ghcr.io/org/app:1.2")
    scan.add_argument("--format", choices=("text", "json"), default="text")
    scan.add_argument("--force", action="store_true", help="ignore the cached result and run Trivy again")
    scan.add_argument("--top", type=int, default=15, help="how many findings to list in text output")
    scan.add_argument("--timeout", type=float, default=None, help="seconds to wait for the result")
    scan.set_defaults(handler=cmd_scan)

    worker = sub.add_parser("worker", help="run an RQ worker pool for scan jobs")
    worker.add_argument("--size", type=int, default=None, help="number of worker processes (WORKER_POOL_SIZE, default 2)")
    worker.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    worker.set_defaults(handler=cmd_worker)

    serve = sub.add_parser("serve", help="run the Slack app (HTTP on PORT, or Socket Mode with SLACK_APP_TOKEN)")
    serve.add_argument("--web-workers", type=int, default=None, help="gunicorn worker processes (WEB_CONCURRENCY)")
    serve.set_defaults(handler=cmd_serve)

    scheduler = sub.add_parser("scheduler", help="run periodic jobs: closing threads stuck at scanning…")
    scheduler.add_argument("--once", action="store_true", help="run one round and exit")
    scheduler.set_defaults(handler=cmd_scheduler)

    status = sub.add_parser("status", help="queue depth, workers alive, DB age, recent failures")
    status.set_defaults(handler=cmd_status)
    return parser


def cmd_scan(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    try:
        ref = parse_reference(args.image)
    except InvalidReference as exc:
        return _fail(str(exc))
    timeout = args.timeout or settings.scan_timeout * (settings.job_retries + 1) + 120
    with redis_connection(settings) as (redis, embedded):
        queue = scan_queue(redis, settings)
        job = enqueue_scan(queue, settings, str(ref), force=args.force)
        own_worker = embedded or not Worker.all(queue=queue)
        outcome = _run_until_done(queue, job, timeout) if own_worker else _wait(job, timeout)
    if outcome.error:
        return _fail(outcome.error.message)
    report = outcome.report
    print(json.dumps(report.to_dict(), indent=2) if args.format == "json" else report_text(report, top=args.top))
    return 0


def _wait(job, timeout: float) -> Outcome:
    from workers.queue import wait_for

    return wait_for(job, timeout)


def _run_until_done(queue: Queue, job, timeout: float) -> Outcome:
    """Work the queue in this process (burst) until our job is done, retries included."""
    deadline = time.monotonic() + timeout
    worker = SimpleWorker([queue], connection=queue.connection)
    while time.monotonic() < deadline:
        worker.work(burst=True, with_scheduler=True, logging_level="WARNING")
        outcome = outcome_of(job)
        if outcome is not None:
            return outcome
        time.sleep(0.5)  # a retry is scheduled for later
    return Outcome(error=ScanError("timeout", f"The scan did not finish within {int(timeout)} seconds."))


def cmd_worker(args: argparse.Namespace) -> int:
    import os

    from rq.worker_pool import WorkerPool

    settings = Settings.from_env()
    if not settings.redis_url:
        return _fail("Set REDIS_URL so the workers and the bot share a Redis, e.g. REDIS_URL=redis://127.0.0.1:6379/0.")
    size = args.size or int(os.environ.get("WORKER_POOL_SIZE") or 2)
    with redis_connection(settings) as (redis, _):
        queues = [settings.queue_name]
        if size == 1:
            Worker(queues, connection=redis).work(burst=args.burst, with_scheduler=True)
        else:
            WorkerPool(queues, connection=redis, num_workers=size).start(burst=args.burst)
    return 0


def _fail(message: str) -> int:
    print(message, file=sys.stderr)
    return 1


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the Slack app. Without REDIS_URL, an embedded Valkey and a worker pool come along."""
    import os
    import subprocess

    from .config import SlackSettings
    from .runtime import embedded_url

    settings = SlackSettings.from_env()
    if not settings.bot_token or not (settings.signing_secret or settings.app_token):
        return _fail("Set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET (or SLACK_APP_TOKEN for Socket Mode); see the README.")
    with redis_connection(settings.engine) as (redis, embedded):
        url = settings.engine.redis_url or embedded_url(redis)
        helper = None
        if embedded:  # nobody else can reach an embedded server: run the workers here too
            env = {**os.environ, "REDIS_URL": url}
            helper = subprocess.Popen([sys.executable, "-m", "bot", "worker"], env=env)
        try:
            if settings.app_token:
                from slack_bolt.adapter.socket_mode import SocketModeHandler

                from .app import create_app

                SocketModeHandler(create_app(settings, redis), settings.app_token).start()
            else:
                from .web import serve

                serve(settings, url, workers=args.web_workers)
        finally:
            if helper:
                helper.terminate()
                helper.wait(10)
    return 0


def cmd_scheduler(args: argparse.Namespace) -> int:
    from .scheduler import run_scheduler

    settings = Settings.from_env()
    if not settings.redis_url:
        return _fail("Set REDIS_URL so the scheduler shares the workers' Redis.")
    with redis_connection(settings) as (redis, _):
        run_scheduler(redis, settings, once=args.once)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from .status import status_text

    settings = Settings.from_env()
    if not settings.redis_url:
        return _fail("Set REDIS_URL to see the status of a running installation.")
    with redis_connection(settings) as (redis, _):
        print(status_text(redis, settings).replace("*", ""))
    return 0
