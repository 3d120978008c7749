"""The registry HTTP API calls chainscan makes itself (manifests, config blobs, tag lists). I/O only.

The Docker engine and Trivy speak to registries for scans; this client is for what the bot reads on its own:
base-image look-ups, the Chainguard catalog refresh, and the check that a registry serves a digest before its
cached report is shown. Every answer is read with a byte cap and a total deadline (:mod:`workers.bounded`), so a
300 MB manifest or a registry trickling a byte a second costs a worker nothing, and the token service a 401
challenge names is fetched only when the registry policy admits it (a registry cannot send the bot to
``169.254.169.254``). :func:`admit` is the last look before connecting: the policy, then the addresses the
registry's name resolves to.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import socket
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from workers.allowlist import RegistryPolicy, RegistryRefused, split_host
from workers.bounded import BodyTooLarge, BodyTooSlow, read_body
from workers.reference import DOCKER_HUB, ImageRef

MAX_ANSWER_BYTES = 8 * 1024 * 1024  # manifests, config blobs, tag lists and tokens are kilobytes; 8 MB is generous
ACCEPT = ", ".join(  # every manifest kind: an index, an image manifest, OCI and Docker's
    (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    )
)
_REDIRECTS = (301, 302, 303, 307, 308)
_MAX_REDIRECTS = 5
_PUBLIC = RegistryPolicy()  # any public host: where a registry may send the bot for a blob
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')


class RegistryReadError(RuntimeError):
    """The registry's answer could not be read (too large, too slow, cut, unreachable); ``str`` is a short reason."""


@dataclass(frozen=True)
class Answer:
    """A registry's answer, read in full within the caps."""

    status: int
    headers: Mapping[str, str]
    content: bytes

    def json(self) -> Any:
        return json.loads(self.content)


@dataclass
class RegistryClient:
    """Registry API v2 GETs against ``api`` (``https://ghcr.io``), answering one 401 challenge per request."""

    http: Any
    api: str
    timeout: float  # the whole of one answer, connecting included
    credentials: tuple[str, str] | None = None
    policy: RegistryPolicy = field(default_factory=RegistryPolicy)
    max_bytes: int = MAX_ANSWER_BYTES

    def get(self, path: str, repo: str, headers: Mapping[str, str] | None = None) -> Answer:
        """``GET api + path`` (or a full URL), with a token when the registry asks for one."""
        url = path if "://" in path else f"{self.api}{path}"
        headers = dict(headers or {})
        answer = self._read(url, headers)
        if answer.status == 401:
            authorization = self._authorization(answer, repo)
            if authorization:
                answer = self._read(url, {**headers, **authorization})
        return answer

    def manifest(self, repo: str, reference: str) -> tuple[Answer, str]:
        """The manifest of ``repo`` at a tag or digest, and its digest as the bot computes it from the bytes."""
        answer = self.get(f"/v2/{repo}/manifests/{reference}", repo, {"Accept": ACCEPT})
        return answer, "sha256:" + hashlib.sha256(answer.content).hexdigest()

    def _read(self, url: str, headers: Mapping[str, str], **kwargs) -> Answer:
        deadline = time.monotonic() + self.timeout
        try:
            with self._send(url, headers, **kwargs) as response:
                content = read_body(response, max_bytes=self.max_bytes, deadline=deadline)
                return Answer(response.status_code, dict(response.headers), content)
        except BodyTooLarge:
            raise RegistryReadError(f"{url} sent more than {self.max_bytes // (1024 * 1024)} MB") from None
        except BodyTooSlow:
            raise RegistryReadError(f"{url} took longer than {self.timeout:.0f} s to answer") from None
        except requests.RequestException as exc:
            raise RegistryReadError(f"{self.api} could not be reached ({type(exc).__name__})") from None

    @contextmanager
    def blob(self, repo: str, digest: str) -> Iterator[requests.Response]:
        """The blob ``digest`` of ``repo`` as a streamed response (read it with :mod:`workers.bounded`)."""
        url, headers = f"{self.api}/v2/{repo}/blobs/{digest}", {}
        try:
            response = self._send(url, headers)
            if response.status_code == 401:
                authorization = self._authorization(Answer(401, dict(response.headers), b""), repo)
                response.close()
                response = self._send(url, authorization)
        except requests.RequestException as exc:
            raise RegistryReadError(f"{self.api} could not be reached ({type(exc).__name__})") from None
        with response:
            if response.status_code != 200:
                raise RegistryReadError(f"{url} answered HTTP {response.status_code}")
            yield response

    def _send(self, url: str, headers: Mapping[str, str], **kwargs) -> requests.Response:
        """A streamed GET whose redirects (blob stores, CDNs) are followed only to hosts a user could name: a public
        one, or one the policy lists; never a private address it does not list. Credentials stay on their host."""
        for _ in range(_MAX_REDIRECTS):
            response = self.http.get(
                url, headers=headers, stream=True, timeout=self.timeout, allow_redirects=False, **kwargs
            )
            location = response.headers.get("Location")
            if response.status_code not in _REDIRECTS or not location:
                return response
            response.close()
            target = urljoin(url, location)
            if (refusal := self.policy.url_refusal(target)) and _PUBLIC.url_refusal(target):
                raise RegistryRefused(refusal)
            if urlsplit(target).netloc != urlsplit(url).netloc:
                headers, kwargs = {k: v for k, v in headers.items() if k.lower() != "authorization"}, {}
            url = target
        raise RegistryReadError(f"{url} redirected more than {_MAX_REDIRECTS} times")

    def _authorization(self, answer: Answer, repo: str) -> dict[str, str]:
        """Answer a 401 challenge: a bearer token (anonymous unless credentials) or basic auth."""
        challenge = answer.headers.get("WWW-Authenticate", "")
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
        if refusal := self.policy.url_refusal(realm):
            raise RegistryRefused(refusal)
        params.setdefault("scope", f"repository:{repo}:pull")
        token = self._read(realm, {}, params=params, auth=self.credentials)
        if token.status != 200:
            return {}
        try:
            body = token.json()
        except ValueError:
            return {}
        value = (body.get("token") or body.get("access_token")) if isinstance(body, dict) else None
        return {"Authorization": f"Bearer {value}"} if value else {}


def serves(source: ImageRef, settings) -> bool:
    """Whether ``source``'s registry answers a manifest for ``source.digest`` whose bytes hash to that digest: the
    proof that the registry named holds the image, asked before a report cached by digest is shown."""
    try:
        answer, digest = client_for(admit(source, settings.registry_policy), settings).manifest(
            source.repository, source.digest
        )
    except (RegistryReadError, RegistryRefused):
        return False
    return answer.status == 200 and digest == source.digest


def api_base(host: str, *, insecure: bool) -> str:
    """``https://registry-1.docker.io`` for docker.io, ``http://127.0.0.1:5000`` for an insecure registry."""
    return f"{'http' if insecure else 'https'}://{'registry-1.docker.io' if host == DOCKER_HUB else host}"


def client_for(source: ImageRef, settings, http: Any = None) -> RegistryClient:
    """A client for ``source``'s registry (mirror already applied) with the settings' credentials and policy."""
    host = source.registry
    credential = settings.credential_for(host)
    return RegistryClient(
        http or requests.Session(),
        api_base(host, insecure=settings.is_insecure(host)),
        settings.registry_timeout,
        (credential.username, credential.password) if credential else None,
        settings.registry_policy,
    )


def admit(ref: ImageRef, policy: RegistryPolicy) -> ImageRef:
    """``ref`` when chainscan may contact its registry: the policy, then (for a name the policy admits) the
    addresses that name resolves to, so a public name pointing at a private address is refused too."""
    policy.check(ref)
    registry = policy.mirror if ref.registry == DOCKER_HUB and policy.mirror else ref.registry
    if refusal := policy.address_refusal(registry, _addresses(registry)):
        raise RegistryRefused(refusal)
    return ref


def _addresses(registry: str) -> Iterator[str]:
    """The addresses ``registry``'s host resolves to (none when it does not resolve: the engine will say so)."""
    host, _ = split_host(registry)
    if host == DOCKER_HUB:
        host = "registry-1.docker.io"
    try:
        found = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return
    for entry in found:
        yield str(entry[4][0])
