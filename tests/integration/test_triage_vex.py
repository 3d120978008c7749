"""Triage exports read back by the real Trivy: its counts with ``--vex`` and ``--ignorefile`` equal ``apply``'s.

Trivy reads the wall clock for ``expired_at``, so these tests take ``now`` from it too, at the edge.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from tests.helpers.fixtures import run_trivy, trivy_scan_json
from workers.report import DbInfo, normalize
from workers.triage.apply import apply
from workers.triage.model import Decision, Justification, TriageState
from workers.triage.vex import image_purl, openvex, trivyignore

pytestmark = pytest.mark.integration


def scanned(trivy_cache_dir, reference: str):
    data = trivy_scan_json(trivy_cache_dir, reference)
    digest = data["Metadata"]["RepoDigests"][0].split("@", 1)[1]
    return normalize(data, reference=reference, digest=digest, db=DbInfo(2, None))


def trivy_with(trivy_cache_dir, tmp_path, reference: str, vex: dict, ignore: str) -> dict:
    (tmp_path / "openvex.json").write_text(json.dumps(vex))
    (tmp_path / "trivyignore.yaml").write_text(ignore)
    extra = (
        "--vex",
        str(tmp_path / "openvex.json"),
        "--ignorefile",
        str(tmp_path / "trivyignore.yaml"),
        "--show-suppressed",
    )
    completed = run_trivy(trivy_cache_dir, reference, extra_args=extra)
    assert completed.returncode == 0, completed.stderr[-2000:]
    return json.loads(completed.stdout)


def counts_of(trivy: dict) -> dict[str, int]:
    found = Counter(v["Severity"].lower() for r in trivy.get("Results") or [] for v in r.get("Vulnerabilities") or [])
    return {severity: n for severity, n in found.items() if n}


def suppressed_of(trivy: dict) -> set[tuple[str, str, str]]:
    return {
        (m["Finding"]["VulnerabilityID"], m["Finding"]["PkgName"], m["Status"])
        for r in trivy.get("Results") or []
        for m in r.get("ExperimentalModifiedFindings") or []
    }


def test_trivy_reading_our_exports_agrees_with_apply(registry, test_images, trivy_cache_dir, tmp_path):
    reference = f"{registry}/library/mariadb:latest"
    report = scanned(trivy_cache_dir, reference)
    now = datetime.now(UTC)
    soon, past = (now + timedelta(days=20)).date().isoformat(), (now - timedelta(days=1)).date().isoformat()

    def decided(vuln, package, state, **kwargs):
        repository = f"{registry}/library/mariadb"
        return Decision("T1", repository, vuln, package, state, "U1", "2025-03-01T09:00:00Z", **kwargs)

    decisions = [
        decided(
            "CVE-2024-5535",
            "openssl",
            TriageState.FALSE_POSITIVE,
            reason="not linked",
            justification=Justification.VULNERABLE_CODE_NOT_IN_EXECUTE_PATH,
        ),  # libssl3 has it too, stays open
        decided("CVE-2024-2961", "libc6", TriageState.ACCEPTED, reason="iconv unused", until=soon),
        decided("CVE-2023-45853", "zlib1g", TriageState.ACCEPTED, reason="minizip unused", until_fixed=True),
        decided("CVE-2024-37371", "libkrb5-3", TriageState.ACCEPTED, reason="r", until_fixed=True),  # has a fix
        decided("CVE-2023-7104", "libsqlite3-0", TriageState.ACCEPTED, reason="r", until=past),  # expired
        decided("CVE-2023-31486", "perl", TriageState.ACKNOWLEDGED),
        decided(
            "CVE-2024-2398",
            "libcurl4",
            TriageState.FALSE_POSITIVE,
            digest="sha256:" + "0" * 64,
            justification=Justification.COMPONENT_NOT_PRESENT,
        ),  # another image
    ]
    applied = apply(report, decisions, now)
    assert len(applied.suppressed) == 3 and len(applied.expired) == 2

    vex = openvex(applied.suppressed, image_purl(reference, report.image.digest), author="chainscan", now=now)
    trivy = trivy_with(trivy_cache_dir, tmp_path, reference, vex, trivyignore(applied.suppressed, now))

    assert counts_of(trivy) == {severity: n for severity, n in applied.open_counts.items() if n}
    ours = {
        (f.id, f.package, "not_affected" if d.state is TriageState.FALSE_POSITIVE else "ignored")
        for f, d in applied.suppressed
    }
    assert suppressed_of(trivy) == ours


def test_a_statement_for_docker_hubs_image_never_matches_chainguards(registry, test_images, trivy_cache_dir, tmp_path):
    reference = f"{registry}/chainguard/mariadb:latest"
    report = scanned(trivy_cache_dir, reference)
    now = datetime.now(UTC)
    libssl = next(f for f in report.vulnerabilities if (f.id, f.package) == ("CVE-2024-5535", "libssl3"))
    fp = Decision(
        "T1",
        f"{registry}/chainguard/mariadb",
        libssl.id,
        libssl.package,
        TriageState.FALSE_POSITIVE,
        "U1",
        "2025-03-01T09:00:00Z",
        justification=Justification.COMPONENT_NOT_PRESENT,
    )
    for product, expected in [
        (image_purl(f"{registry}/library/mariadb"), set()),
        (image_purl(reference), {("CVE-2024-5535", "libssl3", "not_affected")}),
    ]:
        vex = openvex([(libssl, fp)], product, author="chainscan", now=now)
        assert suppressed_of(trivy_with(trivy_cache_dir, tmp_path, reference, vex, "vulnerabilities: []\n")) == expected
