"""``python -m bot watch add|remove|list`` and ``python -m bot digest schedule|preview|send``: a channel's
watch list and weekly digest from a terminal, through the same stores and exactly-once path as Slack.
Bad input is one sentence on stderr and exit status 2."""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import UTC, datetime

from redis import Redis

from bot import config as bot_config
from workers.digests.schedule import ScheduleError, parse_schedule
from workers.digests.store import DigestStore, WatchLimitReached
from workers.reference import InvalidReference, parse_reference
from workers.triage.teams import TeamUnknown, default_team

CHANNEL = re.compile(r"^[CGD][A-Z0-9]{2,20}$")
TEAM_HELP = "Slack workspace id (default: the one workspace this install serves, else 'local')"


class BadInput(ValueError):
    pass


WATCH_EXAMPLES = """examples:
  python -m bot watch add C0123ABCD mariadb postgres:16
  python -m bot watch list C0123ABCD --format json
  python -m bot watch check                      one alert pass now (the scheduler runs one every hour)

environment: REDIS_URL (required), WATCH_LIMIT (50 a channel), WATCH_CHECK_INTERVAL (3600 s),
ALERT_MIN_SEVERITY (critical)"""

DIGEST_EXAMPLES = """examples:
  python -m bot digest schedule C0123ABCD "monday 09:00 Europe/Berlin"
  python -m bot digest preview C0123ABCD --format json
  python -m bot digest send C0123ABCD --period 2026-W49   a second call for the same week posts nothing new

environment: REDIS_URL (required), SLACK_BOT_TOKEN (send), SLA_DAYS_CRITICAL (7), SLA_DAYS_HIGH (30)"""


def add_parsers(sub) -> None:
    watch = sub.add_parser(
        "watch",
        help="a channel's watch list: add, remove, list",
        description="The images a channel hears about every week, and at once when one gets a new critical.",
        epilog=WATCH_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    watch.set_defaults(handler=run)
    actions = watch.add_subparsers(dest="watch_command", required=True)
    add = actions.add_parser("add", help="watch images in a channel")
    add.add_argument("channel", help="a Slack channel id, e.g. C0123ABCD")
    add.add_argument("images", nargs="+", metavar="IMAGE")
    add.add_argument("--team", help=TEAM_HELP)
    add.set_defaults(digest_handler=cmd_watch_add)
    remove = actions.add_parser("remove", help="stop watching an image")
    remove.add_argument("channel")
    remove.add_argument("image")
    remove.add_argument("--team", help=TEAM_HELP)
    remove.set_defaults(digest_handler=cmd_watch_remove)
    list_ = actions.add_parser("list", help="the images a channel watches")
    list_.add_argument("channel")
    list_.add_argument("--format", choices=("text", "json"), default="text")
    list_.add_argument("--team", help=TEAM_HELP)
    list_.set_defaults(digest_handler=cmd_watch_list)
    check = actions.add_parser("check", help="one alert pass over every watched image (new criticals, once each)")
    check.set_defaults(digest_handler=cmd_watch_check)

    digest = sub.add_parser(
        "digest",
        help="a channel's weekly digest: schedule, preview, send",
        description="One digest per channel and week (default: Monday 09:00 UTC once something is watched).",
        epilog=DIGEST_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    digest.set_defaults(handler=run)
    steps = digest.add_subparsers(dest="digest_command", required=True)
    schedule = steps.add_parser("schedule", help='set the schedule ("monday 09:00 Europe/Berlin") or "off"')
    schedule.add_argument("channel")
    schedule.add_argument("when", help='"monday 09:00 Europe/Berlin", or off')
    schedule.add_argument("--team", help=TEAM_HELP)
    schedule.set_defaults(digest_handler=cmd_schedule)
    preview = steps.add_parser("preview", help="what the digest would say now, without posting")
    preview.add_argument("channel")
    preview.add_argument("--format", choices=("text", "json"), default="text")
    preview.add_argument("--team", help=TEAM_HELP)
    preview.set_defaults(digest_handler=cmd_preview)
    send = steps.add_parser("send", help="post the digest now, once per period (a second call posts nothing new)")
    send.add_argument("channel")
    send.add_argument("--period", help="the ISO week, e.g. 2026-W49 (default: the current one)")
    send.add_argument("--team", help=TEAM_HELP)
    send.set_defaults(digest_handler=cmd_send)


def run(args: argparse.Namespace) -> int:
    try:
        return args.digest_handler(args)
    except (BadInput, ScheduleError, InvalidReference, TeamUnknown, WatchLimitReached) as exc:
        print(str(exc), file=sys.stderr)
        return 2


def cmd_watch_add(args) -> int:
    settings, (store, redis) = bot_config.current().engine, _store()
    references = [str(settings.registry_policy.check(parse_reference(image))) for image in args.images]
    added = store.watch(
        _team(args, redis), _channel(args.channel), references, settings.watch_limit, settings.watch_workspace_limit
    )
    if added:  # the alert baseline is what the images have now (a worker sets it)
        from rq import Queue

        from bot.jobs.alerts import enqueue_baseline

        queue = Queue(settings.queue_name, connection=redis)
        enqueue_baseline(queue, _team(args, redis), _channel(args.channel), added, datetime.now(UTC))
    print(f"Watching {len(added)} more in {args.channel}: {', '.join(added) or 'nothing new'}.")
    return 0


def cmd_watch_remove(args) -> int:
    store, redis = _store()
    removed = store.unwatch(_team(args, redis), _channel(args.channel), str(parse_reference(args.image)))
    print(f"{'No longer watching' if removed else 'Was not watching'} {args.image} in {args.channel}.")
    return 0


def cmd_watch_list(args) -> int:
    store, redis = _store()
    team, channel = _team(args, redis), _channel(args.channel)
    images, schedule = store.watched(team, channel), store.schedule(team, channel)
    if args.format == "json":
        print(json.dumps({"channel": channel, "images": images, "schedule": str(schedule) if schedule else None}))
    else:
        print("\n".join(images) or f"{channel} watches nothing.")
    return 0


def cmd_watch_check(args) -> int:
    from bot.jobs.alerts import check_alerts

    _, redis = _store()
    sent = check_alerts(bot_config.current(), redis, datetime.now(UTC))
    print(f"{sent} alert{'s' if sent != 1 else ''} sent.")
    return 0


def cmd_schedule(args) -> int:
    store, redis = _store()
    schedule = None if args.when.strip().lower() == "off" else parse_schedule(args.when)
    store.set_schedule(_team(args, redis), _channel(args.channel), schedule)
    print(f"Digest for {args.channel}: {schedule or 'off'}.")
    return 0


def cmd_preview(args) -> int:
    from bot.jobs.digest_thread import collect

    store, redis = _store()
    team, channel = _team(args, redis), _channel(args.channel)
    now = datetime.now(UTC)
    period = (store.schedule(team, channel) or parse_schedule("monday 09:00 UTC")).current_period(now)
    digest, _ = collect(redis, bot_config.current(), team, channel, period, now)
    if args.format == "json":
        print(json.dumps({"channel": channel, **digest.to_dict()}, indent=2))
        return 0
    from bot.render.digest import attention_text, health_text, image_line, past_sla_text, priority_line

    lines = [image_line(e) for e in digest.entries]
    if digest.top:
        lines += ["", "Matters most:"] + [priority_line(p) for p in digest.top]
    if digest.past_sla:
        lines += ["", past_sla_text(digest)]
    if digest.attention:
        lines += ["", attention_text(digest.attention)]
    lines += ["", health_text(digest.health)]
    print("\n".join(lines).replace("*", ""))
    return 0


def cmd_send(args) -> int:
    from rq import SimpleWorker

    from bot.jobs.digest_thread import digest_queue, send_digest

    store, redis = _store()
    team, channel = _team(args, redis), _channel(args.channel)
    schedule = store.schedule(team, channel) or parse_schedule("monday 09:00 UTC")
    period = args.period or schedule.current_period(datetime.now(UTC))
    if not re.fullmatch(r"\d{4}-W\d{2}", period):
        raise BadInput(f"`{period[:20]}` is not a period; write an ISO week like 2026-W49.")
    queue = digest_queue(redis, bot_config.current().engine)
    job = queue.enqueue(send_digest, team, channel, period, False)
    SimpleWorker([queue], connection=redis).work(burst=True, logging_level="CRITICAL")
    result = job.latest_result()
    value = result.return_value if result else None
    print(
        f"Digest of {period} for {channel}: "
        + (f"posted ({value['ts']})" if value and "ts" in value else "already posted, nothing new")
    )
    return 0


def _store() -> tuple[DigestStore, Redis]:
    settings = bot_config.current().engine
    if not settings.redis_url:
        raise BadInput("Set REDIS_URL: watch lists and digests are kept in the bot's Redis.")
    redis = Redis.from_url(settings.redis_url)
    return DigestStore(redis), redis


def _channel(text: str) -> str:
    if not CHANNEL.match(text or ""):
        raise BadInput(f"`{(text or '')[:30]}` is not a Slack channel id (like C0123ABCD).")
    return text


def _team(args, redis: Redis) -> str:
    return args.team or default_team(redis)
