"""The routing file and who owns an image. Pure, no I/O: text in, teams out; (routes, labels, watchers) in,
an owner and the reason out.

The routing file (``deploy/owners.yaml`` or ``OWNERS_FILE``) names teams; each has a channel, an optional user
group, optional members (who see the team on App Home) and what it owns: repository globs, and globs of the
``org.opencontainers.image.source`` and exact ``org.opencontainers.image.vendor`` values its images carry.

An image's owner comes, in order, from the first team whose repository glob matches (file order), the image's
``chainscan.owner`` label naming a team, its source or vendor label matched against the file, or else the
channel that watches it (the first, when several do). A bad file is one sentence naming the line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from fnmatch import fnmatchcase

import yaml

OWNER_LABEL = "chainscan.owner"
SOURCE_LABEL = "org.opencontainers.image.source"
VENDOR_LABEL = "org.opencontainers.image.vendor"
OWNER_LABELS = (OWNER_LABEL, SOURCE_LABEL, VENDOR_LABEL)  # the labels a report keeps for routing

CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,}$")
GROUP_ID = re.compile(r"^S[A-Z0-9]{2,}$")
USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
TEAM_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
FIELDS = frozenset({"name", "channel", "group", "members", "repositories", "sources", "vendors"})
MAX_TEAMS = 500


class OwnerSource(str, Enum):
    """Why an image belongs to whom: the closed list of reasons, strongest first."""

    REPOSITORY = "repository"  # a repository glob of the routing file
    OWNER_LABEL = "owner label"  # chainscan.owner names a team
    SOURCE_LABEL = "source label"  # org.opencontainers.image.source matches a team's sources
    VENDOR_LABEL = "vendor label"  # org.opencontainers.image.vendor is one of a team's vendors
    WATCH = "watch"  # nobody claims it: the channel that watches it


class OwnersFileError(ValueError):
    """The routing file is malformed; ``str(err)`` is one sentence naming the line."""

    def __init__(self, line: int | None, problem: str):
        self.line = line
        super().__init__(f"Line {line} of the routing file: {problem}" if line else f"The routing file: {problem}")


@dataclass(frozen=True)
class Team:
    name: str
    channel: str
    group: str | None = None
    members: tuple[str, ...] = ()
    repositories: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    vendors: tuple[str, ...] = ()
    line: int = 0  # where the file names it, for "why"


@dataclass(frozen=True)
class Routes:
    teams: tuple[Team, ...] = ()

    def team(self, name: str) -> Team | None:
        return next((t for t in self.teams if t.name == name), None)

    def teams_of(self, user: str, groups: frozenset[str] = frozenset()) -> list[Team]:
        """The teams ``user`` is in: named as a member, or in the team's user group (``groups``: the user's)."""
        return [t for t in self.teams if user in t.members or (t.group and t.group in groups)]


@dataclass(frozen=True)
class Owner:
    channel: str
    source: OwnerSource
    why: str  # "repository glob `registry.example.com/pay/*` of team payments (line 4)"
    team: str | None = None
    group: str | None = None


def parse_routes(text: str) -> Routes:
    """The teams of a routing file; :class:`OwnersFileError` naming the line of the first problem."""
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise OwnersFileError(mark.line + 1 if mark else None, "it is not valid YAML.") from None
    if root is None:
        return Routes()
    if not isinstance(root, yaml.MappingNode) or _keys(root) - {"teams"}:
        raise OwnersFileError(_line(root), "the file holds one key, `teams`, a list of teams.")
    node = _value(root, "teams")
    if node is None:
        return Routes()
    if not isinstance(node, yaml.SequenceNode):
        raise OwnersFileError(_line(node), "`teams` must be a list.")
    if len(node.value) > MAX_TEAMS:
        raise OwnersFileError(_line(node), f"at most {MAX_TEAMS} teams.")
    teams = tuple(_team(item) for item in node.value)
    seen: set[str] = set()
    for team in teams:
        if team.name in seen:
            raise OwnersFileError(team.line, f"team `{team.name}` is named twice.")
        seen.add(team.name)
    return Routes(teams)


def _team(node: yaml.Node) -> Team:
    line = _line(node)
    if not isinstance(node, yaml.MappingNode):
        raise OwnersFileError(line, "each team is a mapping with `name` and `channel`.")
    unknown = sorted(_keys(node) - FIELDS)
    if unknown:
        raise OwnersFileError(line, f"unknown field `{unknown[0]}` (known: {', '.join(sorted(FIELDS))}).")
    name = _scalar(node, "name", TEAM_NAME, "a team name is lower case letters, digits, `.`, `_` or `-`.")
    channel = _scalar(node, "channel", CHANNEL_ID, "`channel` is a channel ID such as C0123ABCD.")
    group = _scalar(node, "group", GROUP_ID, "`group` is a user group ID such as S0123ABCD.", required=False)
    team = Team(
        name=name,
        channel=channel,
        group=group,
        members=_list(node, "members", USER_ID, "`members` are user IDs such as U0123ABCD."),
        repositories=tuple(g.lower() for g in _list(node, "repositories")),
        sources=_list(node, "sources"),
        vendors=_list(node, "vendors"),
        line=line,
    )
    if not (team.repositories or team.sources or team.vendors):
        raise OwnersFileError(line, f"team `{name}` owns nothing: give `repositories`, `sources` or `vendors`.")
    return team


def _keys(node: yaml.MappingNode) -> set[str]:
    return {str(k.value) for k, _ in node.value}


def _value(node: yaml.MappingNode, key: str) -> yaml.Node | None:
    return next((v for k, v in node.value if k.value == key), None)


def _line(node: yaml.Node | None) -> int | None:
    return node.start_mark.line + 1 if node is not None else None


def _scalar(node, key: str, shape: re.Pattern, problem: str, *, required: bool = True) -> str | None:
    value = _value(node, key)
    if value is None:
        if required:
            raise OwnersFileError(_line(node), f"the team has no `{key}`.")
        return None
    if not isinstance(value, yaml.ScalarNode) or not shape.match(str(value.value)):
        raise OwnersFileError(_line(value), problem)
    return str(value.value)


def _list(node, key: str, shape: re.Pattern | None = None, problem: str = "") -> tuple[str, ...]:
    value = _value(node, key)
    if value is None:
        return ()
    if not isinstance(value, yaml.SequenceNode) or not all(isinstance(v, yaml.ScalarNode) for v in value.value):
        raise OwnersFileError(_line(value), f"`{key}` must be a list of strings.")
    for item in value.value:
        if not str(item.value).strip() or len(str(item.value)) > 512 or (shape and not shape.match(str(item.value))):
            raise OwnersFileError(_line(item), problem or f"an empty or overlong entry in `{key}`.")
    return tuple(str(item.value).strip() for item in value.value)


def names_of(repository: str) -> tuple[str, ...]:
    """The names a glob may be written against: ``docker.io/library/mariadb``, ``library/mariadb``, ``mariadb``."""
    names = [repository.lower()]
    if repository.startswith("docker.io/"):
        names.append(repository.removeprefix("docker.io/"))
        if repository.startswith("docker.io/library/"):
            names.append(repository.removeprefix("docker.io/library/"))
    return tuple(names)


def owner_of(repository: str, labels: dict | None, routes: Routes, watchers: list[str] = ()) -> Owner | None:
    """Who owns the image of ``repository`` (``ImageRef.name``) with these labels, and why; None when nobody
    claims it and no channel watches it."""
    labels = labels or {}
    names = names_of(repository)
    for team in routes.teams:
        glob = next((g for g in team.repositories if any(fnmatchcase(n, g) for n in names)), None)
        if glob:
            return _owned(team, OwnerSource.REPOSITORY, f"repository glob `{glob}` of team {team.name}")
    label = str(labels.get(OWNER_LABEL) or "").strip()
    if label and (team := routes.team(label)):
        return _owned(team, OwnerSource.OWNER_LABEL, f"label `{OWNER_LABEL}={label}`")
    source = str(labels.get(SOURCE_LABEL) or "").strip()
    for team in routes.teams if source else ():
        glob = next((g for g in team.sources if fnmatchcase(source, g)), None)
        if glob:
            return _owned(team, OwnerSource.SOURCE_LABEL, f"label `{SOURCE_LABEL}` matches `{glob}`")
    vendor = str(labels.get(VENDOR_LABEL) or "").strip()
    for team in routes.teams if vendor else ():
        if vendor in team.vendors:
            return _owned(team, OwnerSource.VENDOR_LABEL, f"label `{VENDOR_LABEL}={vendor}`")
    if watchers:
        first = sorted(watchers)[0]
        return Owner(channel=first, source=OwnerSource.WATCH, why="no team claims it; this channel watches it")
    return None


def _owned(team: Team, source: OwnerSource, why: str) -> Owner:
    return Owner(channel=team.channel, source=source, why=f"{why} (line {team.line})", team=team.name, group=team.group)


def owner_labels(labels: dict | None) -> dict[str, str] | None:
    """The labels a report keeps for routing; None when the image has none of them."""
    kept = {k: str(v)[:512] for k, v in (labels or {}).items() if k in OWNER_LABELS and v}
    return kept or None
