"""``python -m bot gate``: the CI gate. Scans an image as ``scan`` does (through the queue, cached by digest), applies
the team's triage and exits 0 when nothing open reaches the threshold, 1 when something does (named on stdout),
2 on bad input or a scan that could not run (one sentence on stderr). The decision is :mod:`workers.gate`'s;
``--format sarif`` is :mod:`workers.sarif`'s.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from enum import Enum

from redis.exceptions import ConnectionError as RedisConnectionError

from bot import config as bot_config
from bot.cli.common import BAD_INPUT, bad_input, command, for_terminal
from bot.cli.scan import _epss_threshold, scan_pair, team_decisions
from bot.runtime import redis_connection
from workers.feeds.attach import with_risk
from workers.gate import FAIL_ON, GateResult, Threshold, Verdict, evaluate
from workers.reference import InvalidReference, parse_reference
from workers.report import ScanReport
from workers.sarif import sarif
from workers.triage.teams import TeamUnknown


class GateFormat(str, Enum):
    TEXT = "text"
    JSON = "json"
    SARIF = "sarif"


def add_parser(sub) -> None:
    gate = command(
        sub,
        "gate",
        "fail a CI job when an image has open findings at or above a threshold",
        "  python -m bot gate ghcr.io/org/app:1.2 --fail-on high\n"
        "  python -m bot gate ghcr.io/org/app:1.2 --kev --format sarif --output chainscan.sarif",
        "REDIS_URL, DOCKERHUB_MIRROR, REGISTRY_CREDENTIALS, TRIVY_CACHE_DIR, SCAN_TIMEOUT; exit 0 pass, 1 fail, 2 error",
    )
    gate.add_argument("image", help="image reference, e.g. ghcr.io/org/app:1.2")
    gate.add_argument("--fail-on", choices=FAIL_ON, default="critical", help="the lowest severity that fails")
    gate.add_argument("--kev", action="store_true", help="fail only on findings in CISA's KEV catalog")
    gate.add_argument(
        "--epss-min", type=_epss_threshold, default=None, metavar="SCORE", help="fail only on EPSS >= SCORE"
    )
    gate.add_argument(
        "--team", help="Slack workspace whose triage decisions apply (default: the only one, else 'local')"
    )
    gate.add_argument("--format", choices=[f.value for f in GateFormat], default="text", help="what is written")
    gate.add_argument("--output", metavar="FILE", help="write the report there; stdout still names what fails")
    gate.add_argument("--force", action="store_true", help="ignore the cached result and run Trivy again")
    gate.add_argument("--timeout", type=float, default=None, help="seconds to wait (default: from SCAN_TIMEOUT)")
    gate.set_defaults(handler=cmd_gate)
    gate.error = _usage_error  # a CI log gets the one sentence, not the usage block


def _usage_error(message: str):
    print(f"python -m bot gate: {message}. See python -m bot gate --help.", file=sys.stderr)
    raise SystemExit(BAD_INPUT)


def cmd_gate(args: argparse.Namespace) -> int:
    threshold = Threshold(args.fail_on, kev_only=args.kev, epss_min=args.epss_min)
    try:
        report, result = _judge(args, threshold)
    except (InvalidReference, TeamUnknown) as exc:
        return bad_input(str(exc))
    except _ScanFailed as exc:
        return bad_input(for_terminal(str(exc)))
    except RedisConnectionError:
        return bad_input("Could not reach Redis at REDIS_URL. Start it, or unset REDIS_URL to use an embedded one.")
    document = _document(GateFormat(args.format), report, result)
    if args.output:
        try:
            with open(args.output, "w", encoding="utf-8") as out:
                out.write(document)
        except OSError as exc:
            return bad_input(f"Could not write {args.output}: {exc.strerror}.")
    if args.output or args.format == GateFormat.TEXT.value:
        print(text(report, result))
    else:
        print(document, end="")
    return result.verdict.exit_code


class _ScanFailed(Exception):
    """The scan could not run; its sentence is the message."""


def _judge(args: argparse.Namespace, threshold: Threshold) -> tuple[ScanReport, GateResult]:
    settings = bot_config.current().engine
    ref = settings.registry_policy.check(parse_reference(args.image))
    with redis_connection(settings) as (redis, embedded):
        pair, error = scan_pair(
            redis, embedded, settings, ref, alternative=False, force=args.force, timeout=args.timeout
        )
        if error:
            raise _ScanFailed(error.message)
        report = with_risk(redis, pair, datetime.now(UTC)).report
        decisions = team_decisions(redis, None if embedded else args.team, report)
    return report, evaluate(report, decisions, threshold, datetime.now(UTC))


def _document(fmt: GateFormat, report: ScanReport, result: GateResult) -> str:
    if fmt is GateFormat.SARIF:
        return json.dumps(sarif(report, result.applied), indent=2) + "\n"
    if fmt is GateFormat.JSON:
        return json.dumps(result.to_dict(report), indent=2) + "\n"
    return text(report, result) + "\n"


def text(report: ScanReport, result: GateResult) -> str:
    """The verdict in a sentence, then a line per offending finding: id, package, installed, fixed, severity."""
    threshold = result.threshold
    scope = threshold.fail_on + (" in KEV" if threshold.kev_only else "")
    scope += f" with EPSS >= {threshold.epss_min:g}" if threshold.epss_min is not None else ""
    hidden = f"; {len(result.applied.suppressed)} suppressed by triage" if result.applied.suppressed else ""
    if result.verdict is Verdict.PASS:
        return f"PASS {report.image.reference}: nothing open at or above {scope}{hidden}."
    rows = [(f.id, f.package, f.installed, f.fixed or "(no fix)", f.severity) for f in result.offending]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [f"FAIL {report.image.reference}: {len(result.offending)} open at or above {scope}{hidden}:"]
    lines += [
        "  " + "  ".join([*(cell.ljust(w) for cell, w in zip(row, widths, strict=False)), row[4]]) for row in rows
    ]
    return "\n".join(lines)
