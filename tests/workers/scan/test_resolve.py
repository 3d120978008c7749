"""Reading the engine's answers, with no engine: the digest and platform (interpret) and its errors."""

from __future__ import annotations

import pytest

from workers.config import Settings
from workers.errors import ErrorKind, ScanError, registry_error
from workers.reference import parse_reference
from workers.scan.resolve import INDEX_MEDIA_TYPES, classify_engine_error, interpret, unresolved_host

DIGEST = "sha256:" + "a" * 64
INDEX = next(iter(INDEX_MEDIA_TYPES))


def _answer(media_type="application/vnd.oci.image.manifest.v1+json", platforms=()):
    return {"Descriptor": {"mediaType": media_type, "digest": DIGEST}, "Platforms": list(platforms)}


def test_interpret_pins_the_digest_and_applies_the_mirror():
    resolved = interpret(parse_reference("mariadb"), Settings(dockerhub_mirror="127.0.0.1:5000"), _answer())
    assert resolved.digest == DIGEST and not resolved.is_index
    assert str(resolved.source) == f"127.0.0.1:5000/library/mariadb:latest@{DIGEST}"


def test_interpret_checks_an_index_offers_the_platform():
    platforms = [{"os": "linux", "architecture": "arm64", "variant": "v8"}]
    with pytest.raises(ScanError) as caught:
        interpret(parse_reference("mariadb"), Settings(platform="linux/amd64"), _answer(INDEX, platforms))
    assert caught.value.kind is ErrorKind.PLATFORM_MISSING and "linux/arm64" in caught.value.message
    resolved = interpret(parse_reference("mariadb"), Settings(platform="linux/arm64"), _answer(INDEX, platforms))
    assert resolved.is_index and resolved.platforms == ("linux/arm64/v8",)


@pytest.mark.parametrize(
    "message, status, kind",
    [
        ("toomanyrequests: You have reached your pull rate limit", 500, ErrorKind.RATE_LIMITED),
        ("unauthorized: authentication required", 500, ErrorKind.ACCESS_DENIED),
        ("manifest unknown", 404, ErrorKind.NOT_FOUND),
        (
            'Get "https://cgr.dev/v2/": dial tcp: lookup cgr.dev on 10.0.0.53:53: no such host',
            500,
            ErrorKind.NAME_UNRESOLVED,
        ),
        ("net/http: request canceled (Client.Timeout exceeded)", 500, ErrorKind.TIMEOUT),
        ("dial tcp 127.0.0.1:5000: connect: connection refused", 500, ErrorKind.UNREACHABLE),
        ("something else entirely", 500, ErrorKind.REGISTRY_ERROR),
    ],
)
def test_classify_engine_error(message, status, kind):
    assert classify_engine_error(message, status) is kind


def test_a_name_that_does_not_resolve_is_not_retried_and_names_the_host():
    message = (
        'Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io on 1.1.1.1:53: no such host'
    )
    error = registry_error(classify_engine_error(message, 500), "mariadb:latest", host=unresolved_host(message))
    assert not error.transient
    assert "registry-1.docker.io" in error.message and "DOCKERHUB_MIRROR" in error.message


def test_every_registry_kind_has_its_own_sentence():
    for kind in (
        ErrorKind.NOT_FOUND,
        ErrorKind.ACCESS_DENIED,
        ErrorKind.UNREACHABLE,
        ErrorKind.RATE_LIMITED,
        ErrorKind.TIMEOUT,
        ErrorKind.REGISTRY_ERROR,
    ):
        error = registry_error(kind, "x:1", detail="boom")
        assert error.kind is kind and "x:1" in error.message and "{" not in error.message


@pytest.mark.parametrize(
    "host, detail, says",
    [
        ("127.0.0.1:5999", "dial tcp 127.0.0.1:5999: connect: connection refused", "connection refused"),
        ("registry.internal", "dial tcp 10.1.2.3:443: connect: network is unreachable", "network is unreachable"),
        ("registry-1.docker.io", "dial tcp 1.2.3.4:443: connect: no route to host", "DOCKERHUB_MIRROR"),
    ],
)
def test_an_unreachable_registry_is_named_with_its_cause(host, detail, says):
    error = registry_error(ErrorKind.UNREACHABLE, "app:1", detail=detail, host=host)
    assert error.transient and host in error.message and says in error.message and "app:1" in error.message


def test_a_missing_tag_and_a_refusal_name_the_registry_that_said_so():
    missing = registry_error(ErrorKind.NOT_FOUND, "mariadb:11.9", host="127.0.0.1:5000")
    denied = registry_error(ErrorKind.ACCESS_DENIED, "ghcr.io/org/app:1", host="ghcr.io")
    assert "127.0.0.1:5000 says" in missing.message and "`/scan mariadb:11.4`" in missing.message
    assert "denied by ghcr.io" in denied.message and "REGISTRY_CREDENTIALS" in denied.message
