"""Slack text, the one way untrusted text gets into a message. Pure.

Slack parses ``text`` (and every ``mrkdwn`` object, and a message's fallback) for markup: ``<!channel>`` pings a
channel, ``<https://x|y>`` is a live link, ``<@U123>`` a mention. A package name, a registry's error, a file name
or a reason is text a stranger wrote, so it must reach Slack as text:

- :func:`escape` turns a value into text (``&``, ``<``, ``>`` as entities), so nothing in it is markup;
- :class:`Mrkdwn` is text the bot composed: :func:`mrkdwn` fills a template the bot wrote with escaped values,
  and :func:`user`, :func:`channel`, :func:`group` and :func:`link` make the only markup the bot writes, from
  checked IDs and http(s) URLs;
- :func:`defuse` is the last look at the door (:mod:`bot.slack_client` runs it on every outgoing text field):
  markup the bot never writes (``<!channel>``, ``<!here>``, ``<!everyone>``, dates, non-http links) is
  turned back into text, whatever built the message. It cannot tell a stranger's well-formed link from the
  bot's: that is what escaping at the source is for; this catches what was forgotten where it is loudest.
- :func:`plain` fits text to a ``plain_text`` field (a modal title: 24 characters), where Slack parses nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_ID = re.compile(r"\A[A-Z0-9]{2,32}\Z")
_URL = re.compile(r"\Ahttps?://[^\s<>|]+\Z")
# a `<` that opens markup the bot never writes: special mentions and dates (<!...> other than a user group),
# and links with a scheme other than http(s) (<javascript:...>, <slack://...>)
_NEVER = re.compile(r"<(?=!(?!subteam\^S[A-Z0-9]+>)|(?!https?:)[a-z][a-z0-9+.-]*:)", re.IGNORECASE)
TEXT_FIELDS = ("text", "fallback", "initial_comment", "title", "alt_text", "filename", "pretext")


class Mrkdwn(str):
    """Text for a ``mrkdwn`` field that the bot composed; every value in it was escaped."""


def escape(value: object) -> str:
    """``value`` as Slack text: what a stranger typed shows as typed and is never markup."""
    if isinstance(value, Mrkdwn):
        return value
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mrkdwn(template: str, **values: object) -> Mrkdwn:
    """``template`` (the bot's own words and markup) with ``{name}`` filled by escaped values."""
    return Mrkdwn(template.format(**{name: escape(value) for name, value in values.items()}))


def user(user_id: str) -> Mrkdwn:
    return Mrkdwn(f"<@{user_id}>") if _ID.match(user_id or "") else Mrkdwn(escape(user_id or "someone"))


def channel(channel_id: str) -> Mrkdwn:
    return Mrkdwn(f"<#{channel_id}>") if _ID.match(channel_id or "") else Mrkdwn(escape(channel_id or "a channel"))


def group(group_id: str) -> Mrkdwn:
    return Mrkdwn(f"<!subteam^{group_id}>") if _ID.match(group_id or "") else Mrkdwn(escape(group_id or ""))


def link(url: str | None, label: object) -> Mrkdwn:
    """A live link when ``url`` is a plain http(s) URL, else the label alone."""
    text = escape(label).replace("|", "¦")
    return Mrkdwn(f"<{url}|{text}>") if url and _URL.match(url) else Mrkdwn(text)


def defuse(text: str) -> str:
    """``text`` with markup the bot never writes turned into text (see the module's docstring)."""
    return _NEVER.sub("&lt;", text)


def defuse_payload(value: Any) -> Any:
    """Every text field of a Web API call's arguments (blocks, attachments, views included) through :func:`defuse`."""
    if isinstance(value, Mapping):
        return {
            key: defuse(item) if isinstance(item, str) and key in TEXT_FIELDS else defuse_payload(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [defuse_payload(item) for item in value]
    return value


def plain(text: object, limit: int) -> str:
    """``text`` for a ``plain_text`` field of at most ``limit`` characters (Slack parses no markup there)."""
    value = " ".join(str(text).split())
    return value if len(value) <= limit else value[: limit - 1] + "…"
