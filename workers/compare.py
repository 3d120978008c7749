"""Comparing an image with its alternative. Pure.

Findings are matched by (vulnerability id, package) in :func:`split`, which
``workers/diff.py`` shares for any two images: *removed* are in the
original only, *kept* in both, *added* in the alternative only. Distros name
packages differently (Debian's libc6 is Wolfi's glibc), so the verdict speaks in
net counts, as a reader compares the two lines of the card: "Switching removes
2 critical and 23 high; 5 high remain (pgjdbc …)".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from workers.report import SEVERITIES, Finding, ScanReport, severity_order, tally


@dataclass
class SideFacts:
    reference: str
    counts: dict[str, int]
    fixable: dict[str, int]
    size_bytes: int | None
    created: str | None
    layers: int


@dataclass
class Comparison:
    original: SideFacts
    alternative: SideFacts
    removed: list[Finding] = field(default_factory=list)
    kept: list[Finding] = field(default_factory=list)  # as found in the alternative
    added: list[Finding] = field(default_factory=list)
    removed_counts: dict[str, int] = field(default_factory=dict)
    kept_counts: dict[str, int] = field(default_factory=dict)
    added_counts: dict[str, int] = field(default_factory=dict)
    verdict: str = ""

    def to_dict(self) -> dict:
        data = asdict(self)
        for name in ("removed", "kept", "added"):
            data[name] = [brief(f) for f in getattr(self, name)]
        return data


def split(before: ScanReport, after: ScanReport) -> tuple[list[Finding], list[Finding], list[Finding]]:
    """Findings matched by (id, package), worst first: in ``before`` only, in both (as found in ``after``),
    in ``after`` only. The one matching of the bot: the Chainguard comparison and ``diff`` both use it."""
    theirs = {_key(f) for f in after.vulnerabilities}
    ours = {_key(f) for f in before.vulnerabilities}
    removed = sorted((f for f in before.vulnerabilities if _key(f) not in theirs), key=severity_order)
    kept = sorted((f for f in after.vulnerabilities if _key(f) in ours), key=severity_order)
    added = sorted((f for f in after.vulnerabilities if _key(f) not in ours), key=severity_order)
    return removed, kept, added


def compare(original: ScanReport, alternative: ScanReport) -> Comparison:
    removed, kept, added = split(original, alternative)
    comparison = Comparison(
        original=facts(original),
        alternative=facts(alternative),
        removed=removed,
        kept=kept,
        added=added,
        removed_counts=tally(removed)[0],
        kept_counts=tally(kept)[0],
        added_counts=tally(added)[0],
    )
    comparison.verdict = verdict(comparison, alternative)
    return comparison


def verdict(c: Comparison, alternative: ScanReport) -> str:
    """One sentence in net terms, as people read the two cards: how many fewer critical and high
    findings the alternative has, and what remains (naming the worst remaining package)."""
    if not original_total(c):
        return "The original has no known vulnerabilities; switching changes nothing on that count."
    fewer = {name: c.original.counts[name] - c.alternative.counts[name] for name in SEVERITIES}
    removed = severity_phrase({k: v for k, v in fewer.items() if v > 0}, SEVERITIES[:2]) or severity_phrase(
        {k: v for k, v in fewer.items() if v > 0}, SEVERITIES
    )
    head = f"Switching removes {removed}" if removed else "Switching removes no findings"
    more = severity_phrase({k: -v for k, v in fewer.items() if v < 0}, SEVERITIES[:2])
    if more:
        head += f" but adds {more}"
    # "remain" is what is still there, "new" what the alternative adds: the same sets as the lists beside it
    kept_serious = severity_phrase(c.kept_counts, SEVERITIES[:2])
    worst = min(c.kept, key=severity_order, default=None)
    tail = []
    if kept_serious and worst:
        fix = f" → fixed in {worst.fixed}" if worst.fixed else ", no fix yet"
        tail.append(f"{kept_serious} remain ({worst.package} {worst.installed}{fix})")
    elif sum(c.kept_counts.values()):
        tail.append(_lower(sum(c.kept_counts.values()), "remain", "remains"))
    added_serious = severity_phrase(c.added_counts, SEVERITIES[:2])
    if added_serious:
        tail.append(f"{added_serious} are new in the alternative")
    elif sum(c.added_counts.values()):
        tail.append(_lower(sum(c.added_counts.values()), "are new in the alternative", "is new in the alternative"))
    return f"{head}; {'; '.join(tail)}." if tail else f"{head}; nothing known remains."


def _lower(count: int, plural: str, singular: str) -> str:
    return f"1 lower-severity finding {singular}" if count == 1 else f"{count} lower-severity findings {plural}"


def original_total(c: Comparison) -> int:
    return sum(c.original.counts.values())


def severity_phrase(counts: dict[str, int], names) -> str:
    parts = [f"{counts[name]} {name}" for name in names if counts.get(name)]
    if not parts:
        return ""
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _key(finding: Finding) -> tuple[str, str]:
    return finding.id, finding.package


def facts(report: ScanReport) -> SideFacts:
    return SideFacts(
        reference=report.image.reference,
        counts=dict(report.counts),
        fixable=dict(report.fixable),
        size_bytes=report.image.size_bytes,
        created=report.image.created,
        layers=len(report.layers),
    )


def brief(f: Finding) -> dict:
    return {"id": f.id, "package": f.package, "severity": f.severity, "installed": f.installed, "fixed": f.fixed}
