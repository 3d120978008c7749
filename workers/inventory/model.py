"""What is kept of a scan to judge it again, and how many inventories share one Trivy run. Pure, no I/O.

An :class:`Inventory` is Trivy's own CycloneDX of the image (``trivy convert`` of the ``--list-all-pkgs`` JSON)
with the JSON's ``Metadata`` and result targets beside it: ``trivy sbom`` over the CycloneDX finds what
``trivy image`` finds with the same DB, package for package and layer for layer, and the metadata makes its
answer read as the image scan's (:func:`restore`), so :func:`workers.report.normalize` turns it into the same
report.

Inventories of one OS release share one ``trivy sbom`` run (:func:`plan`, :func:`merge`): their packages go under
one operating-system component, every bom-ref and Trivy ``PkgID`` prefixed with the inventory's place in the
batch, because Trivy merges packages by ``PkgID`` and would otherwise hand one image's findings to another.
:func:`split` gives each inventory back its own packages and findings without the prefix. An inventory with
language packages runs alone: applications are not merged.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

SEPARATOR = "|"
PKG_ID = "aquasecurity:trivy:PkgID"
OS_COMPONENT = "operating-system"
BATCH_PACKAGES = 5000  # packages one Trivy run judges at most (its JSON answer: ~1 MB per 500 packages)
OS_CLASS = "os-pkgs"
_BATCH_ROOT = "chainscan-batch"
_BATCH_OS = "chainscan-batch-os"


@dataclass(frozen=True)
class Inventory:
    """The packages Trivy found in one image (digest, platform), as Trivy's CycloneDX, and how to read them back."""

    digest: str
    platform: str
    cyclonedx: dict[str, Any]
    metadata: dict[str, Any]  # the image scan's JSON Metadata (OS, DiffIDs, ImageConfig, Layers, Size …)
    targets: dict[str, str]  # "Class/Type" → the image scan's Target ("ref (debian 12.5)", "Java" …)
    inconsistent_layers: list[str] | None = None  # carried to every report judged from it (workers.scan.layers)
    packages: int = 0
    reference: str | None = None  # what was scanned: names the report when no watched tag points here

    def to_dict(self) -> dict[str, Any]:
        return {
            "digest": self.digest,
            "platform": self.platform,
            "cyclonedx": self.cyclonedx,
            "metadata": self.metadata,
            "targets": self.targets,
            "inconsistent_layers": self.inconsistent_layers,
            "packages": self.packages,
            "reference": self.reference,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Inventory:
        return cls(**data)

    @property
    def os(self) -> str | None:
        """``debian 12.5``: the OS release its packages are judged against; None without one."""
        component = next((c for c in self.cyclonedx.get("components") or [] if c.get("type") == OS_COMPONENT), None)
        return f"{component.get('name')} {component.get('version', '')}".strip() if component else None

    @property
    def has_applications(self) -> bool:
        """Language packages (jars, wheels, gems, node modules …): such an inventory runs alone. Trivy's CycloneDX of
        an image lists installed ones as libraries hanging from the image, not from the operating system, with no
        application component (that is for lock files): merged, the same jar in two images is one package to Trivy
        (named ``group:artifact:version`` whatever its bom-ref) and one image's finding went to the other."""
        components = self.cyclonedx.get("components") or []
        os_refs = {c.get("bom-ref") for c in components if c.get("type") == OS_COMPONENT}
        under_os = {
            child
            for dependency in self.cyclonedx.get("dependencies") or []
            if dependency.get("ref") in os_refs
            for child in dependency.get("dependsOn") or []
        }
        return any(
            c.get("type") == "application" or (c.get("type") == "library" and c.get("bom-ref") not in under_os)
            for c in components
        )


def keep(
    trivy_json: dict[str, Any], cyclonedx: dict[str, Any], *, digest: str, platform: str, reference: str | None = None
) -> Inventory:
    """The inventory of one image scan: its JSON (``--list-all-pkgs``) and Trivy's CycloneDX of that JSON."""
    results = trivy_json.get("Results") or []
    return Inventory(
        digest=digest,
        platform=platform,
        cyclonedx=cyclonedx,
        metadata=trivy_json.get("Metadata") or {},
        targets={_target_key(r): r.get("Target", "") for r in results},
        packages=sum(len(r.get("Packages") or []) for r in results),
        reference=reference,
    )


def without_findings(trivy_json: dict[str, Any]) -> dict[str, Any]:
    """The scan's JSON with its packages and without its findings: all ``trivy convert`` needs for the SBOM."""
    results = [{k: v for k, v in r.items() if k != "Vulnerabilities"} for r in trivy_json.get("Results") or []]
    return {**trivy_json, "Results": results}


@dataclass(frozen=True)
class Batch:
    """Inventories judged by one Trivy run, by their index in the list :func:`plan` was given."""

    members: tuple[int, ...]
    os: str | None = None


def plan(inventories: Sequence[Inventory], max_batch: int, max_packages: int = BATCH_PACKAGES) -> list[Batch]:
    """Batches of at most ``max_batch`` inventories and ``max_packages`` packages of one OS release, in the order
    given (what is read first is judged first); an inventory with language packages, or none of an OS, is a batch
    of its own. Trivy's time and answer grow with the packages and findings, not with the inventories: the
    package cap keeps one run's answer (and the worker's memory) to a few MB."""
    members: list[list[int]] = []
    releases: list[str | None] = []
    filling: dict[str, int] = {}  # OS release → the batch still taking members
    for index, inventory in enumerate(inventories):
        release = inventory.os
        if release is None or inventory.has_applications or max_batch <= 1:
            members.append([index])
            releases.append(release)
            continue
        slot = filling.get(release)
        packages = sum(inventories[i].packages for i in members[slot]) if slot is not None else 0
        if slot is None or len(members[slot]) >= max_batch or packages + inventory.packages > max_packages:
            members.append([])
            releases.append(release)
            slot = filling[release] = len(members) - 1
        members[slot].append(index)
    return [Batch(tuple(m), release) for m, release in zip(members, releases, strict=True)]


def merge(documents: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One CycloneDX document holding every document's packages under one operating-system component, each
    bom-ref and PkgID prefixed with ``{index}|`` (documents of one OS release, or a single one)."""
    components: list[dict] = []
    dependencies: list[dict] = []
    root_children: list[str] = []
    os_children: list[str] = []
    os_component: dict | None = None
    for index, document in enumerate(documents):
        prefix = f"{index}{SEPARATOR}"
        root = ((document.get("metadata") or {}).get("component") or {}).get("bom-ref")
        os_refs = {c["bom-ref"] for c in document.get("components") or [] if c.get("type") == OS_COMPONENT}
        for component in document.get("components") or []:
            if component["bom-ref"] in os_refs:
                os_component = os_component or {**component, "bom-ref": _BATCH_OS}
            else:
                components.append(_prefixed(component, prefix))
        for dependency in document.get("dependencies") or []:
            children = dependency.get("dependsOn") or []
            if dependency["ref"] in os_refs:
                os_children += [prefix + child for child in children]
            elif dependency["ref"] == root:
                root_children += [prefix + child for child in children if child not in os_refs]
            else:
                dependencies.append({"ref": prefix + dependency["ref"], "dependsOn": [prefix + c for c in children]})
    if os_component is not None:
        components.insert(0, os_component)
        root_children.insert(0, _BATCH_OS)
        dependencies.insert(0, {"ref": _BATCH_OS, "dependsOn": os_children})
    first = documents[0] if documents else {}
    return {
        "bomFormat": "CycloneDX",
        "specVersion": first.get("specVersion", "1.6"),
        "version": 1,
        "metadata": {"component": {"bom-ref": _BATCH_ROOT, "type": "application", "name": _BATCH_ROOT}},
        "components": components,
        "dependencies": [{"ref": _BATCH_ROOT, "dependsOn": root_children}, *dependencies],
    }


def _prefixed(component: dict[str, Any], prefix: str) -> dict[str, Any]:
    """A copy of ``component`` with its bom-ref and PkgID prefixed; what it shares with the original (hashes,
    licenses, the other properties) is never changed, only serialised."""
    prefixed = {**component, "bom-ref": prefix + component["bom-ref"]}
    if "properties" in component:
        prefixed["properties"] = [
            {**prop, "value": prefix + prop["value"]} if prop.get("name") == PKG_ID else prop
            for prop in component["properties"] or []
        ]
    return prefixed


def split(output: dict[str, Any], count: int) -> list[list[dict[str, Any]]]:
    """``trivy sbom``'s results for a merged document, handed back per document (index), prefixes removed."""
    per: list[list[dict]] = [[] for _ in range(count)]
    for result in output.get("Results") or []:
        packages: list[list[dict]] = [[] for _ in range(count)]
        findings: list[list[dict]] = [[] for _ in range(count)]
        for package in result.get("Packages") or []:
            index, package = _unprefixed(package, "ID", "Identifier")
            packages[index].append(package)
        for finding in result.get("Vulnerabilities") or []:
            index, finding = _unprefixed(finding, "PkgID", "PkgIdentifier")
            findings[index].append(finding)
        for index in range(count):
            if packages[index] or findings[index]:
                entry = {k: v for k, v in result.items() if k not in ("Packages", "Vulnerabilities")}
                entry["Packages"] = packages[index]
                if findings[index]:
                    entry["Vulnerabilities"] = findings[index]
                per[index].append(entry)
    return per


def _unprefixed(item: dict[str, Any], id_field: str, identifier_field: str) -> tuple[int, dict[str, Any]]:
    identifier = dict(item.get(identifier_field) or {})
    bom_ref = identifier.pop("BOMRef", "")
    head, _, _ = bom_ref.partition(SEPARATOR)
    item = {**item, identifier_field: identifier}
    if item.get(id_field):
        item[id_field] = item[id_field].split(SEPARATOR, 1)[-1]
    return int(head) if head.isdigit() else 0, item


def restore(inventory: Inventory, results: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """``trivy sbom``'s results for one inventory, read as its image scan's JSON (its metadata and targets).

    Trivy's SBOM reader gives every package a PkgID, but an image scan gives none to wheels, gems and jars (only to
    OS packages and node modules): a package whose component in Trivy's CycloneDX has no PkgID property loses the
    one the reader made up (``requests@2.31.0``), so its findings read as the image scan's.

    Only the OS result's target names what was scanned (the SBOM file, not the image) and is taken from the scan;
    language results already bear the image scan's names (``Java``, ``Python``, or a file's path, and an image may
    hold several files of one type, ``a.deps.json`` and ``b.deps.json``, which one name by type would mix up)."""
    unnamed = _without_pkg_id(inventory.cyclonedx)
    restored = []
    for result in results:
        target = result.get("Target", "")
        if result.get("Class") == OS_CLASS:
            target = inventory.targets.get(_target_key(result), target)
        entry = {**result, "Target": target, "Packages": _forget_ids(result.get("Packages"), "Identifier", unnamed)}
        if "Vulnerabilities" in result:
            entry["Vulnerabilities"] = _forget_ids(result["Vulnerabilities"], "PkgIdentifier", unnamed)
        restored.append(entry)
    return {"Metadata": inventory.metadata, "Results": restored}


def _without_pkg_id(cyclonedx: dict[str, Any]) -> set[str]:
    """The purls of the packages the image scan gave no PkgID (their components have no such property)."""
    return {
        c["purl"]
        for c in cyclonedx.get("components") or []
        if c.get("purl") and not any(p.get("name") == PKG_ID for p in c.get("properties") or [])
    }


def _forget_ids(items: list[dict[str, Any]] | None, identifier_field: str, unnamed: set[str]) -> list[dict[str, Any]]:
    """``items`` (packages or findings) without the ``ID``/``PkgID`` of those whose purl is in ``unnamed``."""
    return [
        {k: v for k, v in item.items() if k not in ("ID", "PkgID")}
        if (item.get(identifier_field) or {}).get("PURL") in unnamed
        else item
        for item in items or []
    ]


def package_count(results: Iterable[dict[str, Any]]) -> int:
    return sum(len(r.get("Packages") or []) for r in results)


def _target_key(result: dict[str, Any]) -> str:
    return f"{result.get('Class', '')}/{result.get('Type', '')}"
