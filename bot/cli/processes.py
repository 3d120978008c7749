"""The processes of an installation (Procfile): ``worker``, ``serve``, ``scheduler``, and ``status`` to watch them."""

from __future__ import annotations

import argparse
import logging
import sys
import time

from redis.exceptions import ConnectionError as RedisConnectionError

from bot import config as bot_config
from bot.cli.common import command, fail
from bot.runtime import redis_connection


def add_parsers(sub) -> None:
    worker = command(
        sub,
        "worker",
        "run an RQ worker pool for scan jobs",
        "  REDIS_URL=redis://127.0.0.1:6379/0 python -m bot worker\n  python -m bot worker --size 4",
        "REDIS_URL (required), WORKER_POOL_SIZE, DOCKER_HOST, TRIVY_CACHE_DIR",
    )
    worker.add_argument("--size", type=int, default=None, help="worker processes (default: WORKER_POOL_SIZE, 2)")
    worker.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    worker.set_defaults(handler=cmd_worker)

    serve = command(
        sub,
        "serve",
        "run the Slack app (HTTP on PORT, or Socket Mode with SLACK_APP_TOKEN)",
        "  SLACK_BOT_TOKEN=xoxb-… SLACK_SIGNING_SECRET=… python -m bot serve\n"
        "  SLACK_BOT_TOKEN=xoxb-… SLACK_APP_TOKEN=xapp-… python -m bot serve   (Socket Mode)",
        "SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, SLACK_APP_TOKEN, HOST, PORT, REDIS_URL",
    )
    serve.add_argument("--web-workers", type=int, default=None, help="gunicorn processes (default: WEB_CONCURRENCY)")
    serve.set_defaults(handler=cmd_serve)

    scheduler = command(
        sub,
        "scheduler",
        "run periodic jobs: stale threads, catalog refresh, triage expiry",
        "  REDIS_URL=redis://127.0.0.1:6379/0 python -m bot scheduler\n  python -m bot scheduler --once",
        "REDIS_URL (required)",
    )
    scheduler.add_argument("--once", action="store_true", help="run one round and exit")
    scheduler.set_defaults(handler=cmd_scheduler)

    status = command(
        sub,
        "status",
        "queue depth, workers alive, DB age, recent failures",
        "  REDIS_URL=redis://127.0.0.1:6379/0 python -m bot status\n  python -m bot status | grep Workers",
        "REDIS_URL (required)",
    )
    status.add_argument(
        "--check",
        action="store_true",
        help="health check of a worker host: exit 0 when Redis answers, the Trivy DB is fresh enough and a worker "
        "of this host is alive (busy, or heartbeating in the last minute), else 1 with the reasons on stderr",
    )
    status.set_defaults(handler=cmd_status)


def cmd_worker(args: argparse.Namespace) -> int:
    from rq.worker_pool import WorkerPool

    settings = bot_config.current().engine
    if not settings.redis_url:
        return fail("Set REDIS_URL so the workers and the bot share a Redis, e.g. REDIS_URL=redis://127.0.0.1:6379/0.")
    size = args.size or settings.worker_pool_size
    preload()
    from workers.worker import ChainscanWorker, patient_redis

    redis = patient_redis(settings.redis_url)  # commands wait through a Redis outage instead of failing
    metrics_server = _serve_metrics(settings)  # in the pool's parent: it adds up every worker's files
    queues = [settings.queue_name, f"{settings.queue_name}-digest"]  # interactive scans first, digests after
    # SimpleWorker runs each job in the worker process instead of a fork: the jobs only orchestrate
    # (Trivy and builds run as subprocesses or in dockerd), so isolation buys little and a fork
    # per job costs ~10 ms. A worker that dies is restarted by the pool; its job is retried.
    try:
        if size == 1:
            _work_until_stopped(queues, redis, burst=args.burst)
        else:
            WorkerPool(queues, connection=redis, num_workers=size, worker_class=ChainscanWorker).start(burst=args.burst)
    finally:
        redis.close()
        if metrics_server:
            metrics_server.shutdown()
    return 0


def _serve_metrics(settings):
    """prometheus_client's HTTP server on METRICS_HOST:METRICS_PORT, when METRICS_PORT is set."""
    if not settings.metrics_port:
        return None
    from workers.telemetry.exposition import serve_metrics

    server = serve_metrics(settings.metrics_host, settings.metrics_port)
    logging.getLogger(__name__).info("metrics on http://%s:%d/metrics", settings.metrics_host, settings.metrics_port)
    return server


def _work_until_stopped(queues: list[str], redis, *, burst: bool) -> None:
    """One worker; one that quits on an error (Redis away longer than its retries) is replaced, with backoff."""
    from workers.worker import ChainscanWorker

    delay = 1.0
    while True:
        worker = None
        try:
            worker = ChainscanWorker(queues, connection=redis)
            worker.work(burst=burst, with_scheduler=True)
        except RedisConnectionError:
            pass
        if burst or (worker is not None and worker._stop_requested):
            return
        print(f"worker stopped on an error; starting another in {delay:.0f} s", file=sys.stderr)
        time.sleep(delay)
        delay = min(delay * 2, 30.0)


def preload() -> None:
    """Import the job modules (the digest's chart library too) and load the catalog before workers fork, so each
    job starts warm; then freeze what that made (workers.worker.freeze_heap)."""
    import bot.jobs.build_thread  # noqa: F401
    import bot.jobs.digest_thread  # noqa: F401
    import bot.jobs.scan_thread  # noqa: F401
    import workers.jobs  # noqa: F401
    from bot.render.chart import load_backend
    from workers.chainguard.catalog import load_catalog
    from workers.worker import freeze_heap

    load_catalog()
    load_backend()
    freeze_heap()


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the Slack app. Without REDIS_URL, an embedded Valkey and a worker pool come along."""
    import os
    import subprocess

    from bot.runtime import embedded_url

    settings = bot_config.current()
    if not (settings.bot_token or settings.oauth) or not (settings.signing_secret or settings.app_token):
        return fail(
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
                from bot.app import create_app
                from bot.runtime import answering_redis
                from bot.socket_mode import SocketModeHandler

                _serve_socket_mode(SocketModeHandler(create_app(settings, answering_redis(url)), settings.app_token))
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
        return fail("Set REDIS_URL so the scheduler shares the workers' Redis.")
    import signal

    # As PID 1 of a container a process ignores SIGTERM unless it handles it: stop between rounds at once.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    metrics_server = _serve_metrics(settings)
    try:
        with redis_connection(settings) as (redis, _):
            run_scheduler(redis, settings, once=args.once)
    finally:
        if metrics_server:
            metrics_server.shutdown()
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from bot.status import status_text

    settings = bot_config.current().engine
    if not settings.redis_url:
        return fail("Set REDIS_URL to see the status of a running installation.")
    if args.check:
        return _check(settings)
    with redis_connection(settings) as (redis, _):
        print(status_text(redis, settings).replace("*", ""))
    return 0


def _check(settings) -> int:
    """The worker's health check: a probe must answer in seconds, so Redis gets 5 s, not the workers' patience."""
    from redis import Redis

    from workers.telemetry import fleet, health

    redis = Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=5)
    host = fleet.this_host()
    found = health.problems(
        fleet.read(redis, settings), time.time(), db_max_age_hours=settings.db_max_age_hours, worker_host=host
    )
    for problem in found:
        print(problem, file=sys.stderr)
    if not found:
        print(f"ok: a worker of {host} is alive, Redis answers, the Trivy DB is fresh enough")
    return 1 if found else 0
