"""An image and its Chainguard alternative, scanned side by side.

The catalog decides what to compare with (pure); both scans go on the queue at
once so a pool scans them in parallel, each through the same cached, coalesced
engine; :func:`combine` turns the two outcomes into one result. When the
alternative cannot be had (paid image, unknown name, registry unreachable) the
original's report still arrives, with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis import Redis
from rq import Queue
from rq.job import Job

from .alternatives import Alternative, find_alternative
from .catalog_state import current_catalog
from .compare import Comparison, compare
from .config import Settings
from .queue import Outcome, enqueue_scan
from .reference import ImageRef
from .report import ScanReport

ALREADY_CHAINGUARD = "this is already a Chainguard image"


def plan_alternative(ref: ImageRef, settings: Settings, redis: Redis | None = None, *, dev: bool = False) -> Alternative:
    """What to compare ``ref`` with: the shipped catalog, updated by the last registry refresh if any."""
    catalog = current_catalog(redis, settings)
    return find_alternative(ref, catalog, settings.chainguard_registry, settings.chainguard_org_registry, dev=dev)


def scannable(alternative: Alternative | None) -> bool:
    return bool(alternative and alternative.reference and alternative.status != "chainguard")


def enqueue_pair(
    queue: Queue, settings: Settings, ref: ImageRef, alternative: Alternative | None, *, force: bool = False, **options
) -> tuple[Job, Job | None]:
    original = enqueue_scan(queue, settings, str(ref), force=force, **options)
    other = enqueue_scan(queue, settings, str(alternative.reference), force=force, **options) if scannable(alternative) else None
    return original, other


@dataclass
class PairResult:
    report: ScanReport
    alternative: ScanReport | None
    mapping: Alternative | None
    reason: str | None  # why there is no alternative report
    comparison: Comparison | None

    def to_dict(self) -> dict:
        data = self.report.to_dict()
        data["alternative"] = self.alternative.to_dict() if self.alternative else None
        data["alternative_reason"] = self.reason
        data["alternative_mapping"] = self.mapping.to_dict() if self.mapping else None
        data["comparison"] = self.comparison.to_dict() if self.comparison else None
        return data


def combine(report: ScanReport, mapping: Alternative | None, outcome: Outcome | None) -> PairResult:
    if mapping is None:
        return PairResult(report, None, None, "the comparison was not requested", None)
    if mapping.status == "chainguard":
        return PairResult(report, None, mapping, ALREADY_CHAINGUARD, None)
    if not mapping.reference:
        reason = mapping.reason or "no known Chainguard equivalent"
        if mapping.close_names:
            reason += f" (close names: {', '.join(mapping.close_names)})"
        return PairResult(report, None, mapping, reason, None)
    if outcome is None or outcome.report is None:
        why = outcome.error.message if outcome and outcome.error else "its scan did not finish"
        return PairResult(report, None, mapping, f"{mapping.reference} could not be scanned: {why}", None)
    return PairResult(report, outcome.report, mapping, None, compare(report, outcome.report))
