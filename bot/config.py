"""Slack-side settings from the environment (the engine's are in ``workers/config.py``)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Mapping

from workers.config import Settings

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
    engine: Settings = field(default_factory=Settings)

    @property
    def oauth(self) -> bool:
        return bool(self.client_id and self.client_secret)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "SlackSettings":
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
            port=int(env.get("PORT") or 3000),
            web_workers=int(env.get("WEB_CONCURRENCY") or min(4, os.cpu_count() or 1)),
            web_threads=int(env.get("WEB_THREADS") or 8),
            access_log=(env.get("ACCESS_LOG") or "true").lower() not in ("0", "false", "no"),
            allowed_channels=_ids(env.get("ALLOWED_CHANNELS")),
            allowed_users=_ids(env.get("ALLOWED_USERS")),
            top_findings=int(env.get("TOP_FINDINGS") or 20),
            builds_enabled=(env.get("BUILDS_ENABLED") or "").lower() in ("1", "true", "yes"),
            build_channels=_ids(env.get("BUILD_ALLOWED_CHANNELS")),
            build_users=_ids(env.get("BUILD_ALLOWED_USERS")),
            engine=Settings.from_env(env),
        )


def _ids(raw: str | None) -> frozenset[str]:
    return frozenset(part.strip() for part in (raw or "").split(",") if part.strip())
