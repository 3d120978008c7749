"""KEV and EPSS in what people read: the findings rows, the card, the terminal. Pure."""

from __future__ import annotations

from bot.render import blocks as render
from bot.render.findings import findings_blocks, rows_for
from bot.render.terminal import report_text
from workers.pair import PairResult
from workers.report import DbInfo, Finding, ImageInfo, Layer, ScanReport, tally

KEV = {"date_added": "2026-11-02", "due_date": "2026-11-23", "ransomware": False}
FEEDS = {"epss": {"date": "2026-12-04", "version": "v1", "loaded_at": None, "age_days": 1, "stale": False,
                  "error": None}, "kev": None}  # fmt: skip


def finding(ident: str, severity: str, *, kev=None, epss=None) -> Finding:
    return Finding(ident, "pkg", "1", "2", "fixed", severity, 5.0, None, "", None, "sha256:l1", kev=kev, epss=epss)


def report(*findings: Finding, feeds=FEEDS) -> ScanReport:
    counts, fixable = tally(findings)
    return ScanReport(
        ImageInfo("docker.io/library/app:1", "sha256:" + "d" * 64, "debian 12", 1, None),
        DbInfo(2, "2026-12-01T00:00:00Z"),
        counts,
        fixable,
        [Layer(1, "sha256:l1", "ADD file", 1)],
        list(findings),
        feeds=feeds,
    )


def test_a_known_exploited_low_is_listed_first_even_while_worse_findings_hide_the_lows():
    scanned = report(finding("CVE-1", "critical"), finding("CVE-2", "low", kev=KEV), finding("CVE-3", "low"))
    message, _ = findings_blocks(scanned, rows_for(scanned, None), top=20)
    texts = [b["text"]["text"] for b in message.blocks]
    assert texts[1] == "*Known exploited (CISA KEV)* (1)"
    assert texts[2].startswith("*low* <") and "|CVE-2>" in texts[2] and "🔥 KEV since 2026-11-02" in texts[2]
    assert "1 low or unrated finding not listed" in texts[0]  # CVE-3: counted, not listed


def test_epss_orders_within_the_rest_and_each_row_says_its_score():
    scanned = report(
        finding("CVE-1", "critical", epss={"score": 0.01, "percentile": 0.5, "date": "2026-12-04"}),
        finding("CVE-2", "medium", epss={"score": 0.6, "percentile": 0.99, "date": "2026-12-04"}),
    )
    message, _ = findings_blocks(scanned, rows_for(scanned, None), top=20)
    rows = [b["text"]["text"] for b in message.blocks[2:]]
    assert rows[0].startswith("*medium* <") and "|CVE-2>" in rows[0] and "EPSS 60.0%, 99.0th percentile" in rows[0]
    assert rows[1].startswith("*critical* <") and "|CVE-1>" in rows[1]


def test_with_no_feed_loaded_the_findings_say_ranking_data_is_unavailable():
    scanned = report(finding("CVE-1", "high"), feeds={"epss": None, "kev": None})
    message, _ = findings_blocks(scanned, rows_for(scanned, None), top=20)
    assert "Ranking data (KEV, EPSS) is unavailable" in message.blocks[0]["text"]["text"]
    assert message.blocks[1]["text"]["text"] == "*High* (1)"  # ordered and headed as before


def test_the_card_and_its_text_say_how_many_are_known_exploited():
    scanned = report(finding("CVE-1", "high", kev=KEV), finding("CVE-2", "high"))
    card = render.pair_card(PairResult(scanned, None, None, None, None))
    assert card.blocks[0]["text"]["text"].splitlines()[0].endswith("2 high open · 1 known exploited")
    assert card.text.startswith("app:1: 0 critical, 2 high open, 1 known exploited.")


def test_the_terminal_filters_by_kev_and_says_so():
    scanned = report(finding("CVE-1", "critical"), finding("CVE-2", "low", kev=KEV))
    text = report_text(scanned, kev_only=True)
    assert "Worst known exploited findings (1 of 1" in text and "CVE-1 " not in text
    assert "No known exploited findings among the 1." in report_text(report(finding("CVE-1", "high")), kev_only=True)
