"""The scan pipeline: reference → digest → cache or Trivy → report → store.

One :class:`Scanner` per job. Its collaborators (Redis, the Docker
client) are handed in, so the CLI, RQ jobs, tests and benchmarks all drive the
same code. Concurrent requests for the same (digest, platform, DB) take a Redis
lock: the first runs Trivy, the others wait for it and read its cached result.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import docker
import requests
from redis import Redis
from redis.exceptions import LockError, RedisError

from workers.allowlist import RegistryRefused
from workers.builds.secrets import scrub_all
from workers.config import Settings
from workers.errors import ErrorKind, ScanError
from workers.inventory.model import keep
from workers.inventory.reevaluate import Judged, Judging, Reevaluation, Wanted, reevaluate, to_cyclonedx
from workers.inventory.reevaluate import start as start_reevaluation
from workers.inventory.store import InventoryStore
from workers.reference import ImageRef, InvalidReference, parse_reference
from workers.registry_client import RegistryReadError, admit, serves
from workers.report import DbInfo, ScanReport, normalize
from workers.scan import dbupdate, layercache, trivy
from workers.scan.keepalive import kept_alive
from workers.scan.layers import LayerCheck, Verdict
from workers.scan.layers import check as check_layers
from workers.scan.resolve import ResolvedImage, inspect, inspect_registry, interpret, source_reference
from workers.scan.store import ReportStore, cache_key, db_version_key, decoded
from workers.telemetry import metrics

log = logging.getLogger(__name__)

# The scan lock lives LOCK_TTL seconds and is renewed while Trivy runs, so a worker killed
# mid-scan frees it within LOCK_TTL and a waiting request takes over.
LOCK_TTL = 30
RESOLVE_THREADS = 8  # manifest GETs a re-evaluation keeps in flight (a registry serves many at once)
_MEMORY_CACHE = {"TRIVY_CACHE_BACKEND": "memory"}  # even over an operator's backend: an image that lies shares nothing


@dataclass
class Scanner:
    settings: Settings
    redis: Redis
    docker_factory: Callable[..., docker.DockerClient] = docker.from_env
    env: Mapping[str, str] = field(default_factory=lambda: os.environ)
    # the scan job's own Scanner: the inventory (a `trivy convert`, ~0.2 s) is kept in a thread after the report is
    # answered, so it costs the scan nothing; a worker that dies first leaves that digest to be read again
    inventory_in_background: bool = False

    def __post_init__(self) -> None:
        self.store = ReportStore(
            self.redis,
            ttl=self.settings.result_ttl,
            history_length=self.settings.history_length,
            history_ttl=self.settings.history_ttl_days * 24 * 3600,
        )
        self.inventories = InventoryStore(self.redis, ttl=self.settings.inventory_ttl_days * 24 * 3600)
        self._docker: docker.DockerClient | None = None
        self._answers: dict[str, tuple[str, bytes]] = {}  # reference → (DB version, stored report): _remember
        settings = self.settings  # the embedded Valkey has no REDIS_URL: the client knows where it is
        project_url = settings.redis_url or layercache.connection_url(self.redis.connection_pool.connection_kwargs)
        self.layer_cache = layercache.choose(
            settings.layer_cache, settings.layer_cache_url, project_url, settings.layer_cache_ttl
        )

    @property
    def docker(self) -> docker.DockerClient:
        if self._docker is None:
            try:
                self._docker = self.docker_factory(timeout=self.settings.registry_timeout)
            except docker.errors.DockerException:
                raise ScanError.of(ErrorKind.DOCKER_UNAVAILABLE) from None
        return self._docker

    def scan(self, reference: str | ImageRef, *, force: bool = False) -> ScanReport:
        """Scan an image from its registry; answers from the cache when the digest and DB are unchanged.
        Counted in ``chainscan_scans_total`` and timed in ``chainscan_scan_duration_seconds``."""
        started = time.monotonic()
        try:
            report = self._scan(reference, force=force)
        except BaseException:
            metrics.scan_finished("failed", time.monotonic() - started)
            raise
        metrics.scan_finished("cached" if report.cached else "scanned", time.monotonic() - started)
        return report

    def _scan(self, reference: str | ImageRef, *, force: bool) -> ScanReport:
        ref = parse_reference(reference) if isinstance(reference, str) else reference
        try:  # a job names its image, whoever enqueued it: the policy is asked here too, before anything connects
            admit(source_reference(ref, self.settings), self.settings.registry_policy)
        except RegistryRefused as exc:
            raise ScanError.of(ErrorKind.INVALID_REFERENCE, detail=str(exc)) from None
        if not force and self._answers and (hit := self._answered(ref, self._db_version())):
            return hit  # what reevaluate read for it moments ago
        resolved = interpret(ref, self.settings, self._distribution(ref, fresh=force))
        version = self._db_version()
        key = cache_key(resolved.digest, resolved.platform, version) if version else None
        if key and not force and (hit := self._cached(key, ref, resolved)):
            return hit
        if key is None:  # still no DB and no server (TRIVY_SKIP_DB_UPDATE on an empty cache): nothing to key on
            return self._run(resolved, ref, None)
        lock = self.store.lock(key, timeout=LOCK_TTL, wait=self.settings.scan_timeout + 60)
        if not lock.acquire():
            raise ScanError.of(ErrorKind.BUSY, what=ref.familiar)
        try:
            if not force and (hit := self._cached(key, ref, resolved)):
                return hit  # someone else scanned it while we waited
            with kept_alive(lock, LOCK_TTL):
                if not force and (judged := self._judged_again(resolved, ref, version)):
                    return judged  # its inventory, judged on the new DB: the image is not read again
                return self._run(resolved, ref, key)
        finally:
            try:
                lock.release()
            except LockError:  # expired while Trivy ran: harmless, the result is stored
                log.warning("scan lock for %s expired before release", key)

    def scan_built(self, tag: str, label: str, secrets: list[str] | tuple[str, ...] = ()) -> ScanReport:
        """Scan an image that exists only in the local engine (a Dockerfile build), by its tag; ``secrets``
        (the Dockerfile's secret values) are masked in the report before it is stored or returned."""
        image_id = self.docker.images.get(tag).id
        db = trivy.db_info(self.env)
        key = cache_key(image_id, "local", db_version_key(db.updated_at, db.version)) if db else None
        if key and (hit := self.store.get(key)):
            hit.image.reference, hit.cached = label, True
            return hit
        dbs = self._dbs(local_first=True)
        args = trivy.image_command(
            self.settings.trivy_bin, tag, source="docker", timeout=self.settings.scan_timeout, env=self.env, **dbs
        )
        self.store.count_trivy_run()
        # the engine's layers have no compressed digest: never mix them into the shared cache (layercache)
        extra_env = layercache.MEMORY.child_env(self.env)
        output = trivy.run_json(
            args, timeout=self.settings.scan_timeout, extra_env=extra_env, what=label, server=dbs["server"]
        )
        db = trivy.db_info(self.env) or DbInfo(version=None, updated_at=None)
        report = normalize(output, reference=label, digest=image_id, db=db, scanned_at=_now())
        if secrets:  # the layer history quotes ENV lines
            report = ScanReport.from_dict(scrub_all(report.to_dict(), list(secrets)))
        self.store.put(cache_key(image_id, "local", db_version_key(db.updated_at, db.version)), report, repository=None)
        return report

    def sbom(self, reference: str | ImageRef, output_format: str) -> dict:
        """Trivy's own SBOM of the image (``cyclonedx`` or ``spdx-json``, with its vulnerabilities for CycloneDX), run
        as a scan is: the registry policy, the resolved digest, that registry's credentials, the allow-listed child
        environment, the DB flags. Not cached: an SBOM is asked for rarely and carries its own timestamp."""
        ref = parse_reference(reference) if isinstance(reference, str) else reference
        try:
            admit(source_reference(ref, self.settings), self.settings.registry_policy)
        except RegistryRefused as exc:
            raise ScanError.of(ErrorKind.INVALID_REFERENCE, detail=str(exc)) from None
        resolved = interpret(ref, self.settings, self._distribution(ref, fresh=False))
        dbupdate.ensure(self.redis, self.settings, self.env)
        args = trivy.image_command(
            self.settings.trivy_bin,
            f"{resolved.source.name}@{resolved.digest}",
            platform=resolved.platform if resolved.is_index else None,
            timeout=self.settings.scan_timeout,
            insecure=self.settings.is_insecure(resolved.source.registry),
            env=self.env,
            output_format=output_format,
            **self._dbs(local_first=True),
        )
        extra_env = {**self._credential_env(resolved.source.registry), **_MEMORY_CACHE}
        self.store.count_trivy_run()
        return trivy.run_json(args, timeout=self.settings.scan_timeout, extra_env=extra_env, what=ref.familiar)

    def reevaluate(self, references: Iterable[str | ImageRef], likely: Mapping[str, str] | None = None) -> Judged:
        """Before reading many images one by one (a digest, an alert pass, the fleet after a DB update): resolve
        each with one manifest request to its registry and judge again, in batched ``trivy sbom`` runs, every digest
        that has a stored inventory and no report for the current DB. Whatever this cannot do (a reference that
        does not resolve this way, a digest without inventory, a Trivy failure) is left to :meth:`scan`, which
        reads the image and says what went wrong in its own sentence.

        ``likely``: reference → the digest it had last time (a digest's snapshots); for a reference it does not name,
        the digest of its newest scan in its repository's history. Tags rarely move, so those are judged while the
        tags are resolved; a digest a tag no longer points at is judged for nothing, and its report is shown to
        nobody unless its registry serves it (:meth:`_cached`)."""
        version = self._db_version()
        if not version:
            return Judged()
        refs = _parsed(references)
        named = likely or {}
        unnamed = [(ref.name, str(ref)) for ref in refs if str(ref) not in named and ref.familiar not in named]
        likely = {**self.store.last_digests(unnamed), **named}
        with self._start(self._wanted(refs, likely, version), version) as early:  # Trivy starts up meanwhile
            with requests.Session() as http, ThreadPoolExecutor(max_workers=RESOLVE_THREADS) as pool:
                resolved_all = list(pool.map(lambda ref: self._resolved_directly(ref, http), refs))  # side by side
            judged = self._finish(early)
        resolved = [(ref, r) for ref, r in zip(refs, resolved_all, strict=True) if r is not None]
        self._add_history(judged, resolved)
        stored = self._remember(resolved, version)
        wanted: dict[tuple[str, str], Wanted] = {}
        for ref, r in resolved:
            if str(ref) not in stored:
                wanted.setdefault((r.digest, r.platform), Wanted(r.digest, r.platform, str(ref), ref.name))
        rest = self._judge(list(wanted.values()), version)
        self._remember([(ref, r) for ref, r in resolved if str(ref) not in stored], version)
        rest.count, rest.runs = rest.count + judged.count, rest.runs + judged.runs
        rest.reports = {**judged.reports, **rest.reports}
        return rest

    def _add_history(self, judged: Judged, resolved: list[tuple[ImageRef, ResolvedImage]]) -> None:
        """A digest judged early joins the history of each repository whose tag still points at it, once."""
        historied: set[tuple[str, str]] = set()
        for ref, r in resolved:
            key = (r.digest, r.platform)
            if key in judged.reports and key not in historied:
                self.store.add_history(judged.reports[key], ref.name)
                historied.add(key)

    def _remember(self, resolved: list[tuple[ImageRef, ResolvedImage]], version: str) -> set[str]:
        """Read the report each resolved reference's digest has on this DB, all in one round trip, and keep them
        for :meth:`scan` in this job (a Scanner serves one job): the tag was resolved and its digest served
        moments ago, so asking Redis and the registry again would only say the same. Returns the references
        that have one. Not with RESOLVE_TTL=0, which forbids reusing a tag's answer."""
        keys = [cache_key(r.digest, r.platform, version) for _, r in resolved]
        found = {str(ref): (version, text) for (ref, _), text in zip(resolved, self.store.texts(keys), strict=True)}
        found = {reference: entry for reference, entry in found.items() if entry[1] is not None}
        if self.settings.resolve_ttl:
            self._answers.update(found)
        self.inventories.touch_many([(r.digest, r.platform) for ref, r in resolved if str(ref) in found])
        return set(found)

    def _wanted(self, refs: list[ImageRef], likely: Mapping[str, str], version: str) -> list[Wanted]:
        """The digests ``likely`` names for ``refs`` that have no report for the current DB yet (one round trip)."""
        named = {}
        for ref in refs:
            if digest := likely.get(str(ref)) or likely.get(ref.familiar):
                # no history yet: a tag that moved must not add its old digest to it (added once resolved)
                named.setdefault(digest, Wanted(digest, self.settings.platform, str(ref), None))
        with self.redis.pipeline(transaction=False) as pipe:
            for digest in named:
                pipe.exists(cache_key(digest, self.settings.platform, version))
            reported = pipe.execute() if named else []
        return [want for want, has in zip(named.values(), reported, strict=True) if not has]

    def _judge(self, wanted: list[Wanted], version: str) -> Judged:
        with self._start(wanted, version) as pending:
            return self._finish(pending)

    def _start(self, wanted: list[Wanted], version: str) -> Reevaluation:
        return start_reevaluation(wanted, self._judging(version), self.inventories)

    def _finish(self, pending: Reevaluation) -> Judged:
        try:
            return pending.finish(self.store, self.inventories)
        except ScanError as exc:
            wanted = [w for w, _ in pending.pairs] + pending.without_inventory
            log.warning("re-evaluating %d digests failed (%s); each is scanned instead", len(wanted), exc.message)
            return Judged(without_inventory=wanted)

    def reevaluate_stored(self) -> Judged:
        """Every stored inventory with no report for the current DB judged again, by digest (no registry request),
        as many read at a time as the runs in flight take, and their reports counted, not kept, so memory stays
        flat however many are stored."""
        version, total = self._db_version(), Judged()
        if not version:
            return total
        chunk = self.settings.reevaluate_batch * self.settings.reevaluate_concurrency
        pending = [pair for pair in self.inventories.all() if not self.redis.exists(cache_key(*pair, version))]
        for start in range(0, len(pending), chunk):
            pairs = pending[start : start + chunk]
            found = self.inventories.get_many(pairs)
            wanted = [Wanted(d, p, (i and i.reference) or d) for (d, p), i in zip(pairs, found, strict=True)]
            judged = reevaluate(wanted, self._judging(version), self.store, self.inventories, found)
            total.count += judged.count
            total.runs += judged.runs
        return total

    def _resolved_directly(self, ref: ImageRef, http=None) -> ResolvedImage | None:
        """``ref`` resolved by one manifest GET (noted as served and as the tag's answer for RESOLVE_TTL, so the scan
        that follows asks nothing more); None when that fails or the registry is refused."""
        source = source_reference(ref, self.settings)
        try:
            data = inspect_registry(ref, self.settings, http)
            resolved = interpret(ref, self.settings, data)
        except (RegistryReadError, RegistryRefused, ScanError, ValueError, KeyError) as exc:
            log.info("%s not resolved for re-evaluation: %s", ref, exc)
            return None
        self.store.note_resolved(str(source), data, str(resolved.source), max(1, self.settings.resolve_ttl))
        return resolved

    def _judged_again(self, resolved: ResolvedImage, ref: ImageRef, version: str | None) -> ScanReport | None:
        """The digest's stored inventory judged on the current DB (once its registry has shown it serves the digest,
        as for a cached report); None without an inventory."""
        inventory = self.inventories.get(resolved.digest, resolved.platform) if version else None
        if inventory is None or not self._served(resolved):
            return None
        try:
            judged = reevaluate(
                [Wanted(resolved.digest, resolved.platform, str(ref), ref.name)],
                self._judging(version),
                self.store,
                self.inventories,
                found=[inventory],  # read once
            )
        except ScanError as exc:
            log.warning("re-evaluating %s failed (%s); scanning the image instead", ref, exc.message)
            return None
        return judged.reports.get((resolved.digest, resolved.platform))

    def _judging(self, version: str) -> Judging:
        db = trivy.db_info(self.env) or DbInfo(version=None, updated_at=None)
        return Judging(self.settings, self.env, self._dbs(), db, version, _now())

    def _db_version(self) -> str | None:
        """The cache key's DB part: the local DB's version (waiting for the fleet's download when there is none
        yet), or the ``trivy server``'s window; None with neither."""
        dbupdate.ensure(self.redis, self.settings, self.env)  # no DB yet: wait for the fleet's download, or run it
        db = trivy.db_info(self.env)
        return db_version_key(db.updated_at, db.version) if db else self._server_window(time.time())

    def _credential_env(self, registry: str) -> dict[str, str]:
        credential = self.settings.credential_for(registry)
        return {"TRIVY_USERNAME": credential.username, "TRIVY_PASSWORD": credential.password} if credential else {}

    def _server_window(self, now: float) -> str | None:
        """A worker with no DB of its own, scanning through a ``trivy server``, cannot read the server's DB version:
        it keys (and coalesces) reports by the server and the DB_REFRESH_INTERVAL window instead, the freshness a
        worker's own DB has between two ``db update`` runs. None without a server."""
        if not self.settings.trivy_server:
            return None
        server = hashlib.sha256(self.settings.trivy_server.encode()).hexdigest()[:12]
        return f"server-{server}-{int(now) // self.settings.db_refresh_interval}"

    def _dbs(self, *, local_first: bool = False) -> dict:
        """How this run gets its DBs: skip the look for a newer one when a DB is there (``db update`` refreshes
        them for the fleet), or ask the ``trivy server``. ``local_first``: a build's layers, read from the engine,
        have no compressed digest and must not land in the server's layer cache, so a worker that has a DB of its
        own scans builds locally."""
        db = trivy.db_info(self.env)
        return {
            "skip_db": db is not None,
            "skip_java_db": trivy.java_db_info(self.env) is not None,
            "server": None if local_first and db is not None else self.settings.trivy_server,
        }

    def _distribution(self, ref: ImageRef, *, fresh: bool) -> dict:
        """The registry's answer for ``ref``, reused for RESOLVE_TTL seconds (tags rarely move that fast)."""
        source = str(source_reference(ref, self.settings))
        if not fresh and self.settings.resolve_ttl and (hit := self.store.get_distribution(source)):
            return hit
        data = inspect(ref, self.settings, self.docker)
        if self.settings.resolve_ttl:
            self.store.put_distribution(source, data, self.settings.resolve_ttl)
        return data

    def _cached(self, key: str, ref: ImageRef, resolved: ResolvedImage) -> ScanReport | None:
        """The report stored for the digest, once the registry named has shown it serves that digest (a digest is
        not a secret: knowing one must not be reading its report). Not served: None, and Trivy asks the registry."""
        report = self.store.get(key)
        if report is None or not self._served(resolved):
            return None
        self.inventories.touch(resolved.digest, resolved.platform)  # read again: its inventory is kept longer
        return self._as_cached(report, ref)

    def _answered(self, ref: ImageRef, version: str | None) -> ScanReport | None:
        """What :meth:`_remember` kept for ``ref`` in this job, on this DB."""
        answer = self._answers.get(str(ref))
        report = decoded(answer[1]) if answer and answer[0] == version else None
        return self._as_cached(report, ref) if report else None

    @staticmethod
    def _as_cached(report: ScanReport, ref: ImageRef) -> ScanReport:
        report.image.reference = str(ref)
        report.cached = True
        metrics.cache_hit()
        return report

    def _served(self, resolved: ResolvedImage) -> bool:
        source = str(resolved.source)
        if self.store.is_served(source):
            return True
        if not serves(resolved.source, self.settings):
            log.warning("%s did not serve %s: its cached report is not shown", resolved.source.registry, source)
            return False
        self.store.note_served(source, self.settings.resolve_ttl)
        return True

    def _layer_check(self, resolved: ResolvedImage) -> LayerCheck:
        """Whether this image may use the shared layer cache: only once its layers are what its config claims
        (:mod:`workers.scan.layers`). A worker whose cache is memory already has nothing to protect."""
        if self.layer_cache.kind is layercache.LayerCacheKind.MEMORY and not self.settings.trivy_server:
            return LayerCheck(Verdict.UNVERIFIED)
        found = check_layers(resolved.source, self.settings, self.redis)
        if found.verdict is Verdict.INCONSISTENT:
            log.warning("%s: layers %s do not match their DiffIDs; scanned without the shared cache", resolved.source,
                        ", ".join(found.mismatched))  # fmt: skip
        return found

    def _run(self, resolved: ResolvedImage, ref: ImageRef, key: str | None) -> ScanReport:
        """Run Trivy on the resolved digest and store the report under ``key`` (the DB's own when None)."""
        source = resolved.source
        target = f"{source.name}@{resolved.digest}"
        extra_env = self._credential_env(source.registry)
        layers = self._layer_check(resolved)
        extra_env.update(self.layer_cache.child_env(self.env) if layers.shared_cache else _MEMORY_CACHE)
        args = trivy.image_command(
            self.settings.trivy_bin,
            target,
            platform=resolved.platform if resolved.is_index else None,
            timeout=self.settings.scan_timeout,
            insecure=self.settings.is_insecure(source.registry),
            env=self.env,
            list_all_pkgs=True,  # the package inventory a new DB judges again (workers.inventory)
            **self._dbs(local_first=not layers.shared_cache),  # a trivy server's cache is shared too
        )
        self.store.count_trivy_run()
        run = {"timeout": self.settings.scan_timeout, "what": ref.familiar, "server": self.settings.trivy_server}
        try:
            output = trivy.run_json(args, extra_env=extra_env, **run)
        except ScanError as exc:
            fallback = layercache.MEMORY.child_env(self.env)  # {} when the operator chose the backend
            if (
                exc.kind is not ErrorKind.LAYER_CACHE
                or not fallback
                or self.layer_cache.kind is layercache.LayerCacheKind.MEMORY
            ):
                raise
            # the layer cache is a speed-up, never a reason to fail: scan again without it
            log.warning(
                "Trivy's layer cache (%s) did not answer; scanning %s without it", self.layer_cache.kind.value, ref
            )
            output = trivy.run_json(args, extra_env={**extra_env, **fallback}, **run)
        db = trivy.db_info(self.env) or DbInfo(version=None, updated_at=None)
        report = normalize(
            output,
            reference=str(ref),
            digest=resolved.digest,
            db=db,
            platform=resolved.platform,
            scanned_at=_now(),
        )
        if layers.verdict is Verdict.INCONSISTENT:
            report.inconsistent_layers = list(layers.mismatched)
        key = key or cache_key(resolved.digest, resolved.platform, db_version_key(db.updated_at, db.version))
        self.store.put(key, report, ref.name)
        self._keep_inventory(output, resolved, report.inconsistent_layers)
        return report

    def _keep_inventory(self, output: dict, resolved: ResolvedImage, inconsistent: list[str] | None) -> None:
        """Keep what Trivy found in the image as its inventory, for the next DB (workers.inventory); in a thread of
        its own (not a daemon: a process that ends waits for it) with ``inventory_in_background``."""
        if self.inventory_in_background:
            threading.Thread(
                target=self._store_inventory, args=(output, resolved, inconsistent), name="chainscan-inventory"
            ).start()
        else:
            self._store_inventory(output, resolved, inconsistent)

    def _store_inventory(self, output: dict, resolved: ResolvedImage, inconsistent: list[str] | None) -> None:
        cyclonedx = to_cyclonedx(output, self.settings)
        if cyclonedx is None:
            return
        inventory = keep(
            output, cyclonedx, digest=resolved.digest, platform=resolved.platform, reference=str(resolved.source)
        )
        try:
            self.inventories.put(replace(inventory, inconsistent_layers=inconsistent))
        except RedisError as exc:  # a speed-up for the next DB, never the scan's failure
            log.warning("the inventory of %s was not kept: %s", resolved.source, exc)


def _parsed(references: Iterable[str | ImageRef]) -> list[ImageRef]:
    """The references that parse; the others are left to :meth:`Scanner.scan`, which says why."""
    refs = []
    for reference in references:
        try:
            refs.append(parse_reference(reference) if isinstance(reference, str) else reference)
        except InvalidReference:
            continue
    return refs


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
