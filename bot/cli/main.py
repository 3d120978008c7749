"""``python -m bot …``: the command line. Each subcommand lives in the module of its concern
(``scan``, ``diff``, ``processes``, ``catalog``, ``triage``, ``digest``, ``db``, ``feeds``, ``owners``); this one builds
the parser from them and turns a bad setting, image name or unreachable Redis into one sentence."""

from __future__ import annotations

import argparse
import sys

from redis.exceptions import ConnectionError as RedisConnectionError

from bot import config as bot_config
from bot.cli import catalog, db, diff, digest, feeds, gate, owners, processes, sbom, scan, triage
from bot.cli.common import fail
from bot.runtime import setup_logging
from workers.config import ConfigError
from workers.reference import InvalidReference


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):  # `python -m bot` alone: the overview, not argparse's complaint
        parser.print_help()
        return 0
    try:
        settings = bot_config.current()  # read once, here; a bad value ends in its sentence and status 2
        quiet = args.command in ("scan", "diff", "gate", "sbom", "alternative", "db") and not getattr(
            args, "verbose", False
        )
        setup_logging(
            "CRITICAL" if quiet and settings.engine.log_level != "DEBUG" else settings.engine.log_level, settings
        )
        return args.handler(args)
    except ConfigError as exc:
        print(f"Configuration problem: {exc}", file=sys.stderr)
        return 2
    except InvalidReference as exc:  # a bad image name: the parser's sentence, before anything is queued
        return fail(str(exc))
    except RedisConnectionError:
        return fail("Could not reach Redis at REDIS_URL. Start it, or unset REDIS_URL to use an embedded one.")
    except KeyboardInterrupt:
        return 130


OVERVIEW = """examples:
  python -m bot scan mariadb                      scan an image and its Chainguard alternative
  python -m bot scan mariadb:11.4 --format json   the same as JSON, for scripts
  python -m bot diff mariadb:11.4 mariadb:11.8     what moving from one image to another changes
  python -m bot alternative postgres:16           which Chainguard image stands in, without scanning
  python -m bot gate app:1.2 --fail-on high       exit 1 when open findings reach the threshold (CI)
  python -m bot sbom app:1.2 --format cyclonedx    Trivy's SBOM with KEV, EPSS and the team's VEX
  python -m bot triage list mariadb               the team's decisions on an image
  python -m bot serve | worker | scheduler        the three processes of an installation (Procfile)

environment: REDIS_URL (unset: an embedded Valkey), DOCKERHUB_MIRROR, CHAINGUARD_REGISTRY,
TRIVY_CACHE_DIR, TRIVY_DB_REPOSITORY, LOG_LEVEL; the README's Configuration lists them all."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="chainscan: container image scans, from Slack or here.",
        epilog=OVERVIEW,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    scan.add_parsers(sub)
    diff.add_parser(sub)
    gate.add_parser(sub)
    sbom.add_parser(sub)
    processes.add_parsers(sub)
    catalog.add_parser(sub)
    triage.add_parser(sub)
    digest.add_parsers(sub)
    db.add_parser(sub)
    feeds.add_parser(sub)
    owners.add_parser(sub)
    return parser
