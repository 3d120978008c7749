"""Which registries chainscan may contact: ``REGISTRY_ALLOWLIST`` and the private-address rule. Pure.

Every reference a user can name (``/scan``, watches, a Dockerfile's ``FROM`` and ``COPY --from``, a base-image
label) and every URL a registry names back (a token realm) is checked here *before* anything connects, so a
refusal is the same sentence whether or not something listens at that address: the bot is no port scanner.

- ``REGISTRY_ALLOWLIST`` unset: any public host. Set: only the hosts (``ghcr.io``, ``registry.internal:5000``)
  and host/path prefixes (``ghcr.io/acme``) it lists. A host entry without a port admits every port.
- Loopback, link-local, private, unspecified and multicast addresses (and ``localhost``) are refused unless
  listed, allow-list or not: ``169.254.169.254`` is a cloud's metadata service, ``127.0.0.1:2375`` a Docker
  socket.
- Registries the operator configured (``DOCKERHUB_MIRROR``, ``CHAINGUARD_REGISTRY``, ``CHAINGUARD_ORG_REGISTRY``)
  are always admitted: the operator named them, no user did.

A docker.io reference is judged by the host that is contacted for it: the mirror when one is set.
:func:`address_refusal` judges the addresses a host name resolves to (the caller does the look-up), so a public
name that points at a private address is refused too.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from workers.reference import DOCKER_HUB, ImageRef, InvalidReference


class RegistryRefused(InvalidReference):
    """The reference names a registry chainscan may not contact; ``str(err)`` is one sentence."""


@dataclass(frozen=True)
class Entry:
    """One allow-list entry: a host, an optional port, an optional repository prefix."""

    host: str
    port: str | None = None
    path: str = ""

    def admits(self, host: str, port: str | None, repository: str) -> bool:
        if host != self.host or (self.port is not None and port != self.port):
            return False
        return not self.path or repository == self.path or repository.startswith(self.path + "/")


@dataclass(frozen=True)
class RegistryPolicy:
    entries: tuple[Entry, ...] = ()  # empty: any public host
    configured: tuple[str, ...] = ()  # "host[:port][/path]" the operator set; always admitted
    mirror: str | None = None  # DOCKERHUB_MIRROR: the host contacted for docker.io references

    @classmethod
    def from_settings(cls, allowlist: Iterable[str], configured: Iterable[str | None], mirror: str | None = None):
        return cls(
            tuple(parse_entry(text) for text in allowlist if text),
            tuple(text for text in configured if text),
            mirror,
        )

    @property
    def restricted(self) -> bool:
        return bool(self.entries)

    def refusal(self, ref: ImageRef) -> str | None:
        """Why ``ref`` may not be contacted, as one sentence; None when it may."""
        registry = self.mirror if ref.registry == DOCKER_HUB and self.mirror else ref.registry
        return self._refusal(registry, ref.repository, shown=ref.familiar)

    def check(self, ref: ImageRef) -> ImageRef:
        """``ref`` when it may be contacted; else :class:`RegistryRefused`."""
        if reason := self.refusal(ref):
            raise RegistryRefused(reason)
        return ref

    def url_refusal(self, url: str) -> str | None:
        """Why a URL a registry named (a token realm) may not be fetched; None when it may."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return "The registry named a token service chainscan cannot use (not an http or https URL)."
        netloc = parts.netloc.rsplit("@", 1)[-1]
        return self._refusal(netloc, parts.path.strip("/"), shown=netloc, realm=True)

    def address_refusal(self, registry: str, addresses: Iterable[str]) -> str | None:
        """Why ``registry`` may not be contacted now that its name resolved to ``addresses``; None when it may."""
        host, port = split_host(registry)
        if self._listed(host, port, "") or self._configured(host, port, ""):
            return None
        for address in addresses:
            if _is_private(address):
                return _private_sentence(registry)
        return None

    def _refusal(self, registry: str, repository: str, *, shown: str, realm: bool = False) -> str | None:
        host, port = split_host(registry)
        if self._configured(host, port, repository):
            return None
        listed = self._listed(host, port, repository)
        if not listed and (host == "localhost" or host.endswith(".localhost") or _is_private(host)):
            return _private_sentence(registry)
        if self.restricted and not listed:
            what = "token service" if realm else "registry"
            return (
                f"`{shown}` is on a {what} chainscan may not contact: REGISTRY_ALLOWLIST does not list "
                f"`{registry}`. Ask an admin to add it, or scan an image from a listed registry."
            )
        return None

    def _listed(self, host: str, port: str | None, repository: str) -> bool:
        return any(entry.admits(host, port, repository) for entry in self.entries)

    def _configured(self, host: str, port: str | None, repository: str) -> bool:
        for text in self.configured:
            entry = parse_entry(text)
            # a configured registry admits its whole host: the operator chose it, and its token service with it
            if entry.host == host and (entry.port is None or entry.port == port):
                return True
        return False


def parse_entry(text: str) -> Entry:
    """``ghcr.io/acme`` → Entry("ghcr.io", None, "acme"); hosts are compared lower-case. Pure."""
    text = text.strip().removeprefix("https://").removeprefix("http://").strip("/")
    hostport, _, path = text.partition("/")
    host, port = split_host(hostport)
    if host in ("index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"):
        host = DOCKER_HUB
    return Entry(host, port, path.strip("/"))


def split_host(hostport: str) -> tuple[str, str | None]:
    """``127.0.0.1:5000`` → ("127.0.0.1", "5000"); ``[::1]:5000`` → ("::1", "5000"). Pure."""
    hostport = hostport.lower()
    if hostport.startswith("["):
        host, _, rest = hostport[1:].partition("]")
        return host, rest.removeprefix(":") or None
    if hostport.count(":") == 1:
        host, port = hostport.split(":")
        return host, port or None
    return hostport, None


def _is_private(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        try:  # 2130706433, 0x7f.1 and the like are loopback to the C resolver
            address = ipaddress.ip_address(int(host, 0))
        except ValueError:
            return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_unspecified
        or address.is_multicast
        or address.is_reserved
    )


def _private_sentence(registry: str) -> str:
    return (
        f"`{registry}` is a local or private address; chainscan contacts one only when REGISTRY_ALLOWLIST "
        "lists it. Ask an admin to add it, or scan an image from a public registry."
    )
