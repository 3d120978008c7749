"""An image and its Chainguard alternative, scanned side by side.

The mapping is decided once per request (``workers.chainguard.state.plan_alternative``) and both scans
go on the queue at once (``workers.scan.queue.enqueue_pair``); :func:`combine` turns the two outcomes
into one result. Pure. When the alternative cannot be had (paid image, unknown name, registry
unreachable) the original's report still arrives, with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from workers.chainguard.alternatives import ChainguardMapping, Status
from workers.compare import Comparison, compare
from workers.report import ScanReport
from workers.scan.queue import Outcome

ALREADY_CHAINGUARD = "this is already a Chainguard image"


@dataclass
class PairResult:
    report: ScanReport
    alternative_report: ScanReport | None  # the Chainguard image's scan
    mapping: ChainguardMapping | None
    reason: str | None  # why there is no alternative report
    comparison: Comparison | None

    def to_dict(self) -> dict:
        data = self.report.to_dict()
        data["alternative"] = self.alternative_report.to_dict() if self.alternative_report else None
        data["alternative_reason"] = self.reason
        data["alternative_mapping"] = self.mapping.to_dict() if self.mapping else None
        data["comparison"] = self.comparison.to_dict() if self.comparison else None
        return data


def combine(report: ScanReport, mapping: ChainguardMapping | None, outcome: Outcome | None) -> PairResult:
    if mapping is None:
        return PairResult(report, None, None, "the comparison was not requested", None)
    if mapping.status is Status.CHAINGUARD:
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
