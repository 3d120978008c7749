"""Who owns an image right now: the routing file in force, the image's labels and the channels watching it.
I/O (the file, Redis, and the registry when the labels are not known); the decision is
:func:`workers.owners.routes.owner_of`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from redis import Redis

from workers.base.registry import RegistryLookupError, remote_image
from workers.config import Settings
from workers.digests.store import DigestStore
from workers.owners.file import RoutingFile
from workers.owners.routes import Owner, Routes, owner_labels, owner_of
from workers.reference import ImageRef
from workers.registry_client import RegistryReadError

_FILES: dict[Path | None, RoutingFile] = {}  # one per process and path: it keeps the last good file


def routing_file(settings: Settings, redis: Redis | None) -> RoutingFile:
    found = _FILES.get(settings.owners_file)
    if found is None or found.redis is not redis:
        found = _FILES[settings.owners_file] = RoutingFile(settings.owners_file, redis)
    return found


def routes_in_force(settings: Settings, redis: Redis | None) -> Routes:
    return routing_file(settings, redis).routes()


@dataclass(frozen=True)
class Ownership:
    owner: Owner | None
    labels: dict | None
    labels_problem: str | None = None  # why the labels could not be read (the owner is then from file or watch)
    file_problem: str | None = None  # the routing file's problem, while the last good one is in force


def ownership(
    ref: ImageRef, settings: Settings, redis: Redis, *, labels: dict | None = None, read_labels: bool = True
) -> Ownership:
    """Who owns ``ref``. ``labels`` when the caller has them (from a report); else, with ``read_labels``, one
    manifest and config read from the registry (under its policy)."""
    problem = None
    if labels is None and read_labels:
        try:
            labels = owner_labels(remote_image(ref, settings).labels)
        except (RegistryLookupError, RegistryReadError) as exc:
            problem = f"its labels could not be read ({exc})"
    file = routing_file(settings, redis)
    watchers = [channel for _, channel in DigestStore(redis).watchers(ref.name)]
    owner = owner_of(ref.name, labels, file.routes(), watchers)
    return Ownership(owner, labels, problem, file.problem)


def owning_team(settings: Settings, redis: Redis | None, repository: str, labels: dict | None) -> str | None:
    """The team that owns an image by the routing file or its labels (no registry request, no watch look-up):
    whose team-wide decisions apply to it."""
    owner = owner_of(repository, labels, routing_file(settings, redis).routes())
    return owner.team if owner else None
