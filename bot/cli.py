"""``python -m bot …``: the command line.

``scan`` goes the real way: it enqueues on RQ and a worker runs the job. With no
``REDIS_URL`` (or no worker alive) it runs a burst worker of its own, so it works
on a fresh machine with nothing configured.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import time
from datetime import UTC, datetime

from redis.exceptions import ConnectionError as RedisConnectionError
from rq import Queue, SimpleWorker, Worker

from bot import config as bot_config
from bot.commands import parse_epss_min
from bot.render.terminal import alternative_text, pair_text
from bot.runtime import redis_connection, setup_logging
from workers.chainguard.state import plan_alternative
from workers.config import ConfigError
from workers.errors import ErrorKind, ScanError
from workers.feeds.attach import with_risk
from workers.feeds.risk import matches
from workers.pair import combine
from workers.reference import InvalidReference, parse_reference
from workers.scan.queue import Outcome, enqueue_pair, outcome_of, scan_queue, wait_for
from workers.telemetry.context import RequestContext, Source, bound, new_request_id


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):  # `python -m bot` alone: the overview, not argparse's complaint
        parser.print_help()
        return 0
    try:
        settings = bot_config.current()  # read once, here; a bad value ends in its sentence and status 2
        quiet = args.command in ("scan", "alternative", "db") and not getattr(args, "verbose", False)
        setup_logging(
            "CRITICAL" if quiet and settings.engine.log_level != "DEBUG" else settings.engine.log_level, settings
        )
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


OVERVIEW = """examples:
  python -m bot scan mariadb                      scan an image and its Chainguard alternative
  python -m bot scan mariadb:11.4 --format json   the same as JSON, for scripts
  python -m bot alternative postgres:16           which Chainguard image stands in, without scanning
  python -m bot triage list mariadb               the team's decisions on an image
  python -m bot serve | worker | scheduler        the three processes of an installation (Procfile)

environment: REDIS_URL (unset: an embedded Valkey), DOCKERHUB_MIRROR, CHAINGUARD_REGISTRY,
TRIVY_CACHE_DIR, TRIVY_DB_REPOSITORY, LOG_LEVEL; the README's Configuration lists them all."""


def _command(sub, name: str, help: str, examples: str, env: str = ""):
    """A subcommand whose --help shows defaults, two examples and the environment that matters."""
    epilog = "examples:\n" + examples + (f"\n\nenvironment: {env}" if env else "")
    return sub.add_parser(
        name,
        help=help,
        description=help[0].upper() + help[1:] + ".",
        epilog=epilog,
        formatter_class=_Formatter,
    )


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Shows a default where there is one worth saying (not None, not a bare flag's False)."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "(default" in text or action.default in (None, False, argparse.SUPPRESS):
            return text
        return f"{text} (default: {action.default})"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="chainscan: container image scans, from Slack or here.",
        epilog=OVERVIEW,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    scan = _command(
        sub,
        "scan",
        "scan an image through the queue and print the report",
        "  python -m bot scan mariadb\n  python -m bot scan ghcr.io/org/app:1.2 --no-alternative --format json",
        "REDIS_URL, DOCKERHUB_MIRROR, REGISTRY_CREDENTIALS, CHAINGUARD_REGISTRY, TRIVY_CACHE_DIR, SCAN_TIMEOUT",
    )
    scan.add_argument("image", help="image reference, e.g. mariadb or ghcr.io/org/app:1.2")
    scan.add_argument("--format", choices=("text", "json"), default="text", help="the report as text or JSON")
    scan.add_argument("--force", action="store_true", help="ignore the cached result and run Trivy again")
    scan.add_argument(
        "--top", type=int, default=None, help="findings listed in text output (default: TOP_FINDINGS, 20)"
    )
    scan.add_argument("--timeout", type=float, default=None, help="seconds to wait (default: from SCAN_TIMEOUT)")
    scan.add_argument("--no-alternative", action="store_true", help="skip the Chainguard alternative")
    scan.add_argument("--verbose", action="store_true", help="show the worker's logs on stderr (or LOG_LEVEL=DEBUG)")
    scan.add_argument(
        "--team", help="Slack workspace whose triage decisions apply (default: the only one, else 'local')"
    )
    scan.add_argument("--kev", action="store_true", help="list only findings in CISA's KEV catalog (known exploited)")
    scan.add_argument(
        "--epss-min", type=_epss_threshold, default=None, metavar="SCORE", help="list only findings with EPSS >= SCORE"
    )
    scan.set_defaults(handler=cmd_scan)

    alternative = _command(
        sub,
        "alternative",
        "show the Chainguard alternative of an image, without scanning",
        "  python -m bot alternative mariadb:11.4\n  python -m bot alternative node:20 --dev --format json",
        "CHAINGUARD_REGISTRY, CHAINGUARD_ORG_REGISTRY",
    )
    alternative.add_argument("image", help="image reference")
    alternative.add_argument("--format", choices=("text", "json"), default="text", help="text or JSON")
    alternative.add_argument("--dev", action="store_true", help="the -dev variant (shell and package manager)")
    alternative.set_defaults(handler=cmd_alternative)

    worker = _command(
        sub,
        "worker",
        "run an RQ worker pool for scan jobs",
        "  REDIS_URL=redis://127.0.0.1:6379/0 python -m bot worker\n  python -m bot worker --size 4",
        "REDIS_URL (required), WORKER_POOL_SIZE, DOCKER_HOST, TRIVY_CACHE_DIR",
    )
    worker.add_argument("--size", type=int, default=None, help="worker processes (default: WORKER_POOL_SIZE, 2)")
    worker.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    worker.set_defaults(handler=cmd_worker)

    serve = _command(
        sub,
        "serve",
        "run the Slack app (HTTP on PORT, or Socket Mode with SLACK_APP_TOKEN)",
        "  SLACK_BOT_TOKEN=xoxb-… SLACK_SIGNING_SECRET=… python -m bot serve\n"
        "  SLACK_BOT_TOKEN=xoxb-… SLACK_APP_TOKEN=xapp-… python -m bot serve   (Socket Mode)",
        "SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, SLACK_APP_TOKEN, HOST, PORT, REDIS_URL",
    )
    serve.add_argument("--web-workers", type=int, default=None, help="gunicorn processes (default: WEB_CONCURRENCY)")
    serve.set_defaults(handler=cmd_serve)

    scheduler = _command(
        sub,
        "scheduler",
        "run periodic jobs: stale threads, catalog refresh, triage expiry",
        "  REDIS_URL=redis://127.0.0.1:6379/0 python -m bot scheduler\n  python -m bot scheduler --once",
        "REDIS_URL (required)",
    )
    scheduler.add_argument("--once", action="store_true", help="run one round and exit")
    scheduler.set_defaults(handler=cmd_scheduler)

    catalog = _command(
        sub,
        "catalog",
        "the Chainguard catalog: list it, or refresh it from the registry",
        "  python -m bot catalog list\n  CHAINGUARD_REGISTRY=127.0.0.1:5000/chainguard python -m bot catalog refresh",
        "CHAINGUARD_REGISTRY, REDIS_URL",
    )
    catalog.add_argument("action", choices=("list", "refresh"), help="list the catalog, or refresh it")
    catalog.set_defaults(handler=cmd_catalog)

    from bot import triage_cli

    triage_cli.add_parser(sub)

    from bot import digest_cli

    digest_cli.add_parsers(sub)

    from bot import db_cli

    db_cli.add_parser(sub)
    from bot import feeds_cli

    feeds_cli.add_parser(sub)

    status = _command(
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
    return parser


def cmd_scan(args: argparse.Namespace) -> int:
    settings = bot_config.current().engine
    ref = parse_reference(args.image)
    with redis_connection(settings) as (redis, embedded):
        result, error = scan_pair(
            redis, embedded, settings, ref, alternative=not args.no_alternative, force=args.force, timeout=args.timeout
        )
        if error:
            return _fail(for_terminal(error.message))
        result = with_risk(redis, result, datetime.now(UTC))
        applied = apply_decisions(redis, None if embedded else getattr(args, "team", None), result.report)
    wanted = {"kev_only": args.kev, "epss_min": args.epss_min}
    if args.format == "json":
        data = scan_json(result, applied)
        kept = [matches(f, **wanted) for f in result.report.vulnerabilities]
        data["vulnerabilities"] = [entry for entry, keep in zip(data["vulnerabilities"], kept, strict=True) if keep]
        print(json.dumps(data, indent=2))
    else:
        top = args.top if args.top is not None else bot_config.current().top_findings
        print(pair_text(result, top=top, width=shutil.get_terminal_size((110, 24)).columns, **wanted))
    return 0


def _epss_threshold(text: str) -> float:
    value = parse_epss_min(text)
    if value is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not an EPSS score; use a number from 0 to 1, e.g. 0.5")
    return value


def scan_pair(
    redis, embedded: bool, settings, ref, *, alternative: bool = True, force: bool = False, timeout: float | None = None
):
    """Scan ``ref`` (and its Chainguard alternative) through the queue: ``(PairResult, None)`` or ``(None, error)``."""
    with bound(RequestContext(new_request_id(), Source.CLI)):
        return _scan_pair(redis, embedded, settings, ref, alternative=alternative, force=force, timeout=timeout)


def _scan_pair(redis, embedded: bool, settings, ref, *, alternative: bool, force: bool, timeout: float | None):
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
    from workers.triage.decide import note_scan
    from workers.triage.store import DecisionStore
    from workers.triage.teams import default_team

    repository = repository_of(report.image.reference)
    if redis and repository:
        note_scan(DecisionStore(redis), team or default_team(redis), report, datetime.now(UTC))
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
        worker.work(burst=True, with_scheduler=True, logging_level=logging.getLevelName(logging.getLogger().level))
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
    """Import the job modules and load the catalog before workers fork, so each job starts warm."""
    import bot.jobs.build_thread  # noqa: F401
    import bot.jobs.scan_thread  # noqa: F401
    import workers.jobs  # noqa: F401
    from workers.chainguard.catalog import load_catalog

    load_catalog()


def for_terminal(sentence: str) -> str:
    """A sentence written for Slack, in the terminal's syntax (``python -m bot scan`` for ``/scan``)."""
    return sentence.replace("`/scan ", "`python -m bot scan ")


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
        return _fail("Set REDIS_URL to see the status of a running installation.")
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
