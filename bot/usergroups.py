"""Who is in a Slack user group: ``usergroups.users.list`` (scope ``usergroups:read``), each group's members
cached in Redis for :data:`TTL` seconds, so opening the Home tab or a triage check asks Slack at most once per
group in that time. I/O: Redis and the Web API.

A group Slack does not answer for (the scope is missing, rate limited, unreachable) counts as one the user is not
in, and one log line names the error: the Home tab falls back to the routing file's members, a triage check to
the users it allows by name. A group Slack does not know is cached as empty (and logged) like any other answer.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from redis import Redis
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack_client import error_code
from workers.owners.routes import Routes, Team

log = logging.getLogger(__name__)

UNKNOWN_GROUP = "no_such_subteam"  # an answer about this one group: the others are still asked
TTL = 300  # seconds a group's members are trusted: short, as accepting a risk is allowed by group membership
PREFIX = "chainscan:usergroup:members:"


@dataclass(frozen=True)
class Membership:
    groups: frozenset[str]  # of the groups asked about, those the user is in
    error: str | None = None  # why some were not read (Slack's error code); those count as not the user's
    unread: int = 0  # how many groups were not read


def cache_key(group: str) -> str:
    return f"{PREFIX}{group}"


def membership(redis: Redis, client: WebClient, user: str | None, groups: Iterable[str]) -> Membership:
    """The groups among ``groups`` that ``user`` is in. After Slack's first failure the rest are not asked for
    (a missing scope or a rate limit holds for them too) and count as not the user's; one log line says so."""
    found, error, unread = set(), None, 0
    for group in sorted(set(groups)):
        members = _cached(redis, group)
        if members is None and error is None:
            try:
                members = _read(client, group)
            except SlackApiError as exc:
                if error_code(exc) != UNKNOWN_GROUP:
                    error = error_code(exc)
                else:
                    log.warning("usergroups.users.list: Slack knows no user group %s", group)
                    members = frozenset()
            except OSError as exc:  # unreachable after the client's retries
                error = type(exc).__name__
            if members is not None:
                redis.set(cache_key(group), json.dumps({"v": 1, "users": sorted(members)}), ex=TTL)
        if members is None:
            unread += 1
        elif user in members:
            found.add(group)
    if error:
        log.warning(
            "usergroups.users.list failed (%s): %d user groups unread, counted as not the user's", error, unread
        )
    return Membership(frozenset(found), error, unread)


def teams_of(redis: Redis, client: WebClient, routes: Routes, user: str) -> list[Team]:
    """The teams ``user`` is in: a member by the routing file, or in a team's user group by Slack (asked only
    for the groups of teams the file does not already list them in). When Slack cannot say, the file's members."""
    if not user:
        return []  # a request that names nobody: Slack is not asked
    asked = {t.group for t in routes.teams if t.group and user not in t.members}
    return routes.teams_of(user, membership(redis, client, user, asked).groups if asked else frozenset())


def _cached(redis: Redis, group: str) -> frozenset[str] | None:
    raw = redis.get(cache_key(group))
    if not raw:
        return None
    try:
        return frozenset(json.loads(raw)["users"])
    except (ValueError, KeyError, TypeError):
        return None  # written by something else: asked again


def _read(client: WebClient, group: str) -> frozenset[str]:
    users = client.usergroups_users_list(usergroup=group).get("users") or []
    return frozenset(u for u in users if isinstance(u, str))
