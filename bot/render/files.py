"""The full report as a file (Markdown) for everything that does not fit in a message. Pure."""

from __future__ import annotations

import csv
import io

from workers.feeds.risk import finding_risk, ranking_available
from workers.report import ScanReport

from .blocks import base_line
from .format import counts_line, day, human_size


def report_markdown(report: ScanReport, alternative: ScanReport | None = None, comparison=None, applied=None) -> str:
    """The original's full report, with the team's decisions (decided findings listed apart, never hidden);
    with an alternative, its report and the comparison follow."""
    text = _one_report(report)
    if applied is not None and applied.decided:
        text += _decisions(report, applied)
    if alternative is not None and comparison is not None:
        text += f"\n# Switching to {alternative.image.reference}\n\n{comparison.verdict}\n"
        for name in ("removed", "kept", "added"):
            findings = getattr(comparison, name)
            text += f"\n## {name.capitalize()} ({len(findings)})\n\n"
            text += "".join(
                f"- {f.id} {f.package} {f.installed} ({f.severity}){' → ' + f.fixed if f.fixed else ''}\n"
                for f in findings
            )
        text += "\n" + _one_report(alternative)
    return text


def _one_report(report: ScanReport) -> str:
    image = report.image
    out = [
        f"# {image.reference}",
        "",
        f"- digest: `{image.digest}`",
        f"- OS: {image.os or 'not recognised'}; platform {image.platform or 'n/a'}",
        f"- size: {human_size(image.size_bytes)}; created {day(image.created)}",
        f"- Trivy DB: v{report.db.version}, updated {day(report.db.updated_at)}",
        f"- findings: {counts_line(report.counts, include_unknown=True)}",
        f"- fixable: {counts_line(report.fixable, include_unknown=True)}",
        "",
        "## Layers",
        "",
        "| # | created by | critical | high | medium | low | unknown |",
        "|---|---|---|---|---|---|---|",
    ]
    for layer in report.layers:
        c = layer.counts
        out.append(
            f"| {layer.index} | {_cell(layer.created_by or layer.diff_id)} | {c['critical']} | {c['high']} | {c['medium']} | {c['low']} | {c['unknown']} |"
        )
    if report.base:
        out.insert(8, f"- {base_line(report.base, report.total)}")
    if ranking_available(report):
        return "\n".join(out + _ranked_findings(report)) + "\n"
    out += [
        "",
        f"## Findings ({report.total})",
        "",
        "| id | severity | package | installed | fixed | status | CVSS | title |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for f in report.vulnerabilities:
        cvss = f"{f.cvss_score:.1f}" if f.cvss_score is not None else ""
        out.append(
            f"| {f.id} | {f.severity} | {_cell(f.package)} | {_cell(f.installed)} | {_cell(f.fixed or '')} | {f.status} | {cvss} | {_cell(f.title)} |"
        )
    return "\n".join(out) + "\n"


def _ranked_findings(report: ScanReport) -> list[str]:
    """Every finding, worst first by KEV, EPSS, severity, fixable, CVSS, with what KEV and EPSS say."""
    out = [
        "",
        f"## Findings ({report.total}), known exploited first, then by EPSS",
        "",
        "| id | severity | package | installed | fixed | KEV added | EPSS | percentile | CVSS | title |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for f in sorted(report.vulnerabilities, key=finding_risk):
        cvss = f"{f.cvss_score:.1f}" if f.cvss_score is not None else ""
        kev = (f.kev["date_added"] + (" (ransomware)" if f.kev["ransomware"] else "")) if f.kev else ""
        epss = (f"{f.epss['score']:.5f}", f"{f.epss['percentile']:.5f}") if f.epss else ("", "")
        out.append(
            f"| {f.id} | {f.severity} | {_cell(f.package)} | {_cell(f.installed)} | {_cell(f.fixed or '')} | {kev} "
            f"| {epss[0]} | {epss[1]} | {cvss} | {_cell(f.title)} |"
        )
    return out


def _decisions(report: ScanReport, applied) -> str:
    """The findings the team decided on: suppressed ones (counted apart from the open ones) and the rest."""
    suppressed = {id(f) for f, _ in applied.suppressed}
    out = [
        "",
        f"## Decided by the team ({len(applied.suppressed)} suppressed; open: "
        f"{counts_line(applied.open_counts, include_unknown=True)})",
        "",
        "| id | package | severity | state | by | until | reason |",
        "|---|---|---|---|---|---|---|",
    ]
    for finding in report.vulnerabilities:
        decision = applied.decided.get((finding.id, finding.package))
        if decision is None:
            continue
        state = decision.state.value + ("" if id(finding) in suppressed or not decision.suppressing else " (ended)")
        until = "a fix exists" if decision.until_fixed else decision.until or ""
        out.append(
            f"| {finding.id} | {_cell(finding.package)} | {finding.severity} | {state} | {_cell(decision.by)} "
            f"| {until} | {_cell(decision.reason or '')} |"
        )
    return "\n".join(out) + "\n"


def report_csv(report: ScanReport) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        [
            "id",
            "severity",
            "package",
            "installed",
            "fixed",
            "status",
            "cvss_score",
            "cvss_vector",
            "layer",
            "title",
            "url",
        ]
    )
    for f in report.vulnerabilities:
        writer.writerow(
            [
                f.id,
                f.severity,
                f.package,
                f.installed,
                f.fixed or "",
                f.status,
                f.cvss_score or "",
                f.cvss_vector or "",
                f.layer or "",
                f.title,
                f.url or "",
            ]
        )
    return buffer.getvalue()


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
