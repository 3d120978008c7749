"""``python -m bot sbom``: Trivy's own SBOM of an image (CycloneDX or SPDX JSON), with KEV, EPSS and the team's
triage attached (:mod:`workers.sbom`). Trivy runs as a scan's does (:meth:`workers.scan.engine.Scanner.sbom`); the
facts come from the image's scan, through the queue and cached by digest. Exit 0, or 2 with one sentence.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime

from redis.exceptions import ConnectionError as RedisConnectionError

from bot import config as bot_config
from bot.cli.common import bad_input, command, for_terminal
from bot.cli.scan import scan_pair, team_decisions
from bot.runtime import redis_connection
from workers.errors import ScanError
from workers.feeds.attach import with_risk
from workers.reference import InvalidReference, parse_reference
from workers.sbom import SbomFormat, enrich
from workers.scan.engine import Scanner
from workers.triage.apply import apply
from workers.triage.teams import TeamUnknown


def add_parser(sub) -> None:
    sbom = command(
        sub,
        "sbom",
        "write Trivy's SBOM of an image with KEV, EPSS and the team's triage attached",
        "  python -m bot sbom ghcr.io/org/app:1.2 --format cyclonedx --output app.cdx.json\n"
        "  python -m bot sbom mariadb:11.4 --format spdx-json",
        "REDIS_URL, DOCKERHUB_MIRROR, REGISTRY_CREDENTIALS, TRIVY_CACHE_DIR, SCAN_TIMEOUT",
    )
    sbom.add_argument("image", help="image reference, e.g. ghcr.io/org/app:1.2")
    sbom.add_argument("--format", choices=[f.value for f in SbomFormat], required=True, help="the SBOM format")
    sbom.add_argument("--output", metavar="FILE", help="write the SBOM there instead of stdout")
    sbom.add_argument(
        "--team", help="Slack workspace whose triage decisions apply (default: the only one, else 'local')"
    )
    sbom.set_defaults(handler=cmd_sbom)


def cmd_sbom(args: argparse.Namespace) -> int:
    try:
        document = build(args.image, SbomFormat(args.format), args.team)
    except (InvalidReference, TeamUnknown) as exc:
        return bad_input(str(exc))
    except ScanError as exc:
        return bad_input(for_terminal(exc.message))
    except RedisConnectionError:
        return bad_input("Could not reach Redis at REDIS_URL. Start it, or unset REDIS_URL to use an embedded one.")
    text = json.dumps(document, indent=2) + "\n"
    if not args.output:
        print(text, end="")
        return 0
    try:
        with open(args.output, "w", encoding="utf-8") as out:
            out.write(text)
    except OSError as exc:
        return bad_input(f"Could not write {args.output}: {exc.strerror}.")
    return 0


def build(image: str, fmt: SbomFormat, team: str | None) -> dict:
    """The enriched SBOM of ``image``: the scan (for KEV, EPSS, decisions), then Trivy's SBOM. Raises ScanError."""
    settings = bot_config.current().engine
    ref = settings.registry_policy.check(parse_reference(image))
    with redis_connection(settings) as (redis, embedded):
        pair, error = scan_pair(redis, embedded, settings, ref, alternative=False)
        if error:
            raise error
        now = datetime.now(UTC)
        report = with_risk(redis, pair, now).report
        applied = apply(report, team_decisions(redis, None if embedded else team, report), now)
        document = Scanner(settings, redis).sbom(ref, fmt.value)
    return enrich(document, fmt, report, applied, now)
