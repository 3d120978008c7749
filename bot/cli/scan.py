"""``python -m bot scan`` and ``alternative``: a scan through the queue, printed for a terminal or a script.

``scan`` goes the real way: it enqueues on RQ and a worker runs the job. With no ``REDIS_URL``
(or no worker alive) it runs a burst worker of its own, so it works on a fresh machine with
nothing configured. ``scan_pair`` and ``apply_decisions`` serve every subcommand that scans.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import time
from datetime import UTC, datetime

from rq import Queue, SimpleWorker, Worker

from bot import config as bot_config
from bot.cli.common import command, fail, for_terminal
from bot.commands import parse_epss_min
from bot.render.terminal import alternative_text, pair_text
from bot.runtime import redis_connection
from workers.chainguard.state import plan_alternative
from workers.errors import ErrorKind, ScanError
from workers.feeds.attach import with_risk
from workers.feeds.risk import matches
from workers.pair import combine
from workers.reference import parse_reference
from workers.scan.queue import Outcome, enqueue_pair, outcome_of, scan_queue, wait_for
from workers.telemetry.context import RequestContext, Source, bound, new_request_id


def add_parsers(sub) -> None:
    _add_scan(sub)
    _add_alternative(sub)


def _add_scan(sub) -> None:
    scan = command(
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


def _add_alternative(sub) -> None:
    alternative = command(
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


def cmd_scan(args: argparse.Namespace) -> int:
    settings = bot_config.current().engine
    ref = settings.registry_policy.check(parse_reference(args.image))
    with redis_connection(settings) as (redis, embedded):
        result, error = scan_pair(
            redis, embedded, settings, ref, alternative=not args.no_alternative, force=args.force, timeout=args.timeout
        )
        if error:
            return fail(for_terminal(error.message))
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
    outcomes = await_jobs(queue, [job for job in (original, other) if job], embedded=embedded, timeout=timeout)
    if outcomes[0].error:
        return None, outcomes[0].error
    return combine(outcomes[0].report, mapping, outcomes[1] if other else None), None


def await_jobs(queue: Queue, jobs: list, *, embedded: bool, timeout: float) -> list[Outcome]:
    """The outcomes of ``jobs``, in order: waited for when workers are alive, else worked here (burst)."""
    if embedded or not Worker.all(queue=queue):
        return _run_until_done(queue, jobs, timeout)
    return [wait_for(job, timeout) for job in jobs]


def apply_decisions(redis, team: str | None, report):
    """The team's decisions applied to ``report`` now (none with an embedded Redis: it keeps nothing)."""
    from workers.triage.apply import apply

    return apply(report, team_decisions(redis, team, report), datetime.now(UTC))


def team_decisions(redis, team: str | None, report) -> list:
    """The decisions of ``team`` (default: the only workspace, else ``local``) on the report's repository, after
    noting the scan (an acceptance "until a fix exists" learns of the fix). Raises TeamUnknown when several."""
    from workers.triage.apply import repository_of
    from workers.triage.decide import decisions_for, note_scan
    from workers.triage.store import DecisionStore
    from workers.triage.teams import default_team

    repository = repository_of(report.image.reference)
    if not (redis and repository):
        return []
    note_scan(DecisionStore(redis), team or default_team(redis), report, datetime.now(UTC))
    return decisions_for(DecisionStore(redis), bot_config.current().engine, team or default_team(redis), report)


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
    ref = settings.registry_policy.check(parse_reference(args.image))
    alt = plan_alternative(
        ref, settings, Redis.from_url(settings.redis_url) if settings.redis_url else None, dev=args.dev
    )
    print(json.dumps(alt.to_dict(), indent=2) if args.format == "json" else alternative_text(alt))
    return 0
