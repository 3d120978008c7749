"""The report model: Trivy's JSON normalized into plain dataclasses. Pure, no I/O.

Counting follows Trivy: every entry of every ``Results[].Vulnerabilities`` list
is one finding, so a CVE that hits two packages counts twice, exactly as
``trivy image`` reports it. ``to_dict()`` is the JSON contract scripts rely on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from workers.base.labels import BaseSource, labelled_base
from workers.owners.routes import owner_labels

SEVERITIES = ("critical", "high", "medium", "low", "unknown")
_SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}
SCHEMA_VERSION = 1


def empty_counts() -> dict[str, int]:
    return dict.fromkeys(SEVERITIES, 0)


@dataclass
class ImageInfo:
    reference: str
    digest: str | None
    os: str | None  # "debian 12.5", "wolfi 20230201", None when Trivy found no OS
    size_bytes: int | None
    created: str | None  # RFC 3339, from the image config
    platform: str | None = None
    labels: dict | None = None  # the OCI labels routing reads (workers.owners.routes.OWNER_LABELS); None: none


@dataclass
class DbInfo:
    version: int | None
    updated_at: str | None
    next_update: str | None = None


@dataclass
class Finding:
    id: str
    package: str
    installed: str
    fixed: str | None
    status: str
    severity: str
    cvss_score: float | None
    cvss_vector: str | None
    title: str
    url: str | None
    layer: str | None  # diff_id
    package_id: str | None = None
    target: str | None = None
    purl: str | None = None  # Trivy's PkgIdentifier.PURL; None in reports cached before it was kept
    source: str | None = None  # Trivy's SrcName: the source package (glibc for libc6 and libc-bin)
    aliases: list[str] = field(default_factory=list)  # Trivy's VendorIDs: other ids of it (a GHSA's CVE)
    kev: dict | None = None  # joined from CISA's KEV: {date_added, due_date, ransomware}
    epss: dict | None = None  # joined from FIRST's EPSS: {score, percentile, date}

    @property
    def fixable(self) -> bool:
        return bool(self.fixed)


@dataclass
class Layer:
    index: int
    diff_id: str
    created_by: str | None
    size_bytes: int | None
    counts: dict[str, int] = field(default_factory=empty_counts)


@dataclass
class ScanReport:
    image: ImageInfo
    db: DbInfo
    counts: dict[str, int]
    fixable: dict[str, int]
    layers: list[Layer]
    vulnerabilities: list[Finding]
    scanned_at: str | None = None
    cached: bool = False
    base: dict | None = None  # the base image: {name, digest, layers, counts, source} (workers.base)
    feeds: dict | None = None  # the risk feeds joined in: {"epss": {date, …} | None, "kev": …}; None: not looked up
    inconsistent_layers: list[str] | None = None  # layers whose blob is not the DiffID claimed (workers.scan.layers)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def to_dict(self) -> dict[str, Any]:
        # Shallow copies instead of dataclasses.asdict's deep copy: 10x faster on big reports,
        # and nothing here holds mutable objects beyond the count dicts, which are copied.
        return {
            "image": dict(vars(self.image)),
            "db": dict(vars(self.db)),
            "counts": dict(self.counts),
            "fixable": dict(self.fixable),
            "layers": [{**vars(layer), "counts": dict(layer.counts)} for layer in self.layers],
            "vulnerabilities": [dict(vars(finding)) for finding in self.vulnerabilities],
            "scanned_at": self.scanned_at,
            "cached": self.cached,
            "schema": SCHEMA_VERSION,
            "base": self.base,
            "feeds": self.feeds,
            "inconsistent_layers": self.inconsistent_layers,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScanReport:
        return cls(
            image=ImageInfo(**data["image"]),
            db=DbInfo(**data["db"]),
            counts=dict(data["counts"]),
            fixable=dict(data["fixable"]),
            layers=[Layer(**layer) for layer in data["layers"]],
            vulnerabilities=[Finding(**v) for v in data["vulnerabilities"]],
            scanned_at=data.get("scanned_at"),
            cached=data.get("cached", False),
            base=data.get("base"),
            feeds=data.get("feeds"),
            inconsistent_layers=data.get("inconsistent_layers"),
        )


def normalize(
    trivy: dict[str, Any],
    *,
    reference: str,
    digest: str | None,
    db: DbInfo,
    platform: str | None = None,
    scanned_at: str | None = None,
) -> ScanReport:
    """Turn the output of ``trivy image --format json`` into a :class:`ScanReport`."""
    meta = trivy.get("Metadata") or {}
    findings = [
        _finding(vuln, result.get("Target"), sources)
        for result in trivy.get("Results") or []
        for sources in (_sources(result),)  # once per result, not once per finding (644 packages × 449 findings)
        for vuln in result.get("Vulnerabilities") or []
    ]
    findings.sort(key=severity_order)
    layers = _layers(meta)
    counts, fixable = tally(findings)
    by_diff_id = {layer.diff_id: layer for layer in layers}
    for finding in findings:
        layer = by_diff_id.get(finding.layer or "")
        if layer:
            layer.counts[finding.severity] += 1
    report = ScanReport(
        image=ImageInfo(
            reference=reference,
            digest=digest or _repo_digest(meta),
            os=_os_name(meta),
            size_bytes=meta.get("Size"),
            created=(meta.get("ImageConfig") or {}).get("created"),
            platform=platform,
            labels=owner_labels(((meta.get("ImageConfig") or {}).get("config") or {}).get("Labels")),
        ),
        db=db,
        counts=counts,
        fixable=fixable,
        layers=layers,
        vulnerabilities=findings,
        scanned_at=scanned_at,
    )
    report.base = _labelled_base(meta)
    return report


def _labelled_base(meta: dict[str, Any]) -> dict | None:
    """The base the image names in its OCI base labels; its layers and counts are filled in by
    :func:`workers.base.find.find_base`, which reads the registry."""
    named = labelled_base(((meta.get("ImageConfig") or {}).get("config") or {}).get("Labels"))
    if named is None:
        return None
    name, digest = named
    return {"name": name, "digest": digest, "layers": None, "counts": None, "source": BaseSource.ANNOTATION.value}


def tally(findings: Iterable[Finding]) -> tuple[dict[str, int], dict[str, int]]:
    """Counts by severity, and how many of each have a fixed version."""
    counts, fixable = empty_counts(), empty_counts()
    for finding in findings:
        counts[finding.severity] += 1
        if finding.fixable:
            fixable[finding.severity] += 1
    return counts, fixable


def severity_order(finding: Finding) -> tuple:
    """Worst first: severity, then fixable before unfixable, then highest CVSS, then id."""
    return (
        _SEVERITY_RANK.get(finding.severity, len(SEVERITIES)),
        not finding.fixable,
        -(finding.cvss_score or 0.0),
        finding.id,
        finding.package,
    )


def at_or_above(severity: str) -> set[str]:
    """The severities at or above ``severity`` (``"high"`` gives critical and high)."""
    rank = _SEVERITY_RANK[severity]
    return {name for name in SEVERITIES if _SEVERITY_RANK[name] <= rank}


def _sources(result: dict[str, Any]) -> dict[str, str]:
    """Package id → source package name, from the result's ``Packages`` (vulnerabilities do not carry it)."""
    return {p["ID"]: p["SrcName"] for p in result.get("Packages") or [] if p.get("ID") and p.get("SrcName")}


def _finding(vuln: dict[str, Any], target: str | None, sources: dict[str, str] | None = None) -> Finding:
    score, vector = _cvss(vuln)
    severity = str(vuln.get("Severity") or "UNKNOWN").lower()
    return Finding(
        id=vuln.get("VulnerabilityID", "?"),
        package=vuln.get("PkgName", "?"),
        installed=vuln.get("InstalledVersion", ""),
        fixed=vuln.get("FixedVersion") or None,
        status=vuln.get("Status") or ("fixed" if vuln.get("FixedVersion") else "affected"),
        severity=severity if severity in _SEVERITY_RANK else "unknown",
        cvss_score=score,
        cvss_vector=vector,
        title=(vuln.get("Title") or vuln.get("Description") or "").strip().splitlines()[0][:200]
        if (vuln.get("Title") or vuln.get("Description"))
        else "",
        url=vuln.get("PrimaryURL"),
        layer=(vuln.get("Layer") or {}).get("DiffID"),
        package_id=vuln.get("PkgID"),
        target=target,
        purl=(vuln.get("PkgIdentifier") or {}).get("PURL"),
        source=vuln.get("SrcName") or (sources or {}).get(vuln.get("PkgID") or "") or None,
        aliases=[str(v) for v in vuln.get("VendorIDs") or []],
    )


def _cvss(vuln: dict[str, Any]) -> tuple[float | None, str | None]:
    """The CVSS v3 score and vector: the severity source's own first, then NVD, then any."""
    cvss = vuln.get("CVSS") or {}
    order = [vuln.get("SeveritySource"), "nvd", *sorted(cvss)]
    for source in order:
        entry = cvss.get(source) if source else None
        if entry and (entry.get("V3Score") or entry.get("V40Score")):
            return entry.get("V3Score") or entry.get("V40Score"), entry.get("V3Vector") or entry.get("V40Vector")
    return None, None


def _layers(meta: dict[str, Any]) -> list[Layer]:
    """Pair each layer (DiffID) with the history entry that created it.

    History entries marked ``empty_layer`` (ENV, CMD …) made no layer; the rest
    match the DiffIDs one to one, in order.
    """
    diff_ids = meta.get("DiffIDs") or []
    history = [h for h in (meta.get("ImageConfig") or {}).get("history") or [] if not h.get("empty_layer")]
    sizes = {layer.get("DiffID"): layer.get("Size") for layer in meta.get("Layers") or []}
    created_by = [h.get("created_by") for h in history] if len(history) == len(diff_ids) else [None] * len(diff_ids)
    return [
        Layer(index=i + 1, diff_id=diff_id, created_by=_clean_instruction(created_by[i]), size_bytes=sizes.get(diff_id))
        for i, diff_id in enumerate(diff_ids)
    ]


def _clean_instruction(created_by: str | None) -> str | None:
    """``/bin/sh -c #(nop)  ENV X=1`` → ``ENV X=1``; ``/bin/sh -c apt-get …`` → ``RUN apt-get …``."""
    if not created_by:
        return None
    text = " ".join(created_by.split())
    if text.startswith("/bin/sh -c #(nop) "):
        return text.removeprefix("/bin/sh -c #(nop) ").strip()
    if text.startswith("/bin/sh -c "):
        return "RUN " + text.removeprefix("/bin/sh -c ")
    return text


def _os_name(meta: dict[str, Any]) -> str | None:
    os_info = meta.get("OS") or {}
    if not os_info.get("Family"):
        return None
    return f"{os_info['Family']} {os_info.get('Name', '')}".strip()


def _repo_digest(meta: dict[str, Any]) -> str | None:
    for repo_digest in meta.get("RepoDigests") or []:
        if "@" in repo_digest:
            return repo_digest.split("@", 1)[1]
    return None
