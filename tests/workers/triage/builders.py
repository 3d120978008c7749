"""Small builders for triage tests: findings, reports and decisions by hand."""

from __future__ import annotations

from workers.report import DbInfo, Finding, ImageInfo, ScanReport, tally
from workers.triage.model import Decision, TriageState

REPOSITORY = "docker.io/library/mariadb"
DIGEST = "sha256:" + "a" * 64
OTHER_DIGEST = "sha256:" + "b" * 64
AT = "2025-03-01T09:00:00Z"


def finding(
    vuln: str, package: str, severity: str = "high", fixed: str | None = None, purl: str | None = "deb"
) -> Finding:
    if purl == "deb":
        purl = f"pkg:deb/debian/{package}@1.0-1%2Bb1?arch=amd64&distro=debian-12.5"
    return Finding(
        id=vuln,
        package=package,
        installed="1.0-1+b1",
        fixed=fixed,
        status="fixed" if fixed else "affected",
        severity=severity,
        cvss_score=None,
        cvss_vector=None,
        title="",
        url=None,
        layer=None,
        purl=purl,
    )


def report(findings: list[Finding], reference: str = f"{REPOSITORY}:latest", digest: str = DIGEST) -> ScanReport:
    counts, fixable = tally(findings)
    return ScanReport(
        image=ImageInfo(reference, digest, "debian 12.5", None, None),
        db=DbInfo(2, None),
        counts=counts,
        fixable=fixable,
        layers=[],
        vulnerabilities=list(findings),
    )


def decision(vuln: str, package: str, state: TriageState, **kwargs) -> Decision:
    values = {"team": "T1", "repository": REPOSITORY, "by": "U1", "at": AT, **kwargs}
    return Decision(vulnerability=vuln, package=package, state=state, **values)
