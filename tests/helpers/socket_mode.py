"""A local stand-in for Slack's Socket Mode endpoint (stdlib only).

In Socket Mode the app calls the Web API method ``apps.connections.open`` with
its app-level token (``xapp-…``), gets a ``wss://wss-primary.slack.com/link?ticket=…``
URL and opens a WebSocket to it. Slack then greets it with a ``hello`` message and
pushes *envelopes* (slash commands, interactions, events) down the socket; the app
acknowledges each one by sending back ``{"envelope_id": …, "payload": …}``.

:class:`SocketModeServer` is that endpoint on 127.0.0.1: a real RFC 6455 server
(handshake with ``Sec-WebSocket-Accept``, masked client frames, unmasked server
frames, fragmentation, ping/pong, close). Point :class:`~tests.helpers.slack_api.SlackAPIServer`
at it (``slack.socket_mode_url = server.url``) and slack_sdk's Socket Mode client
connects to it like it would to Slack. slack_sdk uses a plain TCP socket for any port
other than 443, so the ``ws://127.0.0.1:PORT`` URL works unchanged.

Usage::

    with SlackAPIServer() as slack, SocketModeServer() as socket_mode:
        slack.socket_mode_url = socket_mode.url
        ... start the app with SLACK_APP_TOKEN=xapp-test, SLACK_API_URL=slack.base_url ...
        socket_mode.wait_connected(timeout=30)
        envelope_id = socket_mode.send_envelope("slash_commands", slash_command_payload("help"))
        ack = socket_mode.wait_for_ack(envelope_id)
        assert "Scan a container image" in ack["payload"]["text"]
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import socket
import struct
import threading
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.helpers.slack_requests import FORM, JSON, slash_command_body

logger = logging.getLogger(__name__)

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONTINUATION = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA

CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_PROTOCOL_ERROR = 1002

#: Largest client message accepted (Slack's own limit is far above any ack the bot sends).
MAX_MESSAGE = 16 * 1024 * 1024


def accept_key(sec_websocket_key: str) -> str:
    """``Sec-WebSocket-Accept`` for a client's ``Sec-WebSocket-Key`` (RFC 6455 §4.2.2)."""
    digest = hashlib.sha1((sec_websocket_key.strip() + WS_GUID).encode("ascii")).digest()
    return base64.b64encode(digest).decode("ascii")


def encode_frame(opcode: int, payload: bytes, *, fin: bool = True, mask: bytes | None = None) -> bytes:
    """One WebSocket frame. Servers send unmasked frames; pass ``mask`` (4 bytes) to build a client frame."""
    head = bytes([(0x80 if fin else 0) | opcode])
    mask_bit = 0x80 if mask is not None else 0
    n = len(payload)
    if n <= 125:
        head += bytes([mask_bit | n])
    elif n <= 0xFFFF:
        head += bytes([mask_bit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", n)
    if mask is not None:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        head += mask
    return head + payload


def slash_command_payload(text: str, **fields: Any) -> dict[str, str]:
    """A slash command as Socket Mode delivers it: the fields of the HTTP form, as a JSON object.

    Takes the keyword arguments of :func:`tests.helpers.slack_requests.slash_command_body`
    (``channel_id``, ``response_url``, ``user_id`` …).
    """
    return envelope_of(slash_command_body(text, **fields))[1]


def envelope_of(body: str, content_type: str = FORM) -> tuple[str, dict[str, Any]]:
    """The envelope type and payload Socket Mode uses for what HTTP carries as ``body``: an Events API
    callback is its JSON (``events_api``), an interaction is its ``payload=`` field's JSON (``interactive``),
    a slash command is its form fields as a JSON object (``slash_commands``)."""
    if content_type == JSON:
        return "events_api", json.loads(body)
    fields = dict(parse_qsl(body, keep_blank_values=True))
    if "payload" in fields:
        return "interactive", json.loads(fields["payload"])
    return "slash_commands", fields


class ProtocolError(Exception):
    """The client broke RFC 6455 (the connection is closed with 1002)."""


class _Connection:
    """One accepted WebSocket connection (its reader runs in a daemon thread)."""

    def __init__(self, server: SocketModeServer, sock: socket.socket, number: int) -> None:
        self.server = server
        self.sock = sock
        self.number = number
        self.open = False
        self.close_sent = False
        self.close_code: int | None = None
        self._send_lock = threading.Lock()
        self._buffer = b""

    # ------------------------------------------------------------------ I/O

    def _recv_exact(self, n: int) -> bytes:
        while len(self._buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("client closed the TCP connection")
            self._buffer += chunk
        data, self._buffer = self._buffer[:n], self._buffer[n:]
        return data

    def _recv_until(self, marker: bytes, limit: int = 65536) -> bytes:
        while marker not in self._buffer:
            if len(self._buffer) > limit:
                raise ProtocolError("handshake request too large")
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("client closed the TCP connection during the handshake")
            self._buffer += chunk
        head, self._buffer = self._buffer.split(marker, 1)
        return head

    def send_frame(self, opcode: int, payload: bytes) -> None:
        with self._send_lock:
            if self.close_sent:
                raise ConnectionError(f"connection {self.number} is closing")
            if opcode == OP_CLOSE:
                self.close_sent = True
            self.sock.sendall(encode_frame(opcode, payload))

    def send_text(self, text: str) -> None:
        self.send_frame(OP_TEXT, text.encode("utf-8"))

    def send_close(self, code: int = CLOSE_NORMAL, reason: str = "") -> None:
        try:
            self.send_frame(OP_CLOSE, struct.pack("!H", code) + reason.encode("utf-8"))
        except OSError:
            pass

    def read_frame(self) -> tuple:
        b1, b2 = self._recv_exact(2)
        fin, rsv, opcode = bool(b1 & 0x80), b1 & 0x70, b1 & 0x0F
        masked, length = bool(b2 & 0x80), b2 & 0x7F
        if rsv:
            raise ProtocolError("RSV bits set without a negotiated extension")
        if length == 126:
            (length,) = struct.unpack("!H", self._recv_exact(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self._recv_exact(8))
        if not masked:
            raise ProtocolError("client frames must be masked (RFC 6455 §5.1)")
        if opcode >= 0x8 and (length > 125 or not fin):
            raise ProtocolError("control frames must be short and not fragmented")
        if length > MAX_MESSAGE:
            raise ProtocolError(f"frame of {length} bytes is too large")
        mask = self._recv_exact(4)
        data = self._recv_exact(length)
        return fin, opcode, bytes(b ^ mask[i % 4] for i, b in enumerate(data))

    # ------------------------------------------------------------ handshake

    def handshake(self) -> bool:
        head = self._recv_until(b"\r\n\r\n").decode("iso-8859-1")
        request_line, *header_lines = head.split("\r\n")
        headers: dict[str, str] = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        parts = request_line.split(" ")
        if len(parts) != 3 or parts[0] != "GET" or not parts[2].startswith("HTTP/1.1"):
            return self._refuse(400, "Bad Request")
        target = urlsplit(parts[1])
        ticket = dict(parse_qsl(target.query)).get("ticket")
        if target.path != self.server.path or ticket != self.server.ticket:
            return self._refuse(401, "Unauthorized")  # an expired or forged ticket
        if (
            headers.get("upgrade", "").lower() != "websocket"
            or "upgrade" not in headers.get("connection", "").lower()
            or headers.get("sec-websocket-version") != "13"
            or not headers.get("sec-websocket-key")
        ):
            return self._refuse(400, "Bad Request")
        response = (
            "HTTP/1.1 101 Switching Protocols\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            f"Sec-WebSocket-Accept: {accept_key(headers['sec-websocket-key'])}\r\n"
            "\r\n"
        )
        self.sock.sendall(response.encode("ascii"))
        return True

    def _refuse(self, status: int, reason: str) -> bool:
        body = reason.encode()
        self.sock.sendall(
            f"HTTP/1.1 {status} {reason}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body
        )
        self.server._note_refused(status)
        return False

    # ------------------------------------------------------------------ loop

    def run(self) -> None:
        try:
            self.sock.settimeout(None)
            if not self.handshake():
                return
            self.server._connection_opened(self)  # sends hello first: no envelope can overtake it
            self._read_loop()
        except ProtocolError as exc:
            logger.warning("Socket Mode connection %s: protocol error: %s", self.number, exc)
            self.server._note_error(f"connection {self.number}: {exc}")
            self.send_close(CLOSE_PROTOCOL_ERROR, str(exc)[:100])
        except (ConnectionError, OSError) as exc:
            if self.open and not self.close_sent:
                logger.debug("Socket Mode connection %s dropped: %s", self.number, exc)
        finally:
            self.open = False
            try:
                self.sock.close()
            except OSError:
                pass
            self.server._connection_closed(self)

    def _read_loop(self) -> None:
        fragments: list[bytes] = []
        fragment_opcode: int | None = None
        while True:
            fin, opcode, data = self.read_frame()
            if opcode == OP_PING:
                self.send_frame(OP_PONG, data)
                self.server._note_control("ping", self, data)
            elif opcode == OP_PONG:
                self.server._note_control("pong", self, data)
            elif opcode == OP_CLOSE:
                self.close_code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else 1005
                if not self.close_sent:  # echo the close, then drop the TCP connection
                    self.send_close(self.close_code if len(data) >= 2 else CLOSE_NORMAL)
                return
            elif opcode in (OP_TEXT, OP_BINARY):
                if fragment_opcode is not None:
                    raise ProtocolError("a new message started before the fragmented one ended")
                if fin:
                    self._deliver(opcode, data)
                else:
                    fragment_opcode, fragments = opcode, [data]
            elif opcode == OP_CONTINUATION:
                if fragment_opcode is None:
                    raise ProtocolError("continuation frame without a message to continue")
                fragments.append(data)
                if sum(len(f) for f in fragments) > MAX_MESSAGE:
                    raise ProtocolError("message too large")
                if fin:
                    self._deliver(fragment_opcode, b"".join(fragments))
                    fragment_opcode, fragments = None, []
            else:
                raise ProtocolError(f"unknown opcode {opcode:#x}")

    def _deliver(self, opcode: int, data: bytes) -> None:
        if opcode == OP_BINARY:
            raise ProtocolError("Slack's Socket Mode speaks JSON text frames only")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError("text frame is not valid UTF-8") from None
        try:
            message = json.loads(text)
        except ValueError:
            message = {"_raw": text}
        if not isinstance(message, dict):
            message = {"_raw": text}
        self.server._note_message(self, message)


class SocketModeServer:
    """Slack's Socket Mode WebSocket endpoint, on a free 127.0.0.1 port, served by daemon threads.

    ``url`` is what ``apps.connections.open`` hands out; a connection to any other path
    or ticket is refused with HTTP 401. Envelopes go to the newest open connection (as
    Slack, which spreads them over an app's connections, may pick any of them).
    """

    def __init__(self, app_id: str = "A0TEST", *, host_label: str = "applink-test") -> None:
        self.app_id = app_id
        self.host_label = host_label
        self.path = "/link"
        self.ticket = uuid.uuid4().hex
        self._cond = threading.Condition(threading.RLock())
        self._listener: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._connections: list[_Connection] = []
        self._threads: list[threading.Thread] = []
        self._opened = 0
        self._messages: list[dict[str, Any]] = []
        self._pings: list[bytes] = []
        self._pongs: list[bytes] = []
        self._errors: list[str] = []
        self._refused: list[int] = []

    # ------------------------------------------------------------ lifecycle

    def start(self) -> SocketModeServer:
        if self._listener is not None:
            return self
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        listener.settimeout(0.1)
        self._listener = listener
        self._stopping.clear()
        self._accept_thread = threading.Thread(target=self._accept_loop, name="socket-mode-accept", daemon=True)
        self._accept_thread.start()
        return self

    def stop(self) -> None:
        """Close every connection (close frame 1001, as Slack does when it goes away) and the port."""
        if self._listener is None:
            return
        self._stopping.set()
        if self._accept_thread is not None:
            self._accept_thread.join(timeout=5)
        self._listener.close()
        self._listener = None
        with self._cond:
            connections = list(self._connections)
        for conn in connections:
            conn.send_close(CLOSE_GOING_AWAY, "server stopping")
            try:
                conn.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for thread in list(self._threads):
            thread.join(timeout=5)

    def __enter__(self) -> SocketModeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._listener is None:
            raise RuntimeError("SocketModeServer is not started")
        return int(self._listener.getsockname()[1])

    @property
    def url(self) -> str:
        """``ws://127.0.0.1:PORT/link?ticket=…``, the value ``apps.connections.open`` returns."""
        return f"ws://127.0.0.1:{self.port}{self.path}?ticket={self.ticket}&app_id={self.app_id}"

    def _accept_loop(self) -> None:
        number = 0
        while not self._stopping.is_set():
            try:
                sock, _ = self._listener.accept()  # type: ignore[union-attr]
            except TimeoutError:
                continue
            except OSError:
                return
            number += 1
            conn = _Connection(self, sock, number)
            thread = threading.Thread(target=conn.run, name=f"socket-mode-conn-{number}", daemon=True)
            self._threads.append(thread)
            thread.start()

    # ---------------------------------------------------------- to the app

    def send_envelope(
        self,
        envelope_type: str,
        payload: dict[str, Any] | str,
        accepts_response_payload: bool = True,
        **extra: Any,
    ) -> str:
        """Push an envelope to the app; returns its ``envelope_id``.

        ``envelope_type`` is ``slash_commands``, ``interactive`` or ``events_api`` (Slack
        adds ``retry_attempt`` / ``retry_reason`` to the last; pass them in ``extra``).
        """
        envelope_id = str(uuid.uuid4())
        envelope = {
            "envelope_id": envelope_id,
            "type": envelope_type,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
            **extra,
        }
        self.send_json(envelope)
        return envelope_id

    def send_json(self, message: dict[str, Any] | str) -> None:
        """Send one text frame (a dict is JSON-encoded) on the newest open connection."""
        text = message if isinstance(message, str) else json.dumps(message)
        self._current().send_text(text)

    def disconnect(self, reason: str = "refresh_requested") -> None:
        """Slack's ``disconnect`` message: the app is expected to open a new connection."""
        self.send_json({"type": "disconnect", "reason": reason, "debug_info": {"host": self.host_label}})

    def ping(self, payload: bytes = b"") -> None:
        """A ping control frame from the server; the client must answer with a pong (see :meth:`pongs`)."""
        self._current().send_frame(OP_PING, payload)

    def _current(self) -> _Connection:
        with self._cond:
            open_connections = [c for c in self._connections if c.open and not c.close_sent]
        if not open_connections:
            raise AssertionError(
                f"no Socket Mode connection is open (opened so far: {self._opened}; errors: {self._errors})"
            )
        return open_connections[-1]

    def _hello(self) -> dict[str, Any]:
        with self._cond:
            count = sum(1 for c in self._connections if c.open)
        return {
            "type": "hello",
            "num_connections": count,
            "debug_info": {"host": self.host_label, "build_number": 1, "approximate_connection_time": 18060},
            "connection_info": {"app_id": self.app_id},
        }

    # -------------------------------------------------------- from the app

    def wait_connected(self, timeout: float = 10, count: int = 1) -> None:
        """Block until ``count`` connections have been opened in all and one of them is still open."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not (self._opened >= count and self.connected):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"timed out after {timeout}s waiting for Socket Mode connection #{count} "
                        f"(opened {self._opened}, open now {self.open_connections}, refused {self._refused}, "
                        f"errors {self._errors})"
                    )
                self._cond.wait(remaining)

    def wait_for_ack(self, envelope_id: str, timeout: float = 10) -> dict[str, Any]:
        """The app's acknowledgement of ``envelope_id``: ``{"envelope_id": …, "payload": …?}``."""
        return self.wait_for(lambda m: m.get("envelope_id") == envelope_id, timeout, f"the ack of {envelope_id}")

    def wait_for(self, predicate, timeout: float = 10, what: str = "a matching message") -> dict[str, Any]:
        """The first message from the app matching ``predicate`` (waits for it)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = next((m for m in self._messages if predicate(m)), None)
                if found is not None:
                    return json.loads(json.dumps(found))
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"timed out after {timeout}s waiting for {what}; received: {self._messages!r}; "
                        f"errors: {self._errors}"
                    )
                self._cond.wait(remaining)

    def received(self) -> list[dict[str, Any]]:
        """Every text message the app sent, JSON-decoded (non-JSON text as ``{"_raw": text}``), oldest first."""
        with self._cond:
            return json.loads(json.dumps(self._messages))

    def acks(self) -> dict[str, dict[str, Any]]:
        """Acknowledgements received so far, by envelope id."""
        return {m["envelope_id"]: m for m in self.received() if "envelope_id" in m}

    def pings(self) -> list[bytes]:
        """Payloads of the ping frames the app sent (slack_sdk pings every ``ping_interval``)."""
        with self._cond:
            return list(self._pings)

    def pongs(self) -> list[bytes]:
        """Payloads of the pong frames the app sent in answer to :meth:`ping`."""
        with self._cond:
            return list(self._pongs)

    def errors(self) -> list[str]:
        """Protocol violations seen (each closed its connection with 1002)."""
        with self._cond:
            return list(self._errors)

    @property
    def connected(self) -> bool:
        return self.open_connections > 0

    @property
    def open_connections(self) -> int:
        with self._cond:
            return sum(1 for c in self._connections if c.open)

    @property
    def connections_opened(self) -> int:
        """How many WebSocket handshakes succeeded (reconnects included)."""
        with self._cond:
            return self._opened

    # ----------------------------------------------- called by connections

    def _connection_opened(self, conn: _Connection) -> None:
        with self._cond:
            conn.open = True
            self._connections.append(conn)
            conn.send_text(json.dumps(self._hello()))
            self._opened += 1
            self._cond.notify_all()

    def _connection_closed(self, conn: _Connection) -> None:
        with self._cond:
            if conn in self._connections:
                self._connections.remove(conn)
            self._cond.notify_all()

    def _note_message(self, conn: _Connection, message: dict[str, Any]) -> None:
        with self._cond:
            self._messages.append(message)
            self._cond.notify_all()

    def _note_control(self, kind: str, conn: _Connection, data: bytes) -> None:
        with self._cond:
            (self._pings if kind == "ping" else self._pongs).append(data)
            self._cond.notify_all()

    def _note_error(self, error: str) -> None:
        with self._cond:
            self._errors.append(error)
            self._cond.notify_all()

    def _note_refused(self, status: int) -> None:
        with self._cond:
            self._refused.append(status)
            self._cond.notify_all()
