"""The Chainguard alternative of an image reference, from the catalog. Pure: no I/O.

``find_alternative(parse_reference("mariadb:11.4"), load_catalog())`` gives
``cgr.dev/chainguard/mariadb:latest`` with the advice that the free tier serves only
``:latest`` / ``:latest-dev``, and the caveats worth a line in Slack. Rule numbers (R1–R12)
refer to the header of ``data/chainguard-catalog.yaml``.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

from workers.chainguard.catalog import (
    Catalog,
    CatalogEntry,
    Match,
    TagVariant,
    registry_prefix,
)
from workers.reference import DOCKER_HUB, ImageRef, parse_reference

DEFAULT_CHAINGUARD_REGISTRY = "cgr.dev/chainguard"
ENV_ORG_REGISTRY = "CHAINGUARD_ORG_REGISTRY"  # read by workers.config; named here in user-facing text
REASON_PAID = "paid image: set CHAINGUARD_ORG_REGISTRY and credentials"
REASON_UNKNOWN = "no known Chainguard equivalent"
DIRECTORY_URL = "https://images.chainguard.dev/directory/image/{name}"
# tag_advice reads "You asked for X; …, so this compares against :T." (other modules may reword these two)
ADVICE_SUBJECT = "You asked for"
ADVICE_CONCLUSION = "so this compares against"

# R1: cgr.dev/<org>/<name> (any org) and the Docker Hub mirror of the free images.
_CHAINGUARD_HOME = "cgr.dev"
_FREE_PREFIXES = ("cgr.dev/chainguard", "docker.io/chainguard")
_STALE_BEFORE = "2025"  # facts confirmed only by 2024 sources get a "check the directory" note


class Status(str, Enum):
    MAPPED = "mapped"  # a Chainguard image to scan
    PAID = "paid"  # exists, but not in the free tier (and no org registry is set)
    CHAINGUARD = "chainguard"  # the image is already a Chainguard one
    UNKNOWN = "unknown"  # no known equivalent


@dataclass
class ChainguardMapping:
    """The Chainguard image to compare with, or why there is none."""

    source: ImageRef  # what the user asked about
    reference: ImageRef | None  # what to scan; None when paid without an org registry, or unknown
    image_name: str | None  # Chainguard image name: "mariadb", "go"
    free_tier: bool
    status: Status
    tag: str | None = None  # the tag chosen, also when reference is None (paid)
    tag_advice: str | None = None
    notes: list[str] = field(default_factory=list)
    reason: str | None = None
    close_names: list[str] = field(default_factory=list)
    upstream: str | None = None  # the catalog entry that matched
    matched_by: str | None = None  # "upstream", "alias", "third_party", "mirror"
    confirmed: bool | None = None
    sources: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``python -m bot alternative IMAGE --format json``)."""
        return {
            "image": str(self.source),
            "reference": str(self.reference) if self.reference else None,
            "image_name": self.image_name,
            "free_tier": self.free_tier,
            "status": self.status.value,
            "tag": self.tag,
            "tag_advice": self.tag_advice,
            "notes": list(self.notes),
            "reason": self.reason,
            "close_names": list(self.close_names),
            "upstream": self.upstream,
            "matched_by": self.matched_by,
            "confirmed": self.confirmed,
            "sources": list(self.sources),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChainguardMapping:
        """Back from :meth:`to_dict`: the mapping decided when a request came in, carried in its thread."""
        reference = data.get("reference")
        return cls(
            source=parse_reference(data["image"]),
            reference=parse_reference(reference) if reference else None,
            image_name=data.get("image_name"),
            free_tier=bool(data.get("free_tier")),
            status=Status(data.get("status") or Status.UNKNOWN),
            tag=data.get("tag"),
            tag_advice=data.get("tag_advice"),
            notes=list(data.get("notes") or []),
            reason=data.get("reason"),
            close_names=list(data.get("close_names") or []),
            upstream=data.get("upstream"),
            matched_by=data.get("matched_by"),
            confirmed=data.get("confirmed"),
            sources=list(data.get("sources") or []),
        )

    @property
    def scannable(self) -> bool:
        """There is a Chainguard image to scan beside the original."""
        return bool(self.reference) and self.status is not Status.CHAINGUARD


# ---------------------------------------------------------------------------- upstream tags


@dataclass(frozen=True)
class Version:
    major: str
    minor: str | None = None
    patch: str | None = None

    @property
    def major_minor(self) -> str:
        return self.major + (f".{self.minor}" if self.minor is not None else "")

    def render(self, template: str) -> str:
        """Fill a catalog ``version_tag`` template: ``openjdk-{major}``, ``{major_minor}``."""
        return template.format(major=self.major, minor=self.minor or "", major_minor=self.major_minor)


@dataclass(frozen=True)
class TagInfo:
    """An upstream tag split into a version and the words around it: ``3.12-slim-bookworm``."""

    version: Version | None
    words: tuple[str, ...]


_VERSION = re.compile(r"v?(?P<major>\d+)(?:\.(?P<minor>\d+))?(?:\.(?P<patch>\d+))?(?P<rest>.*)\Z")


def parse_tag(tag: str | None) -> TagInfo:
    """``3.12-slim`` → version 3.12 and words (slim,); ``latest`` or no tag → nothing."""
    if not tag or tag == "latest":
        return TagInfo(None, ())
    match = _VERSION.match(tag)
    if match:
        version = Version(match["major"], match["minor"], match["patch"])
        return TagInfo(version, _words(match["rest"]))
    return TagInfo(None, _words(tag))


def _words(text: str) -> tuple[str, ...]:
    return tuple(w for w in re.split(r"[-_]", text) if w)


# ---------------------------------------------------------------------------- registries


def _under(prefix: str, image: str, tag: str) -> ImageRef:
    return parse_reference(f"{registry_prefix(prefix)}/{image}:{tag}")


def _is_under(ref: ImageRef, prefix: str | None) -> bool:
    return bool(prefix) and ref.name.startswith(registry_prefix(prefix) + "/")


# ---------------------------------------------------------------------------- the mapping


@dataclass(frozen=True)
class _Target:
    """The Chainguard image chosen for an entry, before the tag."""

    image: str
    free_tier: bool
    free_tags: tuple[str, ...]
    dev_variant: bool  # paid -dev twins exist (free: read free_tags instead)
    tag_suffix: str | None = None
    substitute_for: str | None = None  # the paid image a free substitute stands in for
    caveats: tuple[str, ...] = ()


def find_alternative(
    ref: ImageRef,
    catalog: Catalog,
    chainguard_registry: str = DEFAULT_CHAINGUARD_REGISTRY,
    org_registry: str | None = None,
    *,
    dev: bool = False,
    suggest: bool = True,
) -> ChainguardMapping:
    """Map ``ref`` to its Chainguard alternative (``dev=True`` asks for the -dev variant, R7; ``suggest=False``: an
    unknown image gets no "did you mean" names, which cost a fuzzy match over the catalog, 5 ms an image).

    Free images are referenced under ``chainguard_registry``; paid ones under ``org_registry`` or,
    without one, not at all (``reason`` says what to configure). Raises ``ValueError`` only for a
    registry setting that is not a registry path.
    """
    chainguard_registry = registry_prefix(chainguard_registry)
    org_registry = registry_prefix(org_registry) if org_registry else None
    if _is_chainguard(ref, chainguard_registry, org_registry):
        return _already_chainguard(ref, catalog, chainguard_registry)
    match = catalog.lookup(ref)
    if match is None:
        return _unknown(ref, catalog, suggest)
    return _mapped(ref, match, chainguard_registry, org_registry, dev)


def _is_chainguard(ref: ImageRef, chainguard_registry: str, org_registry: str | None) -> bool:
    return (
        ref.registry == _CHAINGUARD_HOME
        or any(_is_under(ref, p) for p in _FREE_PREFIXES)
        or _is_under(ref, chainguard_registry)
        or _is_under(ref, org_registry)
    )


def _mapped(
    ref: ImageRef, match: Match, chainguard_registry: str, org_registry: str | None, dev: bool
) -> ChainguardMapping:
    entry = match.entry
    info = parse_tag(ref.tag)
    target = _choose_target(entry, info, org_registry)
    choice = _choose_tag(target, entry, info, dev)
    tag = choice.tag
    alternative = ChainguardMapping(
        source=ref,
        reference=None,
        image_name=target.image,
        free_tier=target.free_tier,
        status=Status.MAPPED,
        tag=tag,
        tag_advice=_tag_advice(ref, entry, info, target, choice, compared=target.free_tier or bool(org_registry)),
        upstream=entry.upstream,
        matched_by=match.kind,
        confirmed=entry.confirmed and match.confirmed,
        sources=list(entry.source),
    )
    if target.free_tier:
        alternative.reference = _under(chainguard_registry, target.image, tag)
    elif org_registry:
        alternative.reference = _under(org_registry, target.image, tag)
    else:
        alternative.status, alternative.reason = Status.PAID, REASON_PAID
    alternative.notes = _notes(ref, match, target, tag, org_registry) + list(choice.notes) + list(target.caveats)
    return alternative


def _choose_target(entry: CatalogEntry, info: TagInfo, org_registry: str | None) -> _Target:
    variant = entry.variant_for(info.words)
    target = _Target(entry.chainguard, entry.free_tier, entry.free_tags, entry.dev_variant, caveats=entry.caveats)
    if variant and variant.chainguard and variant.chainguard != entry.chainguard:
        target = _variant_target(entry, variant)
    elif variant and variant.tag_suffix:
        target = replace(target, tag_suffix=variant.tag_suffix)
    substitute = entry.free_substitute
    if not target.free_tier and org_registry is None and substitute:
        return _Target(substitute.chainguard, True, substitute.free_tags, False, None, target.image, entry.caveats)
    return target


def _variant_target(entry: CatalogEntry, variant: TagVariant) -> _Target:
    """Another image picked by a tag word (eclipse-temurin:21-jre → jre, docker:cli → docker-cli)."""
    free = entry.free_tier if variant.free_tier is None else variant.free_tier
    tags = variant.free_tags if variant.free_tags is not None else (("latest",) if free else ())
    caveats = entry.caveats if variant.caveats is None else variant.caveats
    image = variant.chainguard or entry.chainguard
    return _Target(image, free, tags, entry.dev_variant, variant.tag_suffix, caveats=caveats)


@dataclass(frozen=True)
class _TagChoice:
    tag: str
    pinned: bool  # the tag carries the user's version
    notes: tuple[str, ...] = ()


def _choose_tag(target: _Target, entry: CatalogEntry, info: TagInfo, dev: bool) -> _TagChoice:
    """The tag to compare against, and notes when the wished-for variant does not exist."""
    if target.free_tier:
        return _free_tag(target, entry, info, dev)
    base, pinned = "latest", False
    if info.version and entry.version_tag != "latest":
        base, pinned = info.version.render(entry.version_tag), True  # R4/R6 major.minor, R5 openjdk-<major>
    if target.tag_suffix:
        base = f"{base}-{target.tag_suffix}"
    if not dev:
        return _TagChoice(base, pinned)
    if target.dev_variant:
        return _TagChoice(f"{base}-dev", pinned)
    return _TagChoice(base, pinned, (f"{target.image} has no -dev variant; compared against :{base}.",))


def _free_tag(target: _Target, entry: CatalogEntry, info: TagInfo, dev: bool) -> _TagChoice:
    """R2: latest / latest-dev, plus the few extra free tags a repository lists (dotnet-sdk 10.0, latest-fpm)."""
    tags = set(target.free_tags)
    suffix = f"-{target.tag_suffix}" if target.tag_suffix else ""
    notes: list[str] = []
    if suffix and f"latest{suffix}" not in tags:
        notes.append(f"The free tier has no :latest{suffix}; compared against :latest.")
        suffix = ""
    base, pinned = f"latest{suffix}", False
    if info.version and entry.version_tag != "latest":
        version_tag = info.version.render(entry.version_tag) + suffix
        if version_tag in tags:
            base, pinned = version_tag, True
    if not dev:
        return _TagChoice(base, pinned, tuple(notes))
    if f"{base}-dev" in tags:
        return _TagChoice(f"{base}-dev", pinned, tuple(notes))
    if f"latest{suffix}-dev" in tags:  # dev matters more than the pinned version for a build
        return _TagChoice(f"latest{suffix}-dev", False, tuple(notes))
    notes.append(f"{target.image} has no -dev variant in the free tier; compared against :{base}.")
    return _TagChoice(base, pinned, tuple(notes))


def _tag_advice(
    ref: ImageRef, entry: CatalogEntry, info: TagInfo, target: _Target, choice: _TagChoice, compared: bool = True
) -> str | None:
    """One sentence when the compared tag is not what the user asked for (R2, R4, R6)."""
    # a paid image without an org registry is not scanned, so nothing "compares"
    conclusion = ADVICE_CONCLUSION if compared else "so the closest Chainguard tag is"
    tag = choice.tag
    if ref.digest:
        asked = _short_familiar(ref) + (f":{ref.tag}" if ref.tag else "") + f"@{ref.digest[:19]}…"
        return f"{ADVICE_SUBJECT} {asked}, pinned by digest; Chainguard builds its own images, {conclusion} :{tag}."
    if ref.tag in (None, "latest", tag):
        return None
    asked = ref.familiar
    understood = {v.word for v in entry.tag_variants}
    dropped = [w for w in info.words if w not in understood]
    if target.free_tier:
        return _free_tag_advice(asked, info, dropped, target, choice, conclusion)
    return _paid_tag_advice(asked, info, dropped, target, choice, entry, conclusion)


def _free_tag_advice(
    asked: str, info: TagInfo, dropped: list[str], target: _Target, choice: _TagChoice, conclusion: str
) -> str | None:
    if choice.pinned or not (info.version or dropped):
        return None
    if choice.tag in ("latest", "latest-dev"):
        served = "serves only :latest and :latest-dev"
    else:
        served = f"has no version tags for {target.image}"
    if info.version:
        return f"{ADVICE_SUBJECT} {asked}; Chainguard's free tier {served}, {conclusion} :{choice.tag}."
    return (
        f"{ADVICE_SUBJECT} {asked}; Chainguard has no {'-'.join(dropped)} variant and its free tier {served}, "
        f"{conclusion} :{choice.tag}."
    )


def _paid_tag_advice(
    asked: str,
    info: TagInfo,
    dropped: list[str],
    target: _Target,
    choice: _TagChoice,
    entry: CatalogEntry,
    conclusion: str,
) -> str | None:
    if info.version and entry.version_tag == "latest":
        return (
            f"{ADVICE_SUBJECT} {asked}; Chainguard's {target.image} tags do not follow upstream versions, "
            f"{conclusion} :{choice.tag}."
        )
    reasons = []
    if dropped and not info.version:
        reasons.append(f"Chainguard has no {'-'.join(dropped)} variant")
    elif dropped:
        reasons.append(f"upstream tag suffixes (-{'-'.join(dropped)}) have no Chainguard equivalent")
    if info.version and info.version.patch is not None:
        reasons.append("Chainguard version tags float per major.minor")
    if not reasons:
        return None
    pin = " (pin a digest for a fixed build)" if info.version and info.version.patch is not None else ""
    return f"{ADVICE_SUBJECT} {asked}; {' and '.join(reasons)}, {conclusion} :{choice.tag}{pin}."


def _notes(ref: ImageRef, match: Match, target: _Target, tag: str, org_registry: str | None) -> list[str]:
    """Generated notes, most important first; the entry's own caveats follow them."""
    entry, notes = match.entry, []
    if target.substitute_for:
        notes.append(
            f"Chainguard's direct replacement, {target.substitute_for}, is paid; this compares with the free "
            f"{target.image} (set {ENV_ORG_REGISTRY} to use {target.substitute_for})."
        )
    elif target.image != ref.short_name:
        notes.append(f"Chainguard calls it {target.image} ({_short_familiar(ref)} upstream).")
    if not target.free_tier and not org_registry:
        notes.append(
            f"{target.image} is a paid Chainguard image, pulled as cgr.dev/<your-org>/{target.image}:{tag} after login "
            "(Chainguard's Catalog Starter gives an organisation 5 images free)."
        )
    if match.kind == "mirror":
        notes.append(f"Matched as a mirror of {match.matched}.")
    if not match.confirmed:
        notes.append(
            f"{_short_familiar(ref)} → {target.image} follows a naming convention; Chainguard does not list it."
        )
    if not entry.confirmed:
        notes.append(f"Unconfirmed mapping: check {DIRECTORY_URL.format(name=target.image)} before relying on it.")
    elif not target.free_tier and (entry.confirmed_as_of or "") < _STALE_BEFORE:
        notes.append(f"Facts last confirmed {entry.confirmed_as_of}; check {DIRECTORY_URL.format(name=target.image)}.")
    return notes


def _short_familiar(ref: ImageRef) -> str:
    return ref.repository.removeprefix("library/") if ref.registry == DOCKER_HUB else ref.name


def _already_chainguard(ref: ImageRef, catalog: Catalog, chainguard_registry: str) -> ChainguardMapping:
    """A reference under a Chainguard registry maps to itself."""
    name = ref.short_name
    free = _is_under(ref, chainguard_registry) or any(_is_under(ref, p) for p in _FREE_PREFIXES)
    entries = catalog.by_chainguard(name)
    notes = [f"{ref.familiar} is already a Chainguard image, so it is compared with itself."]
    advice = None
    if entries:
        entry = entries[0]
        notes.extend(entry.caveats)
        if free and entry.free_tier and ref.tag and ref.tag not in entry.free_tags:
            advice = (
                f"Chainguard's free tier serves only :latest and :latest-dev, so :{ref.tag} may not exist there; "
                f"version tags need an organisation registry ({ENV_ORG_REGISTRY})."
            )
    return ChainguardMapping(
        source=ref,
        reference=ref,
        image_name=name,
        free_tier=free,
        status=Status.CHAINGUARD,
        tag=ref.tag,
        tag_advice=advice,
        notes=notes,
        upstream=entries[0].upstream if entries else None,
        confirmed=entries[0].confirmed if entries else None,
        sources=list(entries[0].source) if entries else [],
    )


def _unknown(ref: ImageRef, catalog: Catalog, suggest: bool = True) -> ChainguardMapping:
    return ChainguardMapping(
        source=ref,
        reference=None,
        image_name=None,
        free_tier=False,
        status=Status.UNKNOWN,
        reason=REASON_UNKNOWN,
        close_names=close_names(ref, catalog) if suggest else [],
    )


def close_names(ref: ImageRef, catalog: Catalog, limit: int = 5) -> list[str]:
    """Catalog names close to ``ref``: upstreams whose Chainguard name it is (go → golang), then difflib matches."""
    asked, short = _short_familiar(ref), ref.short_name
    found = [e.upstream for e in catalog.entries if e.chainguard == short]
    candidates = catalog.suggestion_names()
    found += difflib.get_close_matches(asked, candidates, n=limit, cutoff=0.6)
    by_short: dict[str, list[str]] = {}
    for candidate in candidates:
        by_short.setdefault(candidate.rsplit("/", 1)[-1], []).append(candidate)
    for close in difflib.get_close_matches(short, list(by_short), n=limit, cutoff=0.75):
        found += by_short[close]
    unique = [n for n in dict.fromkeys(found) if n != asked]
    return unique[:limit]
