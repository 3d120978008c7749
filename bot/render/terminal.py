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
        f"  trivy db  v{report.db.version}, updated {day(report.db.updated_at)}"
        + ("    (cached result)" if report.cached else ""),
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


def pair_text(result, *, top: int = 15) -> str:
    """The original's report, then the alternative and what switching changes."""
    out = [report_text(result.report, top=top)]
    mapping = result.mapping
    if result.alternative_report is None:
        if mapping is not None or result.reason:
            out += ["", f"Chainguard alternative: none scanned — {result.reason}."]
        if mapping:
            out += [f"  note: {note}" for note in mapping.notes]
        return "\n".join(out)
    alt, c = result.alternative_report, result.comparison
    out += [
        "",
        f"Chainguard alternative: {alt.image.reference}",
        f"  digest    {alt.image.digest}",
        f"  os        {alt.image.os or 'not recognised'}",
        f"  size      {human_size(alt.image.size_bytes)}, {age(alt.image.created)}, {len(alt.layers)} layer(s)",
        "  " + "".join(f"{name:>10}" for name in ("", *SEVERITIES)),
        "  " + f"{'found':>10}" + "".join(f"{alt.counts[name]:>10}" for name in SEVERITIES),
        "  " + f"{'fixable':>10}" + "".join(f"{alt.fixable[name]:>10}" for name in SEVERITIES),
        "",
        c.verdict,
        f"  removed by switching: {_list(c.removed)}",
        f"  still there:          {_list(c.kept)}",
        f"  new in the alternative: {_list(c.added)}",
    ]
    if mapping and mapping.tag_advice:
        out.append(f"  note: {mapping.tag_advice}")
    out += [f"  note: {note}" for note in (mapping.notes if mapping else [])]
    return "\n".join(out)


def alternative_text(alt) -> str:
    lines = [f"{alt.source.familiar} → {alt.reference or 'none'}"]
    if alt.reason:
        lines.append(f"  {alt.reason}")
    if alt.close_names:
        lines.append(f"  close names: {', '.join(alt.close_names)}")
    if alt.tag_advice:
        lines.append(f"  {alt.tag_advice}")
    lines += [f"  note: {note}" for note in alt.notes]
    lines.append(f"  free tier: {'yes' if alt.free_tier else 'no'}")
    return "\n".join(lines)


def _list(findings, limit: int = 8) -> str:
    if not findings:
        return "nothing"
    shown = ", ".join(f"{f.id} ({f.package}, {f.severity})" for f in findings[:limit])
    return shown + (f" and {len(findings) - limit} more" if len(findings) > limit else "")
