"""Which Slack workspace a decision belongs to when nobody says (the CLI's ``--team`` default).

Every request the bot handles records its workspace id here. A one-token install has one workspace, so
its id is the default; an OAuth install with several needs ``--team``; with none seen yet (the CLI used
on its own) decisions are kept for the workspace ``local``.
"""

from __future__ import annotations

from redis import Redis

KEY = "chainscan:teams"
LOCAL = "local"


class TeamUnknown(ValueError):
    """Several workspaces use this installation; the message says to pick one."""


def remember_team(redis: Redis, team: str | None) -> None:
    if team:
        redis.sadd(KEY, team)


def default_team(redis: Redis | None) -> str:
    teams = sorted(t.decode() if isinstance(t, bytes) else t for t in (redis.smembers(KEY) if redis else ()))
    if len(teams) > 1:
        raise TeamUnknown(f"Several Slack workspaces use this installation ({', '.join(teams)}); pass --team.")
    return teams[0] if teams else LOCAL
