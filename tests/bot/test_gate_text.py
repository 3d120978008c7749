import re
from datetime import UTC, datetime

from bot.cli.gate import text
from workers.gate import Threshold, evaluate
from workers.triage.model import Justification, TriageState

from ..workers.triage.builders import decision, finding, report

NOW = datetime(2025, 3, 10, 12, tzinfo=UTC)
FINDINGS = [
    finding("CVE-2024-5535", "openssl", "critical", fixed="3.0.14"),
    finding("CVE-2023-45853", "zlib1g", "critical"),
]


def test_a_failing_gate_names_each_finding_in_aligned_columns():
    scanned = report(FINDINGS)
    lines = text(scanned, evaluate(scanned, [], Threshold(), NOW)).splitlines()
    assert lines[0] == "FAIL docker.io/library/mariadb:latest: 2 open at or above critical:"
    assert re.split(r"\s{2,}", lines[1].strip()) == ["CVE-2024-5535", "openssl", "1.0-1+b1", "3.0.14", "critical"]
    assert re.split(r"\s{2,}", lines[2].strip()) == ["CVE-2023-45853", "zlib1g", "1.0-1+b1", "(no fix)", "critical"]
    assert lines[1].index("openssl") == lines[2].index("zlib1g")


def test_a_passing_gate_says_the_threshold_and_how_many_triage_suppressed():
    scanned = report(FINDINGS[:1])
    fp = decision(
        "CVE-2024-5535", "openssl", TriageState.FALSE_POSITIVE, justification=Justification.COMPONENT_NOT_PRESENT
    )
    result = evaluate(scanned, [fp], Threshold("high", kev_only=True, epss_min=0.5), NOW)
    assert text(scanned, result) == (
        "PASS docker.io/library/mariadb:latest: nothing open at or above high in KEV with EPSS >= 0.5; 1 suppressed by triage."
    )
