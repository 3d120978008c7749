"""The report as terminal text, for ``python -m bot scan``. Pure."""

from __future__ import annotations

from workers.feeds.risk import feeds_note, matches, ranking_available
from workers.groups import group_findings, packages_count
from workers.report import SEVERITIES, ScanReport
from workers.scan.layers import inconsistency_note

from .blocks import base_line, refresh_line
from .findings import risk_text
from .format import age, day, human_size, layer_label, short_counts, truncate


def report_text(
    report: ScanReport, *, top: int = 20, width: int = 110, kev_only: bool = False, epss_min: float | None = None
) -> str:
    """Like ``docker scout quickview`` + ``cves``: a summary line, counts, layers, then the worst findings
    grouped by vulnerability and source package, in aligned columns that fit ``width``. With the KEV and EPSS
    feeds joined, the worst come first by those, and ``kev_only`` / ``epss_min`` narrow the list."""
    image = report.image
    wanted = [f for f in report.vulnerabilities if matches(f, kev_only=kev_only, epss_min=epss_min)]
    groups = group_findings(wanted)
    filtered = ("known exploited " if kev_only else "") + (f"EPSS >= {epss_min:g} " if epss_min is not None else "")
    summary = _summary(report)
    lines = [
        image.reference,
        f"  {summary}",
        f"  digest    {image.digest or 'unknown'}",
        f"  os        {image.os or 'not recognised (no OS packages scanned)'}"
        + (f"    platform {image.platform}" if image.platform else ""),
        f"  size      {human_size(image.size_bytes)}, {age(image.created)} ({day(image.created)})",
        f"  trivy db  v{report.db.version}, updated {day(report.db.updated_at)}"
        + ("    (cached result)" if report.cached else ""),
        *_feeds_lines(report),
        *_base_lines(report),
        *_warning_lines(report),
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
        order = "known exploited first, then EPSS, then severity" if ranking_available(report) else "by severity"
        lines += [
            "",
            f"Worst {filtered}findings ({len(shown)} of {len(groups)}, grouped by vulnerability and source package, "
            f"{order})",
        ]
        lines += _table(shown, width, ranked=ranking_available(report))
        if len(groups) > len(shown):
            lines += [
                "",
                f"{len(groups) - len(shown)} more: --top {len(groups)} lists them all, --format json has every finding.",
            ]
    elif filtered and report.vulnerabilities:
        lines += ["", f"No {filtered}findings among the {report.total}."]
    elif image.os:
        lines += ["", "No known vulnerabilities."]
    return "\n".join(lines)


def _base_lines(report: ScanReport) -> list[str]:
    if not report.base:
        return []
    lines = [f"  base      {base_line(report.base, report.total).removeprefix('base: ')}"]
    refresh = refresh_line(report.base)
    return lines + ([f"            {refresh}"] if refresh else [])


def _feeds_lines(report: ScanReport) -> list[str]:
    """``  kev       2026-12-04 (1 day old) · epss 2026-12-04 …``, or the sentence saying ranking is unavailable."""
    if report.feeds is None:
        return []
    if not ranking_available(report):
        return [f"  ranking   {feeds_note(report)}"]
    parts = [
        f"{kind} of {value['date']}" + (f" ({value['age_days']} days old)" if value["stale"] else "")
        for kind, value in report.feeds.items()
        if value
    ]
    parts += [f"no {kind} data" for kind, value in report.feeds.items() if not value]
    return ["  ranking   " + ", ".join(parts)]


def _table(groups, width: int, *, ranked: bool = False) -> list[str]:
    """Aligned columns: id, severity, package, installed → fixed, CVSS; the advisory link on its own line, and
    ranked, what KEV and EPSS say on the next."""
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
        risk = risk_text(g.kev, g.epss).replace("🔥 ", "") if ranked else ""
        if risk:
            rows.append(truncate(f"  {'':<{id_w}}  {risk}", width))
    return rows


def _summary(report: ScanReport) -> str:
    if not report.total:
        return "No known vulnerabilities"
    fixable = sum(report.fixable.values())
    return f"{report.total} vulnerabilities in {packages_count(report.vulnerabilities)} packages, {fixable} fixable"


def _warning_lines(report: ScanReport) -> list[str]:
    return [f"  warning   {inconsistency_note(report.inconsistent_layers)}"] if report.inconsistent_layers else []


def pair_text(result, *, top: int = 20, width: int = 110, kev_only: bool = False, epss_min: float | None = None) -> str:
    """The original's report, then the alternative and what switching changes."""
    out = [report_text(result.report, top=top, width=width, kev_only=kev_only, epss_min=epss_min)]
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
