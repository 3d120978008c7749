"""``python -m bot catalog``: the Chainguard catalog, listed or refreshed from the registry."""

from __future__ import annotations

import argparse

from bot import config as bot_config
from bot.cli.common import command, fail
from bot.runtime import redis_connection


def add_parser(sub) -> None:
    catalog = command(
        sub,
        "catalog",
        "the Chainguard catalog: list it, or refresh it from the registry",
        "  python -m bot catalog list\n  CHAINGUARD_REGISTRY=127.0.0.1:5000/chainguard python -m bot catalog refresh",
        "CHAINGUARD_REGISTRY, REDIS_URL",
    )
    catalog.add_argument("action", choices=("list", "refresh"), help="list the catalog, or refresh it")
    catalog.set_defaults(handler=cmd_catalog)


def cmd_catalog(args: argparse.Namespace) -> int:
    from workers.chainguard.state import current_catalog, refresh_and_store

    settings = bot_config.current().engine
    with redis_connection(settings) as (redis, embedded):
        store = None if embedded else redis  # an embedded server forgets everything on exit
        if args.action == "refresh":
            result = refresh_and_store(store, settings)
            if not result.reachable:
                return fail(f"Could not refresh the catalog from {settings.chainguard_registry}: {result.error}")
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
