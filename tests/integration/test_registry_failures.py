"""Registry failures the real registry cannot produce on demand: Docker Hub's rate limit and a
registry that stops answering. A small HTTP endpoint on loopback misbehaves; the real dockerd talks
to it through the docker SDK, exactly as it would to Docker Hub."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.integration.test_engine import scan_through_queue

pytestmark = pytest.mark.integration


class _Misbehaving(BaseHTTPRequestHandler):
    mode = "ratelimit"

    def do_GET(self):  # noqa: N802
        self._answer()

    def do_HEAD(self):  # noqa: N802
        self._answer()

    def _answer(self):
        if self.path == "/v2/":
            self.send_response(200)
            self.send_header("Docker-Distribution-API-Version", "registry/2.0")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}") if self.command == "GET" else None
            return
        if self.server.mode == "hang":
            time.sleep(30)
            return
        body = json.dumps(
            {"errors": [{"code": "TOOMANYREQUESTS", "message": "You have reached your pull rate limit."}]}
        ).encode()
        self.send_response(429)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command == "GET":
            self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def misbehaving_registry():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Misbehaving)
    server.daemon_threads = True
    server.mode = "ratelimit"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


def test_docker_hub_rate_limit_is_a_sentence(engine_env, redis_client, monkeypatch, misbehaving_registry):
    monkeypatch.setenv("DOCKERHUB_MIRROR", f"127.0.0.1:{misbehaving_registry.server_port}")
    error = scan_through_queue(redis_client, "mariadb").error
    assert error.kind == "rate_limited" and "rate-limiting" in error.message and "DOCKERHUB_MIRROR" in error.message


def test_a_registry_that_stops_answering_times_out_with_a_sentence(
    engine_env, redis_client, monkeypatch, misbehaving_registry
):
    misbehaving_registry.mode = "hang"
    monkeypatch.setenv("REGISTRY_TIMEOUT", "2")
    started = time.monotonic()
    error = scan_through_queue(redis_client, f"127.0.0.1:{misbehaving_registry.server_port}/team/app:1").error
    assert error.kind == "timeout" and "timed out" in error.message
    assert time.monotonic() - started < 20
