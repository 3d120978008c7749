"""A local stand-in for Slack's Web API that records every call.

Slack cannot be reached from the test machines, so tests point
``slack_sdk.WebClient(base_url=server.base_url)`` at :class:`SlackAPIServer`.
It is a real HTTP server (stdlib only) that implements the Web API methods the
bot uses, keeps enough state to answer "what does the thread look like now?",
and can inject failures (``ok: false``, HTTP 429 with ``Retry-After``, 5xx,
slow responses).

Besides ``/api/<method>`` it serves two endpoints Slack hosts elsewhere:

* ``/upload/<file_id>`` -- the ``upload_url`` handed out by
  ``files.getUploadURLExternal`` (recorded as method ``"upload"``);
* ``/response/<id>`` -- a slash command / interaction ``response_url``
  (recorded as method ``"response_url"``; see :meth:`SlackAPIServer.response_url`).

For Socket Mode, ``apps.connections.open`` takes an app-level token (``app_tokens``,
``xapp-test`` by default; like Slack, it refuses bot tokens and bot methods refuse
app tokens with ``not_allowed_token_type``) and returns :attr:`SlackAPIServer.socket_mode_url`,
typically the ``url`` of a :class:`tests.helpers.socket_mode.SocketModeServer`.

Both pseudo-methods accept the same fault injection as real API methods.
"""

from __future__ import annotations

import copy
import email.parser
import email.policy
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

logger = logging.getLogger(__name__)

#: Parameters that carry JSON documents; form-encoded bodies send them as strings.
JSON_PARAMS = frozenset(
    {"blocks", "attachments", "view", "files", "metadata", "unfurls", "user_auth_blocks", "outputs"}
)

UPLOAD = "upload"
RESPONSE_URL = "response_url"
DOWNLOAD = "download"  # GET of a snippet's url_private_download

_TS_BASE_MICROS = 1_700_000_000 * 1_000_000

#: Methods called with an app-level token (``xapp-…``) instead of a bot token.
APP_TOKEN_METHODS = frozenset({"apps.connections.open"})


@dataclass
class Call:
    """One request received by the server."""

    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    time: float
    path: str = ""
    body: bytes = b""
    status: int = 200
    response: Any = None

    @property
    def ok(self) -> bool:
        """True when the call was answered with HTTP 200 and (for API methods) ``ok: true``."""
        if self.status != 200:
            return False
        return not isinstance(self.response, dict) or bool(self.response.get("ok", True))

    def summary(self) -> str:
        """One line for failure dumps."""
        params = json.dumps(self.params, default=str)
        if len(params) > 300:
            params = params[:300] + "..."
        return f"{self.time:.3f} {self.method} status={self.status} ok={self.ok} params={params}"


@dataclass
class Upload:
    """A file announced by files.getUploadURLExternal and (maybe) uploaded / completed."""

    id: str
    filename: str
    length: int | None
    alt_txt: str | None = None
    snippet_type: str | None = None
    content: bytes | None = None
    title: str | None = None
    channel: str | None = None
    thread_ts: str | None = None
    initial_comment: str | None = None
    completed: bool = False


@dataclass
class _Fault:
    kind: str  # "fail" | "ratelimit" | "server_error"
    error: str = ""
    retry_after: int = 1
    status: int = 503


@dataclass
class _State:
    calls: list[Call] = field(default_factory=list)
    messages: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    ephemerals: list[dict[str, Any]] = field(default_factory=list)
    uploads: dict[str, Upload] = field(default_factory=dict)
    views: dict[str, dict[str, Any]] = field(default_factory=dict)
    snippets: dict[str, dict[str, Any]] = field(default_factory=dict)  # file id -> {"name", "content"}
    counter: int = 0


class SlackAPIServer:
    """Records Web API calls on 127.0.0.1 and answers them like Slack would.

    Usage::

        with SlackAPIServer() as slack:
            client = WebClient(token="xoxb-test", base_url=slack.base_url)
            client.chat_postMessage(channel="C1", text="hi")
            assert slack.last("chat.postMessage").params["text"] == "hi"
    """

    def __init__(
        self,
        token: str | Collection[str] = "xoxb-test",
        *,
        team_id: str = "T0TEST",
        team_name: str = "chainscan-test",
        bot_user_id: str = "U0BOT",
        bot_id: str = "B0BOT",
        scopes: str = "chat:write,commands,files:write,users:read,channels:read,groups:read,im:write",
        app_tokens: str | Collection[str] = ("xapp-test",),
        socket_mode_url: str | Callable[[], str] | None = None,
    ) -> None:
        self.tokens = {token} if isinstance(token, str) else set(token)
        self.app_tokens = {app_tokens} if isinstance(app_tokens, str) else set(app_tokens)
        #: What ``apps.connections.open`` returns as ``url`` (a string, or a callable asked on each call);
        #: ``None`` answers ``ok: false`` -- Socket Mode is not set up in this test.
        self.socket_mode_url = socket_mode_url
        self.team_id = team_id
        self.team_name = team_name
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.scopes = scopes
        self.channels: dict[str, dict[str, Any]] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.usergroups: dict[str, list[str]] = {}  # user group id -> member user ids
        self._cond = threading.Condition(threading.RLock())
        self._state = _State()
        self._faults: dict[str, deque[_Fault]] = {}
        self._delays: dict[str, float] = {}
        self._hangs: dict[str, float] = {}  # method -> seconds to wait after acting, before replying
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._methods: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.getPermalink": self._chat_get_permalink,
            "chat.delete": self._chat_delete,
            "views.open": self._views_open,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "conversations.info": self._conversations_info,
            "conversations.open": self._conversations_open,
            "conversations.replies": self._conversations_replies,
            "conversations.history": self._conversations_history,
            "users.info": self._users_info,
            "usergroups.users.list": self._usergroups_users_list,
            "files.getUploadURLExternal": self._files_get_upload_url_external,
            "files.completeUploadExternal": self._files_complete_upload_external,
            "files.info": self._files_info,
            "oauth.v2.access": self._oauth_v2_access,
            "apps.connections.open": self._apps_connections_open,
        }
        self.installs: dict[str, dict[str, Any]] = {}  # OAuth code -> what oauth.v2.access returns

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> SlackAPIServer:
        """Bind a free port on 127.0.0.1 and serve in a daemon thread."""
        if self._httpd is not None:
            return self
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        httpd.daemon_threads = True
        httpd.api = self  # type: ignore[attr-defined]
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="slack-api-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> SlackAPIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("SlackAPIServer is not started")
        return int(self._httpd.server_address[1])

    @property
    def root_url(self) -> str:
        """``http://127.0.0.1:PORT``"""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """Value for ``WebClient(base_url=...)``: ``http://127.0.0.1:PORT/api/``."""
        return f"{self.root_url}/api/"

    def response_url(self, key: str = "r1") -> str:
        """A ``response_url`` served here; posts to it show up in :meth:`responses`."""
        return f"{self.root_url}/response/{key}"

    # ---------------------------------------------------------------- directory

    def add_channel(self, channel_id: str, name: str | None = None, **fields: Any) -> dict[str, Any]:
        """Register a channel for conversations.info (unknown ids get a synthesised public channel)."""
        info = self._default_channel(channel_id)
        if name is not None:
            info["name"] = name
            info["name_normalized"] = name
        info.update(fields)
        with self._cond:
            self.channels[channel_id] = info
        return info

    def add_user(self, user_id: str, name: str | None = None, **fields: Any) -> dict[str, Any]:
        """Register a user for users.info (unknown ids get a synthesised user)."""
        info = self._default_user(user_id)
        if name is not None:
            info["name"] = name
            info["real_name"] = name
            info["profile"].update(real_name=name, display_name=name)
        info.update(fields)
        with self._cond:
            self.users[user_id] = info
        return info

    # ---------------------------------------------------------- fault injection

    def fail_next(self, method: str, error: str = "not_in_channel", times: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` with HTTP 200 ``{"ok": false, "error": error}``."""
        self._add_fault(method, _Fault("fail", error=error), times)

    def rate_limit_next(self, method: str, retry_after: int = 1, times: int = 1) -> None:
        """Answer the next ``times`` calls with HTTP 429, ``Retry-After: retry_after`` (whole seconds)."""
        self._add_fault(method, _Fault("ratelimit", error="ratelimited", retry_after=int(retry_after)), times)

    def server_error_next(self, method: str, status: int = 503, times: int = 1) -> None:
        """Answer the next ``times`` calls with an HTTP ``status`` server error."""
        self._add_fault(method, _Fault("server_error", status=status), times)

    def delay(self, method: str, seconds: float) -> None:
        """Sleep ``seconds`` before answering every call of ``method`` (0 removes the delay)."""
        with self._cond:
            if seconds > 0:
                self._delays[method] = seconds
            else:
                self._delays.pop(method, None)

    def hang_after(self, method: str, seconds: float) -> None:
        """Act on every call of ``method`` at once (a message is posted), then wait ``seconds`` before replying:
        a caller killed meanwhile never learns the answer (0 removes it)."""
        with self._cond:
            if seconds > 0:
                self._hangs[method] = seconds
            else:
                self._hangs.pop(method, None)

    def _add_fault(self, method: str, fault: _Fault, times: int) -> None:
        with self._cond:
            queue = self._faults.setdefault(method, deque())
            queue.extend(copy.copy(fault) for _ in range(times))

    def _take_fault(self, method: str) -> _Fault | None:
        with self._cond:
            queue = self._faults.get(method)
            return queue.popleft() if queue else None

    # ---------------------------------------------------------------- inspection

    def calls(self, method: str | None = None) -> list[Call]:
        """Every recorded call (optionally of one method), oldest first, faulted ones included."""
        with self._cond:
            return [c for c in self._state.calls if method is None or c.method == method]

    def last(self, method: str) -> Call:
        """The most recent call of ``method``; AssertionError if there is none."""
        found = self.calls(method)
        if not found:
            raise AssertionError(f"no {method} call recorded; calls so far:\n{self._dump()}")
        return found[-1]

    def wait_for(
        self,
        method: str,
        count: int = 1,
        timeout: float = 10,
        predicate: Callable[[Call], bool] | None = None,
    ) -> list[Call]:
        """Block until ``count`` calls of ``method`` matching ``predicate`` arrived; return them."""
        deadline = time.monotonic() + timeout

        def matching() -> list[Call]:
            return [c for c in self._state.calls if c.method == method and (predicate is None or predicate(c))]

        with self._cond:
            while True:
                found = matching()
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"timed out after {timeout}s waiting for {count} {method} call(s)"
                        f"{' matching predicate' if predicate else ''}; got {len(found)}. "
                        f"All calls:\n{self._dump()}"
                    )
                self._cond.wait(remaining)

    def uploads(self, completed_only: bool = False) -> list[Upload]:
        """Files announced via files.getUploadURLExternal, with bytes and where they were shared."""
        with self._cond:
            found = [copy.copy(u) for u in self._state.uploads.values()]
        return [u for u in found if u.completed or not completed_only]

    def responses(self, key: str | None = None) -> list[dict[str, Any]]:
        """JSON bodies posted to :meth:`response_url` endpoints, oldest first."""
        return [
            c.params
            for c in self.calls(RESPONSE_URL)
            if c.status == 200 and (key is None or c.path.rsplit("/", 1)[-1] == key)
        ]

    def messages_in_thread(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        """Current state of the parent message and its replies (updates applied, deletes removed)."""
        with self._cond:
            found = [
                copy.deepcopy(m)
                for (ch, ts), m in self._state.messages.items()
                if ch == channel and (ts == thread_ts or m.get("thread_ts") == thread_ts)
            ]
        return sorted(found, key=lambda m: m["ts"])

    def messages(self, channel: str) -> list[dict[str, Any]]:
        """Current state of every message in ``channel`` (top level and replies)."""
        with self._cond:
            found = [copy.deepcopy(m) for (ch, _), m in self._state.messages.items() if ch == channel]
        return sorted(found, key=lambda m: m["ts"])

    def ephemeral_messages(self, channel: str | None = None, user: str | None = None) -> list[dict[str, Any]]:
        """Messages sent with chat.postEphemeral."""
        with self._cond:
            return [
                copy.deepcopy(m)
                for m in self._state.ephemerals
                if (channel is None or m["channel"] == channel) and (user is None or m["user"] == user)
            ]

    def views(self) -> list[dict[str, Any]]:
        """Current state of every view opened / updated / published."""
        with self._cond:
            return [copy.deepcopy(v) for v in self._state.views.values()]

    def reset(self) -> None:
        """Forget calls, messages, uploads, views, pending faults and delays."""
        with self._cond:
            self._state = _State()
            self._faults.clear()
            self._delays.clear()
            self._hangs.clear()

    def _dump(self) -> str:
        with self._cond:
            return "\n".join("  " + c.summary() for c in self._state.calls) or "  (none)"

    # ------------------------------------------------------------ request entry

    def handle(
        self, method: str, path: str, params: dict[str, Any], headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        """Answer one request; returns (status, extra headers, body). Called by the HTTP handler."""
        with self._cond:
            delay = self._delays.get(method, 0.0)
        if delay:
            time.sleep(delay)
        status, extra_headers, payload = self._answer(method, path, params, headers, body)
        with self._cond:
            hang = self._hangs.get(method, 0.0)
        if hang:
            time.sleep(hang)
        if isinstance(payload, (bytes, str)):
            raw = payload.encode() if isinstance(payload, str) else payload
            extra_headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        else:
            raw = json.dumps(payload).encode()
            extra_headers.setdefault("Content-Type", "application/json; charset=utf-8")
        call = Call(
            method=method,
            params=params,
            headers=headers,
            time=time.time(),
            path=path,
            body=body,
            status=status,
            response=payload,
        )
        with self._cond:
            self._state.calls.append(call)
            self._cond.notify_all()
        return status, extra_headers, raw

    def _answer(
        self, method: str, path: str, params: dict[str, Any], headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], Any]:
        fault = self._take_fault(method)
        if fault is not None:
            if fault.kind == "ratelimit":
                return 429, {"Retry-After": str(fault.retry_after)}, {"ok": False, "error": "ratelimited"}
            if fault.kind == "server_error":
                return fault.status, {}, {"ok": False, "error": "fatal_error"}
            if method in (UPLOAD, RESPONSE_URL):
                return 404, {}, fault.error
            return 200, {}, {"ok": False, "error": fault.error}

        if method == UPLOAD:
            return self._receive_upload(path, params, body)
        if method == RESPONSE_URL:
            return 200, {}, "ok"
        if method == DOWNLOAD:
            return self._download(path, headers)

        handler = self._methods.get(method)
        if handler is None:
            return 200, {}, {"ok": False, "error": "unknown_method", "req_method": method}
        if method.startswith("oauth."):
            auth_error = None  # client credentials instead of a token
        elif method in APP_TOKEN_METHODS:
            auth_error = self._check_auth(headers, params, accepted=self.app_tokens, other_type=self.tokens)
        else:
            auth_error = self._check_auth(headers, params, other_type=self.app_tokens)
        if auth_error:
            return 200, {}, {"ok": False, "error": auth_error}
        with self._cond:
            result = handler(params)
        extra = {"X-OAuth-Scopes": self.scopes} if method == "auth.test" else {}
        return 200, extra, result

    def _check_auth(
        self,
        headers: dict[str, str],
        params: dict[str, Any],
        accepted: Collection[str] | None = None,
        other_type: Collection[str] = (),
    ) -> str | None:
        """``None`` when the request bears a token from ``accepted`` (default: the bot tokens), else
        Slack's error: ``not_authed``, ``not_allowed_token_type`` (a valid token of the wrong kind,
        e.g. an app-level token on chat.postMessage) or ``invalid_auth``."""
        accepted = self.tokens if accepted is None else accepted
        auth = next((v for k, v in headers.items() if k.lower() == "authorization"), None)
        token: str | None = None
        if auth and auth.startswith("Bearer "):
            token = auth[len("Bearer ") :].strip()
        elif params.get("token"):
            token = str(params["token"])
        if not token:
            return "not_authed"
        if token in accepted:
            return None
        if token in other_type:
            return "not_allowed_token_type"
        return "invalid_auth"

    # ----------------------------------------------------------------- helpers

    def _next_ts(self) -> str:
        self._state.counter += 1
        micros = _TS_BASE_MICROS + self._state.counter * 100
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _next_id(self, prefix: str) -> str:
        self._state.counter += 1
        return f"{prefix}{self._state.counter:08d}"

    def _permalink(self, channel: str, ts: str) -> str:
        return f"https://{self.team_name}.slack.com/archives/{channel}/p{ts.replace('.', '')}"

    def _default_channel(self, channel_id: str) -> dict[str, Any]:
        return {
            "id": channel_id,
            "name": channel_id.lower(),
            "name_normalized": channel_id.lower(),
            "is_channel": channel_id.startswith("C"),
            "is_group": channel_id.startswith("G"),
            "is_im": channel_id.startswith("D"),
            "is_private": channel_id.startswith("G"),
            "is_archived": False,
            "is_member": True,
            "context_team_id": self.team_id,
        }

    def _default_user(self, user_id: str) -> dict[str, Any]:
        name = user_id.lower()
        return {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "real_name": name,
            "deleted": False,
            "is_bot": user_id == self.bot_user_id,
            "tz": "Etc/UTC",
            "tz_offset": 0,
            "profile": {"real_name": name, "display_name": name, "email": f"{name}@example.com"},
        }

    @staticmethod
    def _has_content(params: dict[str, Any]) -> bool:
        return any(params.get(k) for k in ("text", "blocks", "attachments"))

    # ------------------------------------------------------------ Web API methods

    def _auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": f"https://{self.team_name}.slack.com/",
            "team": self.team_name,
            "user": "chainscan",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _apps_connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        url = self.socket_mode_url() if callable(self.socket_mode_url) else self.socket_mode_url
        if not url:
            # Not a Slack error: the test did not set socket_mode_url (see SocketModeServer).
            return {"ok": False, "error": "socket_mode_not_configured_in_stand_in"}
        return {"ok": True, "url": url}

    def _chat_post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = params.get("channel")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if not self._has_content(params):
            return {"ok": False, "error": "no_text"}
        ts = self._next_ts()
        message: dict[str, Any] = {
            "type": "message",
            "ts": ts,
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "team": self.team_id,
            "text": params.get("text", ""),
        }
        for key in ("blocks", "attachments", "thread_ts", "metadata"):
            if params.get(key):
                message[key] = params[key]
        self._state.messages[(channel, ts)] = message
        return {"ok": True, "channel": channel, "ts": ts, "message": copy.deepcopy(message)}

    def _chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, ts = params.get("channel"), params.get("ts")
        message = self._state.messages.get((channel, ts))  # type: ignore[arg-type]
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        if not self._has_content(params):
            return {"ok": False, "error": "no_text"}
        for key in ("text", "blocks", "attachments", "metadata"):
            if key in params and params[key] is not None:
                message[key] = params[key]
        message["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        return {
            "ok": True,
            "channel": channel,
            "ts": ts,
            "text": message.get("text", ""),
            "message": copy.deepcopy(message),
        }

    def _chat_delete(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, ts = params.get("channel"), params.get("ts")
        if self._state.messages.pop((channel, ts), None) is None:  # type: ignore[arg-type]
            return {"ok": False, "error": "message_not_found"}
        return {"ok": True, "channel": channel, "ts": ts}

    def _chat_post_ephemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, user = params.get("channel"), params.get("user")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if not user:
            return {"ok": False, "error": "user_not_found"}
        if not self._has_content(params):
            return {"ok": False, "error": "no_text"}
        ts = self._next_ts()
        message = {"ts": ts, "channel": channel, "user": user, "text": params.get("text", "")}
        for key in ("blocks", "attachments", "thread_ts"):
            if params.get(key):
                message[key] = params[key]
        self._state.ephemerals.append(message)
        return {"ok": True, "message_ts": ts}

    def _chat_get_permalink(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, ts = params.get("channel"), params.get("message_ts")
        if not channel or not ts:
            return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True, "channel": channel, "permalink": self._permalink(str(channel), str(ts))}

    def _store_view(self, view: dict[str, Any], view_id: str, **extra: Any) -> dict[str, Any]:
        stored = {
            "id": view_id,
            "team_id": self.team_id,
            "app_id": "A0TEST",
            "bot_id": self.bot_id,
            "state": {"values": {}},
            "hash": f"{time.time():.6f}.{self._state.counter}",
            "private_metadata": "",
            "callback_id": "",
            "external_id": "",
            **view,
            **extra,
        }
        self._state.views[view_id] = stored
        return copy.deepcopy(stored)

    def _views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        view = params.get("view")
        if not params.get("trigger_id") and not params.get("interactivity_pointer"):
            return {"ok": False, "error": "invalid_arguments"}
        if not isinstance(view, dict):
            return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True, "view": self._store_view(view, self._next_id("V"))}

    def _views_update(self, params: dict[str, Any]) -> dict[str, Any]:
        view = params.get("view")
        if not isinstance(view, dict):
            return {"ok": False, "error": "invalid_arguments"}
        view_id = params.get("view_id")
        if not view_id and params.get("external_id"):
            view_id = next(
                (k for k, v in self._state.views.items() if v.get("external_id") == params["external_id"]),
                None,
            )
        if not view_id or view_id not in self._state.views:
            return {"ok": False, "error": "not_found"}
        return {"ok": True, "view": self._store_view(view, view_id)}

    def _views_publish(self, params: dict[str, Any]) -> dict[str, Any]:
        view, user_id = params.get("view"), params.get("user_id")
        if not isinstance(view, dict) or not user_id:
            return {"ok": False, "error": "invalid_arguments"}
        view_id = next(
            (k for k, v in self._state.views.items() if v.get("type") == "home" and v.get("user_id") == user_id),
            None,
        ) or self._next_id("V")
        return {"ok": True, "view": self._store_view(view, view_id, user_id=user_id)}

    def _conversations_info(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = params.get("channel")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        info = self.channels.get(channel) or self._default_channel(channel)
        return {"ok": True, "channel": copy.deepcopy(info)}

    def _conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        users = str(params.get("users") or "")
        if not users and not params.get("channel"):
            return {"ok": False, "error": "users_list_not_supplied"}
        channel_id = params.get("channel") or "D" + users.replace(",", "").upper()
        return {"ok": True, "channel": {"id": channel_id}}

    def _conversations_replies(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, ts = params.get("channel"), params.get("ts")
        if (channel, ts) not in self._state.messages:
            return {"ok": False, "error": "thread_not_found"}
        return {
            "ok": True,
            "messages": self.messages_in_thread(str(channel), str(ts)),
            "has_more": False,
        }

    def _conversations_history(self, params: dict[str, Any]) -> dict[str, Any]:
        """Top-level messages of a channel, newest first; ``metadata`` only with ``include_all_metadata``."""
        channel = str(params.get("channel") or "")
        limit = int(params.get("limit") or 100)
        with_metadata = str(params.get("include_all_metadata")).lower() in ("1", "true")
        found = [m for m in reversed(self.messages(channel)) if m.get("thread_ts") in (None, m["ts"])]
        if not with_metadata:
            for message in found:
                message.pop("metadata", None)
        return {"ok": True, "messages": found[:limit], "has_more": len(found) > limit}

    def _users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user = params.get("user")
        if not user:
            return {"ok": False, "error": "user_not_found"}
        info = self.users.get(user) or self._default_user(user)
        return {"ok": True, "user": copy.deepcopy(info)}

    def _usergroups_users_list(self, params: dict[str, Any]) -> dict[str, Any]:
        group = params.get("usergroup")
        if group not in self.usergroups:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": list(self.usergroups[group])}

    def add_install(self, code: str, *, team_id: str, token: str, installer: str = "U0INSTALLER") -> None:
        """Prepare an OAuth ``code`` that ``oauth.v2.access`` exchanges for a bot token of ``team_id``."""
        with self._cond:
            self.installs[code] = {"team_id": team_id, "token": token, "installer": installer}
            self.tokens.add(token)

    def _oauth_v2_access(self, params: dict[str, Any]) -> dict[str, Any]:
        install = self.installs.pop(str(params.get("code")), None)
        if install is None:
            return {"ok": False, "error": "invalid_code"}
        return {
            "ok": True,
            "app_id": "A0TEST",
            "authed_user": {"id": install["installer"]},
            "scope": self.scopes,
            "token_type": "bot",
            "access_token": install["token"],
            "bot_user_id": self.bot_user_id,
            "team": {"id": install["team_id"], "name": "Installed team"},
            "enterprise": None,
            "is_enterprise_install": False,
        }

    def add_snippet(self, content: str, name: str = "Dockerfile") -> dict[str, Any]:
        """A text snippet someone posted: ``files.info`` describes it, ``url_private_download`` serves it
        to a request bearing a valid bot token (as Slack does)."""
        with self._cond:
            file_id = self._next_id("F")
            self._state.snippets[file_id] = {"name": name, "content": content.encode()}
        return {
            "id": file_id,
            "name": name,
            "title": name,
            "mode": "snippet",
            "filetype": "dockerfile",
            "url_private_download": f"{self.root_url}/download/{file_id}/{name}",
        }

    def _files_info(self, params: dict[str, Any]) -> dict[str, Any]:
        snippet = self._state.snippets.get(str(params.get("file")))
        if snippet is None:
            return {"ok": False, "error": "file_not_found"}
        file_id = str(params["file"])
        return {
            "ok": True,
            "file": {
                "id": file_id,
                "name": snippet["name"],
                "mode": "snippet",
                "filetype": "dockerfile",
                "size": len(snippet["content"]),
                "url_private_download": f"{self.root_url}/download/{file_id}/{snippet['name']}",
            },
        }

    def _download(self, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        if self._check_auth(headers, {}):
            return 302, {"Location": "https://slack.com/signin"}, b""  # Slack redirects unauthenticated downloads
        file_id = path.split("/")[2] if len(path.split("/")) > 2 else ""
        snippet = self._state.snippets.get(file_id)
        return (200, {"Content-Type": "text/plain"}, snippet["content"]) if snippet else (404, {}, b"not found")

    def _files_get_upload_url_external(self, params: dict[str, Any]) -> dict[str, Any]:
        filename = params.get("filename")
        length = params.get("length")
        if not filename or length in (None, ""):
            return {"ok": False, "error": "invalid_arguments"}
        file_id = self._next_id("F")
        self._state.uploads[file_id] = Upload(
            id=file_id,
            filename=str(filename),
            length=int(length),
            alt_txt=params.get("alt_txt"),
            snippet_type=params.get("snippet_type"),
        )
        return {"ok": True, "upload_url": f"{self.root_url}/upload/{file_id}", "file_id": file_id}

    def _receive_upload(self, path: str, params: dict[str, Any], body: bytes) -> tuple[int, dict[str, str], Any]:
        file_id = path.rstrip("/").rsplit("/", 1)[-1]
        content = params.get("file") if isinstance(params.get("file"), bytes) else body
        with self._cond:
            upload = self._state.uploads.get(file_id)
            if upload is None:
                return 404, {}, "file_not_found"
            upload.content = content
        return 200, {}, f"OK - {len(content)}"

    def _files_complete_upload_external(self, params: dict[str, Any]) -> dict[str, Any]:
        entries = params.get("files")
        if not isinstance(entries, list) or not entries:
            return {"ok": False, "error": "invalid_arguments"}
        uploads: list[tuple[Upload, str | None]] = []
        for entry in entries:
            upload = self._state.uploads.get(entry.get("id"))
            if upload is None or upload.content is None:
                return {"ok": False, "error": "file_not_found"}
            uploads.append((upload, entry.get("title")))
        channels = [c for c in str(params.get("channels") or "").split(",") if c]
        channel = params.get("channel_id") or (channels[0] if channels else None)
        thread_ts = params.get("thread_ts") or None
        comment = params.get("initial_comment") or None
        files = []
        for upload, title in uploads:
            upload.title = title or upload.filename
            upload.channel, upload.thread_ts, upload.initial_comment = channel, thread_ts, comment
            upload.completed = True
            files.append(
                {
                    "id": upload.id,
                    "name": upload.filename,
                    "title": upload.title,
                    "size": len(upload.content or b""),
                    "permalink": f"https://{self.team_name}.slack.com/files/{self.bot_user_id}/{upload.id}/{upload.filename}",
                }
            )
        if channel:
            ts = self._next_ts()
            message: dict[str, Any] = {
                "type": "message",
                "subtype": "file_share",
                "ts": ts,
                "user": self.bot_user_id,
                "text": comment or "",
                "files": copy.deepcopy(files),
            }
            if thread_ts:
                message["thread_ts"] = thread_ts
            self._state.messages[(channel, ts)] = message
        return {"ok": True, "files": files}


# ---------------------------------------------------------------------- HTTP layer


def _decode_json_params(params: dict[str, Any]) -> dict[str, Any]:
    """Turn JSON documents sent as strings in form bodies (``blocks=[...]``) into objects."""
    for key in JSON_PARAMS:
        value = params.get(key)
        if isinstance(value, str) and value[:1] in ("[", "{"):
            try:
                params[key] = json.loads(value)
            except ValueError:
                pass
    return params


def _parse_multipart(content_type: str, body: bytes) -> dict[str, Any]:
    """Parse multipart/form-data: text fields become str, file fields bytes."""
    raw = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode() + body
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
    fields: dict[str, Any] = {}
    for part in message.iter_parts():  # type: ignore[attr-defined]
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        payload = part.get_payload(decode=True) or b""
        if part.get_filename() is not None:
            fields[name] = payload
            fields.setdefault("filename", part.get_filename())
        else:
            fields[name] = payload.decode("utf-8", "replace")
    return fields


def parse_params(query: str, content_type: str, body: bytes) -> dict[str, Any]:
    """Query string + JSON / form / multipart body -> one dict, JSON-string params decoded."""
    params: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    ctype = content_type.split(";", 1)[0].strip().lower()
    if body:
        if ctype == "application/json" or (not ctype and body[:1] == b"{"):
            decoded = json.loads(body.decode("utf-8"))
            if isinstance(decoded, dict):
                params.update(decoded)
        elif ctype == "multipart/form-data":
            params.update(_parse_multipart(content_type, body))
        else:
            params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return _decode_json_params(params)


class _Handler(BaseHTTPRequestHandler):
    server_version = "SlackAPIServer/1.0"

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        self._serve()

    def do_GET(self) -> None:  # noqa: N802
        self._serve()

    def _serve(self) -> None:
        api: SlackAPIServer = self.server.api  # type: ignore[attr-defined]
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = dict(self.headers.items())
        content_type = self.headers.get("Content-Type", "")

        if url.path.startswith("/api/"):
            method = url.path[len("/api/") :].strip("/")
            params = self._params(url.query, content_type, body)
        elif url.path.startswith("/upload/"):
            method = UPLOAD
            ctype = content_type.split(";", 1)[0].strip().lower()
            params = _parse_multipart(content_type, body) if ctype == "multipart/form-data" else {}
        elif url.path.startswith("/download/"):
            method, params = DOWNLOAD, {}
        elif url.path.startswith("/response/"):
            method = RESPONSE_URL
            params = self._params(url.query, content_type or "application/json", body)
        else:
            self._reply(404, {"Content-Type": "text/plain"}, b"not found")
            return

        try:
            status, extra_headers, raw = api.handle(method, url.path, params, headers, body)
        except Exception:  # pragma: no cover - a bug in the stand-in itself
            logger.exception("SlackAPIServer failed on %s", self.path)
            self._reply(500, {"Content-Type": "text/plain"}, b"stand-in error")
            return
        self._reply(status, extra_headers, raw)

    @staticmethod
    def _params(query: str, content_type: str, body: bytes) -> dict[str, Any]:
        try:
            return parse_params(query, content_type, body)
        except ValueError:
            return {"_unparsed": body.decode("utf-8", "replace")}

    def _reply(self, status: int, headers: dict[str, str], raw: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        logger.debug("%s - %s", self.address_string(), format % args)
