"""HTTP mode: the Bolt app behind Flask, served by gunicorn (threaded workers).

``/slack/events`` takes slash commands, actions and views; ``/healthz`` answers
for load balancers. Bolt verifies every request's signature and timestamp and
answers 401 to forged or stale ones.
"""

from __future__ import annotations

from flask import Flask, request
from gunicorn.app.base import BaseApplication
from redis import Redis
from slack_bolt.adapter.flask import SlackRequestHandler

from bot.app import create_app
from bot.config import SlackSettings


def create_flask_app(settings: SlackSettings, redis: Redis) -> Flask:
    bolt = create_app(settings, redis)
    handler = SlackRequestHandler(bolt)
    flask_app = Flask("chainscan")

    @flask_app.post("/slack/events")
    def slack_events():
        return handler.handle(request)

    @flask_app.get("/slack/install")
    def slack_install():
        return handler.handle(request)

    @flask_app.get("/slack/oauth_redirect")
    def slack_oauth_redirect():
        return handler.handle(request)

    @flask_app.get("/healthz")
    def healthz():
        try:
            redis.ping()
        except Exception:
            return {"ok": False, "redis": "down"}, 503
        return {"ok": True}

    return flask_app


class GunicornServer(BaseApplication):
    """gunicorn run from Python, so ``python -m bot serve`` needs no config file."""

    def __init__(self, factory, options: dict):
        self._factory = factory
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self):
        return self._factory()


def gunicorn_options(settings: SlackSettings, workers: int | None = None) -> dict:
    """Threaded workers, one process per core (WEB_CONCURRENCY): Bolt's request handling is CPU-bound."""
    return {
        "bind": f"{settings.host}:{settings.port}",
        "workers": workers or settings.web_workers,
        "worker_class": "gthread",
        "threads": settings.web_threads,
        "accesslog": "-" if settings.access_log else None,
        "timeout": 30,
        "graceful_timeout": 10,
    }


def serve(settings: SlackSettings, redis_url: str, *, workers: int | None = None) -> None:
    def factory() -> Flask:
        return create_flask_app(settings, Redis.from_url(redis_url))

    GunicornServer(factory, gunicorn_options(settings, workers)).run()
