"""A look at the real thing: the card and the thread's blocks for a few kinds of image, as golden files that
a reviewer reads when they change (``UPDATE_GOLDEN=1 python -m pytest tests/bot/render`` rewrites them), and
checks that every card line fits a 390-px phone before Slack wraps it."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.render import blocks as render
from bot.render.findings import findings_blocks, rows_for
from workers.chainguard.alternatives import REASON_PAID, ChainguardMapping, Status
from workers.pair import combine
from workers.reference import parse_reference
from workers.report import DbInfo, Finding, ImageInfo, Layer, ScanReport, tally
from workers.scan.queue import Outcome
from workers.triage.apply import apply
from workers.triage.model import Decision, TriageState

GOLDEN = Path(__file__).parent / "golden"
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
PHONE_LINE = render.CARD_LINE

PACKAGES = [
    ("libc6", "glibc"),
    ("libc-bin", "glibc"),
    ("curl", "curl"),
    ("libcurl4", "curl"),
    ("openssl", "openssl"),
    ("libssl3", "openssl"),
    ("zlib1g", "zlib"),
    ("perl-base", "perl"),
    ("tar", "tar"),
    ("gzip", "gzip"),
]
SEVERITIES = ["critical", "high", "high", "medium", "medium", "low", "low", "low", "unknown"]


def _findings(n: int) -> list[Finding]:
    found = []
    for i in range(n):
        package, source = PACKAGES[(i // 2) % len(PACKAGES)] if i % 2 == 0 else PACKAGES[((i // 2) % len(PACKAGES))]
        for binary, src in [(package, source)] if source == package else [(p, s) for p, s in PACKAGES if s == source]:
            found.append(
                Finding(
                    id=f"CVE-2026-{1000 + i:05d}",
                    package=binary,
                    installed="1.2-3",
                    fixed="1.2-4" if i % 3 else None,
                    status="fixed" if i % 3 else "affected",
                    severity=SEVERITIES[i % len(SEVERITIES)],
                    cvss_score=[9.8, 7.5, None][i % 3],
                    cvss_vector=None,
                    title=f"Issue {i} in {src}",
                    url=None,
                    layer="sha256:l2",
                    source=src,
                    purl=f"pkg:deb/debian/{binary}@1.2-3",
                )
            )
    return found


def _report(reference: str, findings: list[Finding], *, os_name: str | None = "debian 12.8") -> ScanReport:
    counts, fixable = tally(findings)
    layers = [
        Layer(1, "sha256:l1", "ADD file:0123456789abcdef0123 in / ", 74_000_000, dict.fromkeys(counts, 0)),
        Layer(2, "sha256:l2", "RUN set -eux; apt-get update && apt-get install -y mariadb-server", 331_000_000, counts),
        Layer(
            3,
            "sha256:l3",
            "COPY dir:7d35ba8a0d6c2ef5aaaaaaaaaaaaaaaa in /docker-entrypoint-initdb.d ",
            4_096,
            dict.fromkeys(counts, 0),
        ),
    ]
    return ScanReport(
        image=ImageInfo(reference, "sha256:" + "d" * 64, os_name, 405_000_000, "2026-10-20T00:00:00Z", "linux/amd64"),
        db=DbInfo(2, "2026-11-30T06:00:00Z"),
        counts=counts,
        fixable=fixable,
        layers=layers,
        vulnerabilities=findings,
    )


def _mapping(status: Status, reference: str | None, reason: str | None = None) -> ChainguardMapping:
    return ChainguardMapping(
        source=parse_reference("mariadb"),
        reference=parse_reference(reference) if reference else None,
        image_name="mariadb",
        free_tier=status is Status.MAPPED,
        status=status,
        tag="latest",
        reason=reason,
    )


def _accepted(report: ScanReport) -> Decision:
    worst = report.vulnerabilities[0]
    return Decision(
        team="T1",
        repository="docker.io/library/mariadb",
        vulnerability=worst.id,
        package=worst.package,
        state=TriageState.ACCEPTED,
        by="U0ANA",
        at="2026-11-20T10:00:00+00:00",
        reason="only used in the build stage",
        until="2027-03-01",
        version=1,
    )


def _cases():
    few = _report("docker.io/library/mariadb:latest", _findings(9))
    many = _report("docker.io/library/mariadb:latest", _findings(300))
    clean = _report("docker.io/library/mariadb:latest", [])
    alternative = _report("cgr.dev/chainguard/mariadb:latest", _findings(2)[1:])
    mapped = _mapping(Status.MAPPED, "cgr.dev/chainguard/mariadb:latest")
    yield "few_with_alternative", combine(few, mapped, Outcome(report=alternative)), [_accepted(few)]
    yield (
        "hundreds_no_alternative",
        combine(many, _mapping(Status.UNKNOWN, None, "no known Chainguard equivalent"), None),
        [],
    )
    yield "no_findings", combine(clean, mapped, Outcome(report=_report("cgr.dev/chainguard/mariadb:latest", []))), []
    yield "paid_alternative", combine(few, _mapping(Status.PAID, None, REASON_PAID), None), []
    ranked = _ranked(_report("docker.io/library/mariadb:latest", _findings(9)))
    yield "ranked_with_base", combine(ranked, mapped, Outcome(report=alternative)), []


def _ranked(report: ScanReport) -> ScanReport:
    """The feeds joined (one high in KEV, EPSS scores on a few) and an outdated base named by its labels."""
    scores = {"CVE-2026-01001": (0.94, 0.998), "CVE-2026-01003": (0.41, 0.97), "CVE-2026-01000": (0.002, 0.41)}
    for finding in report.vulnerabilities:
        if finding.id == "CVE-2026-01001":
            finding.kev = {"date_added": "2026-11-02", "due_date": "2026-11-23", "ransomware": True}
        if finding.id in scores:
            score, percentile = scores[finding.id]
            finding.epss = {"score": score, "percentile": percentile, "date": "2026-11-30"}
    fresh = {"date": "2026-11-30", "version": "v1", "loaded_at": None, "age_days": 1, "stale": False, "error": None}
    report.feeds = {"epss": fresh, "kev": {**fresh, "age_days": 5, "stale": True}}
    base_counts = {"critical": 1, "high": 2, "medium": 1, "low": 2, "unknown": 0}
    report.base = {"name": "docker.io/library/debian:12", "digest": "sha256:" + "b" * 64, "layers": 1,
                   "counts": base_counts, "source": "annotation",
                   "refresh": {"current_digest": "sha256:" + "c" * 64, "removes": 2,
                               "counts": {"critical": 0, "high": 1, "medium": 1, "low": 0, "unknown": 0}}}  # fmt: skip
    return report


def _thread(name, result, decisions):
    applied = apply(result.report, decisions, NOW)
    card = render.pair_card(result, applied, findings_link="https://example.slack.com/archives/C1/p1", now=NOW)
    rows = rows_for(result.report, applied)
    rows = [
        replace(r, key=f"t1:{i:012x}" if r.group.severity in ("critical", "high") else None) for i, r in enumerate(rows)
    ]
    findings, _ = findings_blocks(result.report, rows, top=20)
    return {
        "card": {"text": card.text, "blocks": card.blocks},
        "layers": render.layers_message(result.report).blocks,
        "findings": {"text": findings.text, "blocks": findings.blocks},
    }


CASES = list(_cases())


@pytest.mark.parametrize("name, result, decisions", CASES, ids=[c[0] for c in CASES])
def test_thread_blocks_match_their_golden_file(name, result, decisions):
    rendered = json.loads(json.dumps(_thread(name, result, decisions)))
    path = GOLDEN / f"{name}.json"
    if os.environ.get("UPDATE_GOLDEN") or not path.exists():
        path.write_text(json.dumps(rendered, indent=2, ensure_ascii=False) + "\n")
    assert rendered == json.loads(path.read_text()), f"{path.name} changed: review it, then UPDATE_GOLDEN=1"


def test_a_failure_card_matches_its_golden_file():
    message = render.error_message("mariadb:11.9", "Could not find mariadb:11.9: the tag does not exist.")
    rendered = {"text": message.text, "blocks": message.blocks}
    path = GOLDEN / "failure.json"
    if os.environ.get("UPDATE_GOLDEN") or not path.exists():
        path.write_text(json.dumps(rendered, indent=2, ensure_ascii=False) + "\n")
    assert rendered == json.loads(path.read_text())


@pytest.mark.parametrize("name, result, decisions", CASES, ids=[c[0] for c in CASES])
def test_every_card_line_fits_a_phone(name, result, decisions):
    card = _thread(name, result, decisions)["card"]
    for block in card["blocks"]:
        if block["type"] == "section":
            for line in block["text"]["text"].splitlines():
                shown = _as_shown(line)
                assert len(shown) <= PHONE_LINE, f"{len(shown)} characters: {shown}"


def test_the_fallback_text_reads_aloud():
    name, result, decisions = CASES[0]
    text = _thread(name, result, decisions)["card"]["text"]
    assert text[0].isalnum() and "*" not in text and "·" not in text


def test_the_card_counts_decided_findings_apart():
    name, result, decisions = CASES[0]
    card = json.dumps(_thread(name, result, decisions)["card"])
    assert "(1 accepted)" in card


def test_rows_name_binary_packages_once_and_lows_are_counted_not_listed():
    name, result, decisions = CASES[1]
    findings = json.dumps(_thread(name, result, decisions)["findings"])
    assert "glibc (libc6, libc-bin)" in findings
    assert "low or unrated finding" in findings and "*Low*" not in findings


def _as_shown(mrkdwn: str) -> str:
    """What Slack draws: ``<url|label>`` shows its label, ``*bold*`` and backticks are not drawn."""
    import re

    text = re.sub(r"<[^|>]+\|([^>]+)>", r"\1", mrkdwn)
    return text.replace("*", "").replace("`", "").replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")


def test_the_report_file_lists_every_finding_known_exploited_first_with_the_base():
    from bot.render.files import report_markdown

    name, result, _ = CASES[-1]
    text = report_markdown(result.report)
    rows = [line for line in text.splitlines() if line.startswith("| CVE-")]
    assert len(rows) == result.report.total  # every finding, none dropped by ranking
    assert rows[0].startswith("| CVE-2026-01001 | high |") and "2026-11-02 (ransomware) | 0.94000 | 0.99800" in rows[0]
    assert "- base: debian:12 (layer 1) brings 6 of 15 findings\n\n## Layers" in text


def test_a_long_base_name_still_fits_a_phone_line():
    base = {"name": "registry.example.com/platform/images/python-runtime-base:3.12.7-bookworm-20261201",
            "digest": None, "layers": 12, "counts": {"critical": 999, "high": 9999}, "source": "annotation"}  # fmt: skip
    assert len(render.base_line(base, 99999)) <= PHONE_LINE
