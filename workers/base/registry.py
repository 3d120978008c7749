"""Reading an image's layer list (DiffIDs) from its registry, without pulling or scanning it. I/O only.

Registry HTTP API v2: the manifest (an index is narrowed to ``SCAN_PLATFORM``), then the config blob's
``rootfs.diff_ids``. ``DOCKERHUB_MIRROR``, ``REGISTRY_CREDENTIALS`` and the insecure-registry rules apply as for
scans; the bearer-token challenge is answered by the same client the catalog refresh uses.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import requests

from workers.chainguard.refresh import _RegistryClient
from workers.config import Settings
from workers.reference import DOCKER_HUB, ImageRef
from workers.scan.resolve import platform_matches, source_reference

ACCEPT = ", ".join(
    (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    )
)
INDEXES = ("application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json")


class RegistryLookupError(RuntimeError):
    """The registry would not tell; the message says what it answered."""


@dataclass(frozen=True)
class RemoteImage:
    digest: str  # what the tag points at (an index or a manifest)
    manifest_digest: str  # the platform's own manifest
    diff_ids: list[str]  # empty when not asked for
    annotations: dict[str, str]  # the index's, overridden by the platform manifest's


def remote_image(ref: ImageRef, settings: Settings, *, layers: bool = True) -> RemoteImage:
    """The image's digests, its manifests' annotations and (``layers``) its DiffIDs from the config blob."""
    source = source_reference(ref, settings)
    host = source.registry
    scheme = "http" if settings.is_insecure(host) else "https"
    api = f"{scheme}://{'registry-1.docker.io' if host == DOCKER_HUB else host}"
    credential = settings.credential_for(host)
    pair = (credential.username, credential.password) if credential else None
    client = _Client(requests.Session(), api, settings.registry_timeout, pair)
    repo = source.repository
    top, digest = client.manifest(repo, source.digest or source.tag or "latest")
    manifest, manifest_digest = top, digest
    annotations = dict(top.get("annotations") or {})
    if top.get("mediaType") in INDEXES or "manifests" in top:
        entry = next(
            (m for m in top.get("manifests") or [] if platform_matches(settings.platform, _platform(m))),
            None,
        )
        if entry is None:
            raise RegistryLookupError(f"{ref.familiar} offers no {settings.platform} image")
        manifest, manifest_digest = client.manifest(repo, entry["digest"])
        annotations.update(manifest.get("annotations") or {})
    if not layers:
        return RemoteImage(digest, manifest_digest, [], annotations)
    config = json.loads(client.get(f"/v2/{repo}/blobs/{manifest['config']['digest']}", repo).content)
    diff_ids = list((config.get("rootfs") or {}).get("diff_ids") or [])
    return RemoteImage(digest, manifest_digest, diff_ids, annotations)


def _platform(entry: dict) -> str:
    p = entry.get("platform") or {}
    return "/".join(x for x in (p.get("os"), p.get("architecture"), p.get("variant")) if x)


class _Client(_RegistryClient):
    def get(self, path: str, repo: str, headers: dict | None = None) -> requests.Response:
        url, headers = f"{self.api}{path}", dict(headers or {})
        try:
            response = self.http.get(url, headers=headers, timeout=self.timeout)
            if response.status_code == 401:
                headers.update(self._authorization(response, repo))
                response = self.http.get(url, headers=headers, timeout=self.timeout)
        except requests.RequestException as exc:
            raise RegistryLookupError(f"{self.api} could not be reached ({type(exc).__name__})") from None
        if response.status_code != 200:
            raise RegistryLookupError(f"{url} answered HTTP {response.status_code}")
        return response

    def manifest(self, repo: str, reference: str) -> tuple[dict, str]:
        response = self.get(f"/v2/{repo}/manifests/{reference}", repo, {"Accept": ACCEPT})
        digest = (
            response.headers.get("Docker-Content-Digest") or "sha256:" + hashlib.sha256(response.content).hexdigest()
        )
        return response.json(), digest
