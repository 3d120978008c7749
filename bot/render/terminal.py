"""The report as terminal text, for ``python -m bot scan``. Pure."""

from __future__ import annotations

from workers.report import SEVERITIES, ScanReport

from .format import age, day, human_size, layer_label, short_counts, truncate
from .groups import group_findings, packages_count


def report_text(report: ScanReport, *, top: int = 20, width: int = 110) -> str:
    """Like ``docker scout quickview`` + ``cves``: a summary line, counts, layers, then the worst findings
    grouped by vulnerability and source package, in aligned columns that fit ``width``."""
    image = report.image
    groups = group_findings(report.vulnerabilities)
    fixable = sum(report.fixable.values())
    summary = (
        f"{report.total} vulnerabilities in {packages_count(report.vulnerabilities)} packages, {fixable} fixable"
        if report.total
        else "No known vulnerabilities"
    )
    lines = [
        image.reference,
        f"  {summary}",
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
        label_width = max(10, min(48, width - 40))
        lines += ["", "Layers (where the findings come from)"]
        for layer in report.layers:
            label = truncate(layer_label(layer.created_by, label_width), label_width)
            lines.append(
                f"  {layer.index:>2}  {label:<{label_width}}  {human_size(layer.size_bytes):>8}  "
                f"{short_counts(layer.counts)}"
            )
    if groups:
        shown = groups[:top]
        lines += ["", f"Worst findings ({len(shown)} of {len(groups)}, grouped by vulnerability and source package)"]
        lines += _table(shown, width)
        if len(groups) > len(shown):
            lines += [
                "",
                f"{len(groups) - len(shown)} more: --top {len(groups)} lists them all, --format json has every finding.",
            ]
    elif image.os:
        lines += ["", "No known vulnerabilities."]
    return "\n".join(lines)


def _table(groups, width: int) -> list[str]:
    """Aligned columns: id, severity, package, installed → fixed, CVSS; the advisory link on its own line."""
    id_w = max(len(g.id) for g in groups)
    pkg_w = min(36, max(len(g.package_label) for g in groups))
    rows = []
    for g in groups:
        fix = f"{g.first.installed} → {g.fixed}" if g.fixed else f"{g.first.installed} (no fix yet)"
        cvss = f"{g.cvss_score:4.1f}" if g.cvss_score is not None else "   -"
        row = f"  {g.id:<{id_w}}  {g.severity:<8}  {truncate(g.package_label, pkg_w):<{pkg_w}}  {cvss}  {fix}"
        rows.append(truncate(row, width))
        if g.url:
            rows.append(truncate(f"  {'':<{id_w}}  {g.url}", width))
    return rows


def pair_text(result, *, top: int = 20, width: int = 110) -> str:
    """The original's report, then the alternative and what switching changes."""
    out = [report_text(result.report, top=top, width=width)]
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
