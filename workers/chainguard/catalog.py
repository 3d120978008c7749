"""The Chainguard image catalog: data in ``data/chainguard-catalog.yaml``, loaded into dataclasses.

Everything here is pure except :func:`load_catalog` (reads the YAML file); asking a registry
which images it serves is ``workers.chainguard.refresh``. The catalog
header documents every field and the general rules R1–R12 with their sources.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from workers.reference import DOCKER_HUB, ImageRef, InvalidReference, parse_reference

DEFAULT_CATALOG_PATH = Path(__file__).parent / "data" / "chainguard-catalog.yaml"
DEFAULT_VERSION_TAG = "{major_minor}"


class CatalogError(ValueError):
    """The catalog file is malformed; the message names the entry and the field."""


@dataclass(frozen=True)
class TagVariant:
    """An upstream tag word that selects another Chainguard image or tag (``21-jre`` → ``jre``)."""

    word: str
    chainguard: str | None = None  # another image; None = the entry's own
    tag_suffix: str | None = None  # free tag latest-<suffix>, e.g. php:latest-fpm
    free_tier: bool | None = None  # None = as the entry
    free_tags: tuple[str, ...] | None = None  # None = as the entry (same image) or none
    caveats: tuple[str, ...] | None = None  # None = the entry's caveats apply


@dataclass(frozen=True)
class FreeSubstitute:
    """A free image compared instead of a paid entry when no organisation registry is set (R10)."""

    chainguard: str
    free_tags: tuple[str, ...]
    latest_has: tuple[str, ...] = ()
    runs_as_root: bool = False


@dataclass(frozen=True)
class CatalogEntry:
    """One upstream image and its Chainguard equivalent, as the catalog states it."""

    upstream: str
    chainguard: str
    free_tier: bool
    free_tags: tuple[str, ...]
    dev_variant: bool
    confirmed: bool
    confirmed_as_of: str | None
    notes: str
    source: tuple[str, ...]
    aliases: tuple[str, ...] = ()
    third_party: tuple[str, ...] = ()
    alternatives: tuple[str, ...] = ()
    caveats: tuple[str, ...] = ()
    free_substitute: FreeSubstitute | None = None
    tag_variants: tuple[TagVariant, ...] = ()
    version_tag: str = DEFAULT_VERSION_TAG
    latest_has: tuple[str, ...] | None = None  # None = not recorded
    runs_as_root: bool = False
    port_map: Mapping[int, int] = field(default_factory=dict, hash=False, compare=False)
    confirmed_third_party: tuple[str, ...] = ()

    @property
    def upstream_name(self) -> str:
        """Normalized upstream name: ``docker.io/library/mongo``."""
        return normalize_name(self.upstream)

    @property
    def upstream_short(self) -> str:
        return parse_reference(self.upstream).short_name

    def variant_for(self, words: Iterable[str]) -> TagVariant | None:
        """The first tag variant named by one of ``words`` (upstream tag words)."""
        wanted = set(words)
        return next((v for v in self.tag_variants if v.word in wanted), None)

    def names(self) -> Iterable[tuple[str, str]]:
        """Every name this entry answers to, as (kind, text)."""
        yield "upstream", self.upstream
        for alias in self.aliases:
            yield "alias", alias
        for name in self.third_party:
            yield "third_party", name


@dataclass(frozen=True)
class Match:
    """How a reference was found in the catalog."""

    entry: CatalogEntry
    kind: str  # "upstream", "alias", "third_party" or "mirror"
    matched: str  # the normalized catalog name that matched: docker.io/library/redis

    @property
    def confirmed(self) -> bool:
        """False for third-party names matched by naming convention only (catalog FIELDS)."""
        if self.kind != "third_party":
            return True
        return any(normalize_name(n) == self.matched for n in self.entry.confirmed_third_party)


@dataclass(frozen=True)
class Catalog:
    entries: tuple[CatalogEntry, ...]
    index: Mapping[str, Match] = field(hash=False, compare=False)

    @classmethod
    def from_entries(cls, entries: Iterable[CatalogEntry]) -> Catalog:
        entries = tuple(entries)
        return cls(entries, build_index(entries))

    def lookup(self, ref: ImageRef) -> Match | None:
        """Find ``ref`` (tag ignored) by name, or as a mirror of a Docker Hub name (``mirror.gcr.io/library/nginx``)."""
        found = self.index.get(ref.name)
        if found or ref.registry == DOCKER_HUB:
            return found
        repository = ref.repository
        candidates = [repository]
        if repository.startswith("docker/"):  # public.ecr.aws/docker/library/nginx
            candidates.append(repository.removeprefix("docker/"))
        for candidate in candidates:
            hub = self.index.get(f"{DOCKER_HUB}/{candidate}")
            if hub:
                return Match(hub.entry, "mirror", hub.matched)
        return None

    def by_chainguard(self, name: str) -> list[CatalogEntry]:
        """Entries whose Chainguard image is ``name`` (chainguard-base has four)."""
        return [e for e in self.entries if e.chainguard == name]

    def chainguard_names(self) -> list[str]:
        """Every Chainguard image the catalog can point at: entries, tag variants and free substitutes."""
        names = {e.chainguard for e in self.entries}
        for entry in self.entries:
            names.update(v.chainguard for v in entry.tag_variants if v.chainguard)
            if entry.free_substitute:
                names.add(entry.free_substitute.chainguard)
        return sorted(names)

    def latest_tools(self, name: str) -> tuple[str, ...] | None:
        """Tools (sh, apk) in ``name:latest`` when the catalog records them (images without -dev)."""
        for entry in self.entries:
            if entry.chainguard == name and entry.latest_has is not None:
                return entry.latest_has
            if entry.free_substitute and entry.free_substitute.chainguard == name:
                return entry.free_substitute.latest_has
        return None

    def runs_as_root(self, name: str) -> bool:
        """True when the catalog says Chainguard's ``name`` runs as root (R8), so RUN apk needs no USER root."""
        for entry in self.entries:
            if entry.chainguard == name:
                return entry.runs_as_root
            if entry.free_substitute and entry.free_substitute.chainguard == name:
                return entry.free_substitute.runs_as_root
        return False

    def is_base_os(self, name: str) -> bool:
        """True for the base OS images (chainguard-base, wolfi-base: R10): a shell, apk, no application entrypoint."""
        return any(e.free_substitute and name in (e.chainguard, e.free_substitute.chainguard) for e in self.entries)

    def suggestion_names(self) -> list[str]:
        """Names worth offering as "did you mean": upstream and third-party names, as people type them."""
        return list(self._suggestions)

    @cached_property
    def _suggestions(self) -> tuple[str, ...]:
        """Worked out once a catalog (a digest asks for every watched image: 7 ms each, before)."""
        out: list[str] = []
        for entry in self.entries:
            for kind, text in entry.names():
                if kind != "alias":
                    familiar = _familiar_name(text)
                    if familiar not in out:
                        out.append(familiar)
        return tuple(out)


def normalize_name(text: str) -> str:
    """``registry/repository`` of a reference, tag and digest ignored: ``mongo:7`` → ``docker.io/library/mongo``."""
    return parse_reference(text).name


def _familiar_name(text: str) -> str:
    ref = parse_reference(text)
    return ref.repository.removeprefix("library/") if ref.is_docker_hub else ref.name


def build_index(entries: Iterable[CatalogEntry]) -> dict[str, Match]:
    """Map every upstream, alias and third-party name to its entry; a name claimed twice is an error."""
    index: dict[str, Match] = {}
    for entry in entries:
        for kind, text in entry.names():
            key = normalize_name(text)
            known = index.get(key)
            if known and known.entry is not entry:
                raise CatalogError(f"{text!r} is listed under both {known.entry.upstream!r} and {entry.upstream!r}.")
            if not known or kind == "upstream":
                index[key] = Match(entry, kind, key)
    return index


# ---------------------------------------------------------------------------- parsing the YAML


def parse_catalog(data: Mapping[str, Any]) -> Catalog:
    """Validate the decoded YAML and build a :class:`Catalog`."""
    if not isinstance(data, Mapping) or not isinstance(data.get("entries"), list):
        raise CatalogError("The catalog must be a mapping with an 'entries' list.")
    entries = [_parse_entry(raw, i) for i, raw in enumerate(data["entries"])]
    return Catalog.from_entries(entries)


def _parse_entry(raw: Any, position: int) -> CatalogEntry:
    where = f"entry {position + 1}"
    if not isinstance(raw, Mapping):
        raise CatalogError(f"{where} is not a mapping.")
    where = f"entry {position + 1} ({raw.get('upstream', '?')})"
    get = _Getter(raw, where)
    entry = CatalogEntry(
        upstream=get.text("upstream"),
        chainguard=get.text("chainguard"),
        free_tier=get.flag("free_tier"),
        free_tags=get.texts("free_tags"),
        dev_variant=get.flag("dev_variant"),
        confirmed=get.flag("confirmed"),
        confirmed_as_of=get.text("confirmed_as_of", optional=True),
        notes=get.text("notes"),
        source=get.texts("source"),
        aliases=get.texts("aliases", optional=True),
        third_party=get.texts("third_party", optional=True),
        alternatives=get.texts("alternatives", optional=True),
        caveats=get.texts("caveats", optional=True),
        free_substitute=_parse_substitute(raw.get("free_substitute"), where),
        tag_variants=tuple(_parse_variant(v, where) for v in raw.get("tag_variants") or ()),
        version_tag=get.text("version_tag", optional=True) or DEFAULT_VERSION_TAG,
        latest_has=get.texts("latest_has") if "latest_has" in raw else None,
        runs_as_root=get.flag("runs_as_root") if "runs_as_root" in raw else False,
        port_map=_parse_ports(raw.get("port_map"), where),
        confirmed_third_party=get.texts("confirmed_third_party", optional=True),
    )
    _check_entry(entry, where)
    return entry


def _check_entry(entry: CatalogEntry, where: str) -> None:
    if not entry.source:
        raise CatalogError(f"{where}: every entry needs at least one source.")
    if entry.free_tier and "latest" not in entry.free_tags:
        raise CatalogError(f"{where}: a free-tier image must list 'latest' in free_tags.")
    if not entry.free_tier and entry.free_tags:
        raise CatalogError(f"{where}: a paid image has no free_tags.")
    for _, name in entry.names():
        try:
            normalize_name(name)
        except InvalidReference as err:
            raise CatalogError(f"{where}: {name!r} is not an image name: {err}") from err
    unknown = set(entry.confirmed_third_party) - set(entry.third_party)
    if unknown:
        raise CatalogError(f"{where}: confirmed_third_party names {sorted(unknown)} not in third_party.")
    try:
        entry.version_tag.format(major="1", minor="2", major_minor="1.2")
    except (KeyError, IndexError, ValueError) as err:
        raise CatalogError(f"{where}: version_tag {entry.version_tag!r} is not a valid template.") from err


def _parse_substitute(raw: Any, where: str) -> FreeSubstitute | None:
    if raw is None:
        return None
    get = _Getter(raw, f"{where} free_substitute")
    root = get.flag("runs_as_root") if "runs_as_root" in raw else False
    return FreeSubstitute(get.text("chainguard"), get.texts("free_tags"), get.texts("latest_has", optional=True), root)


def _parse_variant(raw: Any, where: str) -> TagVariant:
    get = _Getter(raw, f"{where} tag_variants")
    return TagVariant(
        word=get.text("word"),
        chainguard=get.text("chainguard", optional=True),
        tag_suffix=get.text("tag_suffix", optional=True),
        free_tier=get.flag("free_tier") if "free_tier" in raw else None,
        free_tags=get.texts("free_tags") if "free_tags" in raw else None,
        caveats=get.texts("caveats") if "caveats" in raw else None,
    )


def _parse_ports(raw: Any, where: str) -> dict[int, int]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping) or not all(isinstance(k, int) and isinstance(v, int) for k, v in raw.items()):
        raise CatalogError(f"{where}: port_map maps port numbers to port numbers.")
    return dict(raw)


class _Getter:
    """Typed field access with errors that name the entry."""

    def __init__(self, raw: Any, where: str) -> None:
        if not isinstance(raw, Mapping):
            raise CatalogError(f"{where} is not a mapping.")
        self.raw, self.where = raw, where

    def text(self, key: str, optional: bool = False) -> str | None:
        value = self.raw.get(key)
        if value is None and optional:
            return None
        if not isinstance(value, str) or not value.strip():
            raise CatalogError(f"{self.where}: {key} must be a non-empty string.")
        return value.strip()

    def flag(self, key: str) -> bool:
        value = self.raw.get(key)
        if not isinstance(value, bool):
            raise CatalogError(f"{self.where}: {key} must be true or false.")
        return value

    def texts(self, key: str, optional: bool = False) -> tuple[str, ...]:
        value = self.raw.get(key)
        if value is None and optional:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, (str, int, float)) for v in value):
            raise CatalogError(f"{self.where}: {key} must be a list of strings.")
        return tuple(str(v) for v in value)


# ---------------------------------------------------------------------------- loading (file I/O)


def load_catalog(path: str | Path | None = None) -> Catalog:
    """Load and validate the catalog file (the bundled one by default); cached per path."""
    return _load_cached(str(Path(path) if path else DEFAULT_CATALOG_PATH))


@functools.lru_cache(maxsize=8)
def _load_cached(path: str) -> Catalog:
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except OSError as err:
        raise CatalogError(f"Cannot read the Chainguard catalog at {path}: {err.strerror}.") from err
    except yaml.YAMLError as err:
        raise CatalogError(f"The Chainguard catalog at {path} is not valid YAML: {err}") from err
    return parse_catalog(data)


def registry_prefix(text: str) -> str:
    """Normalize a registry path setting: ``https://127.0.0.1:5000/chainguard/`` → ``127.0.0.1:5000/chainguard``."""
    cleaned = text.strip().rstrip("/")
    if "://" in cleaned:
        cleaned = cleaned.split("://", 1)[1]
    try:
        probe = parse_reference(f"{cleaned}/probe")
    except InvalidReference as err:
        raise ValueError(
            f"{text!r} is not a registry path like cgr.dev/chainguard or 127.0.0.1:5000/chainguard: {err}"
        ) from err
    return probe.name.removesuffix("/probe")
