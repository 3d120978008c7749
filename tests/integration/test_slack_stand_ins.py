"""The Slack stand-ins work with the real slack_sdk and slack_bolt."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.error import HTTPError
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
import requests
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import (
    FixedValueRetryIntervalCalculator,
)
from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook import WebhookClient

from tests.helpers.slack_api import SlackAPIServer
from tests.helpers.slack_requests import (
    block_action_body,
    message_shortcut_body,
    post_signed,
    sign,
    slash_command_body,
    view_submission_body,
)
from tests.helpers.socket_mode import (
    OP_CLOSE,
    OP_TEXT,
    SocketModeServer,
    accept_key,
    encode_frame,
    slash_command_payload,
)

pytestmark = pytest.mark.integration

SECRET = "test-signing-secret"
BLOCKS = [{"type": "section", "text": {"type": "mrkdwn", "text": "*scanning* mariadb"}}]


@pytest.fixture
def slack() -> Iterator[SlackAPIServer]:
    with SlackAPIServer() as server:
        yield server


@pytest.fixture
def client(slack: SlackAPIServer) -> WebClient:
    return WebClient(token="xoxb-test", base_url=slack.base_url, timeout=5)


# ----------------------------------------------------------------- Web API


def test_post_update_and_thread_state(slack: SlackAPIServer, client: WebClient) -> None:
    parent = client.chat_postMessage(channel="C1", text="Scan queued", blocks=BLOCKS)
    reply = client.chat_postMessage(channel="C1", thread_ts=parent["ts"], text="working…")
    other = client.chat_postMessage(channel="C1", text="unrelated")
    assert parent["ok"] and parent["channel"] == "C1"
    assert parent["ts"] < reply["ts"] < other["ts"]
    assert parent["message"]["blocks"] == BLOCKS

    updated = client.chat_update(channel="C1", ts=reply["ts"], text="done: 3 critical")
    assert updated["ts"] == reply["ts"]

    thread = slack.messages_in_thread("C1", parent["ts"])
    assert [m["text"] for m in thread] == ["Scan queued", "done: 3 critical"]
    assert thread[1]["edited"]["user"] == "U0BOT"

    client.chat_delete(channel="C1", ts=reply["ts"])
    assert [m["text"] for m in slack.messages_in_thread("C1", parent["ts"])] == ["Scan queued"]

    call = slack.last("chat.postMessage")
    assert call.params == {"channel": "C1", "text": "unrelated"}
    assert call.headers["Content-Type"].startswith("application/json")  # chat.* are sent as JSON
    assert len(slack.calls("chat.postMessage")) == 3


def test_form_bodies_and_json_strings_are_decoded(slack: SlackAPIServer, client: WebClient) -> None:
    # api_call(params=...) is sent form-encoded, with blocks as a JSON string, as older code does
    client.api_call("chat.postMessage", params={"channel": "C1", "blocks": json.dumps(BLOCKS)})
    call = slack.last("chat.postMessage")
    assert call.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert call.params["blocks"] == BLOCKS

    # "GET" methods are still POSTed by slack_sdk, form-encoded
    info = client.conversations_info(channel="C1")
    assert info["channel"]["id"] == "C1"
    assert slack.last("conversations.info").params == {"channel": "C1"}


def test_other_methods(slack: SlackAPIServer, client: WebClient) -> None:
    auth = client.auth_test()
    assert (auth["team_id"], auth["user_id"], auth["bot_id"]) == ("T0TEST", "U0BOT", "B0BOT")
    assert auth.headers["X-OAuth-Scopes"].startswith("chat:write")

    eph = client.chat_postEphemeral(channel="C1", user="U1", text="only you")
    assert eph["message_ts"]
    assert slack.ephemeral_messages(user="U1")[0]["text"] == "only you"

    ts = client.chat_postMessage(channel="C1", text="x")["ts"]
    link = client.chat_getPermalink(channel="C1", message_ts=ts)["permalink"]
    assert link.endswith("/archives/C1/p" + ts.replace(".", ""))

    modal = {"type": "modal", "callback_id": "scan", "title": {"type": "plain_text", "text": "Scan"}, "blocks": []}
    view = client.views_open(trigger_id="1.2.abc", view=modal)["view"]
    assert view["id"].startswith("V") and view["callback_id"] == "scan"
    updated = client.views_update(view_id=view["id"], view={**modal, "blocks": BLOCKS})["view"]
    assert updated["blocks"] == BLOCKS
    home = client.views_publish(user_id="U1", view={"type": "home", "blocks": BLOCKS})["view"]
    assert home["type"] == "home"
    assert len(slack.views()) == 2

    slack.add_user("U1", name="ada", tz="Europe/London")
    assert client.users_info(user="U1")["user"]["tz"] == "Europe/London"
    slack.add_channel("C9", name="security", is_private=True)
    assert client.conversations_info(channel="C9")["channel"]["name"] == "security"


def test_auth_and_unknown_method(slack: SlackAPIServer) -> None:
    with pytest.raises(SlackApiError) as bad:
        WebClient(token="xoxb-wrong", base_url=slack.base_url).auth_test()
    assert bad.value.response["error"] == "invalid_auth"
    with pytest.raises(SlackApiError) as missing:
        WebClient(base_url=slack.base_url).chat_postMessage(channel="C1", text="x")
    assert missing.value.response["error"] == "not_authed"
    with pytest.raises(SlackApiError) as unknown:
        WebClient(token="xoxb-test", base_url=slack.base_url).api_call("no.such.method")
    assert unknown.value.response["error"] == "unknown_method"

    other = SlackAPIServer(token={"xoxb-a", "xoxb-b"}).start()
    try:
        assert WebClient(token="xoxb-b", base_url=other.base_url).auth_test()["ok"]
    finally:
        other.stop()


def test_files_upload_v2(slack: SlackAPIServer, client: WebClient) -> None:
    parent = client.chat_postMessage(channel="C1", text="Scan of mariadb")
    content = b'{"Results": []}\n' * 1000
    result = client.files_upload_v2(
        channel="C1",
        thread_ts=parent["ts"],
        content=content,
        filename="mariadb.json",
        title="Trivy report",
        initial_comment="full report attached",
    )
    assert result["file"]["title"] == "Trivy report"

    assert [c.method for c in slack.calls()][1:] == [
        "files.getUploadURLExternal",
        "upload",
        "files.completeUploadExternal",
    ]
    assert slack.last("files.getUploadURLExternal").params["length"] == str(len(content))
    [upload] = slack.uploads(completed_only=True)
    assert upload.content == content
    assert (upload.filename, upload.title) == ("mariadb.json", "Trivy report")
    assert (upload.channel, upload.thread_ts, upload.initial_comment) == ("C1", parent["ts"], "full report attached")

    thread = slack.messages_in_thread("C1", parent["ts"])
    assert thread[-1]["files"][0]["id"] == upload.id
    assert thread[-1]["text"] == "full report attached"


def test_upload_failure_surfaces(slack: SlackAPIServer, client: WebClient) -> None:
    # the upload step uses plain urllib: a non-2xx answer raises urllib's HTTPError, not a Slack error
    slack.server_error_next("upload", status=500)
    with pytest.raises(HTTPError):
        client.files_upload_v2(channel="C1", content=b"x", filename="r.txt")
    assert slack.uploads(completed_only=True) == []


# --------------------------------------------------------- fault injection


def test_rate_limit_retry_honours_retry_after(slack: SlackAPIServer) -> None:
    client = WebClient(
        token="xoxb-test",
        base_url=slack.base_url,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)],
    )
    slack.rate_limit_next("chat.postMessage", retry_after=1)
    assert client.chat_postMessage(channel="C1", text="hi")["ok"]

    first, second = slack.calls("chat.postMessage")
    assert first.status == 429 and not first.ok and second.ok
    waited = second.time - first.time
    # slack_sdk sleeps int(Retry-After) + random.random() seconds
    assert 1.0 <= waited < 2.5, waited


def test_rate_limit_without_handler_raises(slack: SlackAPIServer, client: WebClient) -> None:
    slack.rate_limit_next("chat.update", retry_after=7)
    with pytest.raises(SlackApiError) as err:
        client.chat_update(channel="C1", ts="1.2", text="x")
    assert err.value.response.status_code == 429
    assert err.value.response["error"] == "ratelimited"
    assert err.value.response.headers["Retry-After"] == "7"


def test_server_error_retry(slack: SlackAPIServer) -> None:
    client = WebClient(
        token="xoxb-test",
        base_url=slack.base_url,
        retry_handlers=[
            ServerErrorRetryHandler(max_retry_count=2, interval_calculator=FixedValueRetryIntervalCalculator(0.05))
        ],
    )
    slack.server_error_next("chat.postMessage", status=503, times=2)
    assert client.chat_postMessage(channel="C1", text="hi")["ok"]
    assert [c.status for c in slack.calls("chat.postMessage")] == [503, 503, 200]


def test_fail_next_and_delay(slack: SlackAPIServer, client: WebClient) -> None:
    slack.fail_next("chat.postMessage", error="not_in_channel", times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as err:
            client.chat_postMessage(channel="C1", text="x")
        assert err.value.response["error"] == "not_in_channel"
    assert client.chat_postMessage(channel="C1", text="x")["ok"]

    slack.delay("auth.test", 0.3)
    started = time.monotonic()
    client.auth_test()
    assert time.monotonic() - started >= 0.3
    slack.delay("auth.test", 0)

    slack.reset()
    assert slack.calls() == [] and client.chat_postMessage(channel="C1", text="x")["ok"]


def test_wait_for(slack: SlackAPIServer, client: WebClient) -> None:
    threading.Timer(0.2, lambda: client.chat_postMessage(channel="C2", text="late")).start()
    [call] = slack.wait_for("chat.postMessage", predicate=lambda c: c.params.get("channel") == "C2", timeout=5)
    assert call.params["text"] == "late"

    with pytest.raises(AssertionError, match=r"waiting for 2 chat.postMessage.*\n.*late"):
        slack.wait_for("chat.postMessage", count=2, timeout=0.2)


def test_response_url(slack: SlackAPIServer) -> None:
    resp = WebhookClient(slack.response_url("cmd1")).send(text="Scanning…", response_type="ephemeral")
    assert resp.status_code == 200 and resp.body == "ok"
    assert slack.responses("cmd1") == [{"text": "Scanning…", "response_type": "ephemeral"}]


# ------------------------------------------------------------- signatures


def test_signature_verifies_and_forgery_does_not() -> None:
    body = slash_command_body("mariadb:11")
    verifier = SignatureVerifier(SECRET)
    assert verifier.is_valid_request(body, sign(body, SECRET))
    assert not verifier.is_valid_request(body, sign(body, "wrong-secret"))
    assert not verifier.is_valid_request(body + "&x=1", sign(body, SECRET))
    assert not verifier.is_valid_request(body, sign(body, SECRET, timestamp=int(time.time()) - 3600))


def test_slash_command_body_fields() -> None:
    from urllib.parse import parse_qs

    fields = {k: v[0] for k, v in parse_qs(slash_command_body("mariadb", enterprise_id="E1")).items()}
    for key in ("user_name", "channel_name", "api_app_id", "is_enterprise_install", "enterprise_id", "trigger_id"):
        assert key in fields
    assert fields["command"] == "/scan" and fields["text"] == "mariadb"


# ------------------------------------------------------- end to end with Bolt


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@pytest.fixture
def bolt_app(slack: SlackAPIServer) -> Iterator[dict[str, Any]]:
    """A Bolt app served over real HTTP, talking to the stand-in Web API."""
    app = App(client=WebClient(token="xoxb-test", base_url=slack.base_url), signing_secret=SECRET)
    seen: list[dict[str, Any]] = []

    @app.command("/scan")
    def scan(ack, respond, say, command):  # type: ignore[no-untyped-def]
        ack()
        respond(f"Scanning {command['text']}…")
        say(f"<@{command['user_id']}> asked for {command['text']}")

    @app.action("rescan")
    def rescan(ack, body, client):  # type: ignore[no-untyped-def]
        ack()
        container = body["container"]
        client.chat_update(channel=container["channel_id"], ts=container["message_ts"], text="rescanning")

    @app.view("scan_modal")
    def submitted(ack, view):  # type: ignore[no-untyped-def]
        ack()
        seen.append(view["state"]["values"])

    @app.shortcut("scan_message")
    def shortcut(ack, shortcut, client):  # type: ignore[no-untyped-def]
        ack()
        modal = {"type": "modal", "callback_id": "scan_modal", "title": {"type": "plain_text", "text": "Scan"}}
        client.views_open(trigger_id=shortcut["trigger_id"], view={**modal, "blocks": []})

    server: WSGIServer = make_server("127.0.0.1", 0, SlackRequestHandler(app), handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield {"url": f"http://127.0.0.1:{server.server_port}/slack/events", "seen": seen}
    finally:
        server.shutdown()
        server.server_close()


def test_bolt_round_trip(slack: SlackAPIServer, bolt_app: dict[str, Any]) -> None:
    url = bolt_app["url"]
    assert slack.calls("auth.test"), "Bolt verifies its token with auth.test at start-up"

    body = slash_command_body("mariadb:11", response_url=slack.response_url("c1"))
    assert post_signed(url, body, "forged-secret").status_code == 401
    assert post_signed(url, body, SECRET).status_code == 200
    [posted] = slack.wait_for("chat.postMessage")
    # Bolt's say() also sends the team_id of the request
    assert posted.params == {"channel": "C0TEST", "text": "<@U0TEST> asked for mariadb:11", "team_id": "T0TEST"}
    slack.wait_for("response_url")
    assert slack.responses("c1")[0]["text"] == "Scanning mariadb:11…"

    ts = posted.response["ts"]
    assert post_signed(url, block_action_body("rescan", "mariadb", message_ts=ts), SECRET).status_code == 200
    slack.wait_for("chat.update")
    assert slack.messages("C0TEST")[0]["text"] == "rescanning"

    assert post_signed(url, message_shortcut_body("scan_message", "mariadb"), SECRET).status_code == 200
    slack.wait_for("views.open")

    values = {"image": {"ref": {"type": "plain_text_input", "value": "mariadb:11"}}}
    assert post_signed(url, view_submission_body("scan_modal", values), SECRET).status_code == 200
    assert bolt_app["seen"] == [values]


def test_post_signed_sends_slack_headers(slack: SlackAPIServer) -> None:
    # the response_url endpoint records headers, which makes it a handy echo server
    resp = post_signed(
        slack.response_url("echo"), '{"a": 1}', SECRET, timestamp=1700000000, content_type="application/json"
    )
    assert isinstance(resp, requests.Response) and resp.status_code == 200
    headers = slack.last("response_url").headers
    assert headers["X-Slack-Request-Timestamp"] == "1700000000"
    assert headers["X-Slack-Signature"] == sign('{"a": 1}', SECRET, 1700000000)["X-Slack-Signature"]


# ------------------------------------------------------------- Socket Mode


def test_apps_connections_open_takes_an_app_token(slack: SlackAPIServer) -> None:
    client = WebClient(token="xoxb-test", base_url=slack.base_url)
    with pytest.raises(SlackApiError) as unset:
        client.apps_connections_open(app_token="xapp-test")
    assert unset.value.response["error"] == "socket_mode_not_configured_in_stand_in"

    slack.socket_mode_url = "ws://127.0.0.1:9/link?ticket=t1"
    assert client.apps_connections_open(app_token="xapp-test")["url"] == "ws://127.0.0.1:9/link?ticket=t1"
    assert slack.last("apps.connections.open").headers["Authorization"] == "Bearer xapp-test"
    tickets = iter(["t2", "t3"])
    slack.socket_mode_url = lambda: f"ws://127.0.0.1:9/link?ticket={next(tickets)}"  # a fresh ticket per call
    assert client.apps_connections_open(app_token="xapp-test")["url"].endswith("t2")

    for token, error in [("xoxb-test", "not_allowed_token_type"), ("xapp-wrong", "invalid_auth")]:
        with pytest.raises(SlackApiError) as refused:
            client.apps_connections_open(app_token=token)
        assert refused.value.response["error"] == error
    with pytest.raises(SlackApiError) as app_token_on_bot_method:
        WebClient(token="xapp-test", base_url=slack.base_url).chat_postMessage(channel="C1", text="x")
    assert app_token_on_bot_method.value.response["error"] == "not_allowed_token_type"

    other = SlackAPIServer(app_tokens={"xapp-1", "xapp-2"}, socket_mode_url="ws://127.0.0.1:9/x").start()
    try:
        assert WebClient(base_url=other.base_url).apps_connections_open(app_token="xapp-2")["ok"]
    finally:
        other.stop()


def _raw_ws(server: SocketModeServer, path: str) -> tuple:
    """A hand-made WebSocket client: returns (socket, status line, headers)."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    status, *lines = head.decode().strip().split("\r\n")
    return sock, status, {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}


def _read_server_frame(sock) -> tuple:
    def exact(n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            assert chunk, "server closed the connection"
            data += chunk
        return data

    b1, b2 = exact(2)
    assert not b2 & 0x80, "server frames are never masked"
    length = b2 & 0x7F
    if length == 126:
        length = int.from_bytes(exact(2), "big")
    elif length == 127:
        length = int.from_bytes(exact(8), "big")
    return b1 & 0x0F, exact(length)


def test_socket_mode_server_speaks_rfc6455() -> None:
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="  # RFC 6455 §1.3
    with SocketModeServer() as server:
        sock, status, _ = _raw_ws(server, "/link?ticket=forged")
        assert status.startswith("HTTP/1.1 401")
        sock.close()

        path = server.url.split(str(server.port), 1)[1]
        sock, status, headers = _raw_ws(server, path)
        assert status == "HTTP/1.1 101 Switching Protocols"
        assert headers["sec-websocket-accept"] == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        opcode, hello = _read_server_frame(sock)
        assert opcode == OP_TEXT and json.loads(hello)["type"] == "hello"
        server.wait_connected(timeout=5)

        big = json.dumps({"envelope_id": "e-big", "payload": {"text": "x" * 70_000}}).encode()
        sock.sendall(encode_frame(OP_TEXT, big, mask=b"\x01\x02\x03\x04"))  # 64-bit length
        sock.sendall(encode_frame(OP_TEXT, b'{"envelope_id": "e-fr', fin=False, mask=b"abcd"))  # fragmented
        sock.sendall(encode_frame(0x9, b"keepalive", mask=b"wxyz"))  # a ping between fragments
        sock.sendall(encode_frame(0x0, b'ag"}', mask=b"efgh"))
        assert _read_server_frame(sock) == (0xA, b"keepalive")
        assert len(server.wait_for_ack("e-big")["payload"]["text"]) == 70_000
        assert server.wait_for_ack("e-frag") == {"envelope_id": "e-frag"}

        envelope_id = server.send_envelope("slash_commands", {"text": "y" * 300})  # 16-bit length
        opcode, data = _read_server_frame(sock)
        assert json.loads(data)["envelope_id"] == envelope_id and json.loads(data)["accepts_response_payload"] is True

        sock.sendall(encode_frame(OP_TEXT, b'{"unmasked": true}'))  # clients must mask
        opcode, data = _read_server_frame(sock)
        assert opcode == OP_CLOSE and int.from_bytes(data[:2], "big") == 1002
        assert server.errors() and "masked" in server.errors()[0]
        sock.close()


def test_socket_mode_round_trip_with_bolt(slack: SlackAPIServer) -> None:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    app = App(client=WebClient(token="xoxb-test", base_url=slack.base_url), signing_secret="unused-in-socket-mode")

    @app.command("/scan")
    def scan(ack, command):  # type: ignore[no-untyped-def]
        ack(text=f"Queued {command['text']}", response_type="ephemeral")

    @app.action("rescan")
    def rescan(ack):  # type: ignore[no-untyped-def]
        ack()

    with SocketModeServer() as server:
        slack.socket_mode_url = server.url
        handler = SocketModeHandler(app, "xapp-test")
        try:
            handler.connect()
            server.wait_connected(timeout=10)
            assert slack.last("apps.connections.open").headers["Authorization"] == "Bearer xapp-test"

            envelope_id = server.send_envelope("slash_commands", slash_command_payload("mariadb"))
            ack = server.wait_for_ack(envelope_id)
            assert ack["payload"] == {"text": "Queued mariadb", "response_type": "ephemeral"}

            action = json.loads(parse_qs(block_action_body("rescan", "mariadb"))["payload"][0])
            envelope_id = server.send_envelope("interactive", action)
            assert server.wait_for_ack(envelope_id) == {"envelope_id": envelope_id}  # a bare ack(): no payload

            server.ping(b"are-you-there")
            deadline = time.monotonic() + 5
            while b"are-you-there" not in server.pongs() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert b"are-you-there" in server.pongs()

            server.disconnect()  # Slack asks the app to reconnect: it opens a new connection
            server.wait_connected(timeout=10, count=2)
            assert len(slack.calls("apps.connections.open")) == 2
            envelope_id = server.send_envelope("slash_commands", slash_command_payload("nginx"))
            assert server.wait_for_ack(envelope_id)["payload"]["text"] == "Queued nginx"
        finally:
            handler.close()
