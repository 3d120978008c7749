"""The catalog file, its index, and the refresh from a registry (a real HTTP server on 127.0.0.1)."""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from workers.chainguard.catalog import (
    DEFAULT_CATALOG_PATH,
    Catalog,
    CatalogError,
    load_catalog,
    normalize_name,
    parse_catalog,
)
from workers.chainguard.refresh import apply_refresh, refresh_catalog
from workers.reference import parse_reference

CATALOG = load_catalog()
NAMES = [(entry, kind, text) for entry in CATALOG.entries for kind, text in entry.names()]


def _id(value):
    return value.upstream if hasattr(value, "upstream") else str(value)


# ---------------------------------------------------------------------------- the file


def test_bundled_catalog_loads_all_entries():
    assert len(CATALOG.entries) == 68
    assert sum(e.free_tier for e in CATALOG.entries) == 34  # as the header says
    assert sum(e.confirmed for e in CATALOG.entries) == 65


def test_header_with_dates_rules_and_sources_is_kept():
    header = DEFAULT_CATALOG_PATH.read_text(encoding="utf-8").split("\nentries:\n")[0]
    for needle in (
        "DATE THE DATA REFLECTS",
        "chainguard-images/images main at commit cd7edd236bf1",
        "GENERAL TAG AND NAMING RULES (with sources)",
        "ADDED FIELDS (chainscan",
    ):
        assert needle in header
    for rule in range(1, 13):
        assert f"#   R{rule} " in header
    assert header.count("src: https://") >= 8


@pytest.mark.parametrize("entry", CATALOG.entries, ids=_id)
def test_every_entry_keeps_its_sources(entry):
    assert entry.source and all(s.startswith("https://") for s in entry.source)
    assert entry.caveats, "every entry gets at least one short caveat line for Slack"
    assert all(len(line) <= 120 for line in entry.caveats)


def test_load_catalog_is_cached_per_path(tmp_path: Path):
    assert load_catalog() is load_catalog()
    assert load_catalog(DEFAULT_CATALOG_PATH) is load_catalog()
    copy = tmp_path / "catalog.yaml"
    copy.write_text(DEFAULT_CATALOG_PATH.read_text(encoding="utf-8"), encoding="utf-8")
    assert load_catalog(copy) is not load_catalog()
    assert load_catalog(copy) is load_catalog(copy)


# ---------------------------------------------------------------------------- the index


@pytest.mark.parametrize("entry,kind,text", NAMES, ids=[f"{e.upstream}|{t}" for e, _, t in NAMES])
def test_every_name_indexes_its_entry(entry, kind, text):
    match = CATALOG.lookup(parse_reference(text))
    assert match is not None and match.entry is entry
    assert match.matched == normalize_name(text)


def test_lookup_ignores_tag_and_digest():
    digest = "sha256:" + "b" * 64
    for text in ("redis", "redis:7.2-alpine", f"docker.io/library/redis@{digest}", "index.docker.io/redis:7"):
        assert CATALOG.lookup(parse_reference(text)).entry.chainguard == "redis"


@pytest.mark.parametrize(
    "text,upstream",
    [
        ("mirror.gcr.io/library/nginx:1.27", "nginx"),
        ("public.ecr.aws/docker/library/redis", "redis"),
        ("127.0.0.1:5000/library/mariadb", "mariadb"),
        ("registry.example.com/bitnami/postgresql:16", "postgres"),
    ],
)
def test_lookup_finds_docker_hub_mirrors(text, upstream):
    match = CATALOG.lookup(parse_reference(text))
    assert match.entry.upstream == upstream and match.kind == "mirror"


def test_lookup_unknown_is_none():
    assert CATALOG.lookup(parse_reference("example/unknown-app")) is None
    assert CATALOG.lookup(parse_reference("ghcr.io/example/app")) is None


def test_third_party_names_are_unconfirmed_unless_chainguard_lists_them():
    assert not CATALOG.lookup(parse_reference("bitnami/redis")).confirmed
    assert CATALOG.lookup(parse_reference("bitnami/python")).confirmed
    assert CATALOG.lookup(parse_reference("python")).confirmed


def test_chainguard_names_cover_variants_and_substitutes():
    names = CATALOG.chainguard_names()
    for name in ("mariadb", "go", "jdk", "jre", "docker-cli", "wolfi-base", "chainguard-base"):
        assert name in names
    assert len(names) == len(set(names))


def test_tool_and_user_facts():
    assert CATALOG.latest_tools("wolfi-base") == ("sh", "apk")
    assert CATALOG.latest_tools("static") == ()
    assert CATALOG.latest_tools("python") is None  # has -dev instead
    assert CATALOG.runs_as_root("go") and CATALOG.runs_as_root("wolfi-base")
    assert not CATALOG.runs_as_root("python")
    assert CATALOG.is_base_os("wolfi-base") and CATALOG.is_base_os("chainguard-base")
    assert not CATALOG.is_base_os("nginx")


# ---------------------------------------------------------------------------- validation


def _raw_entry(**changes):
    raw = {
        "upstream": "example",
        "chainguard": "example",
        "free_tier": True,
        "free_tags": ["latest"],
        "dev_variant": False,
        "confirmed": True,
        "confirmed_as_of": "2026-01-01",
        "notes": "n",
        "source": ["https://example.com"],
    }
    raw.update(changes)
    return raw


def test_parse_catalog_accepts_a_minimal_entry():
    catalog = parse_catalog({"entries": [_raw_entry()]})
    assert isinstance(catalog, Catalog)
    assert catalog.entries[0].version_tag == "{major_minor}"


@pytest.mark.parametrize(
    "data,message",
    [
        ({}, "entries"),
        ({"entries": ["x"]}, "not a mapping"),
        ({"entries": [_raw_entry(source=[])]}, "source"),
        ({"entries": [_raw_entry(free_tier="yes")]}, "free_tier"),
        ({"entries": [_raw_entry(free_tags=["latest-dev"])]}, "latest"),
        ({"entries": [_raw_entry(free_tier=False)]}, "paid image has no free_tags"),
        ({"entries": [_raw_entry(aliases=["Not A Name!"])]}, "not an image name"),
        ({"entries": [_raw_entry(version_tag="{nope}")]}, "version_tag"),
        ({"entries": [_raw_entry(confirmed_third_party=["bitnami/x"])]}, "confirmed_third_party"),
        ({"entries": [_raw_entry(), _raw_entry(upstream="other", aliases=["example"])]}, "listed under both"),
    ],
)
def test_parse_catalog_rejects_bad_data(data, message):
    with pytest.raises(CatalogError, match=message):
        parse_catalog(data)


def test_load_catalog_reports_missing_and_broken_files(tmp_path: Path):
    with pytest.raises(CatalogError, match="Cannot read"):
        load_catalog(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("entries: [\n", encoding="utf-8")
    with pytest.raises(CatalogError, match="not valid YAML"):
        load_catalog(broken)


# ---------------------------------------------------------------------------- refresh


class _Registry:
    """A tiny registry API v2 on 127.0.0.1: bearer-token flow like cgr.dev, tags/list, paging, a denied repo."""

    TOKEN = "test-token"

    def __init__(self, repos: dict[str, list[str]], denied: set[str] = frozenset(), auth: bool = True):
        self.repos, self.denied, self.auth = repos, denied, auth
        self.requests: list[str] = []
        registry = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_GET(self):
                registry.requests.append(self.path)
                registry.handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        path, _, query = request.path.partition("?")
        if path == "/token":
            scope = dict(p.split("=", 1) for p in query.split("&") if "=" in p).get("scope", "")
            return self._send(request, 200, {"token": self.TOKEN, "scope": scope})
        authorized = not self.auth or request.headers.get("Authorization") == f"Bearer {self.TOKEN}"
        if path == "/v2/":
            return self._send(request, 200 if authorized else 401, {})
        if not (path.startswith("/v2/") and path.endswith("/tags/list")):
            return self._send(request, 404, {"errors": [{"code": "NOT_FOUND"}]})
        repo = path[len("/v2/") : -len("/tags/list")]
        if not authorized:
            return self._send(request, 401, {"errors": [{"code": "UNAUTHORIZED"}]}, repo=repo)
        if repo in self.denied:
            return self._send(request, 403, {"errors": [{"code": "DENIED"}]})
        if repo not in self.repos:
            return self._send(request, 404, {"errors": [{"code": "NAME_UNKNOWN"}]})
        tags = self.repos[repo]
        if "last=" not in query and len(tags) > 2:  # page 1 of 2, as distribution does with ?n=
            return self._send(
                request,
                200,
                {"name": repo, "tags": tags[:2]},
                link=f'</v2/{repo}/tags/list?n=2&last={tags[1]}>; rel="next"',
            )
        page = tags[2:] if "last=" in query else tags
        return self._send(request, 200, {"name": repo, "tags": page})

    def _send(self, request, status, body, repo=None, link=None):
        data = json.dumps(body).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(data)))
        if status == 401:
            scope = f',scope="repository:{repo}:pull"' if repo else ""
            request.send_header(
                "WWW-Authenticate",
                f'Bearer realm="http://127.0.0.1:{self.port}/token",service="test-registry"{scope}',
            )
        if link:
            request.send_header("Link", link)
        request.end_headers()
        request.wfile.write(data)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def registry():
    repos = {
        "chainguard/mariadb": ["latest", "latest-dev"],
        "chainguard/memcached": ["latest", "latest-dev", "sha256-abc.att"],
        "chainguard/nginx": ["latest", "latest-dev"],
    }
    with _Registry(repos, denied={"chainguard/mysql"}) as server:
        yield server


def test_refresh_reports_available_missing_and_denied(registry):
    names = ["mariadb", "memcached", "nginx", "mysql", "redis"]
    result = refresh_catalog(f"127.0.0.1:{registry.port}/chainguard", CATALOG, names=names, timeout=2)
    assert result.reachable and result.error is None
    assert result.available == {
        "mariadb": ("latest", "latest-dev"),
        "memcached": ("latest", "latest-dev", "sha256-abc.att"),  # second page followed
        "nginx": ("latest", "latest-dev"),
    }
    assert result.images["mysql"].status == "denied"
    assert result.images["redis"].status == "missing"
    assert result.missing == ["mysql", "redis"]
    assert any(p.startswith("/token?") and "repository%3Achainguard%2Fmariadb%3Apull" in p for p in registry.requests)


def test_refresh_checks_every_catalog_name_by_default(registry):
    result = refresh_catalog(f"http://127.0.0.1:{registry.port}/chainguard/", CATALOG, timeout=2)
    assert result.reachable
    assert sorted(result.images) == CATALOG.chainguard_names()


def test_refresh_without_auth_and_at_the_registry_root():
    with _Registry({"mariadb": ["latest"]}, auth=False) as server:
        result = refresh_catalog(f"127.0.0.1:{server.port}", CATALOG, names=["mariadb", "nginx"], timeout=2)
    assert result.available == {"mariadb": ("latest",)}
    assert result.missing == ["nginx"]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_refresh_of_an_unreachable_registry_does_not_raise():
    result = refresh_catalog(f"127.0.0.1:{_closed_port()}/chainguard", CATALOG, names=["mariadb"], timeout=1)
    assert not result.reachable
    assert "unreachable" in result.error and result.images == {}
    assert apply_refresh(CATALOG, result) is CATALOG


def test_refresh_of_something_that_is_not_a_registry():
    class NotFound(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            self.send_response(404)
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        result = refresh_catalog(f"127.0.0.1:{server.server_address[1]}/chainguard", CATALOG, names=["x"], timeout=2)
    finally:
        server.shutdown()
        server.server_close()
    assert not result.reachable and "HTTP 404" in result.error


def test_refresh_with_a_bad_registry_setting():
    result = refresh_catalog("not a registry", CATALOG, names=["x"])
    assert not result.reachable and "not a registry path" in result.error


def test_apply_refresh_follows_what_the_free_registry_serves(registry):
    result = refresh_catalog(
        f"127.0.0.1:{registry.port}/chainguard", CATALOG, names=["mariadb", "memcached", "redis"], timeout=2
    )
    refreshed = apply_refresh(CATALOG, result)
    by_name = {e.upstream: e for e in refreshed.entries}
    assert by_name["memcached"].free_tier and by_name["memcached"].dev_variant  # was paid
    assert not by_name["redis"].free_tier and by_name["redis"].free_tags == ()  # not served there
    assert by_name["mariadb"].free_tags == ("latest", "latest-dev")
    assert by_name["nginx"] == next(e for e in CATALOG.entries if e.upstream == "nginx")  # not checked
    assert refreshed.lookup(parse_reference("bitnami/memcached")).entry.free_tier


def test_entries_can_be_replaced_for_what_if_catalogs():
    entries = [replace(e, free_tier=False, free_tags=()) if e.upstream == "mariadb" else e for e in CATALOG.entries]
    catalog = Catalog.from_entries(entries)
    assert not catalog.lookup(parse_reference("mariadb")).entry.free_tier
