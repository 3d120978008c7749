"""Slack-side settings from the environment (the engine's are in ``workers/config.py``)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.limits import RATE_FORMAT, Rate, parse_rate
from workers import config as engine_config
from workers.config import ConfigError, Settings, env_bool, env_int
from workers.hooks import HookSecrets

DEFAULT_API_URL = "https://slack.com/api/"


@dataclass(frozen=True)
class SlackSettings:
    bot_token: str | None = field(default=None, repr=False)
    signing_secret: str | None = field(default=None, repr=False)
    app_token: str | None = field(default=None, repr=False)
    client_id: str | None = None  # with client_secret: multi-workspace OAuth install
    client_secret: str | None = field(default=None, repr=False)
    api_url: str = DEFAULT_API_URL
    host: str = "127.0.0.1"  # set HOST=0.0.0.0 in a container behind a proxy
    port: int = 3000
    web_workers: int = 2
    web_threads: int = 8
    access_log: bool = True
    allowed_channels: frozenset[str] = frozenset()  # empty: every channel the bot is in
    allowed_users: frozenset[str] = frozenset()  # empty: everyone in the workspace
    top_findings: int = 20
    builds_enabled: bool = False
    build_channels: frozenset[str] = frozenset()  # empty: any channel where builds are enabled
    build_users: frozenset[str] = frozenset()
    scan_rate: Rate | None = Rate(20, "hour")  # per user; None: no limit
    scan_channel_rate: Rate | None = Rate(60, "hour")  # per channel
    build_rate: Rate | None = Rate(5, "hour")  # per user
    triage_users: frozenset[str] = frozenset()  # may accept risks and mark false positives; empty: anyone
    triage_groups: frozenset[str] = frozenset()  # Slack user group ids with the same right
    hook_secrets: HookSecrets = field(default_factory=HookSecrets)  # /hooks/registry: one secret a provider
    hook_max_age: int = 3600  # seconds: an older notification (by its own timestamp) is refused
    engine: Settings = field(default_factory=Settings)

    @property
    def oauth(self) -> bool:
        return bool(self.client_id and self.client_secret)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SlackSettings:
        env = os.environ if env is None else env
        api_url = env.get("SLACK_API_URL") or DEFAULT_API_URL
        return cls(
            bot_token=env.get("SLACK_BOT_TOKEN") or None,
            signing_secret=env.get("SLACK_SIGNING_SECRET") or None,
            app_token=env.get("SLACK_APP_TOKEN") or None,
            client_id=env.get("SLACK_CLIENT_ID") or None,
            client_secret=env.get("SLACK_CLIENT_SECRET") or None,
            api_url=api_url if api_url.endswith("/") else api_url + "/",
            host=env.get("HOST") or "127.0.0.1",
            port=_port(env),
            web_workers=max(1, env_int(env, "WEB_CONCURRENCY", min(4, os.cpu_count() or 1))),
            web_threads=max(1, env_int(env, "WEB_THREADS", 8)),
            access_log=env_bool(env, "ACCESS_LOG", True),
            allowed_channels=_ids(env.get("ALLOWED_CHANNELS")),
            allowed_users=_ids(env.get("ALLOWED_USERS")),
            top_findings=env_int(env, "TOP_FINDINGS", 20),
            builds_enabled=env_bool(env, "BUILDS_ENABLED", False),
            build_channels=_ids(env.get("BUILD_ALLOWED_CHANNELS")),
            build_users=_ids(env.get("BUILD_ALLOWED_USERS")),
            scan_rate=_rate(env, "SCAN_RATE_LIMIT", cls.scan_rate),
            scan_channel_rate=_rate(env, "SCAN_CHANNEL_RATE_LIMIT", cls.scan_channel_rate),
            build_rate=_rate(env, "BUILD_RATE_LIMIT", cls.build_rate),
            triage_users=_ids(env.get("TRIAGE_ALLOWED_USERS")),
            triage_groups=_ids(env.get("TRIAGE_ALLOWED_GROUPS")),
            hook_secrets=HookSecrets(
                distribution=env.get("REGISTRY_HOOK_SECRET") or None,
                harbor=env.get("HARBOR_HOOK_SECRET") or None,
                github=env.get("GITHUB_HOOK_SECRET") or None,
            ),
            hook_max_age=max(60, env_int(env, "REGISTRY_HOOK_MAX_AGE", 3600)),
            engine=Settings.from_env(env),
        )


def _ids(raw: str | None) -> frozenset[str]:
    return frozenset(part.strip() for part in (raw or "").split(",") if part.strip())


def _rate(env: Mapping[str, str], name: str, default: Rate | None) -> Rate | None:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        return parse_rate(raw)
    except ValueError:
        raise ConfigError(f"{name} must be {RATE_FORMAT}; got {raw!r}.") from None


def _port(env: Mapping[str, str]) -> int:
    raw = env.get("PORT")
    if raw in (None, ""):
        return 3000
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ConfigError(f"PORT must be a number from 1 to 65535, got {raw!r}.")
    return int(raw)


_current: SlackSettings | None = None


def current() -> SlackSettings:
    """This process's settings, read once (see :func:`workers.config.current`); jobs use these."""
    global _current
    if _current is None:
        _current = SlackSettings.from_env()
        engine_config.install(_current.engine)
    return _current


def install(settings: SlackSettings | None) -> None:
    global _current
    _current = settings
    engine_config.install(settings.engine if settings else None)
