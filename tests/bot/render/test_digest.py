"""The digest message within Slack's limits, its Markdown file, and the trend chart as a real PNG. Pure."""

import io
import struct
from datetime import UTC, datetime

from PIL import Image

from bot.render.blocks import MAX_BLOCKS, MAX_SECTION_TEXT, MAX_TOTAL_CHARS
from bot.render.chart import trend_chart
from bot.render.digest import CUT_NOTE, digest_markdown, digest_message
from workers.digests.contents import Digest, ImageEntry
from workers.digests.priorities import Priority
from workers.digests.trends import WeekCounts

MOMENT = datetime(2026, 11, 30, 9, tzinfo=UTC)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _entry(i: int) -> ImageEntry:
    counts = {"critical": i % 3, "high": i % 7, "medium": 0, "low": 0, "unknown": 0}
    return ImageEntry(f"registry.example.com/team/service-{i:03d}-{'x' * 120}:1.{i}", counts, counts)


def _priority(i: int) -> Priority:
    return Priority(f"img-{i}", f"CVE-2026-{i:04d}", "libfoo", "critical", "1.0", "1.1", "2026-11-01", 29, True, "open")


def test_a_digest_that_fits_is_whole_and_says_where_the_chart_is():
    digest = Digest("2026-W49", [_entry(1)], top=[_priority(1)], weeks={"a": {"2026-W49": WeekCounts(1, 1, 1, 1)}})
    message = digest_message("C1", "2026-W49", MOMENT, digest, late=False)
    text = str(message.blocks)
    assert not message.truncated and "Matters most" in text and "first seen 29 days ago" in text
    assert "past SLA" in text and "chart is in the thread" in text


def test_a_digest_too_big_for_slack_is_cut_within_its_limits_and_says_the_file_has_it_all():
    digest = Digest("2026-W49", [_entry(i) for i in range(50)], top=[_priority(i) for i in range(20)])
    message = digest_message("C1", "2026-W49", MOMENT, digest, late=False)
    assert message.truncated and message.blocks[-2]["elements"][0]["text"] == CUT_NOTE
    assert message.blocks[-1]["elements"][0]["text"].startswith("🩺 *Health*")  # the health line stays last
    assert len(message.blocks) <= MAX_BLOCKS and message.size() <= MAX_TOTAL_CHARS
    assert all(len(b["text"]["text"]) <= MAX_SECTION_TEXT for b in message.blocks if b["type"] == "section")
    markdown = digest_markdown("C1", "2026-W49", MOMENT, digest)
    assert all(e.reference.removeprefix("docker.io/library/") in markdown for e in digest.entries)
    assert markdown.count("CVE-2026-") == 20


def _png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == PNG_SIGNATURE and png[12:16] == b"IHDR"
    return struct.unpack(">II", png[16:24])


def test_the_trend_chart_is_a_png_of_sane_size_with_a_line_per_image():
    history = {
        f"docker.io/library/img{i}:1": {
            p: WeekCounts(i, i + w, i, i + w) for w, p in enumerate(["2026-W47", "2026-W48", "2026-W49"])
        }
        for i in range(12)
    }
    chart = trend_chart(history, "2026-W49")
    assert _png_size(chart.png) == (900, 500) and 10_000 < len(chart.png) < 500_000
    assert chart.weeks == 3 and "the 8 worst of 12 watched images over 3 weeks" in chart.description
    assert Image.open(io.BytesIO(chart.png)).text["Description"] == chart.description


def test_one_week_of_history_gives_a_chart_that_says_so():
    chart = trend_chart({"docker.io/library/mariadb:latest": {"2026-W49": WeekCounts(2, 5, 1, 5)}}, "2026-W49")
    assert _png_size(chart.png) == (900, 500) and chart.weeks == 1
    assert chart.description.startswith("One week of history so far")
    assert Image.open(io.BytesIO(chart.png)).text["Description"] == chart.description
