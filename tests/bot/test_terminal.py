"""The terminal report, as good as ``docker scout quickview`` + ``cves``: a summary line, grouped findings with
advisory links, aligned columns within the terminal's width, readable layers, and a hint for the rest. Pure."""

from __future__ import annotations

from bot.render.terminal import report_text
from tests.bot.render.test_snapshots import _findings, _report


def test_the_report_leads_with_a_summary_line_and_groups_binary_packages():
    report = _report("docker.io/library/mariadb:latest", _findings(30))
    text = report_text(report, top=10, width=100)
    lines = text.splitlines()
    assert lines[1].strip().startswith(f"{report.total} vulnerabilities in ") and "fixable" in lines[1]
    assert "glibc (libc6, libc-bin)" in text and "https://nvd.nist.gov/vuln/detail/" in text
    assert "base filesystem (ADD)" in text and "331 MB" in text
    assert "--top" in lines[-1] and "--format json" in lines[-1]
    assert all(len(line) <= 100 for line in lines)


def test_rows_are_aligned_columns():
    report = _report("docker.io/library/mariadb:latest", _findings(12))
    rows = [line for line in report_text(report, top=12, width=120).splitlines() if line.startswith("  CVE-")]
    severity_columns = {row.index(row.split()[1]) for row in rows}
    assert len(severity_columns) == 1
