"""The CI gate with real parts: the real Trivy scanning the test images from the local registry, decisions
set with ``python -m bot triage set`` in the real Redis, the exit code and the SARIF read back."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from tests.helpers.schemas import SARIF, violations
from tests.integration.test_risk_flow import load_sample_feeds

pytestmark = pytest.mark.integration


def bot(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], capture_output=True, text=True, env=dict(os.environ), timeout=180
    )


def offending(*args: str) -> list[dict]:
    proc = bot("gate", "mariadb", "--format", "json", *args)
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)["offending"]


def test_open_criticals_fail_the_gate_and_are_named_on_stdout(engine_env, redis_client, test_images):
    proc = bot("gate", "mariadb")
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.startswith("FAIL ") and proc.stderr == ""
    rows = [re.split(r"\s{2,}", line.strip()) for line in proc.stdout.splitlines()[1:]]
    assert ["CVE-2024-5535", "openssl", "3.0.11-1~deb12u2", "3.0.14-1~deb12u1", "critical"] in rows
    found = offending()
    assert [(r[0], r[1]) for r in rows] == [(f["id"], f["package"]) for f in found]
    assert all(f["severity"] == "critical" for f in found)


def test_false_positives_on_every_critical_let_it_pass_and_sarif_carries_them_as_suppressions(
    engine_env, redis_client, test_images, tmp_path
):
    criticals = offending()
    for finding in criticals:
        set_fp = bot(
            "triage", "set", "mariadb", finding["id"], "--package", finding["package"], "--state", "false_positive",
            "--by", "U1", "--reason", "not shipped in production", "--justification", "component_not_present",
        )  # fmt: skip
        assert set_fp.returncode == 0, set_fp.stderr
    passed = bot("gate", "mariadb", "--format", "sarif", "--output", str(tmp_path / "gate.sarif"))
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert passed.stdout.startswith("PASS ") and f"{len(criticals)} suppressed by triage" in passed.stdout
    log = json.loads((tmp_path / "gate.sarif").read_text())
    assert violations(log, SARIF) == []
    suppressed = [r for r in log["runs"][0]["results"] if r.get("suppressions")]
    assert len(suppressed) == len(criticals)
    assert {s["justification"] for r in suppressed for s in r["suppressions"]} == {"not shipped in production"}
    assert bot("gate", "mariadb", "--fail-on", "high").returncode == 1  # the highs are still open


def test_kev_only_fails_on_the_known_exploited_finding_alone(engine_env, redis_client, test_images):
    load_sample_feeds(redis_client)
    assert {f["id"] for f in offending("--fail-on", "high", "--kev")} == {"CVE-2024-2961"}
    assert offending("--kev") == []  # KEV's one is high: nothing critical is known exploited
    assert bot("gate", "mariadb", "--kev").returncode == 0


def test_bad_input_and_a_scan_that_cannot_run_exit_two_with_one_sentence(engine_env, redis_client, test_images):
    for args in (("MariaDB;rm -rf /",), ("no-such-image-here:1",), ("mariadb", "--epss-min", "2")):
        proc = bot("gate", *args)
        assert proc.returncode == 2 and proc.stdout == "", (args, proc.stdout, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_several_workspaces_and_no_team_is_bad_input_and_team_picks_one(engine_env, redis_client, test_images):
    redis_client.sadd("chainscan:teams", "T1", "T2")
    unsure = bot("gate", "mariadb")
    assert unsure.returncode == 2 and "pass --team" in unsure.stderr and unsure.stdout == ""
    assert bot("gate", "mariadb", "--team", "T1").returncode == 1
