"""Judging stored inventories again on the current DB with ``trivy sbom``: no image, no layer, no registry read.

:func:`reevaluate` plans batches (:func:`workers.inventory.model.plan`: up to REEVALUATE_BATCH inventories of one
OS release a Trivy run), runs REEVALUATE_CONCURRENCY of them at once, hands each inventory its own results back,
and stores each report under the current DB as a fresh scan's report is stored (cache and history), so whoever
asks next (a digest, an alert pass, ``/scan``) reads it from the cache. A batch whose answer does not give every
inventory all of its packages back is run again one inventory a run: batching is a speed-up, never a change in
what is found. I/O: Trivy processes and Redis.

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
from workers.inventory.model import Inventory, merge, package_count, plan, restore, split, without_findings
from workers.inventory.store import InventoryStore
from workers.report import DbInfo, ScanReport, normalize
from workers.scan import trivy
from workers.scan.store import ReportStore, cache_key

log = logging.getLogger(__name__)
_MEMORY_CACHE = {"TRIVY_CACHE_BACKEND": "memory"}  # an SBOM has no layers to cache


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
    found = inventories.get_many([(w.digest, w.platform) for w in wanted]) if found is None else found
    judged = Judged(without_inventory=[w for w, inventory in zip(wanted, found, strict=True) if inventory is None])
    pairs = [(w, inventory) for w, inventory in zip(wanted, found, strict=True) if inventory is not None]
    if not pairs:
        return judged
    stored = [inventory for _, inventory in pairs]
    batches = plan(stored, judging.settings.reevaluate_batch)
    with ThreadPoolExecutor(max_workers=judging.settings.reevaluate_concurrency) as pool:
        outcomes = list(pool.map(lambda b: _judge([stored[i] for i in b.members], judging), batches))
    for batch, (results, runs) in zip(batches, outcomes, strict=True):
        judged.runs += runs
        for index, found_results in zip(batch.members, results, strict=True):
            want, inventory = pairs[index]
            report = normalize(
                restore(inventory, found_results),
                reference=want.reference,
                digest=want.digest,
                db=judging.db,
                platform=want.platform,
                scanned_at=judging.scanned_at,
            )
            report.inconsistent_layers = inventory.inconsistent_layers
            reports.put(cache_key(want.digest, want.platform, judging.version), report, want.repository)
            inventories.touch(want.digest, want.platform)
            judged.reports[(want.digest, want.platform)] = report
            judged.count += 1
    for _ in range(judged.runs):
        reports.count_trivy_run()
    return judged


def _judge(batch: list[Inventory], judging: Judging) -> tuple[list[list[dict]], int]:
    """Each inventory's results from one ``trivy sbom`` run over the batch; one run each when the batch's answer
    misses a package of any of them. Returns (results per inventory, Trivy runs)."""
    results = split(_sbom(merge([i.cyclonedx for i in batch]), judging, len(batch)), len(batch))
    if len(batch) == 1 or all(package_count(r) == i.packages for r, i in zip(results, batch, strict=True)):
        return results, 1
    log.warning("a batch of %d inventories lost packages in one Trivy run; judging them one by one", len(batch))
    alone = [split(_sbom(merge([i.cyclonedx]), judging, 1), 1)[0] for i in batch]
    return alone, 1 + len(batch)


def _sbom(document: dict, judging: Judging, count: int) -> dict:
    settings = judging.settings
    with tempfile.TemporaryDirectory(prefix="chainscan-sbom-") as directory:
        path = Path(directory) / "inventories.cdx.json"
        path.write_text(json.dumps(document, separators=(",", ":")))
        args = trivy.sbom_command(
            settings.trivy_bin, str(path), timeout=settings.scan_timeout, env=judging.env, **judging.dbs
        )
        what = "a stored inventory" if count == 1 else f"{count} stored inventories"
        return trivy.run_json(
            args, timeout=settings.scan_timeout, extra_env=_MEMORY_CACHE, what=what, server=judging.dbs.get("server")
        )


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
