"""``python -m bot triage set|list|export|history``: the team's decisions from a terminal, for scripts and CI.

Decisions live in the bot's Redis (``REDIS_URL``), so the CLI, Slack and every scan see the same ones.
Bad input is one sentence on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime

from redis import Redis

from bot import config as bot_config
from workers.owners.routes import TEAM_NAME
from workers.reference import ImageRef, InvalidReference, parse_reference
from workers.triage.decide import Change, decide
from workers.triage.model import StaleDecision
from workers.triage.store import DecisionStore
from workers.triage.teams import TeamUnknown, default_team
from workers.triage.validate import TriageInputError

EXAMPLES = """examples:
  python -m bot triage set mariadb CVE-2024-2961 --package libc6 --state accepted --by U123 \\
      --reason "iconv is not reachable" --until 2027-03-01
  python -m bot triage set mariadb CVE-2023-1234 --package zlib1g --state false_positive --by U123 \\
      --justification vulnerable_code_not_in_execute_path --reason "never decompresses input"
  python -m bot triage list mariadb --format json
  python -m bot triage export mariadb --format openvex > mariadb.openvex.json
"""


def add_parser(sub) -> None:
    triage = sub.add_parser(
        "triage",
        help="the team's decisions on findings: set, list, export, history",
        description="Decisions taken here or in Slack are honoured by every scan, digest and export.",
        epilog=EXAMPLES + "\nenvironment: REDIS_URL (required), TRIAGE_MAX_ACCEPT_DAYS (180), "
        "TRIAGE_MAX_ACCEPT_DAYS_CRITICAL (30)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    triage.set_defaults(handler=run)
    actions = triage.add_subparsers(dest="triage_command", required=True)
    team_help = "Slack workspace id (default: the one workspace this install serves, else 'local')"

    set_ = actions.add_parser("set", help="record a decision on one finding")
    set_.add_argument("image")
    set_.add_argument("vulnerability", metavar="VULN")
    set_.add_argument("--package", required=True, help="the package name as Trivy reports it")
    set_.add_argument("--state", required=True, help="acknowledged, assigned, accepted, false_positive or open")
    set_.add_argument("--by", required=True, help="who decides (a Slack user id or a name)")
    set_.add_argument("--reason", help="why (required for accepted); the statement for a false positive")
    set_.add_argument("--until", help='accepted only: YYYY-MM-DD (ends at 00:00 UTC) or "until a fix exists"')
    set_.add_argument("--justification", help="false_positive only: one of OpenVEX's five justifications")
    set_.add_argument("--assignee", help="assigned only: who is on it")
    set_.add_argument("--digest", help="only this image digest (default: the whole repository)")
    set_.add_argument(
        "--scope",
        help="wider than the repository: team:NAME (every image the routing file gives that team) or "
        "base:IMAGE (every image built on that base, e.g. base:debian)",
    )
    set_.add_argument("--team", help=team_help)
    set_.set_defaults(triage_handler=cmd_set)

    list_ = actions.add_parser("list", help="the decisions on an image's repository")
    list_.add_argument("image")
    list_.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")
    list_.add_argument("--team", help=team_help)
    list_.set_defaults(triage_handler=cmd_list)

    export = actions.add_parser("export", help="the decisions as OpenVEX or .trivyignore.yaml, to stdout")
    export.add_argument("image")
    export.add_argument("--format", choices=("openvex", "trivyignore"), required=True)
    export.add_argument("--team", help=team_help)
    export.set_defaults(triage_handler=cmd_export)

    history = actions.add_parser("history", help="every change to one finding's decision (the audit trail)")
    history.add_argument("image")
    history.add_argument("vulnerability", metavar="VULN")
    history.add_argument("--package", help="the package (default: every package with that vulnerability)")
    history.add_argument("--team", help=team_help)
    history.set_defaults(triage_handler=cmd_history)


def _scope(text: str | None) -> dict:
    """``team:payments`` → owner_team, ``base:debian`` → base (a repository name); none → the repository."""
    if not text:
        return {}
    kind, _, value = text.partition(":")
    if kind == "team" and TEAM_NAME.match(value):
        return {"owner_team": value}
    if kind == "base" and value:
        return {"base": parse_reference(value).name}
    raise TriageInputError("scope", f"--scope is team:NAME or base:IMAGE, not {text!r}.")


def cmd_set(args: argparse.Namespace) -> int:
    settings = bot_config.current().engine
    with _store(settings) as (store, redis):
        image, team = _image(args.image), _team(args, redis)
        change = Change(
            state=args.state,
            by=args.by,
            reason=args.reason,
            until=args.until,
            justification=args.justification,
            assignee=args.assignee,
            digest=args.digest,
            **_scope(args.scope),
        )
        now = datetime.now(UTC)
        severity = _severity(redis, image, args.vulnerability, args.package)
        result = decide(
            store,
            settings,
            team=team,
            image=image,
            vulnerability=args.vulnerability,
            package=args.package,
            change=change,
            now=now,
            severity=severity,
        )
    decision = result.decision
    what = "recorded" if result.changed else "unchanged"
    print(
        f"{args.vulnerability} in {args.package} ({decision.scope_target}): {decision.state.value}, {what} "
        f"(version {decision.version})"
    )
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    settings = bot_config.current().engine
    with _store(settings) as (store, redis):
        image = _image(args.image)
        decisions = store.get(_team(args, redis), image.name)
    if args.format == "json":
        print(json.dumps({"repository": image.name, "decisions": [d.to_dict() for d in decisions]}, indent=2))
        return 0
    if not decisions:
        print(f"No decisions on {image.name} yet.")
    for d in decisions:
        detail = d.reason or d.assignee or ""
        until = " until a fix exists" if d.until_fixed else f" until {d.until}" if d.until else ""
        print(f"{d.vulnerability:<20} {d.package:<24} {d.state.value:<15} by {d.by}{until}  {detail}".rstrip())
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from bot.cli.scan import apply_decisions, scan_pair
    from bot.runtime import redis_connection
    from workers.triage.vex import image_purl, openvex, trivyignore

    settings = bot_config.current().engine
    image = _image(args.image)
    _require_redis(settings)
    with redis_connection(settings) as (redis, _):
        team = _team(args, redis)
        result, error = scan_pair(redis, False, settings, image, alternative=False)
        if error:
            print(error.message, file=sys.stderr)
            return 1
        applied = apply_decisions(redis, team, result.report)
        decisions = DecisionStore(redis).get(team, image.name)
    now = datetime.now(UTC)
    if args.format == "trivyignore":
        sys.stdout.write(trivyignore(applied.suppressed, now))
        return 0
    source = _scanned_reference(result.report, settings)
    product = image_purl(source, result.report.image.digest)
    version = sum(d.version for d in decisions) or 1  # rises with every change to any decision
    document = openvex(applied.suppressed, product, author="chainscan", now=now, version=version)
    if not document["statements"]:  # OpenVEX requires at least one statement
        print(f"No false positives are recorded for {image.familiar}: there is nothing to export.", file=sys.stderr)
        return 1
    print(json.dumps(document, indent=2))
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    settings = bot_config.current().engine
    with _store(settings) as (store, redis):
        image, team = _image(args.image), _team(args, redis)
        packages = (
            [args.package]
            if args.package
            else sorted({d.package for d in store.get(team, image.name) if d.vulnerability == args.vulnerability})
        )
        entries = [
            (package, entry)
            for package in packages
            for entry in store.history(team, image.name, args.vulnerability, package)
        ]
    if not entries:
        print(f"No decisions on {args.vulnerability} in {image.name}.")
    for package, e in entries:
        note = e.reason or e.assignee or (e.justification.value if e.justification else "")
        until = f" until {e.until}" if e.until else " until a fix exists" if e.until_fixed else ""
        print(f"{e.at}  {package}  {e.old_state.value} → {e.new_state.value}{until}  by {e.by}  {note}".rstrip())
    return 0


def run(args: argparse.Namespace) -> int:
    """Every triage subcommand's failures are sentences with status 2 (bad input) or 1 (nothing to act on)."""
    try:
        return args.triage_handler(args)
    except (TriageInputError, InvalidReference, TeamUnknown, _NoRedis) as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except StaleDecision as exc:
        print(str(exc), file=sys.stderr)
        return 1


class _NoRedis(ValueError):
    pass


def _require_redis(settings) -> None:
    if not settings.redis_url:
        raise _NoRedis("Set REDIS_URL: decisions are kept in the bot's Redis, shared with Slack and the workers.")


class _store:
    """``with _store(settings) as (store, redis)``: the decision store on the configured Redis."""

    def __init__(self, settings):
        _require_redis(settings)
        self.redis = Redis.from_url(settings.redis_url)

    def __enter__(self):
        return DecisionStore(self.redis), self.redis

    def __exit__(self, *exc):
        self.redis.close()


def _image(text: str) -> ImageRef:
    """The image named, admitted by the registry policy (an export scans it)."""
    return bot_config.current().engine.registry_policy.check(parse_reference(text))


def _team(args: argparse.Namespace, redis: Redis) -> str:
    return args.team or default_team(redis)


def _severity(redis: Redis, image: ImageRef, vulnerability: str, package: str) -> str:
    """The finding's severity in the repository's latest scan (criticals may be accepted for fewer days)."""
    from workers.scan.store import ReportStore

    for entry in ReportStore(redis).history(image.name, limit=1):
        for found in entry.get("findings") or []:
            if found[0] == vulnerability and found[1] == package:
                return found[2]
    return "unknown"


def _scanned_reference(report, settings) -> str:
    """The reference Trivy scanned (the mirror's, with DOCKERHUB_MIRROR), whose purl Trivy matches VEX against."""
    from workers.scan.resolve import source_reference

    return str(source_reference(parse_reference(report.image.reference), settings))
