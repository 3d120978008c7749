"""Scan results, history and counters in Redis.

Keys (all under ``chainscan:``, JSON values carry a schema number):

- ``report:{digest}:{platform}:{db}``   a ScanReport, with a TTL (the cache)
- ``history:{registry/repository}``     newest-first list of scan summaries (for trends); expires
                                        ``HISTORY_TTL_DAYS`` after the repository's latest scan
- ``lock:{digest}:{platform}:{db}``     held while Trivy runs, so one scan serves everyone
- ``stats:trivy_runs``                  how many times Trivy actually ran
- ``failures``                          the last failures, for ``/scan status``
- ``db``                                the DB version of the latest scan
- ``distribution:{reference}``          the registry's digest answer for a tag, for RESOLVE_TTL seconds
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass

from redis import Redis

from workers.report import DbInfo, ScanReport

PREFIX = "chainscan:"


def cache_key(digest: str, platform: str, db_version: str) -> str:
    return f"{PREFIX}report:{digest}:{platform}:{db_version}"


def db_version_key(updated_at: str | None, version: int | None) -> str:
    """One string naming a DB build: its schema version and when it was built."""
    return f"v{version or 0}@{updated_at or 'unknown'}"


def decoded(raw: bytes | str | None) -> ScanReport | None:
    """A stored report read back; an old or corrupt entry is a cache miss (None), not an error."""
    if raw is None:
        return None
    try:
        return ScanReport.from_dict(json.loads(raw))
    except (ValueError, KeyError, TypeError):
        return None


@dataclass
class ReportStore:
    redis: Redis
    ttl: int = 24 * 3600
    history_length: int = 200
    history_ttl: int = 400 * 24 * 3600  # seconds a history outlives its repository's latest scan

    def get(self, key: str) -> ScanReport | None:
        return decoded(self.redis.get(key))

    def texts(self, keys: list[str]) -> list[bytes | None]:
        """The reports stored under ``keys`` as stored (read them with :func:`decoded`), in one round trip."""
        return self.redis.mget(keys) if keys else []

    def put(self, key: str, report: ScanReport, repository: str | None) -> None:
        """Cache ``report``; with a repository, also add it to that repository's history."""
        self.put_many([(key, report, repository)])

    def put_many(self, entries: list[tuple[str, ScanReport, str | None]]) -> None:
        """:meth:`put` for each (key, report, repository), in one transaction."""
        if not entries:
            return
        with self.redis.pipeline() as pipe:
            for key, report, repository in entries:
                pipe.set(key, json.dumps(report.to_dict()), ex=self.ttl)
                if repository:
                    self._push_history(pipe, report, repository)
            pipe.set(f"{PREFIX}db", json.dumps(asdict(entries[-1][1].db)))
            pipe.execute()

    def add_history(self, report: ScanReport, repository: str) -> None:
        """Add ``report`` (cached already) to ``repository``'s history."""
        with self.redis.pipeline() as pipe:
            self._push_history(pipe, report, repository)
            pipe.execute()

    def _push_history(self, pipe, report: ScanReport, repository: str) -> None:
        summary = {
            "digest": report.image.digest,
            "reference": report.image.reference,
            "scanned_at": report.scanned_at,
            "db": report.db.updated_at,
            "counts": report.counts,
            "fixable": report.fixable,
            # finding identities, so trends, digests and triage can say exactly what is new or fixed
            "findings": [[f.id, f.package, f.severity, f.fixed] for f in report.vulnerabilities],
            # what scoped triage needs to offer "every image of team X" / "every image built on B"
            "os": report.image.os,
            "base": (report.base or {}).get("name"),
            "labels": report.image.labels,
        }
        history = f"{PREFIX}history:{repository}"
        pipe.lpush(history, json.dumps(summary))
        pipe.ltrim(history, 0, self.history_length - 1)
        pipe.expire(history, self.history_ttl)

    def last_db(self) -> DbInfo | None:
        """The vulnerability DB the workers used for their latest scan."""
        raw = self.redis.get(f"{PREFIX}db")
        return DbInfo(**json.loads(raw)) if raw else None

    def history(self, repository: str, limit: int = 50) -> list[dict]:
        return [json.loads(item) for item in self.redis.lrange(f"{PREFIX}history:{repository}", 0, limit - 1)]

    def last_digests(self, references: list[tuple[str, str]], lookback: int = 20) -> dict[str, str]:
        """For each (repository, reference) pair: the digest of the newest of the repository's last ``lookback``
        history entries that names that reference, where there is one; all in one round trip."""
        with self.redis.pipeline(transaction=False) as pipe:
            for repository, _ in references:
                pipe.lrange(f"{PREFIX}history:{repository}", 0, lookback - 1)
            histories = pipe.execute() if references else []
        found = {}
        for (_, reference), entries in zip(references, histories, strict=True):
            named = (e for e in map(json.loads, entries) if e.get("reference") == reference and e.get("digest"))
            if entry := next(named, None):
                found[reference] = entry["digest"]
        return found

    def get_distribution(self, reference: str) -> dict | None:
        raw = self.redis.get(f"{PREFIX}distribution:{reference}")
        return json.loads(raw) if raw else None

    def put_distribution(self, reference: str, data: dict, ttl: int, client=None) -> None:
        """``client``: a pipeline to add the write to (default: at once)."""
        (client or self.redis).set(f"{PREFIX}distribution:{reference}", json.dumps(data), ex=ttl)

    def note_resolved(self, reference: str, data: dict, served: str, ttl: int) -> None:
        """:meth:`put_distribution` and :meth:`note_served` in one round trip (a tag just resolved by its registry)."""
        with self.redis.pipeline(transaction=False) as pipe:
            self.put_distribution(reference, data, ttl, client=pipe)
            self.note_served(served, ttl, client=pipe)
            pipe.execute()

    def is_served(self, source: str) -> bool:
        """Whether ``source`` (``registry/repo@digest``) was seen served by its registry in the last RESOLVE_TTL."""
        return bool(self.redis.exists(f"{PREFIX}served:{source}"))

    def note_served(self, source: str, ttl: int, client=None) -> None:
        (client or self.redis).set(f"{PREFIX}served:{source}", 1, ex=max(1, ttl))

    def lock(self, key: str, timeout: int, wait: int):
        """A Redis lock (redis-py's) for one scan; expires if its holder dies mid-scan."""
        # thread_local=False: the lock is renewed from a helper thread while Trivy runs
        return self.redis.lock(
            key.replace(f"{PREFIX}report:", f"{PREFIX}lock:", 1),
            timeout=timeout,
            blocking_timeout=wait,
            thread_local=False,
        )

    def count_trivy_run(self) -> int:
        return int(self.redis.incr(f"{PREFIX}stats:trivy_runs"))

    def trivy_runs(self) -> int:
        return int(self.redis.get(f"{PREFIX}stats:trivy_runs") or 0)

    def record_failure(
        self, reference: str, kind: str, message: str, channel: str | None = None, keep: int = 50
    ) -> None:
        """``channel``: where the scan was asked for (None from the command line or the scheduler)."""
        entry = {"reference": reference, "kind": kind, "message": message, "at": time.time(), "channel": channel}
        entry = json.dumps(entry)
        with self.redis.pipeline() as pipe:
            pipe.lpush(f"{PREFIX}failures", entry)
            pipe.ltrim(f"{PREFIX}failures", 0, keep - 1)
            pipe.execute()

    def recent_failures(self, limit: int = 5) -> list[dict]:
        return [json.loads(item) for item in self.redis.lrange(f"{PREFIX}failures", 0, limit - 1)]

    def all_failures(self) -> list[dict]:
        """Every kept failure, newest first (at most ``keep`` of :meth:`record_failure`)."""
        return self.recent_failures(limit=0)
