"""Messages for Dockerfile builds: the card, the rewrite, the Dockerfile problems, failures. Pure."""

from __future__ import annotations

from .blocks import MAX_TOTAL_CHARS, Message, _fit, base_line, context, escape, image_line, section
from .format import truncate

SEVERITY_ICON = {"critical": "🔴", "high": "🟠", "medium": "🟡", "low": "⚪", "unknown": "⚪"}


def build_card(result, misconfig_count: int) -> Message:
    """Both builds side by side; ``result`` is a ``workers.pair.PairResult`` of the two builds."""
    lines = [image_line(result.report)]
    if result.alternative_report is not None:
        lines += [image_line(result.alternative_report), escape(result.comparison.verdict)]
    elif result.reason:
        lines.append(f"_Chainguard version: {escape(result.reason)}_")
    if result.report.base:
        lines.append(escape(base_line(result.report.base, result.report.total)))
    if misconfig_count:
        lines.append(
            f"Trivy found {misconfig_count} problem{'s' if misconfig_count != 1 else ''} in the Dockerfile itself (see the thread)."
        )
    text = f"Dockerfile build: {result.comparison.verdict}" if result.comparison else "Dockerfile build scanned."
    return Message(text=text, blocks=[section("\n".join(lines))])


def rewrite_message(rewrite: dict) -> Message:
    changes = rewrite.get("changes") or []
    lines = [f"*What the Chainguard version changes* ({len(changes)} line{'s' if len(changes) != 1 else ''})"]
    lines += [
        f"line {c['line']}: `{escape(truncate(c['old'].strip(), 120))}` → `{escape(truncate(c['new'].strip(), 120))}`"
        for c in changes
    ]
    lines += [
        f"line {u['line']}: kept `{escape(truncate(u['text'].strip(), 100))}` — {escape(u['reason'])}"
        for u in rewrite.get("unmapped") or []
    ]
    blocks = [section("\n".join(lines))]
    if rewrite.get("notes"):
        blocks.append(context("\n".join(f"Note: {escape(truncate(n, 300))}" for n in rewrite["notes"][:10])))
    return _fit(Message(text=f"The Chainguard version changes {len(changes)} lines.", blocks=blocks))


def misconfig_message(found: list[dict]) -> Message:
    if not found:
        return Message(
            text="No Dockerfile problems found.", blocks=[section("*Dockerfile checks*: Trivy found no problems.")]
        )
    lines = [f"*Dockerfile problems* ({len(found)}, from Trivy's misconfiguration checks; secret values are masked)"]
    for m in found[:20]:
        where = f"line {m['line']}" if m.get("line") else "whole file"
        ident = f"<{m['url']}|{escape(m['id'])}>" if m.get("url") else escape(m["id"])
        lines.append(
            f"{SEVERITY_ICON.get(m['severity'], '⚪')} {ident} *{m['severity'].upper()}* ({where}) {escape(m['title'])} — {escape(truncate(m['message'], 200))}"
        )
    return _fit(
        Message(
            text=f"{len(found)} Dockerfile problems", blocks=[section(truncate("\n".join(lines), MAX_TOTAL_CHARS // 3))]
        )
    )


def build_failure_message(sentence: str, log_tail: list[str]) -> Message:
    blocks = [section(f"⚠️ {escape(sentence)}")]
    if log_tail:
        blocks.append(
            section("Last lines of the build log:\n```" + escape(truncate("\n".join(log_tail), 2500)) + "```")
        )
    return Message(text=f"⚠️ {sentence}", blocks=blocks)
