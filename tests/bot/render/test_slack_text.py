"""The one way untrusted text enters a Slack message (bot/render/slack_text.py). Pure."""

from __future__ import annotations

import pytest

from bot.render.slack_text import Mrkdwn, channel, defuse, defuse_payload, escape, group, link, mrkdwn, plain, user

HOSTILE = "<!channel> <https://evil.example|apply the fix> & co"


def test_escape_makes_every_markup_character_text():
    assert escape(HOSTILE) == "&lt;!channel&gt; &lt;https://evil.example|apply the fix&gt; &amp; co"


def test_text_the_bot_composed_is_not_escaped_twice():
    composed = mrkdwn("*{name}*", name="a&b")
    assert isinstance(composed, Mrkdwn) and escape(composed) == "*a&amp;b*"


def test_a_template_keeps_the_bots_markup_and_escapes_the_values():
    assert mrkdwn("{who} said `{what}`", who=user("U0ANA"), what=HOSTILE) == (
        "<@U0ANA> said `&lt;!channel&gt; &lt;https://evil.example|apply the fix&gt; &amp; co`"
    )


@pytest.mark.parametrize("bad", ["U0ANA> <!channel", "", "u0ana", "U 1"])
def test_a_mention_is_made_only_of_a_well_formed_id(bad):
    for make in (user, channel, group):
        assert "<" not in make(bad)


def test_good_ids_become_mentions():
    assert (user("U0ANA"), channel("C0OPS"), group("S0SEC")) == ("<@U0ANA>", "<#C0OPS>", "<!subteam^S0SEC>")


@pytest.mark.parametrize("url", ["javascript:alert(1)", "slack://open", "https://x.example/a b", None])
def test_a_link_is_live_only_for_a_plain_http_url(url):
    assert "<" not in link(url, "label")


def test_a_link_label_cannot_close_the_link_or_open_markup():
    made = link("https://nvd.nist.gov/vuln/detail/CVE-1", "x|<!here>")
    assert made == "<https://nvd.nist.gov/vuln/detail/CVE-1|x¦&lt;!here&gt;>"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<!channel> hi", "&lt;!channel> hi"),
        ("<!here>", "&lt;!here>"),
        ("<!everyone>", "&lt;!everyone>"),
        ("<!date^1392734382^{date}|x>", "&lt;!date^1392734382^{date}|x>"),
        ("<javascript:alert(1)|x>", "&lt;javascript:alert(1)|x>"),
        ("<!subteam^S0SEC> may decide", "<!subteam^S0SEC> may decide"),
        ("<@U0ANA> <https://slack.com/archives/C1/p1|thread>", "<@U0ANA> <https://slack.com/archives/C1/p1|thread>"),
    ],
)
def test_defuse_turns_markup_the_bot_never_writes_into_text(text, expected):
    assert defuse(text) == expected


def test_every_text_field_of_a_call_is_defused_blocks_and_views_included():
    payload = {
        "channel": "C1",
        "text": "<!channel>",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "<!here>"}}],
        "view": {"title": {"type": "plain_text", "text": "<!everyone>"}},
    }
    done = defuse_payload(payload)
    assert "<!" not in str(done) and done["channel"] == "C1"


def test_plain_text_fits_its_field():
    assert plain("Accept  risk\non CVE-2024-1234 in libc", 24) == "Accept risk on CVE-2024…"
    assert len(plain("x" * 100, 24)) == 24
