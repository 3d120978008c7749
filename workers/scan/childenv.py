"""The environment a Trivy subprocess starts with: an allow-list, never the worker's whole environment. Pure.

A worker's environment holds the Slack bot token, the signing secret, ``REGISTRY_CREDENTIALS`` for every
registry and ``REDIS_URL`` with its password. Trivy needs none of them: it gets the few variables a Go program
needs to run and reach the network (``PATH``, ``HOME``, ``TMPDIR``, proxies, CA bundles), Trivy's own
``TRIVY_*`` settings, the engine's address for images built locally, and what the caller adds for this one
scan (``extra``: that registry's ``TRIVY_USERNAME``/``TRIVY_PASSWORD``, the layer cache backend).
"""

from __future__ import annotations

from collections.abc import Mapping

# exact names passed through from the worker's environment
ALLOWED: frozenset[str] = frozenset(
    {
        "PATH",
        "HOME",
        "TMPDIR",
        "XDG_CACHE_HOME",  # where Trivy's cache and DBs live when TRIVY_CACHE_DIR is unset
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "no_proxy",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "DOCKER_HOST",  # --image-src docker: images built on the builder's engine
        "DOCKER_CERT_PATH",
        "DOCKER_TLS_VERIFY",
        "GOMAXPROCS",
        "GOMEMLIMIT",
    }
)

# prefixes passed through: Trivy's own settings (TRIVY_CACHE_DIR, TRIVY_SERVER's TRIVY_TOKEN, TRIVY_TIMEOUT …)
ALLOWED_PREFIXES: tuple[str, ...] = ("TRIVY_",)


def trivy_env(parent: Mapping[str, str], extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The allowed part of ``parent`` plus ``extra`` (which wins: it is chosen for this scan)."""
    kept = {name: value for name, value in parent.items() if allowed(name)}
    return {**kept, **(extra or {})}


def allowed(name: str) -> bool:
    return name in ALLOWED or name.startswith(ALLOWED_PREFIXES)
