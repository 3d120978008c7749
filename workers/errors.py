"""Failures the engine reports to people, as sentences.

Every failure that reaches a user is a :class:`ScanError`: a ``kind`` that code can
branch on and a ``message`` of one sentence on what happened plus one on what to do.
Nothing else (no traceback, no internal id) is ever shown.
"""

from __future__ import annotations

# Kinds worth another try later: the cause is outside the image itself.
TRANSIENT_KINDS = frozenset({"unreachable", "rate_limited", "timeout", "busy"})


class ScanError(Exception):
    """A failure with a user-facing sentence."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message

    @property
    def transient(self) -> bool:
        return self.kind in TRANSIENT_KINDS

    def to_dict(self) -> dict:
        return {"kind": self.kind, "message": self.message}

    @classmethod
    def from_dict(cls, data: dict) -> "ScanError":
        return cls(data.get("kind", "error"), data.get("message", "The scan failed."))


def registry_error(kind: str, reference: str, detail: str = "") -> ScanError:
    """Build the sentence for a registry failure about ``reference``."""
    templates = {
        "not_found": "Could not find {ref} — the registry says the repository or tag does not exist. "
        "Check the name and tag, e.g. `/scan mariadb:11.4`.",
        "access_denied": "Access to {ref} was denied by the registry. "
        "If it is private, configure credentials for its registry (REGISTRY_CREDENTIALS).",
        "unreachable": "Could not reach the registry for {ref}. "
        "Check that the registry is up and reachable from the workers, then try again.",
        "rate_limited": "The registry is rate-limiting pulls of {ref}. "
        "Try again in a few minutes, or set DOCKERHUB_MIRROR to a pull-through cache.",
        "timeout": "Talking to the registry about {ref} timed out. Try again in a minute.",
        "docker_unavailable": "The Docker engine is not reachable from the workers, so {ref} cannot be resolved. "
        "Check DOCKER_HOST and that dockerd is running.",
    }
    message = templates.get(kind, "Could not fetch {ref}: {detail}. Try again, or ask an admin to look at the worker logs.")
    return ScanError(kind, message.format(ref=reference, detail=detail or "the registry gave an error"))
