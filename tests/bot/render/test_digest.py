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


def _glibc(package: str):
    from tests.workers.triage.builders import finding

    found = finding("CVE-2024-2961", package, "critical", fixed="2.36-9+deb12u7")
    found.source = "glibc"
    return found


def _composed(findings, previous=None):
    from tests.workers.triage.builders import report
    from workers.digests.contents import Observed, compose
    from workers.digests.trends import Sla
    from workers.triage.apply import apply

    scanned = report(findings)
    seen = Observed("docker.io/library/mariadb:latest", scanned, previous, {}, apply(scanned, [], MOMENT))
    return compose("2026-W49", [seen], [], MOMENT, Sla())[0]


def _text(message) -> str:
    return "\n".join(b.get("text", {}).get("text", "") or b["elements"][0]["text"] for b in message.blocks)


def test_matters_most_reads_as_the_thread_one_line_for_the_binary_packages_of_one_source():
    from bot.render.findings import base_text
    from workers.groups import group_findings

    findings = [_glibc("libc-bin"), _glibc("libc6")]
    text = _text(digest_message("C1", "2026-W49", MOMENT, _composed(findings), late=False))
    (thread_row,) = group_findings(findings)
    assert text.count("CVE-2024-2961") == 1 and "CVE-2024-2961 glibc (libc-bin, libc6) 1.0-1+b1 → 2.36" in text
    assert thread_row.package_label in base_text(thread_row)
    assert "2 critical · 0 high open" in text  # Trivy's count: one per binary package


def test_an_image_s_first_digest_says_baseline_and_never_new_this_week():
    text = _text(digest_message("C1", "2026-W49", MOMENT, _composed([_glibc("libc6")]), late=False))
    assert "baseline set" in text and "· current state" in text and "where the baseline is set" in text
    assert "new this week" not in text and "No change" not in text and "First digest of 1 image" in text
    from workers.digests.contents import Snapshot

    later = _composed([_glibc("libc6"), _glibc("libc-bin")], previous=Snapshot(None, None, ()))
    assert "new this week" in _text(digest_message("C1", "2026-W49", MOMENT, later, late=False))


def test_the_health_line_ends_every_digest_with_the_db_age_and_what_was_not_rescanned():
    from bot.render.digest import health_text
    from workers.digests.health import Health, Missed, NotRescanned

    fine = Health("2026-11-30T06:00:00+00:00", 3 * 3600, False, 4)
    assert health_text(fine) == "🩺 *Health*: DB updated 3 h ago · all 4 watched images rescanned this week"
    missed = [
        Missed("docker.io/library/nosuch:1", NotRescanned.SCAN_ERROR, "The image <!channel> does not exist."),
        Missed("ghcr.io/x/old:1", NotRescanned.OLDER_REPORT, "2026-11-20"),
    ]
    stale = health_text(Health("2026-11-21T09:00:00+00:00", 9 * 86400, True, 4, missed))
    assert stale.startswith("🩺 *Health*: ⚠️ DB updated 9 days ago: `python -m bot db update` refreshes it")
    assert "2 of 4 not rescanned this week: `nosuch:1` (could not be scanned: The image &lt;!channel&gt; does" in stale
    assert "`ghcr.io/x/old:1` (served from an older report, made 2026-11-20)" in stale
    assert "DB age unknown" in health_text(Health(images=1))
    digest = Digest("2026-W49", [_entry(1)], health=fine)
    last = digest_message("C1", "2026-W49", MOMENT, digest, late=False).blocks[-1]
    assert last["elements"][0]["text"] == health_text(fine)
    assert "## Health" in digest_markdown("C1", "2026-W49", MOMENT, digest)


def test_a_health_line_with_many_missed_images_names_a_few_and_the_file_names_them_all():
    from bot.render.digest import SHOWN_MISSED, health_text
    from workers.digests.health import Health, Missed, NotRescanned

    missed = [Missed(f"docker.io/team/s{i}:1", NotRescanned.SCAN_ERROR, "The tag does not exist.") for i in range(9)]
    health = Health(None, 60, False, 9, missed)
    assert health_text(health).count("could not be scanned") == SHOWN_MISSED and "and 4 more" in health_text(health)
    markdown = digest_markdown("C1", "2026-W49", MOMENT, Digest("2026-W49", [], health=health))
    assert all(f"team/s{i}:1" in markdown for i in range(9))


def test_ages_read_in_minutes_hours_then_days():
    from bot.render.format import ago

    assert [ago(s) for s in (0, 59, 600, 3 * 3600, 47 * 3600, 3 * 86400)] == [
        "just now",
        "just now",
        "10 min ago",
        "3 h ago",
        "47 h ago",
        "3 days ago",
    ]


def test_one_watched_image_rescanned_reads_as_one():
    from bot.render.digest import health_text
    from workers.digests.health import Health

    assert (
        health_text(Health(None, 600, False, 1))
        == "🩺 *Health*: DB updated 10 min ago · the watched image rescanned this week"
    )
