"""Findings grouped for reading: one row per vulnerability and source package, the binary packages named
once (``CVE-2024-2961 glibc (libc6, libc-bin)``), worst first. Pure.

The scan thread's rows (bot/render/findings.py, terminal.py) and the digest's "Matters most"
(workers/digests/priorities.py) are grouped here, so both read the same. Grouping is presentation only: counts
stay Trivy's (one per finding) and every finding is in a group.
"""

from __future__ import annotations

from dataclasses import dataclass

from workers.feeds.risk import risk_key
from workers.report import Finding


@dataclass(frozen=True)
class FindingGroup:
    findings: tuple[Finding, ...]  # one per binary package, in Trivy's order

    @property
    def first(self) -> Finding:
        return self.findings[0]

    @property
    def id(self) -> str:
        return self.first.id

    @property
    def severity(self) -> str:
        return self.first.severity

    @property
    def source(self) -> str:
        return self.first.source or self.first.package

    @property
    def packages(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(f.package for f in self.findings))

    @property
    def fixed(self) -> str | None:
        return self.first.fixed

    @property
    def fixable(self) -> bool:
        return any(f.fixable for f in self.findings)

    @property
    def cvss_score(self) -> float | None:
        scores = [f.cvss_score for f in self.findings if f.cvss_score is not None]
        return max(scores) if scores else None

    @property
    def kev(self) -> dict | None:
        return next((f.kev for f in self.findings if f.kev), None)

    @property
    def epss(self) -> dict | None:
        scored = [f.epss for f in self.findings if f.epss]
        return max(scored, key=lambda e: e["percentile"]) if scored else None

    @property
    def url(self) -> str | None:
        link = self.first.url
        if not link and self.id.startswith("CVE-"):
            link = f"https://nvd.nist.gov/vuln/detail/{self.id}"
        return link

    @property
    def package_label(self) -> str:
        return package_label(self.source, self.packages)


def package_label(source: str, packages: tuple[str, ...]) -> str:
    """``glibc (libc6, libc-bin)``; just ``curl`` when the binary package is the source."""
    if packages == (source,) or not packages:
        return source
    return f"{source} ({', '.join(packages)})"


def group_findings(findings: list[Finding]) -> list[FindingGroup]:
    """Group by (vulnerability, source package, installed version), worst first: known exploited (KEV), EPSS
    percentile, severity, fixable, CVSS (without feeds joined: severity, fixable, CVSS)."""
    groups: dict[tuple, list[Finding]] = {}
    for finding in findings:
        key = (finding.id, finding.source or finding.package, finding.installed, finding.severity)
        groups.setdefault(key, []).append(finding)
    ordered = [FindingGroup(tuple(members)) for members in groups.values()]
    return sorted(ordered, key=_rank)


def _rank(group: FindingGroup) -> tuple:
    percentile = group.epss["percentile"] if group.epss else None
    return risk_key(bool(group.kev), percentile, group.severity, group.fixable, group.cvss_score) + (
        group.id,
        group.source,
    )


def packages_count(findings: list[Finding]) -> int:
    """How many distinct packages the findings are in (source packages, as Docker Scout counts them)."""
    return len({f.source or f.package for f in findings})
