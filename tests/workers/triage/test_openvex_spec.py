"""The OpenVEX document follows the OpenVEX v0.2.0 JSON schema's rules (openvex/spec, openvex_json_schema.json):
the required keys, no others, at least one statement, and for ``not_affected`` a justification or an impact
statement, never both."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from tests.workers.triage.builders import decision, finding
from workers.triage.model import Justification, TriageState
from workers.triage.vex import image_purl, openvex

TOP = {"@context", "@id", "author", "role", "timestamp", "last_updated", "version", "tooling", "statements"}
STATEMENT = {
    "@id",
    "version",
    "vulnerability",
    "timestamp",
    "last_updated",
    "products",
    "status",
    "supplier",
    "status_notes",
    "justification",
    "impact_statement",
    "action_statement",
    "action_statement_timestamp",
}
JUSTIFICATIONS = {j.value for j in Justification}
DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def _check(document: dict) -> None:
    assert {"@context", "@id", "author", "timestamp", "version", "statements"} <= document.keys() <= TOP
    assert isinstance(document["version"], int) and document["version"] >= 1
    assert DATE_TIME.match(document["timestamp"])
    assert document["statements"], "OpenVEX requires at least one statement"
    for statement in document["statements"]:
        assert {"vulnerability", "status"} <= statement.keys() <= STATEMENT
        assert statement["vulnerability"].keys() <= {"@id", "name", "description", "aliases"}
        assert statement["status"] in {"not_affected", "affected", "fixed", "under_investigation"}
        if statement["status"] == "not_affected":
            assert ("justification" in statement) != ("impact_statement" in statement)
        if "justification" in statement:
            assert statement["justification"] in JUSTIFICATIONS
        if "timestamp" in statement:
            assert DATE_TIME.match(statement["timestamp"])
        for product in statement.get("products", []):
            assert product.keys() <= {"@id", "identifiers", "hashes", "subcomponents"}
            for sub in product.get("subcomponents", []):
                assert sub.keys() <= {"@id", "identifiers", "hashes"}


def test_false_positives_export_as_schema_conformant_openvex():
    now = datetime(2026, 12, 1, tzinfo=UTC)
    fp, other = finding("CVE-2024-0001", "zlib1g"), finding("CVE-2024-0002", "tar")
    with_justification = decision(
        "CVE-2024-0001",
        "zlib1g",
        TriageState.FALSE_POSITIVE,
        justification=Justification.VULNERABLE_CODE_NOT_IN_EXECUTE_PATH,
        reason="never run",
    )
    without = decision("CVE-2024-0002", "tar", TriageState.FALSE_POSITIVE, reason="tar is not in the image")
    document = openvex(
        [(fp, with_justification), (other, without)],
        image_purl("mariadb", "sha256:" + "a" * 64),
        author="chainscan",
        now=now,
        version=3,
    )
    _check(document)
    assert document["version"] == 3 and "never run" in document["statements"][0]["status_notes"]
    assert document["statements"][1]["impact_statement"] == "tar is not in the image"
