"""Trivy's layer cache: which backend a Trivy run gets and how it reaches Trivy. Pure.

Trivy keeps what it learnt from each layer (packages, OS) under the layer's DiffID, so a new digest that
shares its base with an image already scanned only has its new layers analysed. By default the cache is
the project's Redis (Trivy's keys all start with ``fanal::``, apart from chainscan's ``chainscan:`` and
RQ's ``rq:``), shared by every worker, each entry living ``TRIVY_LAYER_CACHE_TTL`` seconds.

The backend reaches Trivy through ``TRIVY_CACHE_BACKEND`` in the child's environment, never on its command
line: a Redis URL may hold a password, and command lines are visible to every user of the machine. Trivy
itself masks the URL in its log line (``Redis scan cache url="redis://****@host:port/db"``). A
``TRIVY_CACHE_BACKEND`` the operator set wins, as a Trivy user expects.

Builds are scanned from the Docker engine, whose layers have no compressed digest: cached that way and read
back by a registry scan they would lose ``Layer.Digest``, so builds always get the memory backend.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from urllib.parse import quote

FANAL_PREFIX = "fanal::"  # every key Trivy writes in a Redis cache


class LayerCacheKind(str, Enum):
    REDIS = "redis"
    FS = "fs"  # TRIVY_CACHE_DIR/fanal on this worker alone
    MEMORY = "memory"  # nothing kept between runs


@dataclass(frozen=True)
class LayerCache:
    kind: LayerCacheKind
    url: str | None = field(default=None, repr=False)  # Redis only; may hold a password
    ttl: int = 7 * 24 * 3600

    def child_env(self, env: Mapping[str, str]) -> dict[str, str]:
        """The ``TRIVY_*`` variables to add to Trivy's environment (none when the operator chose a backend)."""
        if env.get("TRIVY_CACHE_BACKEND"):
            return {}
        if self.kind is LayerCacheKind.REDIS and self.url:
            extra = {"TRIVY_CACHE_BACKEND": self.url}
            if not env.get("TRIVY_CACHE_TTL"):
                extra["TRIVY_CACHE_TTL"] = f"{self.ttl}s"
            return extra
        return {"TRIVY_CACHE_BACKEND": LayerCacheKind.FS.value if self.kind is LayerCacheKind.FS else "memory"}


MEMORY = LayerCache(LayerCacheKind.MEMORY)


def choose(kind: str, url: str | None, project_redis_url: str | None, ttl: int) -> LayerCache:
    """The layer cache of a worker: ``kind`` (TRIVY_LAYER_CACHE), in ``url`` (TRIVY_LAYER_CACHE_URL) or else the
    project's Redis; a Redis cache with no URL to give Trivy falls back to memory."""
    chosen = LayerCacheKind(kind)
    if chosen is LayerCacheKind.REDIS:
        target = url or project_redis_url
        return LayerCache(chosen, target, ttl) if target else MEMORY
    return LayerCache(chosen, ttl=ttl)


def connection_url(connection_kwargs: Mapping[str, object]) -> str | None:
    """A redis:// URL for the server a redis-py client talks to (the embedded Valkey has no REDIS_URL)."""
    if connection_kwargs.get("path"):
        return f"unix://{connection_kwargs['path']}?db={connection_kwargs.get('db', 0)}"
    host = connection_kwargs.get("host")
    if not host:
        return None
    auth = ""
    if connection_kwargs.get("password"):
        user = quote(str(connection_kwargs.get("username") or ""), safe="")
        auth = f"{user}:{quote(str(connection_kwargs['password']), safe='')}@"
    return f"redis://{auth}{host}:{connection_kwargs.get('port', 6379)}/{connection_kwargs.get('db', 0)}"
