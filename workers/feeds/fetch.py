"""Fetching a feed file: from an HTTP(S) URL (the publisher's or a mirror) or a local path. I/O only.

A transfer is bounded in time as a whole (a server trickling bytes is cut off at ``timeout``) and in size, and
a body shorter than its ``Content-Length`` is refused (urllib3 enforces it); every failure is a :class:`FeedError` sentence.
"""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlparse

import requests
from urllib3.exceptions import ProtocolError, ReadTimeoutError

from workers.bounded import BodyTooLarge, BodyTooSlow, read_body
from workers.feeds.parse import FeedError

MAX_BYTES = 512 * 1024 * 1024  # the EPSS CSV is ~10 MB gzipped, the KEV JSON ~1.5 MB


def fetch(location: str, *, timeout: float, max_bytes: int = MAX_BYTES) -> bytes:
    """The bytes at ``location``: ``https://…``, ``http://…``, ``file:///…`` or a path."""
    parsed = urlparse(location)
    if parsed.scheme in ("http", "https"):
        return _download(location, timeout, max_bytes)
    path = Path(parsed.path if parsed.scheme == "file" else location)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise FeedError(f"Could not read {path}: {exc.strerror or exc}.") from None


def _download(url: str, timeout: float, max_bytes: int) -> bytes:
    """The body, within ``max_bytes`` and ``timeout`` as a whole (:func:`workers.bounded.read_body`)."""
    deadline = time.monotonic() + timeout
    try:
        with requests.get(url, stream=True, timeout=min(timeout, 30)) as response:
            if response.status_code != 200:
                raise FeedError(f"{url} answered HTTP {response.status_code}.")
            return read_body(response, max_bytes=max_bytes, deadline=deadline)
    except BodyTooLarge:
        raise FeedError(f"{url} sent more than {max_bytes // (1024 * 1024)} MB; is it the feed?") from None
    except BodyTooSlow:
        raise FeedError(f"{url} took longer than {timeout:.0f} s (FEED_TIMEOUT).") from None
    except requests.Timeout:
        raise FeedError(f"{url} did not answer within {min(timeout, 30):.0f} s.") from None
    except requests.ConnectionError:
        raise FeedError(f"Could not fetch {url}: could not connect.") from None
    except (ProtocolError, ReadTimeoutError) as exc:
        reason = "the transfer was cut" if isinstance(exc, ProtocolError) else "it stopped sending"
        raise FeedError(f"Could not fetch {url}: {reason}.") from None
