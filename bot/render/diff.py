"""An :class:`workers.diff.ImageDiff` for a terminal (``python -m bot diff``) and for a Slack thread
(``/scan diff``). Pure. In Slack every value from a report (package names, versions, instructions) goes
through :mod:`bot.render.slack_text`, so nothing a registry or an image says becomes markup.
"""

from __future__ import annotations

from bot.render.blocks import Message, _fit, context, section
from bot.render.format import counts_line, human_size, layer_label, short_counts, short_digest
from bot.render.slack_text import escape, mrkdwn
from workers.diff import ImageDiff, PackageChange
from workers.report import Finding

LISTED = 15  # findings listed per group in Slack; the CLI's JSON has them all
PACKAGES = 12  # package rows in Slack
GROUPS = (("fixed", "Fixed by the move"), ("kept", "Still there"), ("brought", "New in B"))


def diff_text(d: ImageDiff, *, top: int = 20) -> str:
    """The terminal's diff: the sentence, both images, counts per group, packages, base and layers."""
    out = [d.verdict, ""]
    for label, side in (("A", d.before), ("B", d.after)):
        out.append(f"{label}  {side.reference}  {short_digest(side.digest)}  {side.os or 'os not recognised'}")
        out.append(f"   {human_size(side.size_bytes)}, {side.layers} layer(s), {counts_line(side.counts)}")
    out.append("")
    for name, title in GROUPS:
        findings = getattr(d, name)
        out.append(f"{title}: {counts_line(d.counts[name])}")
        out += [f"  {_finding_text(f)}" for f in findings[:top]]
        if len(findings) > top:
            out.append(f"  …and {len(findings) - top} more (--format json lists them all)")
    out += ["", "By package (fixed / kept / brought):"]
    out += [f"  {_package_text(p)}" for p in d.packages]
    out += ["", _base_text(d), _layers_summary(d)]
    out += [f"  - {layer['index']:>2} {layer_label(layer['created_by'])}" for layer in d.layers.removed]
    out += [f"  + {layer['index']:>2} {layer_label(layer['created_by'])}" for layer in d.layers.added]
    return "\n".join(out)


def _finding_text(f: Finding) -> str:
    fix = f"→ {f.fixed}" if f.fixed else "(no fix)"
    return f"{f.severity:<8} {f.id:<18} {f.package} {f.installed} {fix}"


def _package_text(p: PackageChange) -> str:
    versions = p.before if p.before == p.after else f"{p.before or 'no finding in A'} → {p.after or 'no finding in B'}"
    return f"{p.package:<24} {p.fixed} / {p.kept} / {p.brought}  worst {p.worst}  {versions}"


def _base_text(d: ImageDiff) -> str:
    base = d.base
    if not base.changed:
        return f"Base image: the same ({base.before or 'not known'})."
    return f"Base image: {base.before or 'not known'} → {base.after or 'not known'}."


def _layers_summary(d: ImageDiff) -> str:
    layers = d.layers
    return f"Layers: {layers.shared} shared, {len(layers.removed)} only in A, {len(layers.added)} only in B."


def diff_message(d: ImageDiff, limit: int = LISTED) -> Message:
    """The thread reply of ``/scan diff``: the sentence, a section per group, packages, base and layers."""
    blocks = [section(mrkdwn("*{a}* → *{b}*\n{verdict}", a=d.before.reference, b=d.after.reference, verdict=d.verdict))]
    for name, title in GROUPS:
        findings = getattr(d, name)
        lines = [_finding_line(f) for f in findings[:limit]] or ["nothing"]
        if len(findings) > limit:
            lines.append(f"…and {len(findings) - limit} more (`python -m bot diff --format json` lists them all)")
        head = mrkdwn("*{title}* ({counts})", title=title, counts=counts_line(d.counts[name]))
        blocks.append(section(head + "\n" + "\n".join(lines)))
    rows = [_package_line(p) for p in d.packages[:PACKAGES]]
    if rows:
        blocks.append(section("*By package* (fixed / kept / brought)\n" + "\n".join(rows)))
    layer_lines = [
        mrkdwn("− `{n}` {what}", n=layer["index"], what=layer_label(layer["created_by"])) for layer in d.layers.removed
    ]
    layer_lines += [
        mrkdwn(
            "+ `{n}` {what} ({counts})",
            n=layer["index"],
            what=layer_label(layer["created_by"]),
            counts=short_counts(layer["counts"]),
        )
        for layer in d.layers.added
    ]
    blocks.append(context(escape(_base_text(d)) + "\n" + escape(_layers_summary(d)) + "\n" + "\n".join(layer_lines)))
    return _fit(Message(text=d.verdict, blocks=blocks))


def _finding_line(f: Finding) -> str:
    fix = mrkdwn(" → {fixed}", fixed=f.fixed) if f.fixed else ""
    return (
        mrkdwn(
            "• {id} `{package}` {installed} {severity}",
            id=f.id,
            package=f.package,
            installed=f.installed,
            severity=f.severity,
        )
        + fix
    )


def _package_line(p: PackageChange) -> str:
    versions = p.before if p.before == p.after else f"{p.before or 'no finding in A'} → {p.after or 'no finding in B'}"
    return mrkdwn(
        "• `{package}` {fixed} / {kept} / {brought}, worst {worst} ({versions})",
        package=p.package,
        fixed=p.fixed,
        kept=p.kept,
        brought=p.brought,
        worst=p.worst,
        versions=versions,
    )
