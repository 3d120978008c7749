"""Counting requests and 5xx answers in the fault tiers, written to the terminal (no ``-s`` needed)."""

from __future__ import annotations

from collections import Counter


def report(request, tally: Counter, what: str) -> None:
    """One line on the terminal: ``what: N requests tried, M 5xx`` (with output capture suspended for it)."""
    plugins = request.config.pluginmanager
    reporter, capture = plugins.get_plugin("terminalreporter"), plugins.get_plugin("capturemanager")
    if reporter is None or capture is None:
        return
    with capture.global_and_fixture_disabled():
        reporter.ensure_newline()
        reporter.write_line(f"{what}: {tally['tried']} requests tried, {tally['5xx']} 5xx")
