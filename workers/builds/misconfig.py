"""Dockerfile problems found by Trivy's misconfiguration scanner (``trivy config``).

Trivy's embedded checks run offline. We keep id, severity, title, message and
line; the code excerpt Trivy returns is dropped (it would carry secret values),
and every text is masked anyway.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workers.builds.secrets import scrub, secret_values
from workers.report import SEVERITIES
from workers.scan import trivy


@dataclass
class Misconfiguration:
    id: str
    severity: str
    title: str
    message: str
    line: int | None
    url: str | None


def parse(output: dict[str, Any], dockerfile: str) -> list[Misconfiguration]:
    """Failed checks from ``trivy config --format json``, worst first, masked. Pure."""
    secrets = secret_values(dockerfile)
    found = [
        Misconfiguration(
            id=m.get("ID") or m.get("AVDID") or "?",
            severity=str(m.get("Severity") or "UNKNOWN").lower(),
            title=scrub(m.get("Title") or "", secrets),
            message=scrub(m.get("Message") or "", secrets),
            line=(m.get("CauseMetadata") or {}).get("StartLine") or None,
            url=m.get("PrimaryURL"),
        )
        for result in output.get("Results") or []
        for m in result.get("Misconfigurations") or []
        if m.get("Status", "FAIL") == "FAIL"
    ]
    rank = {name: i for i, name in enumerate(SEVERITIES)}
    return sorted(found, key=lambda m: (rank.get(m.severity, 9), m.line or 0, m.id))


def scan_dockerfile(dockerfile: str, *, trivy_bin: str, timeout: int = 120) -> list[Misconfiguration]:
    with tempfile.TemporaryDirectory(prefix="chainscan-df-") as tmp:
        Path(tmp, "Dockerfile").write_text(dockerfile)
        args = [trivy_bin, "config", "--format", "json", "--quiet", "--skip-check-update", tmp]
        output = trivy.run_json(args, timeout=timeout, what="the Dockerfile")
    return parse(output, dockerfile)
