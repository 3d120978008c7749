"""HTTP bodies read with a byte cap and a total deadline. I/O only.

``requests``' ``timeout`` bounds each socket read, not the transfer: a server that sends a byte a second keeps
a 2 s timeout waiting for ever, and ``.content`` holds whatever size it is sent. :func:`read_body` reads a
streamed response as bytes arrive (urllib3's ``read1``, so a trickle meets the deadline rather than a full
chunk's wait) and stops at the cap or the deadline, whichever comes first.
"""

from __future__ import annotations

import time

CHUNK = 64 * 1024


class BodyTooLarge(Exception):
    """The body is longer than the cap."""


class BodyTooSlow(Exception):
    """The body did not arrive before the deadline."""


def read_body(response, *, max_bytes: int, deadline: float) -> bytes:
    """The body of a ``stream=True`` response; ``deadline`` is a ``time.monotonic()`` instant."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise BodyTooLarge
    body = bytearray()
    while chunk := response.raw.read1(CHUNK, decode_content=True):
        body += chunk
        if len(body) > max_bytes:
            raise BodyTooLarge
        if time.monotonic() > deadline:
            raise BodyTooSlow
    return bytes(body)
