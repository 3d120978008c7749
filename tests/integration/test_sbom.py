"""``python -m bot sbom`` with real parts: Trivy's SBOM of the test mariadb image, the sample feeds and a decision
in the real Redis; the output validates against the official CycloneDX 1.6 (and 1.7, what Trivy 0.76 declares)
and SPDX 2.3 schemas shipped as test data."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.helpers.schemas import CYCLONEDX, CYCLONEDX_1_7, SPDX, violations
from tests.integration.test_risk_flow import load_sample_feeds

pytestmark = pytest.mark.integration


def bot(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], capture_output=True, text=True, env=dict(os.environ), timeout=240
    )


def false_positive(vuln: str, package: str) -> None:
    proc = bot(
        "triage", "set", "mariadb", vuln, "--package", package, "--state", "false_positive", "--by", "U1",
        "--reason", "not linked", "--justification", "vulnerable_code_not_in_execute_path",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr


def test_cyclonedx_carries_kev_epss_and_the_teams_analysis_and_validates(
    engine_env, redis_client, test_images, tmp_path
):
    load_sample_feeds(redis_client)
    false_positive("CVE-2024-5535", "openssl")
    proc = bot("sbom", "mariadb", "--format", "cyclonedx", "--output", str(tmp_path / "bom.json"))
    assert proc.returncode == 0, proc.stderr
    bom = json.loads((tmp_path / "bom.json").read_text())
    assert bom["bomFormat"] == "CycloneDX" and bom["components"]
    assert violations(bom, CYCLONEDX) == [] and violations(bom, CYCLONEDX_1_7) == []
    glibc = next(v for v in bom["vulnerabilities"] if v["id"] == "CVE-2024-2961")
    assert {"name": "chainscan:kev", "value": "true"} in glibc["properties"]
    assert any(r.get("source", {}).get("name") == "FIRST EPSS" for r in glibc["ratings"])
    openssl = [v for v in bom["vulnerabilities"] if v["id"] == "CVE-2024-5535"]
    analysed = [v for v in openssl if "analysis" in v]
    assert len(analysed) == 1 and analysed[0]["bom-ref"] == "CVE-2024-5535:openssl"
    assert analysed[0]["analysis"] == {
        "state": "not_affected",
        "justification": "code_not_reachable",
        "detail": "not linked",
    }
    assert len(openssl) > 1  # libssl3 has it too, and stays without analysis


def test_spdx_json_annotates_packages_and_validates_against_spdx_2_3(engine_env, redis_client, test_images):
    load_sample_feeds(redis_client)
    false_positive("CVE-2024-5535", "openssl")
    proc = bot("sbom", "mariadb", "--format", "spdx-json")
    assert proc.returncode == 0, proc.stderr
    document = json.loads(proc.stdout)
    assert document["spdxVersion"] == "SPDX-2.3" and violations(document, SPDX) == []
    comments = [
        a["comment"]
        for p in document["packages"]
        for a in p.get("annotations") or []
        if a["annotator"] == "Tool: chainscan"
    ]
    assert any(c.startswith("CVE-2024-2961 (") and "in CISA KEV since 2025-05-07" in c for c in comments)
    assert any("triage false_positive: not linked" in c for c in comments)


def test_a_bad_image_name_is_one_sentence_and_status_two(engine_env, redis_client, test_images):
    proc = bot("sbom", "MariaDB;rm -rf /", "--format", "cyclonedx")
    assert proc.returncode == 2 and proc.stdout == "" and len(proc.stderr.strip().splitlines()) == 1


def test_scan_sbom_uploads_a_valid_cyclonedx_file_to_the_channel(web, slack, redis_client, test_images):
    from tests.integration.conftest import run_workers, scan

    assert "SBOM" in scan(web, slack, "sbom mariadb").json()["text"]
    run_workers(redis_client)
    (upload,) = [u for u in slack.uploads(completed_only=True) if u.filename.endswith(".cdx.json")]
    bom = json.loads(upload.content)
    assert bom["bomFormat"] == "CycloneDX" and violations(bom, CYCLONEDX) == []
    assert all(any(p["name"] == "chainscan:kev" for p in v["properties"]) for v in bom["vulnerabilities"])
