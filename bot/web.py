"""HTTP mode: the Bolt app behind Flask, served by gunicorn (threaded workers).

``/slack/events`` takes slash commands, actions and views, each inside a request
context of its own (a request id every log line and job of it carries). For operators:
``/healthz`` answers while the process is up, ``/readyz`` says whether it can take work
(Redis answers, the Trivy DB in use is fresh enough; 503 and the reasons otherwise), and
``/hooks/registry`` takes registry push notifications (``bot/hooks.py``), and
``/metrics`` is this host's counters plus the fleet's gauges read from Redis, in
Prometheus' format. Every request to ``/slack/events`` passes ``bot/edge.py`` before
Bolt sees it: forged, stale, malformed or wrongly typed requests are answered there
with one log line, and a signature seen before (a replay) or a Slack retry gets an
empty 200 without being acted on again (signatures are remembered in Redis).
"""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, request
from gunicorn import glogging
from gunicorn.app.base import BaseApplication
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis import Redis
from redis.exceptions import RedisError
from slack_bolt.adapter.flask import SlackRequestHandler
from werkzeug.exceptions import RequestEntityTooLarge

from bot import edge, hooks
from bot.app import create_app
from bot.config import SlackSettings
from bot.runtime import answering_redis
from workers.scan.queue import scan_queue
from workers.telemetry import fleet, health
from workers.telemetry.context import RequestContext, bound, new_request_id
from workers.telemetry.exposition import process_registry

log = logging.getLogger(__name__)


def create_flask_app(settings: SlackSettings, redis: Redis) -> Flask:
    bolt = create_app(settings, redis)
    handler = SlackRequestHandler(bolt)
    flask_app = Flask("chainscan")
    flask_app.config["MAX_CONTENT_LENGTH"] = edge.MAX_BODY

    @flask_app.post("/slack/events")
    def slack_events():
        with bound(RequestContext(new_request_id())):
            verdict = _admit(settings.signing_secret or "", redis)
            if isinstance(verdict, edge.Refusal):
                log.warning("refused a request from %s: %s (%s)", request.remote_addr, verdict.value, verdict.reason)
                return Response(b"" if verdict.status == 200 else verdict.reason, verdict.status, mimetype="text/plain")
            return handler.handle(request)

    hook_queue = scan_queue(redis, settings.engine)

    @flask_app.post("/hooks/registry")
    def registry_hook():
        with bound(RequestContext(new_request_id())):
            try:
                body = request.get_data(cache=True)
            except RequestEntityTooLarge:
                return {"error": "too_large"}, 413
            try:
                status, answer = hooks.receive(request.headers, body, settings, redis, hook_queue, time.time())
            except RedisError as exc:
                log.warning("registry notification not taken: %s", exc)
                return {"error": "unavailable", "reason": "Redis is not answering; the registry will retry"}, 503
            return answer, status

    @flask_app.get("/slack/install")
    def slack_install():
        return handler.handle(request)

    @flask_app.get("/slack/oauth_redirect")
    def slack_oauth_redirect():
        return handler.handle(request)

    @flask_app.get("/healthz")
    def healthz():
        return {"ok": True}

    db_max_age = settings.engine.db_max_age_hours
    registry = process_registry(fleet.FleetCollector(redis, settings.engine, time.time))

    @flask_app.get("/readyz")
    def readyz():
        found = health.problems(fleet.read(redis, settings.engine), time.time(), db_max_age_hours=db_max_age)
        return ({"ready": False, "problems": found}, 503) if found else {"ready": True}

    @flask_app.get("/metrics")
    def metrics():
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)

    return flask_app


def _admit(secret: str, redis: Redis) -> edge.Admitted | edge.Refusal:
    """The edge's verdict on this request, then its claim on the signature (a replay is refused)."""
    try:
        body = request.get_data(cache=True)
    except RequestEntityTooLarge:
        return edge.Refusal.TOO_LARGE
    except Exception:  # the client went away, a broken chunked body
        return edge.Refusal.UNREADABLE
    if not secret:
        return edge.Refusal.UNSIGNED
    verdict = edge.check(request.headers, body, secret, time.time())
    if isinstance(verdict, edge.Admitted):
        try:
            if not redis.set(edge.replay_key(verdict), 1, nx=True, ex=edge.REPLAY_TTL):
                return edge.Refusal.REPLAY
        except RedisError as exc:  # let it through: the listener explains that the queue is down
            log.warning("could not record the request signature: %s", exc)
    return verdict


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
        "logger_class": RootLogger,
    }


class RootLogger(glogging.Logger):
    """gunicorn's error and access logs through the root logger's handler, so its lines have the same format
    (LOG_FORMAT), request id field and secret masking as everyone else's."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        for logger in (self.error_log, self.access_log):
            for handler in list(logger.handlers):
                logger.removeHandler(handler)
            logger.propagate = True


def serve(settings: SlackSettings, redis_url: str, *, workers: int | None = None) -> None:
    def factory() -> Flask:
        return create_flask_app(settings, answering_redis(redis_url))

    GunicornServer(factory, gunicorn_options(settings, workers)).run()
