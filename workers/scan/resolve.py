"""Resolving a reference to a digest through the Docker engine's registry client.

The engine speaks the registry protocol for us (token auth, mirrors, insecure
loopback registries): ``GET /distribution/{name}/json`` returns the manifest
descriptor and the platforms an index offers, without pulling anything. The
layers themselves are later fetched by Trivy straight from the registry, pinned
to this digest, so what is scanned is exactly what was resolved.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import docker
import docker.errors
import requests.exceptions

from workers.config import Settings
from workers.errors import ErrorKind, ScanError, registry_error
from workers.reference import DOCKER_HUB, ImageRef
from workers.registry_client import RegistryReadError, admit, client_for

INDEX_MEDIA_TYPES = {
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.index.v1+json",
}


@dataclass(frozen=True)
class ResolvedImage:
    requested: ImageRef  # what the user asked for, normalized
    source: ImageRef  # where the bytes come from (mirror applied), pinned to the digest
    digest: str
    platform: str
    platforms: tuple[str, ...]
    is_index: bool


def source_reference(ref: ImageRef, settings: Settings) -> ImageRef:
    """Apply ``DOCKERHUB_MIRROR``: every docker.io image comes from the mirror instead."""
    if ref.registry == DOCKER_HUB and settings.dockerhub_mirror:
        return ref.with_registry(settings.dockerhub_mirror)
    return ref


def inspect(ref: ImageRef, settings: Settings, client: docker.DockerClient) -> dict:
    """The engine's ``/distribution/{name}/json`` answer for ``ref`` (mirror applied); errors become sentences."""
    source = source_reference(ref, settings)
    credential = settings.credential_for(source.registry)
    try:
        return client.api.inspect_distribution(
            str(source), auth_config=credential.as_docker_auth() if credential else None
        )
    except docker.errors.APIError as exc:
        message = str(exc.explanation or exc)
        kind = classify_engine_error(message, exc.status_code)
        host = unresolved_host(message) if kind is ErrorKind.NAME_UNRESOLVED else source.registry
        detail = message if kind is ErrorKind.UNREACHABLE else ""
        raise registry_error(kind, ref.familiar, detail=detail, host=host) from None
    except requests.exceptions.Timeout:
        raise registry_error(ErrorKind.TIMEOUT, ref.familiar) from None
    except (requests.exceptions.ConnectionError, docker.errors.DockerException):
        raise registry_error(ErrorKind.DOCKER_UNAVAILABLE, ref.familiar) from None


def inspect_registry(ref: ImageRef, settings: Settings, http=None) -> dict:
    """What :func:`inspect` answers, read from the registry itself in one manifest GET (mirror applied): the
    fleet's re-evaluation resolves each watched tag with it and nothing more. The digest is the bot's own hash of
    the bytes, so the answer also proves the registry serves that digest. Raises RegistryReadError or
    RegistryRefused; the caller falls back to the engine's look-up, whose failures are sentences. ``http``: a
    requests session to share (its connections are reused across many look-ups)."""
    source = source_reference(ref, settings)
    client = client_for(admit(source, settings.registry_policy), settings, http)
    answer, digest = client.manifest(source.repository, source.digest or source.tag or "latest")
    if answer.status != 200:
        raise RegistryReadError(f"{source.registry} answered HTTP {answer.status} for {source}")
    body = answer.json()
    media_type = body.get("mediaType") or answer.headers.get("Content-Type", "").split(";")[0].strip()
    is_index = media_type in INDEX_MEDIA_TYPES or "manifests" in body
    platforms = [m.get("platform") or {} for m in body.get("manifests") or []] if is_index else []
    if is_index and media_type not in INDEX_MEDIA_TYPES:
        media_type = "application/vnd.oci.image.index.v1+json"
    return {
        "Descriptor": {"mediaType": media_type, "digest": digest, "size": len(answer.content)},
        "Platforms": platforms,
    }


def interpret(ref: ImageRef, settings: Settings, data: dict) -> ResolvedImage:
    """Pick the digest and check the platform from an :func:`inspect` answer. Pure."""
    descriptor = data.get("Descriptor") or {}
    platforms = tuple(_platform_name(p) for p in data.get("Platforms") or [])
    is_index = descriptor.get("mediaType") in INDEX_MEDIA_TYPES
    if is_index and platforms and not any(platform_matches(settings.platform, p) for p in platforms):
        raise ScanError.of(
            ErrorKind.PLATFORM_MISSING, what=ref.familiar, platform=settings.platform, offered=", ".join(platforms)
        )
    digest = ref.digest or descriptor["digest"]
    return ResolvedImage(
        requested=ref,
        source=source_reference(ref, settings).with_digest(digest),
        digest=digest,
        platform=settings.platform,
        platforms=platforms,
        is_index=is_index,
    )


def resolve(ref: ImageRef, settings: Settings, client: docker.DockerClient) -> ResolvedImage:
    """Ask the registry (through the engine) for the digest and platforms of ``ref``."""
    return interpret(ref, settings, inspect(ref, settings, client))


def classify_engine_error(message: str, status: int | None) -> ErrorKind:
    """Which kind of registry failure the engine's error message describes. Pure."""
    low = message.lower()
    if "toomanyrequests" in low or "rate limit" in low or status == 429:
        return ErrorKind.RATE_LIMITED
    if (
        "unauthorized" in low
        or "denied" in low
        or "authentication required" in low
        or "auth credentials" in low
        or status in (401, 403)
    ):
        return ErrorKind.ACCESS_DENIED
    if "manifest unknown" in low or "not found" in low or "name unknown" in low or status == 404:
        return ErrorKind.NOT_FOUND
    if "no such host" in low or "server misbehaving" in low or "name or service not known" in low:
        return ErrorKind.NAME_UNRESOLVED
    if "timeout" in low or "deadline exceeded" in low:
        return ErrorKind.TIMEOUT
    if "connection refused" in low or "no such host" in low or "dial tcp" in low or "network is unreachable" in low:
        return ErrorKind.UNREACHABLE
    return ErrorKind.REGISTRY_ERROR


_LOOKUP = re.compile(r"lookup ([A-Za-z0-9.-]+)")


def unresolved_host(message: str) -> str | None:
    """``registry-1.docker.io`` from ``dial tcp: lookup registry-1.docker.io on …: no such host``. Pure."""
    found = _LOOKUP.search(message)
    return found.group(1) if found else None


def platform_matches(wanted: str, offered: str) -> bool:
    """``linux/arm64`` matches ``linux/arm64/v8``: a variant only counts when it is asked for. Pure."""
    want, have = wanted.split("/"), offered.split("/")
    if want[:2] != have[:2]:
        return False
    return len(want) < 3 or (have[2:3] or [_DEFAULT_VARIANT.get(have[1], "")]) == want[2:3]


_DEFAULT_VARIANT = {"arm64": "v8", "arm": "v7"}


def _platform_name(platform: dict) -> str:
    name = f"{platform.get('os', '?')}/{platform.get('architecture', '?')}"
    return f"{name}/{platform['variant']}" if platform.get("variant") else name
