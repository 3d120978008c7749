"""The catalog as refreshed from the registry, kept in Redis so every worker uses the same facts.

``python -m bot catalog refresh`` (and the scheduler, daily) asks the Chainguard
registry which images and tags it serves; the answer is stored here and
:func:`current_catalog` applies it on top of the shipped catalog. Without a
refresh, or for another registry, the shipped catalog is used as is.
"""

from __future__ import annotations

import json
import logging

from redis import Redis
from redis.exceptions import RedisError

from workers.chainguard.alternatives import ChainguardMapping, find_alternative
from workers.chainguard.catalog import Catalog, load_catalog
from workers.chainguard.refresh import (
    ImageAvailability,
    RefreshResult,
    apply_refresh,
    refresh_catalog,
)
from workers.config import Settings
from workers.reference import ImageRef

KEY = "chainscan:catalog:refresh"
log = logging.getLogger(__name__)


def refresh_and_store(redis: Redis | None, settings: Settings) -> RefreshResult:
    result = refresh_catalog(settings.chainguard_registry, load_catalog(), policy=settings.registry_policy)
    if redis is not None and result.reachable:
        redis.set(KEY, json.dumps(_to_dict(result)))
    return result


def current_catalog(redis: Redis | None, settings: Settings) -> Catalog:
    catalog = load_catalog()
    try:
        raw = redis.get(KEY) if redis is not None else None
    except RedisError:  # the shipped catalog is still a good answer
        log.warning("catalog refresh unavailable: Redis is not answering")
        raw = None
    if not raw:
        return catalog
    result = _from_dict(json.loads(raw))
    return apply_refresh(catalog, result) if result.registry == settings.chainguard_registry else catalog


def _to_dict(result: RefreshResult) -> dict:
    return {
        "registry": result.registry,
        "reachable": result.reachable,
        "error": result.error,
        "checked_at": result.checked_at,
        "images": {n: {"status": a.status, "tags": list(a.tags), "detail": a.detail} for n, a in result.images.items()},
    }


def _from_dict(data: dict) -> RefreshResult:
    images = {
        n: ImageAvailability(n, a["status"], tuple(a["tags"]), a.get("detail")) for n, a in data["images"].items()
    }
    return RefreshResult(data["registry"], data["reachable"], images, data.get("error"), data.get("checked_at", ""))


def plan_alternative(
    ref: ImageRef, settings: Settings, redis: Redis | None = None, *, dev: bool = False, suggest: bool = True
) -> ChainguardMapping:
    """What to compare ``ref`` with: the shipped catalog, updated by the last registry refresh if any (``suggest``:
    see :func:`workers.chainguard.alternatives.find_alternative`)."""
    catalog = current_catalog(redis, settings)
    return find_alternative(
        ref, catalog, settings.chainguard_registry, settings.chainguard_org_registry, dev=dev, suggest=suggest
    )
