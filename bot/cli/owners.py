"""``python -m bot owners show IMAGE``: who owns an image and why (routing file, labels, watching channel)."""

from __future__ import annotations

import argparse
import json

from bot import config as bot_config
from bot.cli.common import command
from bot.render.owners import owner_text
from bot.runtime import redis_connection
from workers.owners.lookup import ownership
from workers.reference import parse_reference


def add_parser(sub) -> None:
    owners = command(
        sub,
        "owners",
        "who owns an image: the team, its channel and why (routing file, labels or the watching channel)",
        "  python -m bot owners show mariadb\n  OWNERS_FILE=deploy/owners.yaml python -m bot owners show "
        "registry.example.com/payments/api:1.4 --format json",
        "OWNERS_FILE, REDIS_URL, REGISTRY_ALLOWLIST",
    )
    owners.add_argument("action", choices=("show",), help="show the owner of IMAGE")
    owners.add_argument("image", help="an image reference, as for scan")
    owners.add_argument("--format", choices=("text", "json"), default="text", help="text, or JSON for scripts")
    owners.add_argument("--no-labels", action="store_true", help="do not read the image's labels from its registry")
    owners.set_defaults(handler=cmd_owners)


def cmd_owners(args: argparse.Namespace) -> int:
    settings = bot_config.current().engine
    ref = settings.registry_policy.check(parse_reference(args.image))
    with redis_connection(settings) as (redis, _):
        found = ownership(ref, settings, redis, read_labels=not args.no_labels)
    if args.format == "json":
        owner = found.owner
        print(
            json.dumps(
                {
                    "image": ref.familiar,
                    "repository": ref.name,
                    "team": owner.team if owner else None,
                    "channel": owner.channel if owner else None,
                    "group": owner.group if owner else None,
                    "source": owner.source.value if owner else None,
                    "why": owner.why if owner else None,
                    "labels": found.labels or {},
                    "labels_problem": found.labels_problem,
                    "file_problem": found.file_problem,
                },
                indent=2,
            )
        )
    else:
        print(owner_text(ref.familiar, found))
    return 0
