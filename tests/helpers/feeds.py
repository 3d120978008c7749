"""Sample risk feeds in their published formats, and a local HTTP server that serves them.

The table is ``tests/helpers/data/feeds.json``; :func:`epss_bytes` and :func:`kev_bytes` write it the way FIRST
and CISA publish (gzip CSV with its comment line; JSON with ``count``). :class:`FeedServer` serves them on a
free loopback port, plus a truncated copy, a 404 and a slow one that trickles a byte at a time.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

SAMPLE = json.loads((Path(__file__).parent / "data" / "feeds.json").read_text())


def epss_bytes(scores: dict | None = None, *, compressed: bool = True) -> bytes:
    epss = SAMPLE["epss"]
    rows = scores if scores is not None else epss["scores"]
    lines = [f"#model_version:{epss['model_version']},score_date:{epss['score_date']}", "cve,epss,percentile"]
    lines += [f"{cve},{score:.5f},{percentile:.5f}" for cve, (score, percentile) in rows.items()]
    text = ("\n".join(lines) + "\n").encode()
    return gzip.compress(text, mtime=0) if compressed else text


def kev_bytes(vulnerabilities: list | None = None) -> bytes:
    doc = dict(SAMPLE["kev"])
    if vulnerabilities is not None:
        doc["vulnerabilities"] = vulnerabilities
    doc["count"] = len(doc["vulnerabilities"])
    return json.dumps(doc, indent=2).encode()


class FeedServer:
    """``/epss.csv.gz``, ``/kev.json``; ``/truncated.csv.gz`` and ``/truncated.json`` (cut halfway, with an
    honest Content-Length of what is sent), ``/cut.json`` (a Content-Length promising more than is sent),
    ``/slow.json`` (a byte every 0.2 s); anything else is a 404. ``files`` can be replaced while serving."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {"/epss.csv.gz": epss_bytes(), "/kev.json": kev_bytes()}
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                server.requests.append(self.path)
                if self.path == "/truncated.csv.gz":
                    return self._send(epss_bytes()[: len(epss_bytes()) // 2])
                if self.path == "/truncated.json":
                    return self._send(kev_bytes()[: len(kev_bytes()) // 2])
                if self.path == "/cut.json":
                    body = kev_bytes()
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body[: len(body) // 2])
                    return None
                if self.path == "/slow.json":
                    self.send_response(200)
                    self.end_headers()
                    try:
                        for byte in kev_bytes():
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                            time.sleep(0.2)
                    except OSError:  # the client gave up, as it should
                        pass
                    return None
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return None
                return self._send(body)

            def _send(self, body: bytes):
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return self.base_url + path

    def __enter__(self) -> FeedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
