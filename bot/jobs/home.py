"""Publishing a user's App Home tab (``views.publish``): on ``app_home_opened`` and after their decisions, one
job at a time per user (a burst of decisions is one publish). Reads only Redis: the routing file's teams, each
team channel's watched images, their latest cached reports seen through the team's triage; never scans. Who is in
a team's user group comes from Slack, cached for a few minutes (:mod:`bot.usergroups`)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from redis import Redis
from rq import Queue, get_current_job
from slack_sdk.errors import SlackApiError

from bot import config as bot_config
from bot.jobs.triage_thread import applied_for
from bot.render.home import ImageHome, TeamHome, home_view
from bot.slack_client import client_for, error_code
from bot.threads import ThreadStore
from bot.usergroups import teams_of
from workers.digests.store import DigestStore
from workers.owners.lookup import routes_in_force
from workers.reference import InvalidReference, parse_reference
from workers.scan.store import ReportStore, cache_key, db_version_key
from workers.telemetry import context as telemetry
from workers.triage.decide import decisions_for
from workers.triage.model import TriageState
from workers.triage.store import DecisionStore

log = logging.getLogger(__name__)

COALESCE = 5  # seconds: publishes asked for within this window are one
PERMALINKS = 20  # images a publish asks Slack for the thread link of (the rest show without the button)


def enqueue_home(queue: Queue, redis: Redis, workspace: str | None, user: str | None) -> bool:
    """Queue one publish of ``user``'s Home tab, unless one is already queued."""
    if not (workspace and user) or not redis.set(
        f"chainscan:home:queued:{workspace}:{user}", "1", nx=True, ex=COALESCE
    ):
        return False
    queue.enqueue(
        publish_home, workspace, user, job_timeout=120, result_ttl=600, failure_ttl=3600, meta=telemetry.job_meta()
    )
    return True


def publish_home(workspace: str, user: str) -> dict:
    redis = get_current_job().connection
    settings = bot_config.current()
    redis.delete(f"chainscan:home:queued:{workspace}:{user}")  # a decision from now on asks for a fresh publish
    client = client_for(settings, redis, workspace)
    routes = routes_in_force(settings.engine, redis)
    now = datetime.now(UTC)
    mine = teams_of(redis, client, routes, user)  # by the file's members, or by their user groups (Slack, cached)
    teams = [_team_home(settings, redis, client, workspace, team, now) for team in mine]
    view = home_view(teams, now.strftime("%Y-%m-%d %H:%M UTC"), routed=bool(routes.teams))
    try:
        client.views_publish(user_id=user, view=view)
    except SlackApiError as exc:
        log.warning("home: views.publish for %s failed: %s", user, error_code(exc))
        return {"published": False, "error": error_code(exc)}
    return {"published": True, "teams": len(teams), "blocks": len(view["blocks"])}


def _team_home(settings, redis: Redis, client, workspace: str, team, now: datetime) -> TeamHome:
    images, links = [], 0
    for reference in DigestStore(redis).watched(workspace, team.channel):
        image = _image_home(settings, redis, workspace, reference, now)
        if links < PERMALINKS and (ts := ThreadStore(redis).latest(team.channel, reference)):
            links += 1
            try:
                image = ImageHome(
                    **{
                        **vars(image),
                        "thread": client.chat_getPermalink(channel=team.channel, message_ts=ts).get("permalink"),
                    }
                )
            except SlackApiError as exc:
                log.info("home: no permalink: %s", error_code(exc))
        images.append(image)
    images.sort(key=lambda i: (-(i.critical or 0), -(i.high or 0), i.reference))
    return TeamHome(team.name, team.channel, tuple(images))


def _image_home(settings, redis: Redis, workspace: str, reference: str, now: datetime) -> ImageHome:
    """Open counts from the latest cached report of the image's repository, through the team's triage."""
    try:
        repository = parse_reference(reference).name
    except InvalidReference:
        return ImageHome(reference, None, None)
    store = ReportStore(redis)
    latest, db = next(iter(store.history(repository, 1)), None), store.last_db()
    report = None
    if latest and latest.get("digest") and db:
        report = store.get(
            cache_key(latest["digest"], settings.engine.platform, db_version_key(latest.get("db"), db.version))
        )
    if report is None:
        counts = (latest or {}).get("counts")
        return ImageHome(
            reference, counts.get("critical", 0) if counts else None, counts.get("high", 0) if counts else None
        )
    applied = applied_for(redis, workspace, report, now)
    soon = now + timedelta(days=7)
    expiring = tuple(
        (d.vulnerability, d.package, d.until)
        for d in decisions_for(DecisionStore(redis), settings.engine, workspace, report)
        if d.state is TriageState.ACCEPTED and d.until and (end := d.expires_at()) and now <= end <= soon
    )
    return ImageHome(reference, applied.open_counts.get("critical", 0), applied.open_counts.get("high", 0), expiring)
