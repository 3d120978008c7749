"""Finding an image's base: the registry is read (:mod:`workers.base.registry`), the decision is pure
(:mod:`workers.base.attribution`), and the answer is cached in Redis by the image's layer digests.

What is cached is the base's identity (name, digest, how many layers, whether it is outdated); the counts are
taken from the report each time, so a new vulnerability DB is reflected at once. When the named base is older
than its tag's current digest, the current base is scanned through the same engine (so cached like any scan) to
say what refreshing it would remove. Nothing here fails a scan: a base that cannot be looked up is None, or the
name the labels give without layers.
"""

from __future__ import annotations

import hashlib
import json
import logging

from redis.exceptions import RedisError

from workers.base.attribution import base_of, official_candidate, refresh_gain, shared_bottom
from workers.base.labels import BaseSource, labelled_base
from workers.base.registry import RegistryLookupError, RemoteImage, remote_image
from workers.errors import ScanError
from workers.reference import InvalidReference, parse_reference
from workers.report import ScanReport

log = logging.getLogger(__name__)
PREFIX = "chainscan:base:"


def find_base(scanner, report: ScanReport, *, dockerfile_from: str | None = None) -> dict | None:
    """The ``base`` of ``report`` (``scanner``: the :class:`workers.scan.engine.Scanner` of this job)."""
    hint = report.base or (
        {"name": dockerfile_from, "digest": None, "source": BaseSource.DOCKERFILE.value} if dockerfile_from else None
    )
    diff_ids = [layer.diff_id for layer in report.layers]
    key = (
        PREFIX
        + hashlib.sha256(json.dumps([diff_ids, hint and hint["name"], hint and hint["digest"]]).encode()).hexdigest()
    )
    try:
        identity = _cached(scanner, key)
        if identity is None:
            identity = _identify(_Remote(scanner), report, hint, diff_ids)
            scanner.redis.set(key, json.dumps(identity), ex=scanner.settings.result_ttl)
    except (RegistryLookupError, InvalidReference, RedisError) as exc:
        log.info("no base found for %s: %s", report.image.reference, exc)
        identity = {**hint, "layers": None, "outdated": False} if hint else {"name": None}
    if not identity.get("name"):
        return None
    source = BaseSource(identity["source"])
    refresh = _refresh(scanner, report, identity) if identity.get("outdated") and identity.get("layers") else None
    return base_of(report, identity["name"], identity["digest"], identity["layers"], source, refresh)


def _cached(scanner, key: str) -> dict | None:
    raw = scanner.redis.get(key)
    return json.loads(raw) if raw else None


class _Remote:
    """:func:`remote_image`, its answers kept in Redis for ``RESULT_TTL``: a base's tag is asked about once a day
    however many images stand on it (Docker Hub counts every manifest GET as a pull)."""

    def __init__(self, scanner) -> None:
        self.settings, self.redis = scanner.settings, scanner.redis

    def __call__(self, ref, *, layers: bool = True) -> RemoteImage:
        key = f"{PREFIX}remote:{ref}:{int(layers)}"
        if raw := self.redis.get(key):
            return RemoteImage(**json.loads(raw))
        found = remote_image(ref, self.settings, layers=layers)
        self.redis.set(key, json.dumps(vars(found)), ex=self.settings.result_ttl)
        return found


def _identify(remote: _Remote, report: ScanReport, hint: dict | None, diff_ids: list[str]) -> dict:
    """Which base, how many layers, and whether it is older than its tag's current digest."""
    hint = hint or _annotated(remote, report)
    if hint:
        ref = parse_reference(hint["name"])
        current = remote(ref)
        named = remote(ref.with_digest(hint["digest"])) if hint["digest"] else current
        layers = shared_bottom(diff_ids, named.diff_ids, named=True) or None
        outdated = bool(hint["digest"]) and hint["digest"] not in (current.digest, current.manifest_digest)
        return {"name": str(ref), "digest": hint["digest"] or current.digest, "layers": layers,
                "source": hint["source"], "outdated": outdated}  # fmt: skip
    candidate = official_candidate(report.image.os)
    if candidate is None:
        return {"name": None}
    found = remote(parse_reference(candidate))
    layers = shared_bottom(diff_ids, found.diff_ids)
    if not layers:
        return {"name": None}
    return {"name": str(parse_reference(candidate)), "digest": found.digest, "layers": layers,
            "source": BaseSource.LAYERS.value, "outdated": False}  # fmt: skip


def _annotated(remote: _Remote, report: ScanReport) -> dict | None:
    """The base the image's OCI manifest annotations name (registry images only; a build has none)."""
    try:
        ref = parse_reference(report.image.reference)
    except InvalidReference:
        return None
    if report.image.digest and report.image.digest.startswith("sha256:") and ref.digest is None:
        ref = ref.with_digest(report.image.digest)
    named = labelled_base(remote(ref, layers=False).annotations)
    if named is None:
        return None
    return {"name": named[0], "digest": named[1], "source": BaseSource.ANNOTATION.value}


def _refresh(scanner, report: ScanReport, identity: dict) -> dict | None:
    """What rebuilding on the base's current digest removes, from a scan of it through the same engine."""
    try:
        current = scanner.scan(identity["name"])
    except ScanError as exc:
        log.info("could not scan the current %s: %s", identity["name"], exc)
        return None
    return refresh_gain(report, identity["layers"], current)
