"""Asking a Chainguard registry which catalog images it serves (registry HTTP API v2), and the
catalog those answers give (:func:`apply_refresh`, pure). The only network code of the mapping."""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import requests

from workers.allowlist import RegistryPolicy, RegistryRefused
from workers.chainguard.catalog import (
    Catalog,
    TagVariant,
    load_catalog,
    registry_prefix,
)
from workers.reference import DOCKER_HUB
from workers.registry_client import RegistryClient, RegistryReadError


@dataclass(frozen=True)
class ImageAvailability:
    """What the registry said about one repository."""

    name: str  # Chainguard image name: mariadb
    status: str  # "available", "missing" (404), "denied" (401/403: paid or private), "error"
    tags: tuple[str, ...] = ()
    detail: str | None = None

    @property
    def available(self) -> bool:
        return self.status == "available"

    @property
    def definitive(self) -> bool:
        """True when the registry answered (so the catalog may be updated from it)."""
        return self.status != "error"


@dataclass(frozen=True)
class RefreshResult:
    registry: str
    reachable: bool
    images: Mapping[str, ImageAvailability] = field(default_factory=dict, hash=False)
    error: str | None = None
    checked_at: str = ""

    @property
    def available(self) -> dict[str, tuple[str, ...]]:
        """Image name → tags, for the images the registry serves."""
        return {n: a.tags for n, a in self.images.items() if a.available}

    @property
    def missing(self) -> list[str]:
        return sorted(n for n, a in self.images.items() if a.definitive and not a.available)


_LINK_NEXT = re.compile(r"<([^>]+)>\s*;\s*rel=\"?next\"?")
_LOOPBACK = re.compile(r"^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$")
_MAX_TAG_PAGES = 20


def refresh_catalog(
    registry: str,
    catalog: Catalog | None = None,
    *,
    names: Iterable[str] | None = None,
    timeout: float = 5.0,
    credentials: tuple[str, str] | None = None,
    scheme: str | None = None,
    session: Any = None,
    policy: RegistryPolicy | None = None,
) -> RefreshResult:
    """Ask ``registry`` (e.g. ``cgr.dev/chainguard``) which catalog images it serves, with their tags.

    Uses the registry HTTP API v2 (``GET /v2/<repo>/tags/list``) with the anonymous bearer-token flow
    cgr.dev uses (or ``credentials`` for an organisation registry). Never raises on network trouble:
    an unreachable registry gives ``reachable=False`` and an ``error`` sentence. Loopback hosts are
    spoken to over http, others over https, unless ``scheme`` says otherwise. ``policy`` judges the token
    service a 401 challenge names.
    """
    checked_at = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    try:
        host, namespace = _split_registry(registry)
    except ValueError as err:
        return RefreshResult(registry, False, error=str(err), checked_at=checked_at)
    if names is None:
        names = (catalog or load_catalog()).chainguard_names()
    scheme = scheme or ("http" if _LOOPBACK.match(host) else "https")
    api = f"{scheme}://{'registry-1.docker.io' if host == DOCKER_HUB else host}"
    http = session or requests.Session()
    policy = policy or RegistryPolicy(configured=(registry,))  # the registry asked about, and no other
    client = _RegistryClient(http, api, timeout, credentials, policy)

    ping_error = client.ping()
    if ping_error:
        return RefreshResult(registry, False, error=f"{registry} is unreachable: {ping_error}", checked_at=checked_at)
    images = {}
    for name in dict.fromkeys(names):
        repo = f"{namespace}/{name}" if namespace else name
        images[name] = client.availability(name, repo)
    return RefreshResult(registry, True, images, checked_at=checked_at)


def _split_registry(registry: str) -> tuple[str, str]:
    """``cgr.dev/chainguard`` → (``cgr.dev``, ``chainguard``); ``127.0.0.1:5000`` → (host, "")."""
    host, _, namespace = registry_prefix(registry).partition("/")
    return host, namespace


class _RegistryClient(RegistryClient):
    """The registry API calls :func:`refresh_catalog` makes (a ping, tag lists), capped like every registry read."""

    def ping(self) -> str | None:
        """None when ``/v2/`` answers like a registry, else a short reason."""
        try:
            answer = self._read(f"{self.api}/v2/", {})
        except RegistryReadError as err:
            return str(err)
        if answer.status in (200, 401):
            return None
        return f"HTTP {answer.status} on /v2/, so it does not look like a registry"

    def availability(self, name: str, repo: str) -> ImageAvailability:
        try:
            return self._tags(name, repo)
        except (RegistryReadError, RegistryRefused) as err:
            return ImageAvailability(name, "error", detail=str(err))
        except ValueError as err:  # JSON that is not a tag list
            return ImageAvailability(name, "error", detail=f"unexpected answer: {err}")

    def _tags(self, name: str, repo: str) -> ImageAvailability:
        url, tags = f"{self.api}/v2/{repo}/tags/list", []
        for _ in range(_MAX_TAG_PAGES):
            answer = self.get(url, repo)
            if answer.status in (401, 403):
                return ImageAvailability(name, "denied", detail=f"HTTP {answer.status}")
            if answer.status == 404:
                return ImageAvailability(name, "missing", detail="HTTP 404")
            if answer.status != 200:
                return ImageAvailability(name, "error", detail=f"HTTP {answer.status}")
            body = answer.json()
            if not isinstance(body, dict):
                raise ValueError("the tag list is not a JSON object")
            tags.extend(str(t) for t in body.get("tags") or [])
            next_link = _LINK_NEXT.search(answer.headers.get("Link", ""))
            if not next_link:
                break
            url = _join_link(self.api, next_link.group(1))
        return ImageAvailability(name, "available", tuple(sorted(set(tags))))


def _join_link(api: str, link: str) -> str:
    """Resolve a ``Link`` header target (usually a path) against the API base."""
    return link if "://" in link else f"{api}{link if link.startswith('/') else '/' + link}"


def _short_error(err: Exception) -> str:
    name = type(err).__name__
    if "Timeout" in name:
        return "the connection timed out"
    if "Connection" in name:
        return "the connection failed"
    return name


def apply_refresh(catalog: Catalog, result: RefreshResult) -> Catalog:
    """A new catalog whose free-tier facts follow what a refresh of the *free* registry found.

    Only meaningful for the no-login registry (cgr.dev/chainguard or a full mirror of it): an image
    it serves becomes free with the tags seen; one it definitively lacks becomes paid. Images the
    refresh could not check keep the catalog's facts.
    """
    if not result.reachable:
        return catalog
    images = result.images

    def refreshed(name: str, free: bool, tags: tuple[str, ...]) -> tuple[bool, tuple[str, ...]]:
        seen = images.get(name)
        if seen is None or not seen.definitive:
            return free, tags
        return (True, seen.tags) if seen.available and "latest" in seen.tags else (False, ())

    entries = []
    for entry in catalog.entries:
        free, tags = refreshed(entry.chainguard, entry.free_tier, entry.free_tags)
        substitute = entry.free_substitute
        if substitute:
            sub_free, sub_tags = refreshed(substitute.chainguard, True, substitute.free_tags)
            substitute = replace(substitute, free_tags=sub_tags) if sub_free else None
        variants = tuple(_refresh_variant(v, refreshed) for v in entry.tag_variants)
        dev = ("latest-dev" in tags) if free else entry.dev_variant
        entries.append(
            replace(
                entry,
                free_tier=free,
                free_tags=tags,
                dev_variant=dev,
                free_substitute=substitute,
                tag_variants=variants,
            )
        )
    return Catalog.from_entries(entries)


def _refresh_variant(variant: TagVariant, refreshed: Any) -> TagVariant:
    if not variant.chainguard:
        return variant
    free, tags = refreshed(variant.chainguard, bool(variant.free_tier), variant.free_tags or ())
    return replace(variant, free_tier=free, free_tags=tags)
