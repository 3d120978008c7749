"""Grouping new findings into alerts, and what fixes them. Pure, no I/O.

A channel watching 37 images hears about a new critical once: one group per vulnerability, naming the images it
is in and what fixes most of them (rebuilding on the base's current digest, upgrading the package, or nothing
yet). At most ``limit`` groups a day become messages; the rest go into the day's one summary.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from enum import Enum

from workers.report import SEVERITIES, Finding, ScanReport


class RemedyKind(str, Enum):
    REBUILD = "rebuild"  # the finding is in the base layers and the base's current digest no longer has it
    UPGRADE = "upgrade"  # the package has a fixed version
    NONE = "none"  # no fix yet


@dataclass(frozen=True)
class Remedy:
    kind: RemedyKind
    detail: str = ""  # the base ("debian:12") or "openssl 3.0.13"

    def sentence(self, count: int) -> str:
        """``29 are fixed by rebuilding on the current debian:12``."""
        verb = "is" if count == 1 else "are"
        if self.kind is RemedyKind.REBUILD:
            return f"{count} {verb} fixed by rebuilding on the current {self.detail}"
        if self.kind is RemedyKind.UPGRADE:
            return f"{count} {verb} fixed by upgrading {self.detail}"
        return f"{count} {'has' if count == 1 else 'have'} no fix yet"


@dataclass(frozen=True)
class Affected:
    reference: str
    finding: Finding
    remedy: Remedy


@dataclass(frozen=True)
class AlertGroup:
    vulnerability: str
    severity: str
    affected: tuple[Affected, ...]
    watched: int  # images the channel watches, for "in 31 of 37"

    @property
    def kev(self) -> bool:
        return any(bool(a.finding.kev) for a in self.affected)

    @property
    def references(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(a.reference for a in self.affected))

    def remedies(self) -> list[tuple[Remedy, int]]:
        """Remedies by how many images they fix, most first (an image counts once, for its first finding)."""
        first = {}
        for item in self.affected:
            first.setdefault(item.reference, item.remedy)
        return Counter(first.values()).most_common()

    def fix_sentence(self) -> str:
        """``29 are fixed by rebuilding on the current debian:12; 2 by upgrading zlib 1.3.1``."""
        parts = [remedy.sentence(count) for remedy, count in self.remedies()]
        return "; ".join(
            [parts[0], *[p.replace(" are fixed by", " by").replace(" is fixed by", " by") for p in parts[1:]]]
        )


def remedy_of(report: ScanReport, finding: Finding, base_name: str | None, current_base: ScanReport | None) -> Remedy:
    """How ``finding`` of ``report`` goes away. Rebuilding helps when the finding sits in the image's bottom
    layers that the base provides (as many as the current base has) and the current base does not have it."""
    if current_base is not None and base_name and report.image.digest != current_base.image.digest:
        bottom = {layer.diff_id for layer in report.layers[: len(current_base.layers)]}
        theirs = {(f.id, f.package) for f in current_base.vulnerabilities}
        if finding.layer in bottom and (finding.id, finding.package) not in theirs:
            return Remedy(RemedyKind.REBUILD, base_name)
    if finding.fixable:
        return Remedy(RemedyKind.UPGRADE, f"{finding.package} to {finding.fixed}")
    return Remedy(RemedyKind.NONE)


def group_new(new: list[Affected], watched: int) -> list[AlertGroup]:
    """One group per vulnerability, worst first (severity, KEV, then how many images), stable by id."""
    by_id: dict[str, list[Affected]] = {}
    for item in new:
        by_id.setdefault(item.finding.id, []).append(item)
    groups = [
        AlertGroup(vuln, _worst(items), tuple(sorted(items, key=lambda a: (a.reference, a.finding.package))), watched)
        for vuln, items in by_id.items()
    ]
    return sorted(groups, key=lambda g: (SEVERITIES.index(g.severity), not g.kev, -len(g.references), g.vulnerability))


def _worst(items: list[Affected]) -> str:
    return min((a.finding.severity for a in items), key=SEVERITIES.index)


@dataclass(frozen=True)
class Plan:
    messages: tuple[AlertGroup, ...]  # each its own message
    summarised: tuple[AlertGroup, ...]  # into the day's summary


def plan(groups: list[AlertGroup], sent_today: int, limit: int) -> Plan:
    """Which new groups get a message of their own: as many as fit under ``limit`` messages today."""
    room = max(0, limit - sent_today)
    return Plan(tuple(groups[:room]), tuple(groups[room:]))
