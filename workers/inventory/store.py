"""Package inventories in Redis, one per (digest, platform), compressed. I/O only.

Key ``chainscan:inventory:{digest}:{platform}``: the :class:`workers.inventory.model.Inventory` as zlib-compressed
JSON. It lives INVENTORY_TTL_DAYS after the digest was last scanned or read (a scan that finds it, cached or
judged again, renews it), so a digest nobody looks at any more is forgotten as its reports are, and a weekly
digest always finds last week's inventories.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from redis import Redis

from workers.inventory.model import Inventory

PREFIX = "chainscan:inventory:"
_LEVEL = 6  # zlib's default: 48 KB for 644 packages at level 6, 46 KB at 9, for a third of the time


def inventory_key(digest: str, platform: str) -> str:
    return f"{PREFIX}{digest}:{platform}"


@dataclass
class InventoryStore:
    redis: Redis
    ttl: int = 14 * 24 * 3600

    def put(self, inventory: Inventory) -> int:
        """Keep ``inventory``; returns the bytes stored."""
        data = zlib.compress(json.dumps(inventory.to_dict(), separators=(",", ":")).encode(), _LEVEL)
        self.redis.set(inventory_key(inventory.digest, inventory.platform), data, ex=self.ttl)
        return len(data)

    def get(self, digest: str, platform: str) -> Inventory | None:
        return _decoded(self.redis.get(inventory_key(digest, platform)))

    def get_many(self, wanted: list[tuple[str, str]]) -> list[Inventory | None]:
        """The inventories of ``wanted`` (digest, platform) pairs, in order, read in one round trip."""
        if not wanted:
            return []
        return [_decoded(raw) for raw in self.redis.mget([inventory_key(d, p) for d, p in wanted])]

    def touch(self, digest: str, platform: str) -> None:
        """The digest was read again: keep its inventory another TTL."""
        self.redis.expire(inventory_key(digest, platform), self.ttl)

    def touch_many(self, pairs: list[tuple[str, str]]) -> None:
        """:meth:`touch` for each (digest, platform) pair, in one round trip."""
        with self.redis.pipeline(transaction=False) as pipe:
            for digest, platform in pairs:
                pipe.expire(inventory_key(digest, platform), self.ttl)
            pipe.execute()

    def all(self) -> Iterator[tuple[str, str]]:
        """Every stored (digest, platform)."""
        for key in self.redis.scan_iter(f"{PREFIX}*", count=500):
            digest, _, platform = key.decode().removeprefix(PREFIX).rpartition(":")
            if digest:
                yield digest, platform

    def stored_bytes(self, digest: str, platform: str) -> int:
        """Redis's own MEMORY USAGE of the entry (value, key and overhead)."""
        return int(self.redis.memory_usage(inventory_key(digest, platform), samples=0) or 0)


def _decoded(raw: bytes | None) -> Inventory | None:
    """A stored inventory; None when there is none, or an old or corrupt one (the digest is then scanned again, as
    a cache miss is)."""
    if raw is None:
        return None
    try:
        return Inventory.from_dict(json.loads(zlib.decompress(raw)))
    except (zlib.error, ValueError, TypeError, KeyError):
        return None
