import json

from bot.render import blocks as render
from bot.render.files import report_csv, report_markdown
from workers.report import DbInfo, Finding, ImageInfo, Layer, ScanReport, tally


def make_report(n: int, *, title_len: int = 60, os: str | None = "debian 12.5") -> ScanReport:
    severities = ["critical", "high", "medium", "low", "unknown"]
    findings = [
        Finding(
            id=f"CVE-2026-{i:05d}",
            package=f"pkg{i % 37}",
            installed="1.0-1",
            fixed="1.0-2" if i % 3 else None,
            status="fixed" if i % 3 else "affected",
            severity=severities[i % 5],
            cvss_score=(i % 100) / 10,
            cvss_vector=None,
            title=("<b>&" + "x" * title_len),
            url=None,
            layer="sha256:l1",
        )
        for i in range(n)
    ]
    counts, fixable = tally(findings)
    return ScanReport(
        image=ImageInfo(
            "docker.io/library/mariadb:latest",
            "sha256:" + "d" * 64,
            os,
            405_000_000,
            "2026-10-01T00:00:00Z",
            "linux/amd64",
        ),
        db=DbInfo(2, "2026-11-30T00:00:00Z"),
        counts=counts,
        fixable=fixable,
        layers=[Layer(i + 1, f"sha256:l{i}", f"RUN step {i} " + "y" * 200, 10) for i in range(80)],
        vulnerabilities=findings,
    )


def assert_within_slack_limits(message: render.Message) -> None:
    assert len(message.blocks) <= render.MAX_BLOCKS
    for block in message.blocks:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= render.MAX_SECTION_TEXT
            assert len(block.get("fields", [])) <= render.MAX_FIELDS
    assert len(json.dumps(message.blocks)) < 13000


def test_summary_card_leads_with_the_counts():
    card = render.summary_card(make_report(10))
    first_line = card.blocks[0]["text"]["text"].splitlines()[0]
    assert "2 critical · 2 high · 2 medium · 2 low" in first_line and "fixable" in first_line
    assert card.text.startswith("docker.io/library/mariadb:latest: 2 critical")


def test_huge_reports_stay_within_limits_and_say_the_rest_is_attached():
    report = make_report(620, title_len=400)
    message, overflow = render.findings_message(report, top=40)
    assert overflow
    assert_within_slack_limits(message)
    assert "of 620" in message.blocks[0]["text"]["text"] and "attached" in message.blocks[0]["text"]["text"]
    layers = render.layers_message(report)
    assert_within_slack_limits(layers)
    if layers.truncated:  # never silently: the message says so and the file gets attached
        assert layers.blocks[-1]["elements"][0]["text"] == render.CUT_NOTE


def test_small_report_fits_without_file():
    message, overflow = render.findings_message(make_report(5), top=20)
    assert not overflow and "showing 5 of 5" in message.blocks[0]["text"]["text"]


def test_threshold_and_only_fixed():
    message, _ = render.findings_message(make_report(50), severity="high", only_fixed=True)
    body = "\n".join(b["text"]["text"] for b in message.blocks[1:])
    assert "*MEDIUM*" not in body and "(no fix" not in body and "*CRITICAL*" in body


def test_user_text_is_escaped():
    message, _ = render.findings_message(make_report(3))
    body = message.blocks[1]["text"]["text"]
    assert "<b>" not in body and "&lt;b&gt;&amp;" in body


def test_no_os_and_clean_images_say_so():
    message, overflow = render.findings_message(make_report(0, os=None))
    assert "no OS packages" in message.text and not overflow
    message, _ = render.findings_message(make_report(0))
    assert message.text.startswith("No findings")


def test_full_report_files_have_every_finding():
    report = make_report(620)
    assert report_markdown(report).count("| CVE-2026-") == 620
    assert len(report_csv(report).splitlines()) == 621


def test_a_message_too_big_for_slack_says_what_was_cut():
    big = render.Message(text="x", blocks=[render.section("y" * 2900) for _ in range(60)])
    fitted = render._fit(big)
    assert fitted.truncated and fitted.blocks[-1]["elements"][0]["text"] == render.CUT_NOTE
    assert_within_slack_limits(fitted)
