"""``python -m bot diff A B``: what moving from image A to image B fixes, keeps and brings.

Both images go on the queue at once (``enqueue_pair``, as a scan and its Chainguard alternative do), so a
pool scans them in parallel and a cached report serves either side; :func:`workers.diff.diff` compares them.
"""

from __future__ import annotations

import argparse
import json

from bot import config as bot_config
from bot.cli.common import command, fail, for_terminal
from bot.cli.scan import await_jobs
from bot.render.diff import diff_text
from bot.runtime import redis_connection
from workers.diff import ImageDiff, diff
from workers.errors import ScanError
from workers.reference import parse_reference
from workers.scan.queue import enqueue_pair, scan_queue
from workers.telemetry.context import RequestContext, Source, bound, new_request_id


def add_parser(sub) -> None:
    parser = command(
        sub,
        "diff",
        "say what moving from image A to image B fixes, keeps and brings",
        "  python -m bot diff mariadb:11.4 mariadb:11.8\n  python -m bot diff app:1.2 app:1.3 --format json",
        "REDIS_URL, DOCKERHUB_MIRROR, REGISTRY_CREDENTIALS, TRIVY_CACHE_DIR, SCAN_TIMEOUT",
    )
    parser.add_argument("before", metavar="A", help="the image you have, e.g. mariadb:11.4")
    parser.add_argument("after", metavar="B", help="the image you would move to, e.g. mariadb:11.8")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="the diff as text or JSON")
    parser.add_argument("--force", action="store_true", help="ignore cached results and run Trivy again")
    parser.add_argument("--top", type=int, default=20, help="findings listed per group in text output")
    parser.add_argument("--timeout", type=float, default=None, help="seconds to wait (default: from SCAN_TIMEOUT)")
    parser.set_defaults(handler=cmd_diff)


def cmd_diff(args: argparse.Namespace) -> int:
    settings = bot_config.current().engine
    before = settings.registry_policy.check(parse_reference(args.before))
    after = settings.registry_policy.check(parse_reference(args.after))
    with redis_connection(settings) as (redis, embedded):
        result, error = diff_images(redis, embedded, settings, before, after, force=args.force, timeout=args.timeout)
    if error:
        return fail(for_terminal(error.message))
    print(json.dumps(result.to_dict(), indent=2) if args.format == "json" else diff_text(result, top=args.top))
    return 0


def diff_images(
    redis, embedded: bool, settings, before, after, *, force: bool = False, timeout: float | None = None
) -> tuple[ImageDiff | None, ScanError | None]:
    """Scan both images through the queue, in parallel: ``(ImageDiff, None)`` or ``(None, the first error)``."""
    timeout = timeout or settings.scan_timeout * (settings.job_retries + 1) + 120
    with bound(RequestContext(new_request_id(), Source.CLI)):
        jobs = enqueue_pair(scan_queue(redis, settings), settings, before, after, force=force)
        outcomes = await_jobs(scan_queue(redis, settings), list(jobs), embedded=embedded, timeout=timeout)
    for outcome in outcomes:
        if outcome.error:
            return None, outcome.error
    return diff(outcomes[0].report, outcomes[1].report), None
