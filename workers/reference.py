"""Image references: parsing and normalization by the Docker distribution rules.

Pure code, no I/O. ``parse_reference("mariadb")`` gives
``docker.io/library/mariadb:latest``; anything that is not a valid reference is
refused with a sentence a user can act on, before anything is queued.

The grammar follows distribution/reference (``reference.go``): a domain is the
first path component when it contains a ``.`` or ``:`` or is ``localhost``;
path components are lower-case alphanumerics joined by ``.``, ``_``, ``__`` or
runs of ``-``; tags are ``[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}``; the whole name is
at most 255 characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DOCKER_HUB = "docker.io"
DOCKER_HUB_ALIASES = {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}
MAX_LENGTH = 255

_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*\Z")
_DOMAIN = re.compile(
    r"(?:localhost|\[[0-9a-fA-F:]+\]|[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*)(?::[0-9]{1,5})?\Z"
)
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\Z")
_DIGEST = re.compile(r"(?P<algo>[a-z0-9]+(?:[.+_-][a-z0-9]+)*):(?P<hex>[0-9a-fA-F]{32,})\Z")
_DIGEST_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}
_SHELL_META = set(";&|`$<>(){}!\\\"'*?~#\n\r\t")


class InvalidReference(ValueError):
    """The text is not an image reference; ``str(err)`` is a sentence for the user."""


@dataclass(frozen=True)
class ImageRef:
    """A normalized image reference."""

    registry: str  # "docker.io", "cgr.dev", "127.0.0.1:5000"
    repository: str  # "library/mariadb"
    tag: str | None = "latest"  # None only when pinned by digest alone
    digest: str | None = None  # "sha256:…"

    @property
    def name(self) -> str:
        """Registry and repository: ``docker.io/library/mariadb``."""
        return f"{self.registry}/{self.repository}"

    @property
    def familiar(self) -> str:
        """The short form people type: ``mariadb:latest``, ``bitnami/redis:7``."""
        repo = self.repository
        if self.registry == DOCKER_HUB:
            repo = repo.removeprefix("library/")
        else:
            repo = f"{self.registry}/{repo}"
        return repo + self._suffix()

    @property
    def is_docker_hub(self) -> bool:
        return self.registry == DOCKER_HUB

    @property
    def short_name(self) -> str:
        """Last path component: ``mariadb`` for ``docker.io/library/mariadb``."""
        return self.repository.rsplit("/", 1)[-1]

    def with_digest(self, digest: str) -> ImageRef:
        return ImageRef(self.registry, self.repository, self.tag, digest)

    def with_registry(self, registry: str, repository: str | None = None) -> ImageRef:
        return ImageRef(registry, repository or self.repository, self.tag, self.digest)

    def _suffix(self) -> str:
        out = f":{self.tag}" if self.tag else ""
        return out + (f"@{self.digest}" if self.digest else "")

    def __str__(self) -> str:
        return self.name + self._suffix()


def parse_reference(text: str) -> ImageRef:
    """Parse ``text`` into a normalized :class:`ImageRef` or raise :class:`InvalidReference`."""
    _check_characters(text)
    remainder, digest = _split_digest(text)
    remainder, tag = _split_tag(remainder)
    domain, path = _split_domain(remainder)
    _check_path(path, text)
    if len(f"{domain}/{path}") > MAX_LENGTH:
        raise InvalidReference(f"The image name is longer than {MAX_LENGTH} characters.")
    if domain == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    if tag is None and digest is None:
        tag = "latest"
    return ImageRef(domain, path, tag, digest)


def _check_characters(text: str) -> None:
    if text is None or not text.strip():
        raise InvalidReference("No image name was given. Try e.g. `mariadb` or `ghcr.io/org/app:1.2`.")
    if len(text) > MAX_LENGTH + 140:  # name + ":" + tag + "@sha512:…" fits well within this
        raise InvalidReference(
            f"The image reference is too long ({len(text)} characters; names are at most {MAX_LENGTH})."
        )
    if not text.isascii():
        raise InvalidReference("Image references are plain ASCII; this one has other characters in it.")
    if any(ch.isspace() for ch in text):
        raise InvalidReference("An image reference has no spaces in it; scan one image at a time, e.g. `mariadb:11.4`.")
    if text.startswith("-"):
        raise InvalidReference("An image reference cannot start with `-`.")
    bad = sorted({ch for ch in text if ch in _SHELL_META or not ch.isprintable()})
    if bad:
        # a backtick cannot be shown inside a code span (Slack has no escape for it): it is named instead
        parts = ["a backtick" if ch == "`" else f"`{ch}`" if ch.isprintable() else repr(ch) for ch in bad]
        shown = f"{', '.join(parts[:-1])} or {parts[-1]}" if len(parts) > 1 else parts[0]
        raise InvalidReference(f"Image references cannot contain {shown}.")


def _split_digest(text: str) -> tuple[str, str | None]:
    if "@" not in text:
        return text, None
    remainder, digest = text.split("@", 1)
    match = _DIGEST.match(digest)
    expected = _DIGEST_LENGTHS.get(match.group("algo")) if match else None
    if not match or (expected and len(match.group("hex")) != expected):
        raise InvalidReference(f"`@{digest}` is not a valid digest; expected e.g. `@sha256:` and 64 hex digits.")
    return remainder, f"{match.group('algo')}:{match.group('hex').lower()}"


def _split_tag(text: str) -> tuple[str, str | None]:
    last_slash = text.rfind("/")
    colon = text.rfind(":")
    if colon <= last_slash:  # a colon before the last slash belongs to a registry port
        return text, None
    name, tag = text[:colon], text[colon + 1 :]
    if not _TAG.match(tag):
        raise InvalidReference(
            f"`{tag}` is not a valid tag: tags are letters, digits, `_`, `.` and `-`, up to 128 characters."
        )
    return name, tag


def _split_domain(text: str) -> tuple[str, str]:
    first, sep, rest = text.partition("/")
    # distribution also treats an upper-case first component as a host; "Foo/bar" is far more
    # likely a mistyped repository, so it gets the lower-case advice instead.
    if sep and ("." in first or ":" in first or first == "localhost"):
        if not _DOMAIN.match(first):
            raise InvalidReference(f"`{first}` is not a valid registry host.")
        domain = DOCKER_HUB if first.lower() in DOCKER_HUB_ALIASES else first
        return domain, rest
    return DOCKER_HUB, text


def _check_path(path: str, original: str) -> None:
    if not path:
        raise InvalidReference(f"`{original}` names no repository.")
    for component in path.split("/"):
        if component != component.lower() and _COMPONENT.match(component.lower()):
            raise InvalidReference(
                f"Repository names must be lower case: try `{original.replace(component, component.lower())}`."
            )
        if not _COMPONENT.match(component):
            raise InvalidReference(
                f"`{path}` is not a valid repository name: use lower-case letters, digits and `.`, `_`, `-` "
                "between path parts."
            )
