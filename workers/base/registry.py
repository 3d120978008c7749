"""Reading an image's layer list (DiffIDs) from its registry, without pulling or scanning it. I/O only.

Registry HTTP API v2: the manifest (an index is narrowed to ``SCAN_PLATFORM``), then the config blob's
``rootfs.diff_ids``. ``DOCKERHUB_MIRROR``, ``REGISTRY_CREDENTIALS`` and the insecure-registry rules apply as for
scans; every read goes through :class:`workers.registry_client.RegistryClient` (byte cap, total deadline,
token realms and addresses judged by the registry policy).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from workers.allowlist import RegistryRefused
from workers.config import Settings
from workers.reference import ImageRef
from workers.registry_client import ACCEPT, Answer, RegistryClient, RegistryReadError, admit, client_for
from workers.scan.resolve import platform_matches, source_reference

INDEXES = ("application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json")


class RegistryLookupError(RuntimeError):
    """The registry would not tell; the message says what it answered."""


@dataclass(frozen=True)
class RemoteImage:
    digest: str  # what the tag points at (an index or a manifest)
    manifest_digest: str  # the platform's own manifest
    diff_ids: list[str]  # empty when not asked for
    annotations: dict[str, str]  # the index's, overridden by the platform manifest's
    layers: list[dict] = field(default_factory=list)  # the platform manifest's layer descriptors, when asked for
    labels: dict = field(default_factory=dict)  # the config's labels, when layers were asked for


def remote_image(ref: ImageRef, settings: Settings, *, layers: bool = True) -> RemoteImage:
    """The image's digests, its manifests' annotations and (``layers``) its DiffIDs from the config blob.
    A reference the registry policy refuses (a base label naming ``169.254.169.254``) is never contacted."""
    try:
        source = admit(source_reference(ref, settings), settings.registry_policy)
    except RegistryRefused as exc:
        raise RegistryLookupError(str(exc)) from None
    client = _Client.of(client_for(source, settings))
    repo = source.repository
    top, digest = client.manifest_json(repo, source.digest or source.tag or "latest")
    manifest, manifest_digest = top, digest
    annotations = dict(top.get("annotations") or {})
    if top.get("mediaType") in INDEXES or "manifests" in top:
        entry = next(
            (m for m in top.get("manifests") or [] if platform_matches(settings.platform, _platform(m))),
            None,
        )
        if entry is None:
            raise RegistryLookupError(f"{ref.familiar} offers no {settings.platform} image")
        manifest, manifest_digest = client.manifest_json(repo, entry["digest"])
        annotations.update(manifest.get("annotations") or {})
    if not layers:
        return RemoteImage(digest, manifest_digest, [], annotations)
    config = client.ok(f"/v2/{repo}/blobs/{manifest['config']['digest']}", repo).json()
    diff_ids = list((config.get("rootfs") or {}).get("diff_ids") or [])
    descriptors = [
        {"digest": str(d.get("digest")), "mediaType": str(d.get("mediaType") or ""), "size": d.get("size")}
        for d in manifest.get("layers") or []
        if isinstance(d, dict)
    ]
    labels = (config.get("config") or {}).get("Labels") or {}
    return RemoteImage(digest, manifest_digest, diff_ids, annotations, descriptors, dict(labels))


def _platform(entry: dict) -> str:
    p = entry.get("platform") or {}
    return "/".join(x for x in (p.get("os"), p.get("architecture"), p.get("variant")) if x)


class _Client(RegistryClient):
    """The shared client, with every failure as :class:`RegistryLookupError`."""

    @classmethod
    def of(cls, client: RegistryClient) -> _Client:
        return cls(client.http, client.api, client.timeout, client.credentials, client.policy, client.max_bytes)

    def ok(self, path: str, repo: str, headers: dict | None = None) -> Answer:
        try:
            answer = self.get(path, repo, headers)
        except (RegistryReadError, RegistryRefused) as exc:
            raise RegistryLookupError(str(exc)) from None
        if answer.status != 200:
            raise RegistryLookupError(f"{self.api}{path} answered HTTP {answer.status}")
        return answer

    def manifest_json(self, repo: str, reference: str) -> tuple[dict, str]:
        """The manifest and its digest, computed from the bytes (a registry's header is not taken on trust)."""
        answer = self.ok(f"/v2/{repo}/manifests/{reference}", repo, {"Accept": ACCEPT})  # a digest: checked below
        digest = "sha256:" + hashlib.sha256(answer.content).hexdigest()
        if reference.startswith("sha256:") and reference != digest:
            raise RegistryLookupError(f"{self.api} answered {reference} with a manifest whose digest is {digest}")
        try:
            return answer.json(), digest
        except ValueError:
            raise RegistryLookupError(f"{self.api} answered a manifest that is not JSON") from None
