"""Log lines: ``key=value`` (LOG_FORMAT=text) or one JSON object a line (LOG_FORMAT=json), each with the
request id of the work it belongs to, and never a secret.

:func:`scrub` is pure: it masks the configured secret values (Slack tokens and secrets, registry passwords, the
password in REDIS_URL) and anything shaped like a Slack token or a Slack ``response_url``, wherever they appear
in a formatted line (a message, an argument, a traceback). :func:`configure` installs the handler on the root
logger, so RQ's and gunicorn's own lines get the same treatment.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable
from urllib.parse import urlsplit

from pythonjsonlogger.json import JsonFormatter

from workers.builds.secrets import MASK
from workers.telemetry.context import current

_SHAPES = re.compile(
    r"xox[a-z]-[A-Za-z0-9-]+"  # bot, user, app-config tokens
    r"|xapp-[A-Za-z0-9-]+"  # app-level tokens
    r"|https://hooks\.slack\.com/\S+"  # response_url and incoming webhooks
)
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/:@\s]*:)[^/@\s]+@")  # scheme://user:password@host
# query parameters that carry a credential: the OAuth redirect's code and state (gunicorn's access log quotes them)
_QUERY_SECRET = re.compile(r"([?&](?:code|state|token|client_secret)=)[^&\s\"']+")
TEXT_FORMAT = "ts=%(asctime)s level=%(levelname)s logger=%(name)s request_id=%(request_id)s msg=%(message)s"
JSON_FIELDS = "{levelname}{name}{request_id}{message}"  # and "ts": ISO 8601 in UTC
JSON_RENAMES = {"levelname": "level", "name": "logger", "message": "msg"}


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every secret value and every token- or response_url-shaped string masked. Pure."""
    for value in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(value, MASK)
    text = _QUERY_SECRET.sub(rf"\g<1>{MASK}", _SHAPES.sub(MASK, text))
    return _URL_PASSWORD.sub(rf"\g<1>{MASK}@", text)


def secrets_of(*values: str | None, urls: Iterable[str | None] = ()) -> tuple[str, ...]:
    """The values to mask: the given ones, and the password of each URL (REDIS_URL's). Pure."""
    passwords = []
    for url in urls:
        try:
            password = urlsplit(url or "").password
        except ValueError:
            password = None
        passwords.append(password)
    return tuple(v for v in (*values, *passwords) if v)


class _RequestId(logging.Filter):
    """Puts the current request id (``-`` outside any request) on every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            context = current()
            record.request_id = context.request_id if context else "-"
        return True


class _Scrubbed:
    """A formatter mixin: the whole formatted line, traceback included, goes through :func:`scrub`."""

    secrets: tuple[str, ...] = ()

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record), self.secrets)


class TextFormatter(_Scrubbed, logging.Formatter):
    pass


class JsonLineFormatter(_Scrubbed, JsonFormatter):
    pass


def formatter(log_format: str, secrets: Iterable[str] = ()) -> logging.Formatter:
    if log_format == "json":
        made: logging.Formatter = JsonLineFormatter(JSON_FIELDS, style="{", rename_fields=JSON_RENAMES, timestamp="ts")
    else:
        made = TextFormatter(TEXT_FORMAT)
    made.secrets = tuple(secrets)
    return made


def configure(level: str = "INFO", log_format: str = "text", secrets: Iterable[str] = ()) -> None:
    """One handler on the root logger, on stderr, replacing any earlier one (a process configures once)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(log_format, secrets))
    handler.addFilter(_RequestId())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
