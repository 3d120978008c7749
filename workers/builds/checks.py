"""What makes a pasted Dockerfile unbuildable here, decided before anything is queued. Pure.

The web process imports this to validate the build modal; it needs neither dockerd nor the docker SDK.
Instructions are read with ``dockerfile-parse`` (continuations joined, keywords in any case), so
``ADD`` of a URL is refused in every form: plain, JSON exec form, continued over lines, behind
flags, and under ``ONBUILD``. The daemon fetches ``ADD`` URLs itself, outside the build's network.
"""

from __future__ import annotations

import io
import json
import re

from dockerfile_parse import DockerfileParser

from workers.builds.dockerfile import Instruction, global_args, parse_stages

MAX_DOCKERFILE = 20_000
_URL = re.compile(r"(?i)^(?:[a-z][a-z0-9+.-]*://|[\w.-]+@[\w.-]+:)")


def check_dockerfile(text: str) -> str | None:
    """Why this Dockerfile cannot be built here, or None. Pure."""
    if not text or not text.strip():
        return "The Dockerfile is empty."
    if len(text) > MAX_DOCKERFILE:
        return f"The Dockerfile is {len(text):,} characters; the limit is {MAX_DOCKERFILE:,}."
    if not parse_stages(text):
        return "That does not look like a Dockerfile: there is no FROM line."
    line = add_of_url_line(text)
    if line is not None:
        return (
            f"Line {line}: ADD from a URL is not allowed here (the engine would fetch it outside the build's"
            " sandbox); download the file in your own build instead."
        )
    return None


def add_of_url_line(text: str) -> int | None:
    """The 1-based line of the first ``ADD`` (or ``ONBUILD ADD``) whose source is a URL, else None. Pure."""
    parser = DockerfileParser(fileobj=io.BytesIO(text.encode()))
    for instruction in parser.structure:
        keyword, value = instruction["instruction"].upper(), instruction["value"]
        if keyword == "ONBUILD":
            keyword, _, value = value.strip().partition(" ")
            keyword = keyword.upper()
        if keyword == "ADD" and any(_URL.match(source) for source in _sources(value)):
            return instruction["startline"] + 1
    return None


def _sources(value: str) -> list[str]:
    """Every argument of an ``ADD`` that is not a flag (the destination included: harmless to check)."""
    words = value.split()
    while words and words[0].startswith("--"):
        words.pop(0)
    rest = " ".join(words)
    if rest.startswith("["):
        try:
            array = json.loads(rest)
        except ValueError:
            array = None
        if isinstance(array, list):
            return [str(item).strip() for item in array]
    return words


_ARG_USE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")


def named_images(text: str) -> list[tuple[int, str]]:
    """Every image the engine would pull for this Dockerfile, with its 1-based line: each ``FROM`` image (its
    global ``ARG`` defaults substituted, as the engine does without build args) and each ``COPY --from=IMAGE``
    that names no earlier stage. ``scratch`` and stage references are left out. Pure."""
    defaults = global_args(text)
    found: list[tuple[int, str]] = []
    names: list[str] = []
    for stage in parse_stages(text):
        if stage.kind in ("image", "arg"):
            found.append((stage.line, _ARG_USE.sub(lambda m: defaults.get(m.group(1)) or m.group(0), stage.image)))
        for instruction in stage.instructions:
            source = _copy_from(instruction)
            if source and source.lower() not in names and not source.isdigit():
                found.append((instruction.line, source))
        names.append((stage.name or "").lower())
    return found


def _copy_from(instruction: Instruction) -> str | None:
    keyword, args = instruction.keyword, instruction.args
    if keyword == "ONBUILD":
        keyword, _, args = args.strip().partition(" ")
    if keyword.upper() != "COPY":
        return None
    for word in args.split():
        if word.lower().startswith("--from="):
            return word.split("=", 1)[1].strip("\"'")
        if not word.startswith("--"):
            break
    return None
