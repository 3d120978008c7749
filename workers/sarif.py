"""A scan seen through the team's triage as SARIF 2.1.0, the format GitHub code scanning uploads. Pure, no I/O.

One rule per vulnerability id (``tool.driver.rules``), one result per finding. A result's level follows the
severity (critical and high: ``error``, medium: ``warning``, low and unknown: ``note``), and its rule carries
GitHub's ``security-severity`` (the CVSS score, else a number for the severity) so code scanning ranks it.
An image has no source file: the location is the image's repository and the package, as a relative URI
(``docker.io/library/mariadb/libc6``), line 1. ``partialFingerprints`` keep a finding the same alert from one
scan to the next. A finding a decision hides is still a result, with ``suppressions`` giving the reason.
"""

from __future__ import annotations

import hashlib
from urllib.parse import quote

from workers.report import Finding, ScanReport
from workers.triage.apply import Applied, repository_of
from workers.triage.model import Decision

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
VERSION = "2.1.0"
TOOL = "chainscan"
LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "unknown": "note"}
# GitHub reads security-severity as a CVSS-like number: 9.0+ critical, 7.0+ high, 4.0+ medium, above 0 low
_SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "2.0", "unknown": "0.0"}
FINGERPRINT = "chainscan/v1"


def sarif(report: ScanReport, applied: Applied) -> dict:
    """The SARIF log of ``report``: every finding a result, the suppressed ones with their decision's reason."""
    hidden = {id(f): d for f, d in applied.suppressed}
    rules: dict[str, dict] = {}
    results = []
    for finding in report.vulnerabilities:
        rules.setdefault(finding.id, _rule(finding))
        results.append(_result(report, finding, list(rules).index(finding.id), hidden.get(id(finding))))
    driver = {"name": TOOL, "rules": list(rules.values())}
    run = {
        "tool": {"driver": driver},
        "results": results,
        "columnKind": "utf16CodeUnits",
        "properties": {"image": report.image.reference, "digest": report.image.digest, "db": report.db.updated_at},
    }
    return {"$schema": SCHEMA, "version": VERSION, "runs": [run]}


def artifact_uri(report: ScanReport, finding: Finding) -> str:
    """``docker.io/library/mariadb/libc6``: the repository and the package, escaped as a relative URI reference
    (a registry's ``host:port`` would otherwise read as a scheme)."""
    repository = repository_of(report.image.reference) or report.image.reference
    return quote(f"{repository}/{finding.package}", safe="/@.-_~")


def fingerprint(report: ScanReport, finding: Finding) -> str:
    repository = repository_of(report.image.reference) or report.image.reference
    return hashlib.sha256(f"{repository}|{finding.id}|{finding.package}".encode()).hexdigest()


def _rule(finding: Finding) -> dict:
    score = f"{finding.cvss_score:.1f}" if finding.cvss_score is not None else _SECURITY_SEVERITY[_sev(finding)]
    rule = {
        "id": finding.id,
        "name": finding.id.replace("-", ""),
        "shortDescription": {"text": finding.title or finding.id},
        "fullDescription": {"text": finding.title or finding.id},
        "help": {"text": f"{finding.id}: {finding.title or 'no description'}. {finding.url or ''}".strip()},
        "defaultConfiguration": {"level": LEVELS[_sev(finding)]},
        "properties": {"security-severity": score, "tags": ["security", "vulnerability", _sev(finding)]},
    }
    if finding.url:
        rule["helpUri"] = finding.url
    return rule


def _result(report: ScanReport, finding: Finding, rule_index: int, decision: Decision | None) -> dict:
    fixed = f", fixed in {finding.fixed}" if finding.fixed else ", no fix yet"
    result = {
        "ruleId": finding.id,
        "ruleIndex": rule_index,
        "level": LEVELS[_sev(finding)],
        "message": {"text": f"{finding.id} in {finding.package} {finding.installed}{fixed} ({finding.severity})."},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": artifact_uri(report, finding)},
                    "region": {"startLine": 1},
                }
            }
        ],
        "partialFingerprints": {FINGERPRINT: fingerprint(report, finding)},
        "properties": {"package": finding.package, "installed": finding.installed, "fixed": finding.fixed},
    }
    if decision is not None:
        reason = decision.reason or f"{decision.state.value} by {decision.by}"
        result["suppressions"] = [{"kind": "external", "status": "accepted", "justification": reason}]
    return result


def _sev(finding: Finding) -> str:
    return finding.severity if finding.severity in LEVELS else "unknown"
