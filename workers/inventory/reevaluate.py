"""Judging stored inventories again on the current DB with ``trivy sbom``: no image, no layer, no registry read.

:func:`reevaluate` plans batches (:func:`workers.inventory.model.plan`: up to REEVALUATE_BATCH inventories of one
OS release a Trivy run), runs REEVALUATE_CONCURRENCY of them at once, hands each inventory its own results back,
and stores each report under the current DB as a fresh scan's report is stored (cache and history), so whoever
asks next (a digest, an alert pass, ``/scan``) reads it from the cache. A batch whose answer does not give every
inventory all of its packages back is run again one inventory a run: batching is a speed-up, never a change in
what is found. :func:`start` and :meth:`Reevaluation.finish` are its two halves, for a caller with work to do
while the first runs start up (a digest resolves its tags then). I/O: Trivy processes and Redis.

:func:`to_cyclonedx` makes an inventory's CycloneDX at scan time with ``trivy convert`` (Trivy's own encoder).
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workers.config import Settings
from workers.errors import ScanError
from workers.inventory.model import Batch, Inventory, merge, package_count, plan, restore, split, without_findings
from workers.inventory.store import InventoryStore
from workers.report import DbInfo, ScanReport, normalize
from workers.scan import trivy
from workers.scan.store import ReportStore, cache_key

log = logging.getLogger(__name__)
_MEMORY_CACHE = {"TRIVY_CACHE_BACKEND": "memory"}  # an SBOM has no layers to cache
# A ``trivy sbom`` run lives a fraction of a second and holds at most BATCH_PACKAGES packages: Go's collector is
# left off until the heap nears GOMEMLIMIT (the operator's, else this), which takes about a sixth off each run,
# most of it start-up. A batch that grows past the limit is collected as usual.
SBOM_MEMORY_LIMIT = "512MiB"


@dataclass(frozen=True)
class Wanted:
    """A digest to judge again, and what its report is to name."""

    digest: str
    platform: str
    reference: str
    repository: str | None = None  # whose history the report joins; None: none


@dataclass(frozen=True)
class Judging:
    """How a re-evaluation runs: the settings, Trivy's environment and DB flags, the DB it judges with."""

    settings: Settings
    env: Mapping[str, str]
    dbs: Mapping[str, Any]  # skip_db, skip_java_db, server (workers.scan.engine.Scanner._dbs)
    db: DbInfo
    version: str  # the cache key's DB part (workers.scan.store.db_version_key, or a server's window)
    scanned_at: str


@dataclass
class Judged:
    reports: dict[tuple[str, str], ScanReport] = field(default_factory=dict)  # by (digest, platform)
    runs: int = 0  # Trivy processes started
    without_inventory: list[Wanted] = field(default_factory=list)
    count: int = 0  # reports judged and stored (a fleet's re-evaluation counts them without keeping them)


def reevaluate(
    wanted: Sequence[Wanted],
    judging: Judging,
    reports: ReportStore,
    inventories: InventoryStore,
    found: Sequence[Inventory | None] | None = None,
) -> Judged:
    """Judge every ``wanted`` digest that has an inventory (``found``: already read, in the same order); store and
    return their reports."""
    with start(wanted, judging, inventories, found) as pending:
        return pending.finish(reports, inventories)


def start(
    wanted: Sequence[Wanted],
    judging: Judging,
    inventories: InventoryStore,
    found: Sequence[Inventory | None] | None = None,
) -> Reevaluation:
    """Plan the batches and start the first REEVALUATE_CONCURRENCY Trivy runs; :meth:`Reevaluation.finish` runs
    the rest and reads them all. Between the two the caller may do other work (resolve the tags) while Trivy
    starts up, which is most of a small run's time."""
    found = inventories.get_many([(w.digest, w.platform) for w in wanted]) if found is None else found
    pending = Reevaluation(
        judging,
        pairs=[(w, inventory) for w, inventory in zip(wanted, found, strict=True) if inventory is not None],
        without_inventory=[w for w, inventory in zip(wanted, found, strict=True) if inventory is None],
    )
    pending.batches = plan([inventory for _, inventory in pending.pairs], judging.settings.reevaluate_batch)
    try:
        for index in range(min(len(pending.batches), judging.settings.reevaluate_concurrency)):
            pending.running[index] = _launch(pending.members(index), judging)
    except ScanError as exc:  # Trivy missing: finish() says so, as a run would
        pending.failure = exc
    except BaseException:  # a file not written: the runs already started are not left behind
        pending.close()
        raise
    return pending


@dataclass
class Reevaluation:
    """A re-evaluation under way: its batches planned, the first of them running in Trivy."""

    judging: Judging
    pairs: list[tuple[Wanted, Inventory]]  # the wanted digests that have an inventory, with it
    without_inventory: list[Wanted]
    batches: list[Batch] = field(default_factory=list)
    running: dict[int, _Run] = field(default_factory=dict)  # by batch index
    failure: ScanError | None = None

    def members(self, index: int) -> list[Inventory]:
        return [self.pairs[i][1] for i in self.batches[index].members]

    def finish(self, reports: ReportStore, inventories: InventoryStore) -> Judged:
        """Run the batches not started yet (REEVALUATE_CONCURRENCY at a time), read every run, and store each
        inventory's report under the current DB. A failed run raises its :class:`ScanError`."""
        if self.failure:
            raise self.failure
        judged = Judged(without_inventory=self.without_inventory)
        if not self.batches:
            return judged
        with ThreadPoolExecutor(max_workers=self.judging.settings.reevaluate_concurrency) as pool:
            outcomes = list(pool.map(self._outcome, range(len(self.batches))))
        for batch, (results, runs) in zip(self.batches, outcomes, strict=True):
            judged.runs += runs
            for index, found_results in zip(batch.members, results, strict=True):
                want, inventory = self.pairs[index]
                judged.reports[(want.digest, want.platform)] = self._report(want, inventory, found_results)
        wanted = {(w.digest, w.platform): w for w, _ in self.pairs}
        version = self.judging.version
        reports.put_many(
            [(cache_key(*pair, version), r, wanted[pair].repository) for pair, r in judged.reports.items()]
        )
        inventories.touch_many(list(judged.reports))
        judged.count = len(judged.reports)
        for _ in range(judged.runs):
            reports.count_trivy_run()
        return judged

    def _outcome(self, index: int) -> tuple[list[list[dict]], int]:
        """Each inventory's results of batch ``index``, and the Trivy runs they took: one for the batch, or one
        each more when the batch's answer misses a package of any of them."""
        batch = self.members(index)
        run = self.running.pop(index, None) or _launch(batch, self.judging)
        results = split(run.json(), len(batch))
        if len(batch) == 1 or all(package_count(r) == i.packages for r, i in zip(results, batch, strict=True)):
            return results, 1
        log.warning("a batch of %d inventories lost packages in one Trivy run; judging them one by one", len(batch))
        alone = [split(_launch([inventory], self.judging).json(), 1)[0] for inventory in batch]
        return alone, 1 + len(batch)

    def _report(self, want: Wanted, inventory: Inventory, results: list[dict]) -> ScanReport:
        report = normalize(
            restore(inventory, results),
            reference=want.reference,
            digest=want.digest,
            db=self.judging.db,
            platform=want.platform,
            scanned_at=self.judging.scanned_at,
        )
        report.inconsistent_layers = inventory.inconsistent_layers
        return report

    def close(self) -> None:
        """Runs never read (the caller failed, or gave up) are killed, not left behind."""
        for run in self.running.values():
            run.stop()
        self.running.clear()

    def __enter__(self) -> Reevaluation:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


@dataclass
class _Run:
    """One ``trivy sbom`` over a batch's merged CycloneDX, written to a directory of its own until it is read."""

    directory: tempfile.TemporaryDirectory
    process: trivy.Running

    def json(self) -> dict:
        try:
            return self.process.json()
        finally:
            self.directory.cleanup()

    def stop(self) -> None:
        self.process.stop()
        self.directory.cleanup()


def _launch(batch: list[Inventory], judging: Judging) -> _Run:
    settings = judging.settings
    directory = tempfile.TemporaryDirectory(prefix="chainscan-sbom-")
    try:
        path = Path(directory.name) / "inventories.cdx.json"
        path.write_text(json.dumps(merge([i.cyclonedx for i in batch]), separators=(",", ":")))
        args = trivy.sbom_command(
            settings.trivy_bin, str(path), timeout=settings.scan_timeout, env=judging.env, **judging.dbs
        )
        what = "a stored inventory" if len(batch) == 1 else f"{len(batch)} stored inventories"
        running = trivy.start(
            args,
            timeout=settings.scan_timeout,
            extra_env=_sbom_env(judging.env),
            what=what,
            server=judging.dbs.get("server"),
        )
    except BaseException:
        directory.cleanup()
        raise
    return _Run(directory, running)


def _sbom_env(env: Mapping[str, str]) -> dict[str, str]:
    return {**_MEMORY_CACHE, "GOGC": "off", "GOMEMLIMIT": env.get("GOMEMLIMIT") or SBOM_MEMORY_LIMIT}


def to_cyclonedx(trivy_json: dict, settings: Settings) -> dict | None:
    """Trivy's CycloneDX of an image scan's JSON (every package listed), by ``trivy convert``; None when Trivy
    could not make it (the scan stands; that digest is simply scanned again after the next DB update)."""
    with tempfile.TemporaryDirectory(prefix="chainscan-inventory-") as directory:
        path = Path(directory) / "scan.json"
        path.write_text(json.dumps(without_findings(trivy_json), separators=(",", ":")))
        try:
            return trivy.run_json(
                trivy.convert_command(settings.trivy_bin, str(path)),
                timeout=120,
                what="the package inventory",
                counted=False,  # not a scan: chainscan_trivy_runs_total counts scans
            )
        except ScanError as exc:
            log.warning("no package inventory kept: %s", exc.message)
            return None
