"""Trivy's SBOM with what chainscan knows added: KEV, EPSS and the team's triage. Pure: documents in, documents out.

CycloneDX (``vulnerabilities[]`` from Trivy): each vulnerability gets ``properties`` ``chainscan:kev`` (and the
date CISA added it) and ``chainscan:epss:*``, an EPSS ``rating`` (method ``other``, source FIRST), and, where the
team decided, an ``analysis``: a false positive is ``not_affected`` with CycloneDX's nearest justification, an
accepted risk ``exploitable`` with ``will_not_fix``, acknowledged or assigned ``in_triage``. A decision is per
package while a CycloneDX vulnerability lists every package it affects, so a vulnerability with a decision is
split into one entry per affected package (``bom-ref`` ``<id>:<package>``).

SPDX 2.3 has no vulnerabilities: each package with a KEV listing, an EPSS score or a decision gets an
``annotations`` entry (type ``REVIEW``) saying so in a sentence. Trivy 0.76 writes ``primaryPackagePurpose``
``OPERATING-SYSTEM`` (the spec's prose) where the 2.3 JSON schema spells ``OPERATING_SYSTEM``; it is rewritten.
"""

from __future__ import annotations

import copy
from datetime import datetime
from enum import Enum

from workers.report import Finding, ScanReport
from workers.triage.apply import Applied, finding_key
from workers.triage.model import Decision, Justification, TriageState

TOOL = "chainscan"
EPSS_SOURCE = {"name": "FIRST EPSS", "url": "https://www.first.org/epss/"}


class SbomFormat(str, Enum):
    CYCLONEDX = "cyclonedx"
    SPDX_JSON = "spdx-json"


# OpenVEX's justification → CycloneDX's impactAnalysisJustification
CYCLONEDX_JUSTIFICATIONS = {
    Justification.COMPONENT_NOT_PRESENT: "code_not_present",
    Justification.VULNERABLE_CODE_NOT_PRESENT: "code_not_present",
    Justification.VULNERABLE_CODE_NOT_IN_EXECUTE_PATH: "code_not_reachable",
    Justification.VULNERABLE_CODE_CANNOT_BE_CONTROLLED_BY_ADVERSARY: "protected_at_perimeter",
    Justification.INLINE_MITIGATIONS_ALREADY_EXIST: "protected_by_mitigating_control",
}


def enrich(document: dict, fmt: SbomFormat, report: ScanReport, applied: Applied, now: datetime) -> dict:
    """``document`` (Trivy's) with KEV, EPSS and triage attached as ``fmt`` allows; the input is not changed."""
    if fmt is SbomFormat.CYCLONEDX:
        return enrich_cyclonedx(document, report, applied)
    return enrich_spdx(document, report, applied, now)


def enrich_cyclonedx(bom: dict, report: ScanReport, applied: Applied) -> dict:
    bom = copy.deepcopy(bom)
    names = {c.get("bom-ref"): c.get("name") for c in _components(bom.get("components") or [])}
    by_id = {f.id: f for f in report.vulnerabilities}
    vulnerabilities = []
    for vuln in bom.get("vulnerabilities") or []:
        facts = by_id.get(vuln.get("id"))
        if facts:
            _add_risk(vuln, facts)
        vulnerabilities += _split_by_decision(vuln, names, applied)
    if "vulnerabilities" in bom:
        bom["vulnerabilities"] = vulnerabilities
    return bom


def cyclonedx_analysis(decision: Decision, suppressed: bool) -> dict | None:
    """The CycloneDX ``analysis`` for one decision; None when it says nothing (open, resolved, an ended risk)."""
    detail = {"detail": decision.reason} if decision.reason else {}
    if suppressed and decision.state is TriageState.FALSE_POSITIVE:
        justification = CYCLONEDX_JUSTIFICATIONS.get(decision.justification) if decision.justification else None
        return {"state": "not_affected", **({"justification": justification} if justification else {}), **detail}
    if suppressed and decision.state is TriageState.ACCEPTED:
        return {"state": "exploitable", "response": ["will_not_fix"], **detail}
    if decision.state in (TriageState.ACKNOWLEDGED, TriageState.ASSIGNED):
        return {"state": "in_triage", **detail}
    return None


def _components(components: list[dict]):
    for component in components:
        yield component
        yield from _components(component.get("components") or [])


def _add_risk(vuln: dict, finding: Finding) -> None:
    properties = vuln.setdefault("properties", [])
    properties.append({"name": "chainscan:kev", "value": "true" if finding.kev else "false"})
    if finding.kev:
        properties.append({"name": "chainscan:kev:date_added", "value": str(finding.kev.get("date_added"))})
    if finding.epss:
        properties.append({"name": "chainscan:epss:score", "value": str(finding.epss["score"])})
        properties.append({"name": "chainscan:epss:percentile", "value": str(finding.epss["percentile"])})
        rating = {"source": EPSS_SOURCE, "score": finding.epss["score"], "method": "other"}
        rating["justification"] = (
            f"EPSS probability of exploitation in 30 days, percentile {finding.epss['percentile']}"
        )
        vuln.setdefault("ratings", []).append(rating)


def _split_by_decision(vuln: dict, names: dict, applied: Applied) -> list[dict]:
    hidden = {finding_key(f) for f, _ in applied.suppressed}
    affects = vuln.get("affects") or []
    decided = [applied.decided.get((vuln.get("id"), names.get(a.get("ref")))) for a in affects]
    if not any(decided):
        return [vuln]
    entries = []
    for affect, decision in zip(affects, decided, strict=True):
        entry = {**copy.deepcopy(vuln), "affects": [affect]}
        package = names.get(affect.get("ref")) or affect.get("ref")
        entry["bom-ref"] = f"{vuln.get('id')}:{package}"
        if decision and (analysis := cyclonedx_analysis(decision, (decision.vulnerability, package) in hidden)):
            entry["analysis"] = analysis
        entries.append(entry)
    return entries


def enrich_spdx(document: dict, report: ScanReport, applied: Applied, now: datetime) -> dict:
    document = copy.deepcopy(document)
    by_purl: dict[str, list[Finding]] = {}
    for finding in report.vulnerabilities:
        by_purl.setdefault(finding.purl or "", []).append(finding)
    when = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    for package in document.get("packages") or []:
        if package.get("primaryPackagePurpose") == "OPERATING-SYSTEM":
            package["primaryPackagePurpose"] = "OPERATING_SYSTEM"
        purls = [r["referenceLocator"] for r in package.get("externalRefs") or [] if r.get("referenceType") == "purl"]
        for finding in (f for purl in purls for f in by_purl.get(purl, [])):
            if comment := spdx_comment(finding, applied):
                annotation = {"annotator": f"Tool: {TOOL}", "annotationDate": when, "annotationType": "REVIEW"}
                package.setdefault("annotations", []).append({**annotation, "comment": comment})
    return document


def spdx_comment(finding: Finding, applied: Applied) -> str | None:
    """``CVE-2024-2961 (high): in CISA KEV since 2025-05-07; EPSS 0.93 (percentile 0.998); triage false_positive:
    not linked.`` None when there is nothing beyond Trivy's own facts."""
    parts = []
    if finding.kev:
        parts.append(f"in CISA KEV since {finding.kev.get('date_added')}")
    if finding.epss:
        parts.append(f"EPSS {finding.epss['score']} (percentile {finding.epss['percentile']})")
    decision = applied.decided.get(finding_key(finding))
    if decision and decision.state is not TriageState.RESOLVED:
        hidden = any(f is finding for f, _ in applied.suppressed)
        state = decision.state.value + ("" if hidden or decision.state is not TriageState.ACCEPTED else " (ended)")
        parts.append(f"triage {state}" + (f": {decision.reason}" if decision.reason else ""))
    return f"{finding.id} ({finding.severity}): {'; '.join(parts)}." if parts else None
