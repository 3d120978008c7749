"""KEV and EPSS from the feeds to the answer, with real parts: the sample feeds loaded into the real Redis, the
real Trivy scanning the test mariadb image, the CLI's JSON and the Slack thread. Counts stay Trivy's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from tests.helpers.feeds import epss_bytes, kev_bytes
from tests.integration.conftest import all_text, parent_and_replies, run_workers, scan, stored_report
from workers.feeds.parse import parse_epss, parse_kev
from workers.feeds.store import store_feed

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)


def load_sample_feeds(redis_client) -> None:
    store_feed(redis_client, parse_epss(epss_bytes()), source="test", now=NOW)
    store_feed(redis_client, parse_kev(kev_bytes()), source="test", now=NOW)


def cli_scan(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot", "scan", "mariadb", "--no-alternative", *args],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=180,
    )


def test_the_cli_json_carries_kev_and_epss_per_finding_and_the_feed_dates(engine_env, redis_client, test_images):
    load_sample_feeds(redis_client)
    proc = cli_scan("--format", "json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    glibc = next(v for v in data["vulnerabilities"] if v["id"] == "CVE-2024-2961")
    assert glibc["kev"] == {"date_added": "2025-05-07", "due_date": "2025-05-28", "ransomware": False}
    assert glibc["epss"] == {"score": 0.93117, "percentile": 0.99812, "date": "2026-12-04"}
    assert data["feeds"]["kev"]["date"] == "2026-12-04" and data["feeds"]["epss"]["version"] == "v2025.03.14"
    unknown = [v for v in data["vulnerabilities"] if v["id"] not in ("CVE-2024-2961", "CVE-2024-33599")]
    assert all(v["kev"] is None for v in unknown)
    assert sum(data["counts"].values()) == len(data["vulnerabilities"])  # Trivy's counts, every finding kept

    only_kev = json.loads(cli_scan("--format", "json", "--kev").stdout)
    assert {v["id"] for v in only_kev["vulnerabilities"]} == {"CVE-2024-2961"}
    assert only_kev["counts"] == data["counts"]  # filtering lists fewer, counts nothing differently


def test_the_cli_text_lists_the_known_exploited_first_and_filters_by_epss(engine_env, redis_client, test_images):
    load_sample_feeds(redis_client)
    text = cli_scan().stdout
    worst = text.split("Worst findings", 1)[1].splitlines()
    assert "known exploited first" in worst[0]
    assert worst[1].lstrip().startswith("CVE-2024-2961")
    assert "KEV since 2025-05-07" in text and "EPSS 93.1%, 99.8th percentile" in text
    narrowed = cli_scan("--epss-min", "0.5").stdout
    listed = narrowed.split("Worst EPSS >= 0.5 findings", 1)[1]
    assert "CVE-2024-2961" in listed and "CVE-2024-33599" not in listed


def test_without_feeds_the_cli_says_ranking_data_is_unavailable(engine_env, redis_client, test_images):
    data = json.loads(cli_scan("--format", "json").stdout)
    assert data["feeds"] == {"epss": None, "kev": None}
    assert all(v["kev"] is None and v["epss"] is None for v in data["vulnerabilities"])
    assert "Ranking data (KEV, EPSS) is unavailable" in cli_scan().stdout


def test_the_card_says_one_known_exploited_and_the_thread_lists_it_first(web, slack, redis_client, test_images):
    load_sample_feeds(redis_client)
    assert scan(web, slack, "mariadb").status_code == 200
    run_workers(redis_client)
    _, (parent, *replies) = parent_and_replies(slack)
    first_line = parent["blocks"][0]["text"]["text"].splitlines()[0]
    assert first_line.endswith("open · 1 known exploited")
    assert "1 known exploited" in parent["text"]
    findings = next(m for m in replies if "Worst findings" in all_text(m))
    texts = [b["text"]["text"] for b in findings["blocks"] if b["type"] == "section"]
    assert texts[1].startswith("*Known exploited (CISA KEV)* (")
    assert "CVE-2024-2961" in texts[2] and "🔥 KEV since 2025-05-07" in texts[2]
    report = stored_report(redis_client, "library/mariadb")
    assert report.feeds is None  # the cache keeps Trivy's report; the feeds are joined as it is shown


def test_kev_filters_the_slack_thread(web, slack, redis_client, test_images):
    load_sample_feeds(redis_client)
    assert scan(web, slack, "mariadb --kev --no-alternative").status_code == 200
    run_workers(redis_client)
    _, (_, *replies) = parent_and_replies(slack)
    findings = next(m for m in replies if "Worst findings" in all_text(m))
    listed = [b["text"]["text"] for b in findings["blocks"] if b.get("block_id", "").startswith("row:")]
    assert len(listed) == 1 and "CVE-2024-2961" in listed[0]


def test_a_ghsa_finding_gets_the_scores_of_its_cve_alias_through_the_real_trivy(
    engine_env, redis_client, test_images, tmp_path, monkeypatch
):
    from tests.helpers.trivydb import ADVISORIES, DEBIAN_12, VULNERABILITIES, Advisory, Vulnerability, build_trivy_db

    ghsa = "GHSA-4x5v-gmq8-25ch"
    build_trivy_db(
        tmp_path,
        advisories=[*ADVISORIES, Advisory(ghsa, DEBIAN_12, "zlib", vendor_ids=("CVE-2022-37434",))],
        vulnerabilities={**VULNERABILITIES, ghsa: Vulnerability(ghsa, "zlib: inflate overflow", "…", 9.8,
                         "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", vendor_severity={"nvd": "CRITICAL"})},
    )  # fmt: skip
    monkeypatch.setenv("TRIVY_CACHE_DIR", str(tmp_path))
    store_feed(redis_client, parse_epss(epss_bytes({"CVE-2022-37434": (0.61, 0.98)})), source="test", now=NOW)
    data = json.loads(cli_scan("--format", "json").stdout)
    finding = next(v for v in data["vulnerabilities"] if v["id"] == ghsa)
    assert finding["aliases"] == ["CVE-2022-37434"]  # Trivy's VendorIDs
    assert finding["epss"] == {"score": 0.61, "percentile": 0.98, "date": "2026-12-04"}
