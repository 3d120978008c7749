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

from .app import create_app
from .config import SlackSettings


def create_flask_app(settings: SlackSettings, redis: Redis) -> Flask:
    bolt = create_app(settings, redis)
    handler = SlackRequestHandler(bolt)
    flask_app = Flask("chainscan")

    @flask_app.post("/slack/events")
    def slack_events():
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


def serve(settings: SlackSettings, redis_url: str, *, workers: int = 1) -> None:
    def factory() -> Flask:
        return create_flask_app(settings, Redis.from_url(redis_url))

    GunicornServer(
        factory,
        {
            "bind": f"{settings.host}:{settings.port}",
            "workers": workers,
            "worker_class": "gthread",
            "threads": settings.web_threads,
            "accesslog": "-",
            "timeout": 30,
            "graceful_timeout": 10,
        },
    ).run()

