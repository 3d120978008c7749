"""Hostile text never becomes live Slack markup: a package named ``<!channel> <https://evil.example|…>``, a
registry whose error says the same, a triage decision on it — through the real HTTP app, real RQ workers, real
Redis, and every call the Web API stand-in records checked by one assertion (tests/helpers/markup.py)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.helpers.markup import HOSTILE, assert_no_live_markup, strings
from tests.integration.conftest import CHANNEL, ServedApp, parent_and_replies, run_workers, scan
from tests.integration.test_triage_flow import _click, _findings_message, _rows_with_menus
from workers.scan.store import ReportStore

pytestmark = pytest.mark.integration


class _HostileRegistry(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        self._answer()

    def do_HEAD(self):  # noqa: N802
        self._answer()

    def _answer(self):
        body = json.dumps({"errors": [{"code": "UNKNOWN", "message": HOSTILE}]}).encode()
        self.send_response(200 if self.path == "/v2/" else 500)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command == "GET":
            self.wfile.write(body)

    def log_message(self, *args):
        pass


def _poison_stored_reports(redis_client) -> None:
    """Every cached report's packages and titles renamed to the hostile text, as a crafted image would name them."""
    store = ReportStore(redis_client)
    for key in [k.decode() for k in redis_client.scan_iter("chainscan:report:*")]:
        report = store.get(key)
        for finding in report.vulnerabilities:
            finding.package, finding.title, finding.source = HOSTILE, HOSTILE, HOSTILE
        store.put(key, report, None)


def test_attack_slack_markup_in_untrusted_text_is_never_live(web, slack, redis_client, test_images):
    assert scan(web, slack, "mariadb").status_code == 200
    run_workers(redis_client)
    _poison_stored_reports(redis_client)
    first_ts, _ = parent_and_replies(slack)

    assert scan(web, slack, "mariadb").status_code == 200  # the cached, hostile report
    run_workers(redis_client)
    parents = [c.response["ts"] for c in slack.calls("chat.postMessage") if c.ok and "thread_ts" not in c.params]
    ts = next(t for t in parents if t != first_ts)
    message = _findings_message(slack, ts)
    row = _rows_with_menus(message)[0]
    acknowledged = _click(ServedApp(url=web), slack, message, row, "ack")  # the note names the hostile package
    assert acknowledged.status_code == 200
    run_workers(redis_client)

    registry = ThreadingHTTPServer(("127.0.0.1", 0), _HostileRegistry)
    threading.Thread(target=registry.serve_forever, daemon=True).start()
    try:
        assert scan(web, slack, f"127.0.0.1:{registry.server_address[1]}/app:1").status_code == 200
        run_workers(redis_client)
    finally:
        registry.shutdown()

    calls = slack.calls()
    sent = "\n".join(text for call in calls for text in strings(call.params))
    assert "&lt;!channel&gt;" in sent, "the hostile text never reached a message: the test proves nothing"
    notes = [m for m in slack.messages_in_thread(CHANNEL, ts) if "acknowledged by" in m.get("text", "")]
    assert notes and "&lt;!channel&gt;" in notes[0]["text"]
    assert_no_live_markup(calls)
