"""The report as terminal text, for ``python -m bot scan``. Pure."""

from __future__ import annotations

from workers.report import SEVERITIES, ScanReport

from .format import age, day, human_size, short_counts, truncate


def report_text(report: ScanReport, *, top: int = 15, width: int = 110) -> str:
    image = report.image
    lines = [
        image.reference,
        f"  digest    {image.digest or 'unknown'}",
        f"  os        {image.os or 'not recognised (no OS packages scanned)'}"
        + (f"    platform {image.platform}" if image.platform else ""),
        f"  size      {human_size(image.size_bytes)}, {age(image.created)} ({day(image.created)})",
        f"  trivy db  v{report.db.version}, updated {day(report.db.updated_at)}" + ("    (cached result)" if report.cached else ""),
        "",
        "  " + "".join(f"{name:>10}" for name in ("", *SEVERITIES)),
        "  " + f"{'found':>10}" + "".join(f"{report.counts[name]:>10}" for name in SEVERITIES),
        "  " + f"{'fixable':>10}" + "".join(f"{report.fixable[name]:>10}" for name in SEVERITIES),
    ]
    if report.layers:
        lines += ["", "Layers (where the findings come from)"]
        for layer in report.layers:
            instruction = truncate(layer.created_by or layer.diff_id, 60)
            lines.append(f"  {layer.index:>2}  {instruction:<60}  {short_counts(layer.counts)}")
    if report.vulnerabilities:
        shown = report.vulnerabilities[:top]
        lines += ["", f"Worst findings ({len(shown)} of {report.total})"]
        for f in shown:
            fix = f"→ {f.fixed}" if f.fixed else f"(no fix: {f.status})"
            cvss = f"CVSS {f.cvss_score:.1f}" if f.cvss_score is not None else "CVSS n/a"
            head = f"  {f.id:<16} {f.severity.upper():<8} {f.package} {f.installed} {fix}  {cvss}"
            lines.append(truncate(f"{head}  {f.title}", width))
    elif image.os:
        lines += ["", "No known vulnerabilities."]
    return "\n".join(lines)
