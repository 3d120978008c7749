"""What moving from image A to image B changes. Pure: two ScanReports in, an :class:`ImageDiff` out.

The same matching as the Chainguard comparison (:func:`workers.compare.split`, by vulnerability id and
package): *fixed* are in A only, *kept* in both (as found in B), *brought* in B only. Beside the findings
it says, per package, what each one fixes, keeps and brings, whether the base image changed, and which
layers the two images share. ``to_dict()`` is the JSON of ``python -m bot diff --format json``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from workers.compare import SideFacts, brief, facts, severity_phrase, split
from workers.report import SEVERITIES, Finding, ScanReport, severity_order, tally


@dataclass
class DiffSide(SideFacts):
    digest: str | None = None
    os: str | None = None
    cached: bool = False


@dataclass
class PackageChange:
    package: str
    before: str | None  # the installed version in A, as its findings say (None: no finding in A)
    after: str | None
    fixed: int = 0
    kept: int = 0
    brought: int = 0
    worst: str = "unknown"  # the worst severity among its findings, either side


@dataclass
class BaseChange:
    before: str | None  # "name@digest" or the name alone; None when the base is not known
    after: str | None
    changed: bool


@dataclass
class LayerChange:
    shared: int  # layers (DiffIDs) both images have
    removed: list[dict] = field(default_factory=list)  # in A only: {index, diff_id, created_by, counts}
    added: list[dict] = field(default_factory=list)  # in B only


@dataclass
class ImageDiff:
    before: DiffSide
    after: DiffSide
    fixed: list[Finding]
    kept: list[Finding]
    brought: list[Finding]
    counts: dict[str, dict[str, int]]  # "fixed" | "kept" | "brought" → counts by severity
    packages: list[PackageChange]
    base: BaseChange
    layers: LayerChange
    verdict: str = ""

    def to_dict(self) -> dict:
        data = asdict(self)
        for name in ("fixed", "kept", "brought"):
            data[name] = [brief(f) for f in getattr(self, name)]
        return data


def diff(before: ScanReport, after: ScanReport) -> ImageDiff:
    fixed, kept, brought = split(before, after)
    result = ImageDiff(
        before=_side(before),
        after=_side(after),
        fixed=fixed,
        kept=kept,
        brought=brought,
        counts={"fixed": tally(fixed)[0], "kept": tally(kept)[0], "brought": tally(brought)[0]},
        packages=packages(before, fixed, kept, brought),
        base=base_change(before, after),
        layers=layer_change(before, after),
    )
    result.verdict = verdict(result)
    return result


def _side(report: ScanReport) -> DiffSide:
    return DiffSide(**vars(facts(report)), digest=report.image.digest, os=report.image.os, cached=report.cached)


def packages(
    before: ScanReport, fixed: list[Finding], kept: list[Finding], brought: list[Finding]
) -> list[PackageChange]:
    """One row per package with a finding on either side, the most changed first (serious ones before)."""
    rows: dict[str, PackageChange] = {}
    for finding in before.vulnerabilities:
        rows.setdefault(finding.package, PackageChange(finding.package, finding.installed, None))
    for name, findings in (("fixed", fixed), ("kept", kept), ("brought", brought)):
        for finding in findings:
            row = rows.setdefault(finding.package, PackageChange(finding.package, None, None))
            setattr(row, name, getattr(row, name) + 1)
            if name != "fixed":
                row.after = finding.installed
            row.worst = min(row.worst, finding.severity, key=SEVERITIES.index)
    for finding in before.vulnerabilities:  # the worst of what A had counts too (a fixed critical)
        row = rows[finding.package]
        row.worst = min(row.worst, finding.severity, key=SEVERITIES.index)
    return sorted(rows.values(), key=lambda r: (SEVERITIES.index(r.worst), -(r.fixed + r.brought), r.package))


def base_change(before: ScanReport, after: ScanReport) -> BaseChange:
    a, b = _base_name(before), _base_name(after)
    return BaseChange(a, b, changed=a != b)


def _base_name(report: ScanReport) -> str | None:
    base = report.base or {}
    if not base.get("name"):
        return None
    return f"{base['name']}@{base['digest']}" if base.get("digest") else base["name"]


def layer_change(before: ScanReport, after: ScanReport) -> LayerChange:
    ours = {layer.diff_id for layer in before.layers}
    theirs = {layer.diff_id for layer in after.layers}
    return LayerChange(
        shared=len(ours & theirs),
        removed=[_layer(layer) for layer in before.layers if layer.diff_id not in theirs],
        added=[_layer(layer) for layer in after.layers if layer.diff_id not in ours],
    )


def _layer(layer) -> dict:
    return {
        "index": layer.index,
        "diff_id": layer.diff_id,
        "created_by": layer.created_by,
        "counts": dict(layer.counts),
    }


def verdict(d: ImageDiff) -> str:
    """One sentence: what the move fixes, keeps and brings, critical and high named, the rest counted."""
    parts = [
        f"{verb} {_phrase(d.counts[name])}"
        for verb, name in (("fixes", "fixed"), ("keeps", "kept"), ("brings", "brought"))
    ]
    head = f"Moving from {d.before.reference} to {d.after.reference} {', '.join(parts[:2])} and {parts[2]}"
    worst = min(d.brought, key=severity_order, default=None)
    if worst and worst.severity in SEVERITIES[:2]:
        return f"{head}; the worst new one is {worst.id} in {worst.package} {worst.installed}."
    return f"{head}."


def _phrase(counts: dict[str, int]) -> str:
    total = sum(counts.values())
    if not total:
        return "nothing"
    serious = severity_phrase(counts, SEVERITIES[:2])
    rest = total - counts.get("critical", 0) - counts.get("high", 0)
    if serious and rest:
        return f"{serious} (+{rest} lower)"
    return serious or ("1 lower-severity finding" if total == 1 else f"{total} lower-severity findings")
