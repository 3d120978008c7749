"""Which base an image is built on, and what the base brings. Pure: labels, layer lists and reports in, the
``base`` of the JSON contract out.

``base`` = None or ``{name, digest, layers, counts, source, refresh}``:

- ``source`` says how it was found (:class:`BaseSource`): the image's own ``org.opencontainers.image.base.name``
  / ``.base.digest`` (labels in its config, or its manifest's annotations), the Dockerfile's last ``FROM`` for
  builds, or its bottom layers
  (DiffIDs) being exactly those of the official image of its OS and version (``debian 12.5`` → ``debian:12``).
- ``layers``: how many of the image's bottom layers are the base's; ``counts``: the findings in them by severity.
- ``refresh``: when the base named is older than that name's current digest, what rebuilding on the current one
  would remove (findings in the base layers that the current base does not have), else None.
"""

from __future__ import annotations

import re

from workers.base.labels import BaseSource
from workers.report import Finding, ScanReport, tally

# OS family (as Trivy names it) → the official image and how much of the version its tags carry
_OFFICIAL = {"debian": ("debian", 1), "ubuntu": ("ubuntu", 2), "alpine": ("alpine", 2)}


def official_candidate(os_name: str | None) -> str | None:
    """``debian 12.5`` → ``debian:12``, ``ubuntu 24.04`` → ``ubuntu:24.04``, ``alpine 3.19.1`` → ``alpine:3.19``."""
    family, _, version = (os_name or "").partition(" ")
    if family not in _OFFICIAL or not re.match(r"^\d+(\.\d+)*$", version):
        return None
    image, parts = _OFFICIAL[family]
    return f"{image}:{'.'.join(version.split('.')[:parts])}"


def shared_bottom(image_layers: list[str], base_layers: list[str], *, named: bool = False) -> int:
    """How many bottom layers the image takes from the base: all of the base's when they are the image's first
    ones and the image adds at least one of its own; else 0 (not its base, or the base itself). An image that
    ``named`` its base (labels, FROM) may add none: a build of ``FROM x`` and ``ENV`` lines is all base."""
    if not base_layers or len(base_layers) > len(image_layers) or (len(base_layers) == len(image_layers) and not named):
        return 0
    return len(base_layers) if image_layers[: len(base_layers)] == base_layers else 0


def base_of(
    report: ScanReport, name: str, digest: str | None, layers: int | None, source: BaseSource, refresh=None
) -> dict:
    """The ``base`` entry: with ``layers`` known, the counts of the findings in those bottom layers."""
    return {
        "name": name,
        "digest": digest,
        "layers": layers,
        "counts": tally_by_severity(in_bottom_layers(report, layers)) if layers else None,
        "source": source.value,
        "refresh": refresh,
    }


def in_bottom_layers(report: ScanReport, layers: int | None) -> list[Finding]:
    bottom = {layer.diff_id for layer in report.layers[: layers or 0]}
    return [f for f in report.vulnerabilities if f.layer in bottom]


def refresh_gain(report: ScanReport, layers: int, current: ScanReport) -> dict:
    """What rebuilding on the base's current digest removes: findings of the base layers the current base lacks."""
    theirs = {(f.id, f.package) for f in current.vulnerabilities}
    removed = [f for f in in_bottom_layers(report, layers) if (f.id, f.package) not in theirs]
    return {"current_digest": current.image.digest, "counts": tally_by_severity(removed), "removes": len(removed)}


def tally_by_severity(findings: list[Finding]) -> dict[str, int]:
    return tally(findings)[0]
