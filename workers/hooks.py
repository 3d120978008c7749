"""Registry push notifications: verified and parsed. Pure: headers, body, secrets and the time in, a
:class:`Delivery` or a :class:`HookRefusal` out.

Each provider has its own scheme, checked before the body is parsed:

- Docker Distribution (the CNCF registry) posts an envelope ``{"events": [...]}``; its ``notifications``
  endpoint sends the headers it is configured with, here ``Authorization: Bearer <REGISTRY_HOOK_SECRET>``.
  Events with ``action: push`` carry ``target.repository``, ``target.digest``, ``target.tag``, the registry
  in ``request.host`` and a ``timestamp``.
- Harbor sends its policy's *Auth Header* verbatim as ``Authorization`` (here ``HARBOR_HOOK_SECRET``), and
  ``{"type": "PUSH_ARTIFACT", "occur_at": <unix seconds>, "event_data": {"repository": …, "resources": […]}}``.
- GitHub signs the body: ``X-Hub-Signature-256: sha256=<HMAC-SHA256(body, GITHUB_HOOK_SECRET)>``; the event
  is ``X-GitHub-Event: registry_package`` and ``X-GitHub-Delivery`` names the delivery.

A delivery's :attr:`Delivery.id` (GitHub's delivery id, else a digest of the body) is what the web process
remembers to refuse a replay; a timestamp older than ``max_age`` is refused here.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any
from urllib.parse import urlsplit

MAX_BODY = 1024 * 1024


class Provider(str, Enum):
    DISTRIBUTION = "distribution"
    HARBOR = "harbor"
    GITHUB = "github"


class HookRefusal(str, Enum):
    UNVERIFIED = "unverified"
    NOT_CONFIGURED = "not_configured"
    MALFORMED = "malformed"
    STALE = "stale"
    REPLAY = "replay"

    @property
    def status(self) -> int:
        return _ANSWERS[self][0]

    @property
    def reason(self) -> str:
        return _ANSWERS[self][1]


_ANSWERS = {
    HookRefusal.UNVERIFIED: (401, "the secret or signature does not match"),
    HookRefusal.NOT_CONFIGURED: (401, "no secret is configured for this provider, so nothing it sends is trusted"),
    HookRefusal.MALFORMED: (400, "verified, but not a notification this endpoint understands"),
    HookRefusal.STALE: (401, "the notification is older than REGISTRY_HOOK_MAX_AGE"),
    HookRefusal.REPLAY: (409, "this delivery was already received"),
}


@dataclass(frozen=True)
class HookSecrets:
    distribution: str | None = field(default=None, repr=False)
    harbor: str | None = field(default=None, repr=False)
    github: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Push:
    repository: str  # "registry/repo/name" as the registry names it ("127.0.0.1:5000/library/app")
    tag: str | None
    digest: str | None

    @property
    def reference(self) -> str:
        """What to scan: the tag (its thread and its previous report are the tag's), else the digest."""
        return f"{self.repository}:{self.tag}" if self.tag else f"{self.repository}@{self.digest}"


@dataclass(frozen=True)
class Delivery:
    provider: Provider
    id: str  # for replay refusal
    pushes: tuple[Push, ...]  # may be empty: a verified notification of something else (a pull, a ping)


def check(
    headers: Mapping[str, str], body: bytes, secrets: HookSecrets, now: float, max_age: float
) -> Delivery | HookRefusal:
    """Verify ``body`` by its provider's scheme, then parse it (see the module docstring)."""
    if headers.get("X-GitHub-Event") is not None:
        verdict = _verify_github(headers, body, secrets.github)
        return verdict or _parse(Provider.GITHUB, body, now, max_age, headers.get("X-GitHub-Delivery"), headers)
    provider = _provider_by_header(headers.get("Authorization"), secrets)
    if isinstance(provider, HookRefusal):
        return provider
    return _parse(provider, body, now, max_age, None, headers)


def _verify_github(headers: Mapping[str, str], body: bytes, secret: str | None) -> HookRefusal | None:
    if not secret:
        return HookRefusal.NOT_CONFIGURED
    signature = headers.get("X-Hub-Signature-256") or ""
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return None if hmac.compare_digest(signature.encode(), expected.encode()) else HookRefusal.UNVERIFIED


def _provider_by_header(value: str | None, secrets: HookSecrets) -> Provider | HookRefusal:
    """The provider whose secret the ``Authorization`` header carries: ``Bearer <REGISTRY_HOOK_SECRET>`` for
    Distribution, Harbor's auth header verbatim; both compared in constant time."""
    if not secrets.distribution and not secrets.harbor:
        return HookRefusal.NOT_CONFIGURED
    given = (value or "").encode()
    if secrets.distribution and hmac.compare_digest(given, f"Bearer {secrets.distribution}".encode()):
        return Provider.DISTRIBUTION
    if secrets.harbor and hmac.compare_digest(given, secrets.harbor.encode()):
        return Provider.HARBOR
    return HookRefusal.UNVERIFIED


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None


def _parse(provider, body, now, max_age, delivery_id, headers) -> Delivery | HookRefusal:
    data = _json(body)
    if not isinstance(data, dict):
        return HookRefusal.MALFORMED
    parse = {Provider.DISTRIBUTION: _distribution, Provider.HARBOR: _harbor, Provider.GITHUB: _github}[provider]
    try:
        pushes, stamps = parse(data, headers)
    except (KeyError, TypeError, ValueError, AttributeError):
        return HookRefusal.MALFORMED
    if any(now - stamp > max_age for stamp in stamps):
        return HookRefusal.STALE
    key = f"{provider.value}:{delivery_id}" if delivery_id else f"{provider.value}:{hashlib.sha256(body).hexdigest()}"
    return Delivery(provider, key, tuple(dict.fromkeys(pushes)))


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value or any(c.isspace() for c in value):
        raise ValueError("not a name")
    return value


def _optional(value: Any) -> str | None:
    return None if value in (None, "") else _text(value)


def _distribution(data: dict, headers) -> tuple[list[Push], list[float]]:
    events = data["events"]
    if not isinstance(events, list):
        raise TypeError("events")
    pushes, stamps = [], []
    for event in events:
        if event.get("timestamp"):
            stamps.append(datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00")).timestamp())
        target = event["target"]
        if event.get("action") != "push" or target.get("mediaType", "").endswith("layer.v1.tar+gzip"):
            continue
        host = _text((event.get("request") or {})["host"])
        tag, digest = _optional(target.get("tag")), _optional(target.get("digest"))
        if not tag and not digest:
            raise ValueError("a push of nothing")
        pushes.append(Push(f"{host}/{_text(target['repository'])}", tag, digest))
    return pushes, stamps


def _harbor(data: dict, headers) -> tuple[list[Push], list[float]]:
    if not isinstance(data.get("type"), str):
        raise TypeError("type")
    stamps = [float(data["occur_at"])] if data.get("occur_at") is not None else []
    if data["type"] != "PUSH_ARTIFACT":
        return [], stamps
    pushes = []
    for resource in data["event_data"]["resources"]:
        url = _text(resource["resource_url"])  # "harbor.example.com/library/app:1.2" or "…@sha256:…"
        repository = url.split("@", 1)[0]
        tag = _optional(resource.get("tag"))
        if tag and repository.endswith(f":{tag}"):
            repository = repository[: -len(tag) - 1]
        pushes.append(Push(repository, tag, _optional(resource.get("digest"))))
    return pushes, stamps


def _github(data: dict, headers) -> tuple[list[Push], list[float]]:
    if headers.get("X-GitHub-Event") != "registry_package" or data.get("action") not in ("published", "updated"):
        return [], []
    package = data["registry_package"]
    version = package["package_version"]
    tag = (version.get("container_metadata") or {}).get("tag") or {}
    host = urlsplit((package.get("registry") or {}).get("url") or "https://ghcr.io").netloc or "ghcr.io"
    repository = f"{host}/{_text(package['namespace'])}/{_text(package['name'])}".lower()
    digest = _optional(tag.get("digest")) or _optional(version.get("name"))
    return [Push(repository, _optional(tag.get("name")), digest)], []
