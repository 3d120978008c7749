"""What makes a pasted Dockerfile unbuildable here, decided before anything is queued. Pure.

The web process imports this to validate the build modal; it needs neither dockerd nor the docker SDK.
"""

from __future__ import annotations

import re

from workers.builds.dockerfile import parse_stages

MAX_DOCKERFILE = 20_000
_ADD_URL = re.compile(r"(?im)^\s*ADD\s+(?:--\S+\s+)*(https?|git)://")


def check_dockerfile(text: str) -> str | None:
    """Why this Dockerfile cannot be built here, or None. Pure."""
    if not text or not text.strip():
        return "The Dockerfile is empty."
    if len(text) > MAX_DOCKERFILE:
        return f"The Dockerfile is {len(text):,} characters; the limit is {MAX_DOCKERFILE:,}."
    if not parse_stages(text):
        return "That does not look like a Dockerfile: there is no FROM line."
    if _ADD_URL.search(text):
        return (
            "ADD from a URL is not allowed here (builds have no network); download the file in your own build instead."
        )
    return None
