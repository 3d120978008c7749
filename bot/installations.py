"""Multi-workspace installs: slack_sdk's InstallationStore and OAuthStateStore, kept in Redis.

slack_sdk ships file, SQLAlchemy, SQLite and S3 stores; the bot's one shared
service is Redis, so these implement the same interfaces there (the file store's
layout: the latest bot and installer per workspace). Tokens are secrets at rest:
run Redis with AUTH/TLS in production.
"""

from __future__ import annotations

import json
import logging
import secrets

from redis import Redis
from slack_sdk.oauth.installation_store import Bot, Installation, InstallationStore
from slack_sdk.oauth.state_store import OAuthStateStore

PREFIX = "chainscan:install:"


def _team_key(enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None = False) -> str:
    return f"{PREFIX}{enterprise_id or 'none'}:{'none' if is_enterprise_install else team_id or 'none'}"


class RedisInstallationStore(InstallationStore):
    def __init__(self, redis: Redis, logger: logging.Logger | None = None):
        self.redis = redis
        self._logger = logger or logging.getLogger(__name__)

    @property
    def logger(self) -> logging.Logger:
        return self._logger

    def save(self, installation: Installation) -> None:
        key = _team_key(installation.enterprise_id, installation.team_id, installation.is_enterprise_install)
        entity = json.dumps(installation.__dict__)
        with self.redis.pipeline() as pipe:
            pipe.set(f"{key}:installer", entity)
            pipe.set(f"{key}:installer:{installation.user_id or 'none'}", entity)
            pipe.execute()
        self.save_bot(installation.to_bot())

    def save_bot(self, bot: Bot) -> None:
        if bot.bot_token is None:
            return
        self.redis.set(
            f"{_team_key(bot.enterprise_id, bot.team_id, bot.is_enterprise_install)}:bot", json.dumps(bot.__dict__)
        )

    def find_bot(
        self, *, enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None = False
    ) -> Bot | None:
        raw = self.redis.get(f"{_team_key(enterprise_id, team_id, is_enterprise_install)}:bot")
        return Bot(**json.loads(raw)) if raw else None

    def find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        key = _team_key(enterprise_id, team_id, is_enterprise_install)
        raw = self.redis.get(f"{key}:installer:{user_id}" if user_id else f"{key}:installer")
        if not raw:
            return None
        installation = Installation(**json.loads(raw))
        bot = self.find_bot(enterprise_id=enterprise_id, team_id=team_id, is_enterprise_install=is_enterprise_install)
        if bot is not None and installation.bot_token != bot.bot_token:  # a user install: keep the latest bot token
            installation.bot_id, installation.bot_user_id, installation.bot_token = (
                bot.bot_id,
                bot.bot_user_id,
                bot.bot_token,
            )
            installation.bot_scopes = bot.bot_scopes
        return installation

    def delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        self.redis.delete(f"{_team_key(enterprise_id, team_id)}:bot")

    def delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        key = _team_key(enterprise_id, team_id)
        if user_id:
            self.redis.delete(f"{key}:installer:{user_id}")
        else:
            self.redis.delete(*([f"{key}:installer"] + list(self.redis.scan_iter(f"{key}:installer:*"))))


class RedisOAuthStateStore(OAuthStateStore):
    """One-time OAuth ``state`` values with an expiry (CSRF protection of the install flow)."""

    def __init__(self, redis: Redis, expiration_seconds: int = 600, logger: logging.Logger | None = None):
        self.redis = redis
        self.expiration_seconds = expiration_seconds
        self._logger = logger or logging.getLogger(__name__)

    @property
    def logger(self) -> logging.Logger:
        return self._logger

    def issue(self, *args, **kwargs) -> str:
        state = secrets.token_urlsafe(24)
        self.redis.set(f"{PREFIX}state:{state}", "1", ex=self.expiration_seconds)
        return state

    def consume(self, state: str) -> bool:
        return bool(self.redis.delete(f"{PREFIX}state:{state}"))


def bot_token(redis: Redis, team_id: str | None, enterprise_id: str | None = None) -> str | None:
    """The bot token installed for a workspace (OAuth mode), for workers posting to its threads."""
    bot = RedisInstallationStore(redis).find_bot(enterprise_id=enterprise_id, team_id=team_id)
    return bot.bot_token if bot else None
