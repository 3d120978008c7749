"""Whether an image's layers are what its config claims, before it may share Trivy's layer cache.

Trivy keeps what it learnt from a layer under the DiffID the image's *config* names, and never checks that the
layer's blob decompresses to that DiffID. An image whose config claims a victim layer's DiffID over an empty
blob would write "no packages" for the victim's layer into the shared cache (or read the victim's packages).
So before a registry image may read or write the shared cache, each (compressed digest, DiffID) pair of it
that was not verified before is verified once: the blob is streamed from the registry, its compressed bytes
hashed against the digest and its decompressed bytes (gzip or zstd) against the DiffID. A verified pair is a fact about
content (that blob decompresses to that tar) and is remembered in Redis; an image with any mismatch is scanned
with Trivy's memory cache and its report names the layers that do not match.

:func:`plan` is pure (what needs verifying, and what the manifest alone already tells); :func:`check` does the
reading, through :class:`workers.registry_client.RegistryClient`, with a byte cap and a deadline.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import zlib
from dataclasses import dataclass, field
from enum import Enum

import zstandard
from redis import Redis

from workers.allowlist import RegistryRefused
from workers.base.registry import RegistryLookupError, RemoteImage, remote_image
from workers.bounded import CHUNK
from workers.config import Settings
from workers.reference import ImageRef
from workers.registry_client import RegistryReadError, client_for

log = logging.getLogger(__name__)

PREFIX = "chainscan:layers:"
_GZIP = ("application/vnd.docker.image.rootfs.diff.tar.gzip", "application/vnd.oci.image.layer.v1.tar+gzip")
_ZSTD = ("application/vnd.oci.image.layer.v1.tar+zstd",)
_TAR = ("application/vnd.oci.image.layer.v1.tar", "application/vnd.docker.image.rootfs.diff.tar")
MAX_LAYER_BYTES = 8 * 1024 * 1024 * 1024  # compressed; a layer larger than this is not verified (memory cache)


class Verdict(str, Enum):
    CONSISTENT = "consistent"  # every layer is what the config claims: the shared cache may be used
    INCONSISTENT = "inconsistent"  # some layer is not: memory cache, and the card says so
    UNVERIFIED = "unverified"  # could not be checked (foreign layer, too large, registry trouble): memory cache


@dataclass(frozen=True)
class Pair:
    digest: str  # the compressed blob's, from the manifest
    diff_id: str  # what the config claims it decompresses to
    media_type: str


@dataclass(frozen=True)
class LayerCheck:
    verdict: Verdict
    mismatched: tuple[str, ...] = ()  # layer digests whose content does not match the DiffID claimed
    verified: tuple[Pair, ...] = field(default=(), repr=False)  # pairs newly verified by this check

    @property
    def shared_cache(self) -> bool:
        return self.verdict is Verdict.CONSISTENT


@dataclass(frozen=True)
class Plan:
    """What the manifest and config alone say, and which pairs still need their blob read."""

    verdict: Verdict | None  # decided already; None: read ``to_read`` first
    mismatched: tuple[str, ...] = ()
    to_read: tuple[Pair, ...] = ()


def plan(image: RemoteImage, known: dict[str, str]) -> Plan:
    """``known``: compressed digest → the DiffID it was verified to decompress to. Pure."""
    if len(image.layers) != len(image.diff_ids) or not image.layers:
        return Plan(Verdict.INCONSISTENT, tuple(d["digest"] for d in image.layers))
    pairs = [
        Pair(d["digest"], diff_id, d["mediaType"]) for d, diff_id in zip(image.layers, image.diff_ids, strict=True)
    ]
    mismatched, to_read = [], []
    for pair in pairs:
        if pair.media_type in _TAR:  # not compressed: the digest is the DiffID
            if pair.digest != pair.diff_id:
                mismatched.append(pair.digest)
        elif pair.digest in known:
            if known[pair.digest] != pair.diff_id:
                mismatched.append(pair.digest)
        elif pair.media_type in _GZIP + _ZSTD:
            to_read.append(pair)
        else:  # a foreign or unknown layer: nothing here can decompress it
            return Plan(Verdict.UNVERIFIED)
    if mismatched:
        return Plan(Verdict.INCONSISTENT, tuple(mismatched))
    return Plan(None if to_read else Verdict.CONSISTENT, (), tuple(to_read))


def check(source: ImageRef, settings: Settings, redis: Redis) -> LayerCheck:
    """The verdict on ``source`` (registry and digest as Trivy will read them), remembered per digest."""
    memo = f"{PREFIX}image:{source.digest}:{settings.platform}"
    if raw := redis.get(memo):
        data = json.loads(raw)
        return LayerCheck(Verdict(data["verdict"]), tuple(data["mismatched"]))
    result = _check(source, settings, redis)
    if result.verdict is not Verdict.UNVERIFIED:  # a fact about content-addressed bytes: kept as long as the cache
        payload = {"verdict": result.verdict.value, "mismatched": list(result.mismatched)}
        redis.set(memo, json.dumps(payload), ex=settings.layer_cache_ttl)
    return result


def _check(source: ImageRef, settings: Settings, redis: Redis) -> LayerCheck:
    try:
        image = remote_image(source, settings)
    except RegistryLookupError as exc:
        log.warning("layers of %s not verified: %s", source, exc)
        return LayerCheck(Verdict.UNVERIFIED)
    digests = [d["digest"] for d in image.layers]
    stored = redis.mget([f"{PREFIX}pair:{d}" for d in digests]) if digests else []
    known = {d: v.decode() for d, v in zip(digests, stored, strict=True) if v}
    decided = plan(image, known)
    if decided.verdict is not None:
        return LayerCheck(decided.verdict, decided.mismatched)
    client = client_for(source, settings)
    deadline = time.monotonic() + settings.scan_timeout
    mismatched, verified = [], []
    for pair in decided.to_read:
        try:
            with client.blob(source.repository, pair.digest) as response:
                compressed, content = _hashes(response, _inflater(pair.media_type), deadline)
        except (RegistryReadError, RegistryRefused, zlib.error, zstandard.ZstdError, _TooMuch) as exc:
            log.warning("layer %s of %s not verified: %s", pair.digest, source, exc)
            return LayerCheck(Verdict.UNVERIFIED)
        if compressed != pair.digest:  # not the blob the manifest names: say nothing of the DiffID
            return LayerCheck(Verdict.UNVERIFIED)
        redis.set(f"{PREFIX}pair:{pair.digest}", content, ex=settings.layer_cache_ttl)
        if content != pair.diff_id:
            mismatched.append(pair.digest)
        else:
            verified.append(pair)
    verdict = Verdict.INCONSISTENT if mismatched else Verdict.CONSISTENT
    return LayerCheck(verdict, tuple(mismatched), tuple(verified))


class _TooMuch(Exception):
    def __str__(self) -> str:
        return "the layer is larger than chainscan verifies, or took longer than SCAN_TIMEOUT"


class _Gunzip:
    """gzip members concatenated into one blob (as some tools write them) decompress one after another, as
    Docker does."""

    def __init__(self) -> None:
        self.inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def feed(self, chunk: bytes) -> bytes:
        out = b""
        while chunk:
            out += self.inflater.decompress(chunk)
            chunk = self.inflater.unused_data if self.inflater.eof else b""
            if self.inflater.eof:
                self.inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        return out

    def end(self) -> bytes:
        return self.inflater.flush()


class _Unzstd:
    def __init__(self) -> None:
        self.inflater = zstandard.ZstdDecompressor().decompressobj(read_across_frames=True)

    def feed(self, chunk: bytes) -> bytes:
        return self.inflater.decompress(chunk)

    def end(self) -> bytes:
        return self.inflater.flush()


def _inflater(media_type: str) -> _Gunzip | _Unzstd:
    return _Unzstd() if media_type in _ZSTD else _Gunzip()


def _hashes(response, inflater: _Gunzip | _Unzstd, deadline: float) -> tuple[str, str]:
    """``(sha256 of the compressed bytes, sha256 of the tar they decompress to)``, streamed."""
    compressed, content, total = hashlib.sha256(), hashlib.sha256(), 0
    while chunk := response.raw.read1(CHUNK, decode_content=False):
        total += len(chunk)
        if total > MAX_LAYER_BYTES or time.monotonic() > deadline:
            raise _TooMuch
        compressed.update(chunk)
        content.update(inflater.feed(chunk))
    content.update(inflater.end())
    return "sha256:" + compressed.hexdigest(), "sha256:" + content.hexdigest()


def inconsistency_note(mismatched: list[str] | tuple[str, ...]) -> str:
    """The card's sentence for an image whose layers are not what its config claims."""
    first = mismatched[0][:19] if mismatched else "a layer"
    more = f" and {len(mismatched) - 1} more" if len(mismatched) > 1 else ""
    return (
        f"This image is inconsistent: layer {first}{more} does not hold the content its config claims (DiffID), "
        "so it was scanned without the shared layer cache. Treat it as tampered with or broken."
    )
