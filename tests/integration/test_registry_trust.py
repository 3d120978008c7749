"""Registries as an attacker would use them: local addresses, a digest named on a registry that does not hold it,
a token service on a private address, a huge or trickling answer. Real RQ worker, dockerd, registry and Trivy;
small loopback HTTP servers play the hostile parts and record every connection they get."""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.helpers.fixtures import free_port
from tests.integration.test_engine import scan_through_queue
from workers.base.registry import RegistryLookupError, remote_image
from workers.config import Settings
from workers.errors import ErrorKind
from workers.reference import parse_reference

pytestmark = pytest.mark.integration


class _Listener:
    """A TCP port that counts the connections made to it (a Docker socket, a metadata service)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port, self.connections, self.stop = self.sock.getsockname()[1], 0, threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


def _serve(handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    server.requests = []
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server


def test_attack_local_addresses_are_refused_alike_whether_or_not_something_listens(
    engine_env, redis_client, monkeypatch
):
    monkeypatch.delenv("REGISTRY_ALLOWLIST")  # the default: any public host, no private one
    listener, closed = _Listener(), free_port()
    try:
        open_outcome = scan_through_queue(redis_client, f"127.0.0.1:{listener.port}/x")
        closed_outcome = scan_through_queue(redis_client, f"127.0.0.1:{closed}/x")
        metadata = scan_through_queue(redis_client, "169.254.169.254/latest")
    finally:
        listener.close()
    assert listener.connections == 0
    for outcome in (open_outcome, closed_outcome, metadata):
        assert outcome.report is None and outcome.error.kind is ErrorKind.INVALID_REFERENCE
        assert "local or private address" in outcome.error.message
    assert open_outcome.error.message.replace(str(listener.port), "PORT") == closed_outcome.error.message.replace(
        str(closed), "PORT"
    )


class _ClaimsEveryDigest(BaseHTTPRequestHandler):
    """A registry that answers any manifest request with 200, naming whatever digest was asked for."""

    def do_HEAD(self):  # noqa: N802
        self._answer(body=False)

    def do_GET(self):  # noqa: N802
        self._answer(body=True)

    def _answer(self, body: bool) -> None:
        self.server.requests.append(self.path)
        data = b"{}" if self.path == "/v2/" else _MANIFEST
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
        self.send_header("Docker-Content-Digest", self.path.rsplit("/", 1)[-1])
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if body:
            self.wfile.write(data)

    def log_message(self, *args):
        pass


_MANIFEST = (
    b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":'
    b'"application/vnd.oci.image.config.v1+json","digest":"sha256:' + b"0" * 64 + b'","size":2},"layers":[]}'
)


@pytest.mark.parametrize("hostile", ["empty", "claims every digest"])
def test_attack_a_digest_is_not_access_to_its_cached_report(
    engine_env, redis_client, test_images, disposable_registry, hostile
):
    victim = scan_through_queue(redis_client, "mariadb")
    assert victim.error is None
    digest = victim.report.image.digest
    again = scan_through_queue(redis_client, "mariadb")
    assert again.report.cached  # the registry that holds it serves it: the cache answers

    server = _serve(_ClaimsEveryDigest) if hostile != "empty" else None
    address = f"127.0.0.1:{server.server_address[1]}" if server else disposable_registry.address
    try:
        stolen = scan_through_queue(redis_client, f"{address}/any@{digest}")
    finally:
        server and server.shutdown()
    assert stolen.report is None, "a registry that does not hold the digest got its cached report"
    assert stolen.error is not None


class _RealmOnPrivateAddress(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        self.server.requests.append(self.path)
        self.send_response(401)
        self.send_header("WWW-Authenticate", f'Bearer realm="{self.server.realm}",service="x"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_attack_a_token_realm_on_a_private_address_is_never_fetched():
    metadata = _serve(_RealmOnPrivateAddress)  # stands in for 169.254.169.254: a host nobody listed
    registry = _serve(_RealmOnPrivateAddress)
    registry.realm = f"http://localhost:{metadata.server_address[1]}/latest/meta-data"
    settings = Settings.from_env({"REGISTRY_ALLOWLIST": "127.0.0.1"})
    try:
        with pytest.raises(RegistryLookupError, match="local or private address"):
            remote_image(parse_reference(f"127.0.0.1:{registry.server_address[1]}/x:1"), settings)
    finally:
        registry.shutdown(), metadata.shutdown()
    assert registry.requests == ["/v2/x/manifests/1"]
    assert metadata.requests == []


class _Hostile(BaseHTTPRequestHandler):
    """A manifest of 300 MB, or one byte every 50 ms."""

    def do_GET(self):  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
        self.end_headers()
        try:
            if self.server.mode == "huge":
                block = b" " * (1024 * 1024)
                for _ in range(300):
                    self.wfile.write(block)
            else:
                for _ in range(600):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(0.05)
        except OSError:  # the client hung up: what the test wants
            pass

    def log_message(self, *args):
        pass


@pytest.mark.parametrize(("mode", "sentence"), [("huge", "sent more than 8 MB"), ("trickle", "took longer than 2 s")])
def test_attack_a_registry_answer_is_cut_at_its_byte_cap_and_total_deadline(mode, sentence):
    server = _serve(_Hostile)
    server.mode = mode
    settings = Settings.from_env({"REGISTRY_ALLOWLIST": "127.0.0.1", "REGISTRY_TIMEOUT": "2"})
    started = time.monotonic()
    try:
        with pytest.raises(RegistryLookupError, match=sentence):
            remote_image(parse_reference(f"127.0.0.1:{server.server_address[1]}/x:1"), settings)
    finally:
        server.shutdown()
    assert time.monotonic() - started < 5  # a per-read timeout alone held the trickle for 30 s
