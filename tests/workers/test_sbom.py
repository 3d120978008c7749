from dataclasses import replace
from datetime import UTC, datetime

from tests.helpers.schemas import CYCLONEDX, SPDX, violations
from workers.sbom import SbomFormat, cyclonedx_analysis, enrich, spdx_comment
from workers.triage.apply import apply
from workers.triage.model import Justification, TriageState

from .triage.builders import decision, finding, report

NOW = datetime(2025, 3, 10, 12, tzinfo=UTC)
KEV = {"date_added": "2025-05-07", "due_date": "2025-05-28", "ransomware": False}
EPSS = {"score": 0.93, "percentile": 0.998, "date": "2025-03-09"}
OPENSSL = finding("CVE-2024-5535", "openssl", "critical", fixed="3.0.14")
LIBSSL = finding("CVE-2024-5535", "libssl3", "critical", fixed="3.0.14")
LIBC = replace(finding("CVE-2024-2961", "libc6", "high"), kev=KEV, epss=EPSS)
FP = decision(
    "CVE-2024-5535",
    "openssl",
    TriageState.FALSE_POSITIVE,
    reason="not linked",
    justification=Justification.VULNERABLE_CODE_NOT_IN_EXECUTE_PATH,
)


def component(f):
    return {"bom-ref": f.purl, "type": "library", "name": f.package, "version": f.installed, "purl": f.purl}


BOM = {
    "bomFormat": "CycloneDX",
    "specVersion": "1.6",
    "version": 1,
    "components": [component(f) for f in (OPENSSL, LIBSSL, LIBC)],
    "vulnerabilities": [
        {"id": "CVE-2024-5535", "affects": [{"ref": OPENSSL.purl}, {"ref": LIBSSL.purl}]},
        {"id": "CVE-2024-2961", "affects": [{"ref": LIBC.purl}]},
    ],
}
SPDX_DOC = {
    "spdxVersion": "SPDX-2.3",
    "dataLicense": "CC0-1.0",
    "SPDXID": "SPDXRef-DOCUMENT",
    "name": "mariadb",
    "documentNamespace": "http://aquasecurity.github.io/trivy/container_image/mariadb-1",
    "creationInfo": {"creators": ["Tool: trivy-0.76.0"], "created": "2025-03-10T12:00:00Z"},
    "packages": [
        {
            "name": f.package,
            "SPDXID": f"SPDXRef-Package-{f.package}",
            "downloadLocation": "NONE",
            "primaryPackagePurpose": "LIBRARY",
            "externalRefs": [
                {"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": f.purl}
            ],
        }
        for f in (OPENSSL, LIBSSL, LIBC)
    ]
    + [
        {
            "name": "debian",
            "SPDXID": "SPDXRef-OS",
            "downloadLocation": "NONE",
            "primaryPackagePurpose": "OPERATING-SYSTEM",
        }
    ],
}


def enriched(fmt, document, decisions=(FP,)):
    scanned = report([OPENSSL, LIBSSL, LIBC])
    return enrich(document, fmt, scanned, apply(scanned, decisions, NOW), NOW)


def test_cyclonedx_stays_valid_against_the_1_6_schema():
    assert violations(enriched(SbomFormat.CYCLONEDX, BOM), CYCLONEDX) == []


def test_a_vulnerability_with_a_decision_is_split_per_package_and_only_the_decided_one_has_analysis():
    openssl, libssl, _ = enriched(SbomFormat.CYCLONEDX, BOM)["vulnerabilities"]
    assert openssl["bom-ref"] == "CVE-2024-5535:openssl" and openssl["analysis"]["state"] == "not_affected"
    assert libssl["affects"] == [{"ref": LIBSSL.purl}] and "analysis" not in libssl


def test_a_vulnerability_nobody_decided_on_is_left_whole():
    assert len(enriched(SbomFormat.CYCLONEDX, BOM, decisions=())["vulnerabilities"]) == 2


def test_kev_and_epss_become_properties_and_an_epss_rating():
    libc = enriched(SbomFormat.CYCLONEDX, BOM)["vulnerabilities"][-1]
    assert {"name": "chainscan:kev:date_added", "value": "2025-05-07"} in libc["properties"]
    assert libc["ratings"][0]["score"] == 0.93 and libc["ratings"][0]["method"] == "other"


def test_trivys_document_is_not_changed():
    enriched(SbomFormat.CYCLONEDX, BOM)
    assert "analysis" not in BOM["vulnerabilities"][0] and "properties" not in BOM["vulnerabilities"][1]


def test_an_accepted_risk_is_exploitable_will_not_fix_and_an_ended_one_says_nothing():
    accepted = decision("CVE-2024-5535", "openssl", TriageState.ACCEPTED, reason="later")
    assert cyclonedx_analysis(accepted, True) == {
        "state": "exploitable",
        "response": ["will_not_fix"],
        "detail": "later",
    }
    assert cyclonedx_analysis(accepted, False) is None


def test_acknowledged_is_in_triage():
    assert cyclonedx_analysis(decision("CVE-1", "p", TriageState.ACKNOWLEDGED), False) == {"state": "in_triage"}


def test_spdx_stays_valid_against_2_3_and_its_os_purpose_is_the_schemas_spelling():
    document = enriched(SbomFormat.SPDX_JSON, SPDX_DOC)
    assert violations(document, SPDX) == [] and document["packages"][-1]["primaryPackagePurpose"] == "OPERATING_SYSTEM"


def test_spdx_annotates_only_packages_with_kev_epss_or_a_decision():
    packages = enriched(SbomFormat.SPDX_JSON, SPDX_DOC)["packages"]
    assert [len(p.get("annotations", [])) for p in packages] == [1, 0, 1, 0]


def test_the_spdx_comment_says_kev_epss_and_triage_in_a_sentence():
    scanned = report([OPENSSL, LIBC])
    applied = apply(scanned, [FP], NOW)
    assert (
        spdx_comment(LIBC, applied)
        == "CVE-2024-2961 (high): in CISA KEV since 2025-05-07; EPSS 0.93 (percentile 0.998)."
    )
    assert spdx_comment(OPENSSL, applied) == "CVE-2024-5535 (critical): triage false_positive: not linked."
