"""``python -m bot db update``: fetch or refresh Trivy's vulnerability DB and Java DB for the fleet, under the
Redis lock every worker and scheduler takes for it (:mod:`workers.scan.dbupdate`).

Text says what happened in one line; ``--format json`` prints ``{"result": "downloaded"|"fresh", "db",
"java_db", "java_error"}``. Exit status 0 when both DBs are there, 1 with one sentence on stderr otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys

from bot import config as bot_config
from bot.runtime import redis_connection
from workers.errors import ScanError
from workers.scan import dbupdate


def add_parser(sub) -> None:
    db = sub.add_parser(
        "db",
        help="Trivy's DBs: download or refresh them once for every worker",
        description="Download or refresh Trivy's vulnerability DB and Java DB, one download at a time across "
        "the fleet (a Redis lock); a process that waited while another downloaded keeps that download.",
        epilog="examples:\n  python -m bot db update\n"
        "  TRIVY_DB_REPOSITORY=registry.internal:5000/aquasecurity/trivy-db python -m bot db update --format json"
        "\n\nenvironment: REDIS_URL, TRIVY_CACHE_DIR, TRIVY_DB_REPOSITORY, TRIVY_JAVA_DB_REPOSITORY",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = db.add_subparsers(dest="db_command", required=True)
    update = actions.add_parser("update", help="download or refresh both DBs under the fleet's lock")
    update.add_argument("--format", choices=("text", "json"), default="text", help="text or JSON")
    db.set_defaults(handler=cmd_db)


def cmd_db(args: argparse.Namespace) -> int:
    settings = bot_config.current().engine
    with redis_connection(settings) as (redis, _):
        try:
            outcome = dbupdate.update(redis, settings)
        except ScanError as exc:
            print(exc.message, file=sys.stderr)
            return 1
    if args.format == "json":
        print(json.dumps(outcome.to_dict(), indent=2))
    else:
        print(describe(outcome))
    if outcome.java_error:
        print(outcome.java_error, file=sys.stderr)
        return 1
    return 0


def describe(outcome: dbupdate.UpdateOutcome) -> str:
    """One line on what the update did. Pure."""
    db = (
        f"vulnerability DB v{outcome.db.version} built {outcome.db.updated_at}" if outcome.db else "no vulnerability DB"
    )
    java = f"Java DB built {outcome.java_db.updated_at}" if outcome.java_db else "no Java DB"
    if outcome.result is dbupdate.UpdateResult.FRESH:
        return f"Another worker downloaded the DBs while this one waited: {db}, {java}."
    return f"Downloaded: {db}, {java}."
