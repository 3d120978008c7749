"""Is anything the bot sent live Slack markup it did not mean to write? One assertion for every test that
feeds hostile text through the bot, over every call the Web API stand-in recorded."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

HOSTILE = "<!channel> <https://evil.example|apply the fix>"  # what a stranger names a package, a file, a reason

# markup the bot writes itself: a user, a channel, a configured user group, and links to Slack's own threads and to
# the advisory pages Trivy's DB names; any other link was not the bot's to make
_LINK_HOSTS = r"(slack\.com|[a-z0-9-]+\.slack\.com|avd\.aquasec\.com|nvd\.nist\.gov|github\.com|security-tracker\.debian\.org|www\.cve\.org)"
_BOT_MARKUP = re.compile(
    r"<@[UW][A-Z0-9]+>|<#C[A-Z0-9]+(\|[^<>]*)?>|<!subteam\^S[A-Z0-9]+>" + rf"|<https://{_LINK_HOSTS}/[^\s<>|]*\|[^<>]*>"
)
_MARKUP = re.compile(
    r"<@[UW][A-Z0-9]+>|<#C[A-Z0-9]+(\|[^<>]*)?>|<!subteam\^S[A-Z0-9]+>"
    r"|<https://(slack\.com|[a-z0-9-]+\.slack\.com|avd\.aquasec\.com|nvd\.nist\.gov|[a-z0-9.-]+)/[^\s<>|]*\|[^<>]*>"
)
_MARKUP = re.compile(r"<[^<>]*>")


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from strings(item)


def live_markup(text: str) -> list[str]:
    """Every markup token in ``text`` that is not one the bot writes."""
    return [m.group(0) for m in _MARKUP.finditer(text) if not _BOT_MARKUP.fullmatch(m.group(0))]


def assert_no_live_markup(calls: Iterable) -> None:
    """No recorded Web API call (nor response_url post) carries a live mention or link the bot did not write."""
    seen = []
    for call in calls:
        for text in strings(call.params):
            seen += [(call.method, token) for token in live_markup(text)]
    assert not seen, f"live markup reached Slack: {seen[:5]}"
