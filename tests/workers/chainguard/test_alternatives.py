"""Mapping upstream images to Chainguard images: every catalog entry and every name it answers to."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from workers.chainguard.alternatives import (
    DEFAULT_CHAINGUARD_REGISTRY,
    REASON_PAID,
    REASON_UNKNOWN,
    Version,
    close_names,
    find_alternative,
    parse_tag,
    registry_prefix,
)
from workers.chainguard.catalog import Catalog, load_catalog
from workers.reference import parse_reference

CATALOG = load_catalog()
ORG = "cgr.dev/acme"
NAMES = [(entry, text) for entry in CATALOG.entries for _, text in entry.names()]
# Catalog aliases whose tag picks another Chainguard image through a tag variant.
VARIANT_ALIASES = {"eclipse-temurin:21-jre": "jre"}
BASE_OS = {"alpine", "ubuntu", "debian", "fedora"}


def alt(text: str, **kwargs):
    return find_alternative(parse_reference(text), CATALOG, **kwargs)


# ---------------------------------------------------------------------------- every entry, every name


@pytest.mark.parametrize("entry", CATALOG.entries, ids=lambda e: e.upstream)
def test_every_entry_maps_to_its_chainguard_image_with_an_org_registry(entry):
    result = alt(entry.upstream, org_registry=ORG)
    assert result.status == "mapped"
    assert result.image_name == entry.chainguard
    assert result.upstream == entry.upstream
    assert result.free_tier == entry.free_tier
    home = DEFAULT_CHAINGUARD_REGISTRY if entry.free_tier else ORG
    assert str(result.reference) == f"{home}/{entry.chainguard}:latest"
    assert result.sources == list(entry.source)
    assert result.tag_advice is None  # :latest asks for nothing in particular


@pytest.mark.parametrize("entry", CATALOG.entries, ids=lambda e: e.upstream)
def test_every_entry_without_an_org_registry(entry):
    result = alt(entry.upstream)
    if entry.free_tier:
        assert str(result.reference) == f"cgr.dev/chainguard/{entry.chainguard}:latest"
        assert result.reason is None and result.free_tier
    elif entry.free_substitute:
        assert str(result.reference) == f"cgr.dev/chainguard/{entry.free_substitute.chainguard}:latest"
        assert result.free_tier and result.image_name == "wolfi-base"
    else:  # paid: say so instead of failing
        assert result.reference is None and result.status == "paid"
        assert result.reason == REASON_PAID
        assert result.image_name == entry.chainguard and not result.free_tier
        assert any(f"cgr.dev/<your-org>/{entry.chainguard}:latest" in n for n in result.notes)
    assert result.notes, "every mapping carries at least one caveat line"


@pytest.mark.parametrize("entry,text", NAMES, ids=[f"{e.upstream}|{t}" for e, t in NAMES])
def test_every_alias_and_third_party_name_maps_to_its_entry(entry, text):
    result = alt(text, org_registry=ORG)
    assert result.upstream == entry.upstream
    assert result.image_name == VARIANT_ALIASES.get(text, entry.chainguard)
    assert result.reference is not None


@pytest.mark.parametrize("entry", CATALOG.entries, ids=lambda e: e.upstream)
def test_every_free_entry_offers_dev_only_where_it_exists(entry):
    result = alt(entry.upstream, dev=True, org_registry=ORG)
    if entry.free_tier:
        expected = "latest-dev" if "latest-dev" in entry.free_tags else "latest"
    else:
        expected = "latest-dev" if entry.dev_variant else "latest"
    assert result.tag == expected
    if expected == "latest":
        assert any("no -dev variant" in n for n in result.notes)


def test_json_form():
    data = json.loads(json.dumps(alt("mariadb:11.4").to_dict()))
    assert data["reference"] == "cgr.dev/chainguard/mariadb:latest"
    assert data["free_tier"] is True and data["image_name"] == "mariadb"
    assert data["tag_advice"].startswith("You asked for mariadb:11.4")
    for key in ("notes", "reason", "close_names", "status", "upstream", "sources"):
        assert key in data
    unknown = alt("example/unknown-app").to_dict()
    assert unknown["reference"] is None and unknown["reason"] == REASON_UNKNOWN
    paid = json.loads(json.dumps(alt("mysql").to_dict()))
    assert paid["reference"] is None and paid["free_tier"] is False and paid["reason"] == REASON_PAID


# ---------------------------------------------------------------------------- renames and base OS


@pytest.mark.parametrize(
    "text,image",
    [
        ("golang", "go"),
        ("golang:1.22-alpine", "go"),
        ("openjdk", "jdk"),
        ("openjdk:17-jre", "jre"),
        ("eclipse-temurin", "jdk"),
        ("eclipse-temurin:17-jdk", "jdk"),
        ("eclipse-temurin:21-jre-alpine", "jre"),
        ("mongo", "mongodb"),
        ("bitnami/mongodb", "mongodb"),
        ("gcc", "gcc-glibc"),
        ("docker", "docker-dind"),
        ("docker:dind", "docker-dind"),
        ("bitnami/postgresql", "postgres"),
        ("mcr.microsoft.com/dotnet/sdk", "dotnet-sdk"),
        ("mcr.microsoft.com/dotnet/aspnet", "aspnet-runtime"),
        ("gcr.io/distroless/base-debian12", "glibc-dynamic"),
        ("gcr.io/distroless/static-debian12:nonroot", "static"),
        ("curlimages/curl", "curl"),
        ("alpine/git", "git"),
        ("otel/opentelemetry-collector-contrib", "opentelemetry-collector-contrib"),
    ],
)
def test_free_renames(text, image):
    result = alt(text)
    assert result.image_name == image and result.free_tier
    assert str(result.reference).startswith(f"cgr.dev/chainguard/{image}:")
    if parse_reference(text).short_name != image:
        assert any(n.startswith(f"Chainguard calls it {image} (") for n in result.notes)


@pytest.mark.parametrize(
    "text,image",
    [
        ("amazoncorretto:17", "amazon-corretto-jdk"),
        ("clickhouse/clickhouse-server", "clickhouse"),
        ("confluentinc/cp-kafka", "confluent-kafka"),
        ("prom/node-exporter", "prometheus-node-exporter"),
        ("docker:cli", "docker-cli"),
    ],
)
def test_paid_renames(text, image):
    result = alt(text)
    assert result.image_name == image and result.status == "paid" and result.reference is None
    assert alt(text, org_registry=ORG).reference.name == f"cgr.dev/acme/{image}"


def test_docker_cli_variant_has_its_own_caveats():
    notes = alt("docker:cli").notes
    assert any("docker-cli is paid" in n for n in notes)
    assert not any("--privileged" in n for n in notes)


@pytest.mark.parametrize(
    "text",
    [
        "alpine",
        "ubuntu:22.04",
        "debian:bookworm-slim",
        "fedora",
        "centos:7",
        "rockylinux:9",
        "registry.access.redhat.com/ubi9/ubi",
    ],
)
def test_base_os_maps_to_wolfi_base_for_free_use(text):
    result = alt(text)
    assert str(result.reference) == "cgr.dev/chainguard/wolfi-base:latest"
    assert result.free_tier and result.status == "mapped"
    assert "chainguard-base, is paid" in result.notes[0]
    with_org = alt(text, org_registry=ORG)
    assert str(with_org.reference) == "cgr.dev/acme/chainguard-base:latest"  # R5: latest only
    assert not with_org.free_tier


def test_base_os_dev_request_stays_on_latest_with_shell_and_apk():
    result = alt("ubuntu", dev=True)
    assert result.tag == "latest"
    assert any("no -dev variant" in n for n in result.notes)


# ---------------------------------------------------------------------------- tags


def test_pinned_version_on_the_free_tier_says_so():
    result = alt("mariadb:11.4")
    assert str(result.reference) == "cgr.dev/chainguard/mariadb:latest"
    assert result.tag_advice == (
        "You asked for mariadb:11.4; Chainguard's free tier serves only :latest and :latest-dev, "
        "so this compares against :latest."
    )


def test_latest_needs_no_advice():
    assert alt("mariadb").tag_advice is None
    assert alt("mariadb:latest").tag_advice is None
    assert alt("mariadb", dev=True).tag_advice is None


@pytest.mark.parametrize(
    "text,tag",
    [
        ("python:3.12-slim", "latest"),
        ("python:3.9-slim-bookworm", "latest"),
        ("node:20-alpine", "latest"),
        ("postgres:16.4", "latest"),
        ("nginx:1.27.3", "latest"),
    ],
)
def test_free_tier_drops_versions_and_suffixes(text, tag):
    result = alt(text)
    assert result.tag == tag
    assert "free tier serves only :latest and :latest-dev" in result.tag_advice


def test_variant_only_tags_are_named():
    advice = alt("nginx:alpine").tag_advice
    assert "no alpine variant" in advice and advice.endswith("compares against :latest.")
    assert alt("busybox:glibc").tag_advice is None  # understood: latest-glibc


def test_dev_flag():
    assert str(alt("python:3.12", dev=True).reference) == "cgr.dev/chainguard/python:latest-dev"
    assert alt("gradle", dev=True).tag == "latest"  # no latest-dev in the free tier
    assert alt("gcr.io/distroless/static", dev=True).tag == "latest"  # never has -dev


@pytest.mark.parametrize(
    "text,dev,tag",
    [
        ("busybox:glibc", False, "latest-glibc"),
        ("php:fpm", False, "latest-fpm"),
        ("php:8-fpm-alpine", True, "latest-fpm-dev"),
        ("php:apache", False, "latest"),
        ("mcr.microsoft.com/dotnet/sdk:10.0", False, "10.0"),  # the free repo carries version tags
        ("mcr.microsoft.com/dotnet/sdk:10.0", True, "latest-dev"),  # but no 10.0-dev
        ("mcr.microsoft.com/dotnet/sdk:8.0", False, "latest"),
    ],
)
def test_extra_free_tags(text, dev, tag):
    assert alt(text, dev=dev).tag == tag


def test_free_tier_without_the_variant_tag_notes_it():
    paidless = [replace(e, free_tags=("latest", "latest-dev")) if e.upstream == "php" else e for e in CATALOG.entries]
    result = find_alternative(parse_reference("php:fpm"), Catalog.from_entries(paidless))
    assert result.tag == "latest" and any("no :latest-fpm" in n for n in result.notes)


@pytest.mark.parametrize(
    "text,tag,advice",
    [
        ("mysql:8.4", "8.4", None),  # R4: major.minor kept
        ("mysql:8", "8", None),
        ("mysql:8.4.2", "8.4", "float per major.minor"),
        ("mysql:8.4-oracle", "8.4", "(-oracle) have no Chainguard equivalent"),
        ("traefik:v3.6.4", "v3.6", "float"),  # tags keep the v prefix
        ("traefik:3.6", "v3.6", None),
        ("jenkins/jenkins:lts", "latest", "no lts variant"),
        ("amazoncorretto:17", "17", None),
        ("ubuntu:22.04", "latest", "do not follow upstream versions"),  # chainguard-base: latest only
    ],
)
def test_paid_tags_with_an_org_registry(text, tag, advice):
    result = alt(text, org_registry=ORG)
    assert result.tag == tag and result.reference.tag == tag
    if advice is None:
        assert result.tag_advice is None
    else:
        assert advice in result.tag_advice
        assert f"so this compares against :{tag}" in result.tag_advice


def test_paid_dev_tags():
    assert alt("memcached:1.6", org_registry=ORG, dev=True).tag == "1.6-dev"
    result = alt("mysql:8.4", org_registry=ORG, dev=True)
    assert result.tag == "8.4" and any("no -dev variant" in n for n in result.notes)


def test_paid_without_org_registry_names_the_closest_tag():
    result = alt("mysql:8.4.2")
    assert result.reference is None and result.tag == "8.4"
    assert "the closest Chainguard tag is :8.4" in result.tag_advice
    assert any("cgr.dev/<your-org>/mysql:8.4" in n for n in result.notes)


def test_java_tags_use_the_openjdk_prefix_when_paid():
    def paid(entry):
        variants = tuple(replace(v, free_tier=False, free_tags=()) for v in entry.tag_variants)
        return replace(entry, free_tier=False, free_tags=(), tag_variants=variants)

    catalog = Catalog.from_entries(
        paid(e) if e.upstream in ("openjdk", "eclipse-temurin") else e for e in CATALOG.entries
    )
    jdk = find_alternative(parse_reference("openjdk:21"), catalog, org_registry=ORG, dev=True)
    assert str(jdk.reference) == "cgr.dev/acme/jdk:openjdk-21-dev"
    jre = find_alternative(parse_reference("eclipse-temurin:17.0.2-jre"), catalog, org_registry=ORG)
    assert str(jre.reference) == "cgr.dev/acme/jre:openjdk-17"


def test_digest_pins_are_explained():
    digest = "sha256:" + "c" * 64
    result = alt(f"redis:7@{digest}")
    assert result.reference.digest is None and result.tag == "latest"
    assert "pinned by digest" in result.tag_advice and "redis:7@sha256:cccccccccccc…" in result.tag_advice


@pytest.mark.parametrize(
    "tag,version,words",
    [
        (None, None, ()),
        ("latest", None, ()),
        ("3.12-slim-bookworm", ("3", "12", None), ("slim", "bookworm")),
        ("v3.6.4", ("3", "6", "4"), ()),
        ("21-jre", ("21", None, None), ("jre",)),
        ("alpine3.19", None, ("alpine3.19",)),
        ("lts-slim", None, ("lts", "slim")),
    ],
)
def test_parse_tag(tag, version, words):
    info = parse_tag(tag)
    assert info.words == words
    parsed = (info.version.major, info.version.minor, info.version.patch) if info.version else None
    assert parsed == version


def test_version_templates():
    assert Version("3", "12", "1").render("{major_minor}") == "3.12"
    assert Version("21").render("openjdk-{major}") == "openjdk-21"
    assert Version("3", "6").render("v{major_minor}") == "v3.6"


# ---------------------------------------------------------------------------- notes


def test_caveats_for_slack():
    nginx = alt("nginx").notes
    assert "Listens on 8080, not 80 (runs unprivileged)." in nginx
    assert any("UID 65532" in n for n in nginx)
    assert any("no shell" in n.lower() for n in alt("python").notes)


def test_naming_convention_third_party_names_are_flagged():
    assert any("naming convention" in n for n in alt("bitnami/redis").notes)
    assert not any("naming convention" in n for n in alt("bitnami/python").notes)
    assert alt("bitnami/redis").confirmed is False
    assert alt("redis").confirmed is True


def test_unconfirmed_and_stale_entries_say_check_the_directory():
    assert any(n.startswith("Unconfirmed mapping") for n in alt("httpd").notes)
    assert any("images.chainguard.dev/directory/image/memcached" in n for n in alt("memcached").notes)
    assert not any("directory" in n for n in alt("mariadb").notes)


def test_mirror_match_is_noted():
    result = alt("public.ecr.aws/docker/library/nginx:1.27")
    assert result.image_name == "nginx" and result.matched_by == "mirror"
    assert "Matched as a mirror of docker.io/library/nginx." in result.notes


# ---------------------------------------------------------------------------- Chainguard already


@pytest.mark.parametrize(
    "text,free",
    [
        ("cgr.dev/chainguard/mariadb:latest", True),
        ("cgr.dev/chainguard/python:latest-dev", True),
        ("chainguard/mariadb", True),  # Docker Hub mirror of the free images
        ("docker.io/chainguard/nginx:latest", True),
        ("cgr.dev/acme/mysql:8.4", False),
        ("cgr.dev/other-org/python:3.12", False),
    ],
)
def test_chainguard_images_map_to_themselves(text, free):
    ref = parse_reference(text)
    result = find_alternative(ref, CATALOG, org_registry=ORG)
    assert result.reference == ref and result.status == "chainguard"
    assert result.free_tier is free
    assert result.image_name == ref.short_name
    assert "already a Chainguard image" in result.notes[0]


def test_free_chainguard_reference_with_a_version_tag_is_flagged():
    result = alt("cgr.dev/chainguard/python:3.12")
    assert "free tier serves only :latest and :latest-dev" in result.tag_advice


def test_configured_registry_counts_as_chainguard():
    ref = parse_reference("127.0.0.1:5000/chainguard/mariadb:latest")
    result = find_alternative(ref, CATALOG, "127.0.0.1:5000/chainguard")
    assert result.status == "chainguard" and result.reference == ref and result.free_tier
    other = find_alternative(parse_reference("127.0.0.1:5000/library/mariadb"), CATALOG, "127.0.0.1:5000/chainguard")
    assert str(other.reference) == "127.0.0.1:5000/chainguard/mariadb:latest" and other.status == "mapped"


# ---------------------------------------------------------------------------- registries


@pytest.mark.parametrize(
    "setting",
    ["127.0.0.1:5000/chainguard", "http://127.0.0.1:5000/chainguard/", " 127.0.0.1:5000/chainguard "],
)
def test_registry_override(setting):
    result = find_alternative(parse_reference("mariadb:11.4"), CATALOG, setting)
    assert str(result.reference) == "127.0.0.1:5000/chainguard/mariadb:latest"
    assert result.reference.registry == "127.0.0.1:5000"
    assert result.reference.repository == "chainguard/mariadb"


def test_registry_override_for_substitutes_and_org():
    result = find_alternative(parse_reference("alpine"), CATALOG, "mirror.example.com/cg")
    assert str(result.reference) == "mirror.example.com/cg/wolfi-base:latest"
    mysql = parse_reference("mysql:8.4")
    paid = find_alternative(mysql, CATALOG, "mirror.example.com/cg", "registry.example.com:5000/acme")
    assert str(paid.reference) == "registry.example.com:5000/acme/mysql:8.4"


def test_registry_without_a_path():
    result = find_alternative(parse_reference("redis"), CATALOG, "127.0.0.1:5000")
    assert str(result.reference) == "127.0.0.1:5000/redis:latest"


def test_bad_registry_setting_is_a_sentence():
    with pytest.raises(ValueError, match="is not a registry path"):
        find_alternative(parse_reference("redis"), CATALOG, "not a registry")
    with pytest.raises(ValueError):
        registry_prefix("UPPER/Case")


# ---------------------------------------------------------------------------- unknown images


@pytest.mark.parametrize(
    "text,close",
    [
        ("mongodb", "mongo"),  # the Chainguard name, typed as an upstream
        ("go", "golang"),
        ("jdk", "openjdk"),
        ("postgress", "postgres"),
        ("ngnix", "nginx"),
        ("grafan/grafana", "grafana/grafana"),
        ("bitnami/rediss", "bitnami/redis"),
    ],
)
def test_unknown_names_get_close_names(text, close):
    result = alt(text)
    assert result.reference is None and result.status == "unknown"
    assert result.reason == REASON_UNKNOWN
    assert close in result.close_names
    assert len(result.close_names) <= 5


def test_unknown_without_close_names():
    result = alt("ghcr.io/example/zzqqxx")
    assert result.reason == REASON_UNKNOWN and result.close_names == [] and result.notes == []


def test_close_names_never_repeat_the_question():
    assert "mongo" not in close_names(parse_reference("mongo"), CATALOG)
