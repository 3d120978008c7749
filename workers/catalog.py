"""The Chainguard image catalog: data in ``data/chainguard-catalog.yaml``, loaded into dataclasses.

Everything here is pure except :func:`load_catalog` (reads the YAML file) and
:func:`refresh_catalog` (asks a registry which images it serves). The catalog
header documents every field and the general rules R1–R12 with their sources.
"""

from __future__ import annotations

import base64
import datetime as _dt
import functools
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Mapping

import requests
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
    def from_entries(cls, entries: Iterable[CatalogEntry]) -> "Catalog":
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
        return any(
            e.free_substitute and name in (e.chainguard, e.free_substitute.chainguard) for e in self.entries
        )

    def suggestion_names(self) -> list[str]:
        """Names worth offering as "did you mean": upstream and third-party names, as people type them."""
        out: list[str] = []
        for entry in self.entries:
            for kind, text in entry.names():
                if kind != "alias":
                    familiar = _familiar_name(text)
                    if familiar not in out:
                        out.append(familiar)
        return out


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


# ---------------------------------------------------------------------------- refresh from a registry


@dataclass(frozen=True)
class ImageAvailability:
    """What the registry said about one repository."""

    name: str  # Chainguard image name: mariadb
    status: str  # "available", "missing" (404), "denied" (401/403: paid or private), "error"
    tags: tuple[str, ...] = ()
    detail: str | None = None

    @property
    def available(self) -> bool:
        return self.status == "available"

    @property
    def definitive(self) -> bool:
        """True when the registry answered (so the catalog may be updated from it)."""
        return self.status != "error"


@dataclass(frozen=True)
class RefreshResult:
    registry: str
    reachable: bool
    images: Mapping[str, ImageAvailability] = field(default_factory=dict, hash=False)
    error: str | None = None
    checked_at: str = ""

    @property
    def available(self) -> dict[str, tuple[str, ...]]:
        """Image name → tags, for the images the registry serves."""
        return {n: a.tags for n, a in self.images.items() if a.available}

    @property
    def missing(self) -> list[str]:
        return sorted(n for n, a in self.images.items() if a.definitive and not a.available)


_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')
_LINK_NEXT = re.compile(r"<([^>]+)>\s*;\s*rel=\"?next\"?")
_LOOPBACK = re.compile(r"^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$")
_MAX_TAG_PAGES = 20


def refresh_catalog(
    registry: str,
    catalog: Catalog | None = None,
    *,
    names: Iterable[str] | None = None,
    timeout: float = 5.0,
    credentials: tuple[str, str] | None = None,
    scheme: str | None = None,
    session: Any = None,
) -> RefreshResult:
    """Ask ``registry`` (e.g. ``cgr.dev/chainguard``) which catalog images it serves, with their tags.

    Uses the registry HTTP API v2 (``GET /v2/<repo>/tags/list``) with the anonymous bearer-token flow
    cgr.dev uses (or ``credentials`` for an organisation registry). Never raises on network trouble:
    an unreachable registry gives ``reachable=False`` and an ``error`` sentence. Loopback hosts are
    spoken to over http, others over https, unless ``scheme`` says otherwise.
    """
    checked_at = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    try:
        host, namespace = _split_registry(registry)
    except ValueError as err:
        return RefreshResult(registry, False, error=str(err), checked_at=checked_at)
    if names is None:
        names = (catalog or load_catalog()).chainguard_names()
    scheme = scheme or ("http" if _LOOPBACK.match(host) else "https")
    api = f"{scheme}://{'registry-1.docker.io' if host == DOCKER_HUB else host}"
    http = session or requests.Session()
    client = _RegistryClient(http, api, timeout, credentials)

    ping_error = client.ping()
    if ping_error:
        return RefreshResult(registry, False, error=f"{registry} is unreachable: {ping_error}", checked_at=checked_at)
    images = {}
    for name in dict.fromkeys(names):
        repo = f"{namespace}/{name}" if namespace else name
        images[name] = client.availability(name, repo)
    return RefreshResult(registry, True, images, checked_at=checked_at)


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


def _split_registry(registry: str) -> tuple[str, str]:
    """``cgr.dev/chainguard`` → (``cgr.dev``, ``chainguard``); ``127.0.0.1:5000`` → (host, "")."""
    host, _, namespace = registry_prefix(registry).partition("/")
    return host, namespace


class _RegistryClient:
    """The few registry API calls :func:`refresh_catalog` makes; the only network code in workers.catalog."""

    def __init__(self, http: Any, api: str, timeout: float, credentials: tuple[str, str] | None) -> None:
        self.http, self.api, self.timeout, self.credentials = http, api, timeout, credentials

    def ping(self) -> str | None:
        """None when ``/v2/`` answers like a registry, else a short reason."""
        try:
            response = self.http.get(f"{self.api}/v2/", timeout=self.timeout)
        except requests.RequestException as err:
            return _short_error(err)
        if response.status_code in (200, 401):
            return None
        return f"HTTP {response.status_code} on /v2/, so it does not look like a registry"

    def availability(self, name: str, repo: str) -> ImageAvailability:
        try:
            return self._tags(name, repo)
        except requests.RequestException as err:
            return ImageAvailability(name, "error", detail=_short_error(err))
        except ValueError as err:  # JSON that is not a tag list
            return ImageAvailability(name, "error", detail=f"unexpected answer: {err}")

    def _tags(self, name: str, repo: str) -> ImageAvailability:
        url, tags, headers = f"{self.api}/v2/{repo}/tags/list", [], {}
        for _ in range(_MAX_TAG_PAGES):
            response = self.http.get(url, headers=headers, timeout=self.timeout)
            if response.status_code == 401 and not headers:
                headers = self._authorization(response, repo)
                if headers:
                    response = self.http.get(url, headers=headers, timeout=self.timeout)
            if response.status_code in (401, 403):
                return ImageAvailability(name, "denied", detail=f"HTTP {response.status_code}")
            if response.status_code == 404:
                return ImageAvailability(name, "missing", detail="HTTP 404")
            if response.status_code != 200:
                return ImageAvailability(name, "error", detail=f"HTTP {response.status_code}")
            body = response.json()
            if not isinstance(body, dict):
                raise ValueError("the tag list is not a JSON object")
            tags.extend(str(t) for t in body.get("tags") or [])
            next_link = _LINK_NEXT.search(response.headers.get("Link", ""))
            if not next_link:
                break
            url = _join_link(self.api, next_link.group(1))
        return ImageAvailability(name, "available", tuple(sorted(set(tags))))

    def _authorization(self, response: Any, repo: str) -> dict[str, str]:
        """Answer a 401 challenge: a bearer token (anonymous unless credentials) or basic auth."""
        challenge = response.headers.get("WWW-Authenticate", "")
        scheme = challenge.split(" ", 1)[0].lower()
        if scheme == "basic" and self.credentials:
            pair = ":".join(self.credentials).encode()
            return {"Authorization": "Basic " + base64.b64encode(pair).decode()}
        if scheme != "bearer":
            return {}
        params = dict(_CHALLENGE_PARAM.findall(challenge))
        realm = params.pop("realm", None)
        if not realm:
            return {}
        params.setdefault("scope", f"repository:{repo}:pull")
        token_response = self.http.get(realm, params=params, auth=self.credentials, timeout=self.timeout)
        if token_response.status_code != 200:
            return {}
        body = token_response.json()
        token = (body.get("token") or body.get("access_token")) if isinstance(body, dict) else None
        return {"Authorization": f"Bearer {token}"} if token else {}


def _join_link(api: str, link: str) -> str:
    """Resolve a ``Link`` header target (usually a path) against the API base."""
    return link if "://" in link else f"{api}{link if link.startswith('/') else '/' + link}"


def _short_error(err: Exception) -> str:
    name = type(err).__name__
    if "Timeout" in name:
        return "the connection timed out"
    if "Connection" in name:
        return "the connection failed"
    return name


def apply_refresh(catalog: Catalog, result: RefreshResult) -> Catalog:
    """A new catalog whose free-tier facts follow what a refresh of the *free* registry found.

    Only meaningful for the no-login registry (cgr.dev/chainguard or a full mirror of it): an image
    it serves becomes free with the tags seen; one it definitively lacks becomes paid. Images the
    refresh could not check keep the catalog's facts.
    """
    if not result.reachable:
        return catalog
    images = result.images

    def refreshed(name: str, free: bool, tags: tuple[str, ...]) -> tuple[bool, tuple[str, ...]]:
        seen = images.get(name)
        if seen is None or not seen.definitive:
            return free, tags
        return (True, seen.tags) if seen.available and "latest" in seen.tags else (False, ())

    entries = []
    for entry in catalog.entries:
        free, tags = refreshed(entry.chainguard, entry.free_tier, entry.free_tags)
        substitute = entry.free_substitute
        if substitute:
            sub_free, sub_tags = refreshed(substitute.chainguard, True, substitute.free_tags)
            substitute = replace(substitute, free_tags=sub_tags) if sub_free else None
        variants = tuple(_refresh_variant(v, refreshed) for v in entry.tag_variants)
        dev = ("latest-dev" in tags) if free else entry.dev_variant
        entries.append(replace(entry, free_tier=free, free_tags=tags, dev_variant=dev,
                               free_substitute=substitute, tag_variants=variants))
    return Catalog.from_entries(entries)


def _refresh_variant(variant: TagVariant, refreshed: Any) -> TagVariant:
    if not variant.chainguard:
        return variant
    free, tags = refreshed(variant.chainguard, bool(variant.free_tier), variant.free_tags or ())
    return replace(variant, free_tier=free, free_tags=tags)
