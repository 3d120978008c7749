"""The official JSON schemas shipped as test data (SARIF 2.1.0, CycloneDX 1.6 and 1.7, SPDX 2.3; SOURCES.md says where
each comes from), and a check that names every violation. Offline: CycloneDX's references resolve locally."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

SCHEMAS = Path(__file__).parent / "data" / "schemas"
SARIF = "sarif-schema-2.1.0.json"
CYCLONEDX = "bom-1.6.schema.json"
CYCLONEDX_1_7 = "bom-1.7.schema.json"  # what Trivy 0.76 says its output is
SPDX = "spdx-2.3.schema.json"


def _load(name: str) -> dict:
    return json.loads((SCHEMAS / name).read_text())


def _registry() -> Registry:
    resources = []
    for name in (
        "bom-1.6.schema.json",
        "bom-1.7.schema.json",
        "spdx.schema.json",
        "jsf-0.82.schema.json",
        "cryptography-defs.schema.json",
    ):
        schema = _load(name)
        resource = Resource.from_contents(schema, default_specification=DRAFT7)
        resources += [(schema["$id"], resource), (name, resource)]
    return Registry().with_resources(resources)


def violations(document: dict, schema_name: str) -> list[str]:
    """Every way ``document`` breaks the schema, as "path: message"; empty when it validates."""
    schema = _load(schema_name)
    validator_class = jsonschema.validators.validator_for(schema)
    validator = validator_class(schema, registry=_registry(), format_checker=validator_class.FORMAT_CHECKER)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]
