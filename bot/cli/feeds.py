"""``python -m bot feeds update|status``: load the KEV and EPSS feeds into Redis now, or say what is loaded.

``update`` exits 0 when every feed switched on was loaded, 1 when one could not be (its last good copy stays,
and the sentence says why). ``--format json`` prints one object per feed (``feed``, ``source``, ``date``,
``version``, ``count``, ``loaded_at``, ``error``).
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime

from bot import config as bot_config
from bot.runtime import redis_connection
from workers.feeds.parse import FeedKind
from workers.feeds.store import FeedStatus, status
from workers.feeds.update import feed_location, update_feeds


def add_parser(sub) -> None:
    feeds = sub.add_parser(
        "feeds",
        help="the KEV and EPSS feeds: update them now, or show what is loaded",
        description="Load CISA's KEV catalog and FIRST's EPSS scores into Redis (the scheduler does it daily).",
        epilog="examples:\n  python -m bot feeds update\n  EPSS_URL=/mirror/epss.csv.gz python -m bot feeds status\n\n"
        "environment: EPSS_URL, KEV_URL, FEED_TIMEOUT, REDIS_URL",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    feeds.add_argument("action", choices=("update", "status"), help="fetch now, or show what is loaded")
    feeds.add_argument("--format", choices=("text", "json"), default="text", help="text or JSON")
    feeds.set_defaults(handler=cmd_feeds)


def cmd_feeds(args: argparse.Namespace) -> int:
    settings = bot_config.current().engine
    with redis_connection(settings) as (redis, embedded):
        if args.action == "update":
            outcomes = update_feeds(redis, settings, datetime.now(UTC))
            rows = [_row(o.kind, o.source, o.status, o.error) for o in outcomes]
            failed = any(o.error for o in outcomes)
        else:
            rows = [_row(kind, feed_location(settings, kind), status(redis, kind), None) for kind in FeedKind]
            failed = False
    if args.format == "json":
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            print(_line(row))
        if embedded:
            print("(not kept: set REDIS_URL so the workers share the feeds)")
    return 1 if failed else 0


def _row(kind: FeedKind, source: str | None, loaded: FeedStatus | None, error: str | None) -> dict:
    loaded = loaded or FeedStatus(kind)
    return {
        "feed": kind.value,
        "source": source,
        "date": loaded.date,
        "version": loaded.version,
        "count": loaded.count,
        "loaded_at": loaded.loaded_at,
        "error": error or loaded.error,
    }


def _line(row: dict) -> str:
    name = row["feed"].upper()
    if row["source"] is None:
        return f"{name}: off (its URL is set to off)"
    held = f"{row['count']} entries of {row['date']}" if row["date"] else "nothing loaded"
    problem = f"; last attempt failed: {row['error']}" if row["error"] else ""
    return f"{name}: {held} from {row['source']}{problem}"
