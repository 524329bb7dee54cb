"""A fake Slack that speaks the real wire protocol, for tests of the whole bot.

`FakeSlack` serves the Web API (`POST`/`GET /api/<method>`, JSON or form bodies, bearer token
checked), `POST /response/<id>` for response_urls, and a Socket Mode websocket. It records
every request, keeps posted messages per channel, enforces the Block Kit limits Slack
enforces, and can be scripted to fail (429 + Retry-After, 5xx, dropped connections, delays,
revoked token). Point a client at it with `WebClient(token=slack.bot_token, base_url=slack.url)`.

    def test_x(slack: FakeSlack) -> None:
        slack.set_channel("CARCH", archived=True)
        slack.fail_next("chat.postMessage", 2)              # two 429s with Retry-After: 1
        ...
        assert [m["text"] for m in slack.messages("C1")] == [...]

Channels are created on first use (public, bot is a member) unless declared with
`set_channel`. Like Slack, the Socket Mode server takes up to 10 connections per app (one
more is told `too_many_websockets` and closed) and spreads the envelopes sent with
`send_envelope` across the open ones, in turn.

Files go the way Slack's external upload goes: files.getUploadURLExternal hands out an
upload URL on this server, the bytes are POSTed there (`fail_uploads` scripts failures),
files.completeUploadExternal shares them (a message with `files`, in a thread when asked);
`files(channel)` returns what was shared, bytes included.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import uuid
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pytest
import yaml
from websockets.sync.server import Server, ServerConnection, serve

Json = dict[str, Any]
APP_TOKEN_METHODS = {"apps.connections.open"}
JSON_FIELDS = {"blocks", "attachments", "metadata", "view"}
CHANNEL_LOOKUP_METHODS = {"chat.postMessage", "chat.postEphemeral", "conversations.history"}
READ_METHODS = {"conversations.history", "conversations.replies"}  # allowed in archived channels
MANIFEST = Path(__file__).resolve().parents[2] / "manifest.yml"
MAX_CONNECTIONS = 10  # Socket Mode connections Slack allows one app at a time
GATE_TIMEOUT = 30.0  # a held call is answered after this even if its gate never opens


def manifest_scopes() -> tuple[str, ...]:
    """The bot scopes manifest.yml asks for: what an app installed from it is granted."""
    return tuple(yaml.safe_load(MANIFEST.read_text())["oauth_config"]["scopes"]["bot"])


@dataclass
class Channel:
    """A channel's state as the fake sees it."""

    id: str
    exists: bool = True
    archived: bool = False
    member: bool = True
    private: bool = False


@dataclass(frozen=True)
class Call:
    """One request received: the API method (or `response/<id>`), its parsed body, when."""

    method: str
    body: Json
    headers: dict[str, str]
    at: float


@dataclass
class _Fault:
    status: int = 200
    error: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    after_processing: bool = False
    pause: float = 0.0  # sleep this long first; with no error and no drop, then answer normally
    gate: threading.Event | None = None  # wait for it first (GATE_TIMEOUT at most), then answer


class FakeSlack:
    """A Slack Web API + Socket Mode server on 127.0.0.1 (random ports), for one test."""

    def __init__(
        self,
        bot_token: str = "xoxb-fake-bot-token",
        app_token: str = "xapp-fake-app-token",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.bot_token, self.app_token, self.clock = bot_token, app_token, clock
        self.token_revoked = False
        # the scopes of each token, sent in `x-oauth-scopes` on its successful calls
        self.scopes: dict[str, tuple[str, ...]] = {
            bot_token: manifest_scopes(),
            app_token: ("connections:write",),
        }
        self._lock = threading.Lock()
        self._acked = threading.Condition(self._lock)
        self._calls: list[Call] = []
        self._channels: dict[str, Channel] = {}
        self._messages: dict[str, list[Json]] = defaultdict(list)
        # thread replies by (channel, parent ts); edits by (channel, ts): each chat.update body
        self._replies: dict[tuple[str, str], list[Json]] = defaultdict(list)
        self._edits: dict[tuple[str, str], list[Json]] = defaultdict(list)
        self.workspace_url = "https://diplo-test.slack.com/"
        self._ephemeral: list[Json] = []
        self.views: dict[str, Json] = {}
        self.admins: set[str] = set()
        self.user_zones: dict[str, str] = {}  # users.info `tz` (absent: like a bot user)
        self.memberships: dict[str, set[str]] = {}
        self._faults: dict[str, deque[_Fault]] = defaultdict(deque)
        self._delays: dict[str, float] = {}
        self._refusals: list[tuple[str, str, bool]] = []  # (containing, error, blocks_only)
        # files: announced by files.getUploadURLExternal, bytes POSTed to the upload URL,
        # shared by files.completeUploadExternal
        self._files: dict[str, Json] = {}
        self._upload_faults: deque[int] = deque()  # HTTP statuses for the next upload POSTs
        self._last_ts = 0.0
        self._in_flight: Counter[str] = Counter()
        self._sockets: list[ServerConnection] = []
        self._numbers: dict[ServerConnection, int] = {}  # connections numbered from 1, in order
        self._turn = 0  # the open connection the next envelope goes to
        self._sent_to: dict[str, int] = {}  # envelope id -> connection number
        self._acked_on: dict[str, int] = {}  # envelope id -> the connection its ack came on
        self._acks: dict[str, Json] = {}
        self._http = self._start_http(0)
        self.port = self._http.server_address[1]
        self._ws: Server = serve(self._ws_handler, "127.0.0.1", 0)
        self.ws_port = self._ws.socket.getsockname()[1]
        self.ws_advertised_port = self.ws_port  # what apps.connections.open hands out (a proxy?)
        threading.Thread(target=self._ws.serve_forever, daemon=True).start()

    # ---- addresses and life cycle
    @property
    def url(self) -> str:
        """The Web API base URL (`base_url` for WebClient, `SLACK_API_URL`)."""
        return f"http://127.0.0.1:{self.port}/api/"

    def response_url(self, key: str) -> str:
        """A response_url whose POSTs are recorded as calls of method `response/<key>`."""
        return f"http://127.0.0.1:{self.port}/response/{key}"

    def _start_http(self, port: int) -> ThreadingHTTPServer:
        server = _QuietServer(("127.0.0.1", port), _handler_for(self))
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        return server

    def stop(self) -> None:
        """Stop answering HTTP (connections are refused) until `restart()`."""
        self._http.shutdown()
        self._http.server_close()

    def restart(self) -> None:
        """Serve HTTP again on the same port after `stop()`."""
        self._http = self._start_http(self.port)

    def close(self) -> None:
        """Shut both servers down."""
        self.stop()
        self._ws.shutdown()

    # ---- scripting
    def set_channel(
        self,
        channel: str,
        *,
        exists: bool = True,
        archived: bool = False,
        member: bool = True,
        private: bool = False,
    ) -> None:
        """Declare a channel's state (undeclared channels are public, joined and live)."""
        with self._lock:
            self._channels[channel] = Channel(channel, exists, archived, member, private)

    def add_history(self, channel: str, messages: Iterable[tuple[str, str]]) -> None:
        """Top-level messages the bot posted before the fake started: (ts, text), oldest first."""
        with self._lock:
            for ts, text in messages:
                msg = {"type": "message", "ts": ts, "user": "U_BOT", "bot_id": "B1", "text": text}
                self._messages[channel].append({**msg, "blocks": []})

    def set_member_of(self, user_id: str, *channels: str) -> None:
        """Make `users.conversations` list these channels for the user (else: missing_scope)."""
        with self._lock:
            self.memberships[user_id] = set(channels)

    def set_admin(self, user_id: str, is_admin: bool = True) -> None:
        """Make `users.info` report the user as a workspace admin (or not)."""
        with self._lock:
            (self.admins.add if is_admin else self.admins.discard)(user_id)

    def set_user_tz(self, user_id: str, tz: str) -> None:
        """Make `users.info` give the user this time zone (`tz`, `tz_label`, `tz_offset`)."""
        with self._lock:
            self.user_zones[user_id] = tz

    def fail_next(
        self,
        method: str,
        n: int = 1,
        status: int = 429,
        headers: dict[str, str] | None = None,
        error: str = "ratelimited",
    ) -> None:
        """Answer the next `n` calls of `method` with `{"ok": false, "error": error}`.

        A 429 gets `Retry-After: 1` unless `headers` says otherwise; use status=200 for the
        ordinary `ok: false` errors (`channel_not_found`, `invalid_blocks`, ...).
        """
        if headers is None:
            headers = {"Retry-After": "1"} if status == 429 else {}
        with self._lock:
            self._faults[method].extend(_Fault(status, error, headers) for _ in range(n))

    def refuse_posts(self, containing: str, error: str, *, blocks_only: bool = False) -> None:
        """Answer `ok: false, error` to every chat.postMessage whose text or blocks contain
        `containing` (one poison alert among others); `blocks_only`: accept it as text only.
        """
        with self._lock:
            self._refusals.append((containing, error, blocks_only))

    def _refusal(self, body: Json) -> str | None:
        blocks = body.get("blocks") or []
        wire = str(body.get("text") or "") + json.dumps(blocks)
        for containing, error, blocks_only in self._refusals:
            if containing in wire and (blocks or not blocks_only):
                return error
        return None

    def drop_next(self, method: str, n: int = 1, *, after_processing: bool = False) -> None:
        """Close the connection of the next `n` calls without answering.

        With `after_processing`, the call takes effect first (a message is stored), so the
        client sees an error for something that happened: the ambiguous case.
        """
        with self._lock:
            self._faults[method].extend(
                _Fault(drop=True, after_processing=after_processing) for _ in range(n)
            )

    def slow_next(self, method: str, n: int = 1, *, seconds: float) -> None:
        """Answer the next `n` calls of `method` normally, but only after `seconds`.

        A client with a shorter timeout gives up while the call still takes effect: a
        message it believes failed lands a moment later (`wait_idle` waits for that).
        """
        with self._lock:
            self._faults[method].extend(_Fault(pause=seconds) for _ in range(n))

    def fail_uploads(self, n: int = 1, status: int = 500) -> None:
        """Answer the next `n` POSTs of file bytes to an upload URL with HTTP `status`."""
        with self._lock:
            self._upload_faults.extend([status] * n)

    def hold_next(self, method: str, gate: threading.Event, n: int = 1) -> None:
        """Answer the next `n` calls of `method` normally once `gate` is set.

        The call takes effect when the gate opens, even if its client has gone (a process
        killed mid-post): the message lands after the sender died.
        """
        with self._lock:
            self._faults[method].extend(_Fault(gate=gate) for _ in range(n))

    def pass_next(self, method: str, n: int = 1) -> None:
        """Let the next `n` calls of `method` through untouched (to interleave with faults)."""
        with self._lock:
            self._faults[method].extend(_Fault() for _ in range(n))

    def wait_idle(self, timeout: float = 5.0) -> None:
        """Block until no Web API request is being answered (slow ones have landed)."""
        deadline = time.monotonic() + timeout
        while True:
            if self.in_flight() == 0:
                return
            if time.monotonic() > deadline:
                raise TimeoutError("requests still in flight")
            time.sleep(0.01)

    def in_flight(self, method: str | None = None) -> int:
        """Web API requests (of `method`, or all) being answered right now."""
        with self._lock:
            return self._in_flight[method] if method else sum(self._in_flight.values())

    def pending_faults(self, method: str) -> int:
        """Scripted faults (and pass_next/slow_next) for `method` not used yet."""
        with self._lock:
            return len(self._faults.get(method, ()))

    def delay(self, method: str, seconds: float) -> None:
        """Sleep this long before answering every call of `method` (0 to stop)."""
        with self._lock:
            self._delays[method] = seconds

    def set_scopes(self, token: str, scopes: tuple[str, ...] | list[str]) -> None:
        """Grant `token` exactly these scopes (reported in the `x-oauth-scopes` header)."""
        with self._lock:
            self.scopes[token] = tuple(scopes)

    def scope_headers(self, headers: dict[str, str], body: Json) -> dict[str, str]:
        """The `x-oauth-scopes` header Slack adds to a successful call with a known token."""
        token = headers.get("authorization", "").removeprefix("Bearer ") or body.get("token")
        with self._lock:
            scopes = self.scopes.get(str(token))
        return {} if scopes is None else {"x-oauth-scopes": ",".join(scopes)}

    def set_token_revoked(self, revoked: bool = True) -> None:
        """Make every bot-token call fail with `token_revoked`."""
        self.token_revoked = revoked

    # ---- recordings
    def requests(self, method: str | None = None) -> list[Call]:
        """Every request received (including failed ones), oldest first."""
        with self._lock:
            return [c for c in self._calls if method is None or c.method == method]

    def calls(self, method: str) -> list[Json]:
        """The parsed bodies of every call of `method`, oldest first."""
        return [c.body for c in self.requests(method)]

    def messages(self, channel: str) -> list[Json]:
        """Messages stored in `channel` by chat.postMessage, oldest first."""
        with self._lock:
            return list(self._messages.get(channel, []))

    def top_level(self, channel: str) -> list[Json]:
        """The channel's own messages (not replies, not broadcast copies), as they are now."""
        with self._lock:
            return [
                dict(m)
                for m in self._messages.get(channel, [])
                if m.get("subtype") != "thread_broadcast"
            ]

    def replies(self, channel: str, thread_ts: str) -> list[Json]:
        """Replies in the thread of `thread_ts` (broadcast ones included), oldest first."""
        with self._lock:
            return [dict(m) for m in self._replies.get((channel, thread_ts), [])]

    def all_replies(self, channel: str) -> dict[str, list[Json]]:
        """Every thread of the channel with replies: parent ts -> its replies, oldest first."""
        with self._lock:
            return {
                ts: [dict(m) for m in replies]
                for (ch, ts), replies in self._replies.items()
                if ch == channel and replies
            }

    def edits(self, channel: str, ts: str) -> list[Json]:
        """The bodies of every chat.update accepted for this message, oldest first."""
        with self._lock:
            return list(self._edits.get((channel, ts), []))

    def message(self, channel: str, ts: str) -> Json | None:
        """The message (top-level or reply) with this ts, as it is now; None when absent."""
        with self._lock:
            found = self._find(channel, ts)
            return dict(found) if found is not None else None

    def _find(self, channel: str, ts: str) -> Json | None:
        for m in self._messages.get(channel, []):
            if m["ts"] == ts and m.get("subtype") != "thread_broadcast":
                return m
        for (ch, _), replies in self._replies.items():
            if ch == channel:
                for m in replies:
                    if m["ts"] == ts:
                        return m
        return None

    def files(self, channel: str | None = None) -> list[Json]:
        """Files shared (by files.completeUploadExternal), in `channel` or anywhere, oldest first.

        Each has `id`, `title`, `name`, `length` (announced), `data` (the bytes received),
        `channel`, `thread_ts`, `initial_comment`.
        """
        with self._lock:
            return [
                dict(f)
                for f in self._files.values()
                if f.get("shared") and (channel is None or f["channel"] == channel)
            ]

    def ephemeral(self) -> list[Json]:
        """Bodies accepted by chat.postEphemeral, oldest first."""
        with self._lock:
            return list(self._ephemeral)

    def responses(self, key: str) -> list[Json]:
        """JSON bodies POSTed to `response_url(key)`."""
        return self.calls(f"response/{key}")

    # ---- Socket Mode
    @property
    def connection_count(self) -> int:
        """Open Socket Mode connections."""
        with self._lock:
            return len(self._sockets)

    def wait_connections(self, n: int, timeout: float = 5.0) -> None:
        """Block until at least `n` Socket Mode connections are open."""
        deadline = time.monotonic() + timeout
        while self.connection_count < n:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.connection_count} of {n} socket connections")
            time.sleep(0.01)

    def send_envelope(self, type: str, payload: Json, accepts_response_payload: bool = True) -> str:
        """Send an envelope (`slash_commands`, `events_api`, `interactive`) to one open socket.

        The open sockets take turns, as Slack spreads requests across an app's connections.
        """
        envelope_id = str(uuid.uuid4())
        envelope = {
            "envelope_id": envelope_id,
            "type": type,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
            "retry_attempt": 0,
            "retry_reason": "",
        }
        with self._lock:
            if not self._sockets:
                raise RuntimeError("no Socket Mode connection is open")
            target = self._sockets[self._turn % len(self._sockets)]
            self._turn += 1
            self._sent_to[envelope_id] = self._numbers[target]
        target.send(json.dumps(envelope))
        return envelope_id

    def envelopes_by_connection(self) -> Counter[int]:
        """How many envelopes went to each connection (numbered from 1 in connection order)."""
        with self._lock:
            return Counter(self._sent_to.values())

    def acked_on(self, envelope_id: str) -> tuple[int, int | None]:
        """(the connection an envelope was sent to, the one its ack came back on, if any)."""
        with self._lock:
            return self._sent_to[envelope_id], self._acked_on.get(envelope_id)

    def wait_ack(self, envelope_id: str, timeout: float = 5.0) -> Json:
        """The ack `{"envelope_id": ..., "payload": ...}` the app sent for an envelope."""
        with self._acked:
            if not self._acked.wait_for(lambda: envelope_id in self._acks, timeout):
                raise TimeoutError(f"no ack for envelope {envelope_id}")
            return self._acks[envelope_id]

    def disconnect_all(self, reason: str = "too_many_websockets") -> None:
        """Ask every socket client to reconnect, as Slack does before rotating connections."""
        message = json.dumps({"type": "disconnect", "reason": reason, "debug_info": {}})
        for conn in self._open_sockets():
            conn.send(message)

    def close_all(self) -> None:
        """Drop every socket without a close frame (a network failure)."""
        for conn in self._open_sockets():
            conn.socket.shutdown(socket.SHUT_RDWR)

    def _open_sockets(self) -> list[ServerConnection]:
        with self._lock:
            return list(self._sockets)

    def _ws_handler(self, conn: ServerConnection) -> None:
        with self._lock:
            full = len(self._sockets) >= MAX_CONNECTIONS
            if not full:
                self._sockets.append(conn)
                self._numbers[conn] = len(self._numbers) + 1
            count = len(self._sockets)
        if full:  # what Slack says to one connection too many
            message = {"type": "disconnect", "reason": "too_many_websockets", "debug_info": {}}
            with contextlib.suppress(Exception):
                conn.send(json.dumps(message))
                conn.close()
            return
        try:
            hello = {
                "type": "hello",
                "num_connections": count,
                "debug_info": {"host": "fake-slack", "approximate_connection_time": 18060},
                "connection_info": {"app_id": "A1"},
            }
            conn.send(json.dumps(hello))
            for raw in conn:
                ack = json.loads(raw)
                if isinstance(ack, dict) and "envelope_id" in ack:
                    with self._acked:
                        self._acks[ack["envelope_id"]] = ack
                        self._acked_on[ack["envelope_id"]] = self._numbers[conn]
                        self._acked.notify_all()
        except Exception:
            pass  # a dropped socket ends the handler
        finally:
            with self._lock:
                self._sockets.remove(conn)

    # ---- the Web API
    def handle(self, method: str, body: Json, headers: dict[str, str]) -> tuple[int, Json]:
        """Answer one API call (called by the HTTP handler; also handy directly)."""
        token = headers.get("authorization", "").removeprefix("Bearer ") or body.get("token")
        expected = self.app_token if method in APP_TOKEN_METHODS else self.bot_token
        if not token:
            return 200, {"ok": False, "error": "not_authed"}
        if token.startswith("xapp-") != expected.startswith("xapp-"):
            return 200, {"ok": False, "error": "not_allowed_token_type"}
        if token != expected:
            return 200, {"ok": False, "error": "invalid_auth"}
        if self.token_revoked and expected == self.bot_token:
            return 200, {"ok": False, "error": "token_revoked"}
        api = getattr(self, "_api_" + method.replace(".", "_"), None)
        if api is None:
            return 200, {"ok": False, "error": "unknown_method"}
        with self._lock:
            return 200, api(body)

    def _channel(self, channel_id: str) -> Channel:
        return self._channels.setdefault(channel_id, Channel(channel_id))

    def _channel_error(self, method: str, channel_id: str | None) -> str | None:
        if not channel_id:
            return "channel_not_found"
        ch = self._channel(channel_id)
        if not ch.exists:
            return "channel_not_found"
        if ch.archived and method not in READ_METHODS:
            return "is_archived"
        if not ch.member and method in CHANNEL_LOOKUP_METHODS | READ_METHODS:
            return "not_in_channel"
        return None

    def _next_ts(self) -> str:
        self._last_ts = max(self.clock(), self._last_ts + 0.000001)
        return f"{self._last_ts:.6f}"

    def _api_auth_test(self, body: Json) -> Json:
        return {
            "ok": True,
            "url": "https://diplo-test.slack.com/",
            "team": "Diplo Test",
            "user": "diplo",
            "team_id": "T1",
            "user_id": "U_BOT",
            "bot_id": "B1",
            "is_enterprise_install": False,
        }

    def _api_chat_postMessage(self, body: Json) -> Json:
        channel = body.get("channel")
        error = self._channel_error("chat.postMessage", channel) or _message_error(body)
        if error := error or self._refusal(body):
            return {"ok": False, "error": error}
        thread_ts = str(body.get("thread_ts") or "")
        parent = self._find(str(channel), thread_ts) if thread_ts else None
        if thread_ts and (parent is None or parent.get("thread_ts", parent["ts"]) != parent["ts"]):
            return {"ok": False, "error": "thread_not_found"}
        msg = {
            "type": "message",
            "ts": self._next_ts(),
            "user": "U_BOT",
            "bot_id": "B1",
            "text": body.get("text", ""),
            "blocks": body.get("blocks") or [],
            "metadata": body.get("metadata"),
            "unfurl_links": body.get("unfurl_links"),
        }
        if parent is not None:
            self._add_reply(str(channel), parent, msg, _flag(body.get("reply_broadcast")))
        else:
            self._messages[str(channel)].append(msg)
        return {"ok": True, "channel": channel, "ts": msg["ts"], "message": msg}

    def _add_reply(self, channel: str, parent: Json, msg: Json, broadcast: bool) -> None:
        """Store a thread reply (and its channel copy when broadcast); update the parent."""
        msg.update(thread_ts=parent["ts"], parent_user_id=parent.get("user", "U_BOT"))
        self._replies[(channel, parent["ts"])].append(msg)
        parent.update(
            thread_ts=parent["ts"],
            reply_count=len(self._replies[(channel, parent["ts"])]),
            latest_reply=msg["ts"],
        )
        if broadcast:
            msg["subtype"] = "thread_broadcast"
            self._messages[channel].append(msg)

    def _api_chat_update(self, body: Json) -> Json:
        channel, ts = str(body.get("channel") or ""), str(body.get("ts") or "")
        if error := self._channel_error("chat.update", channel):
            return {"ok": False, "error": error}
        target = self._find(channel, ts)
        if target is None:
            return {"ok": False, "error": "message_not_found"}
        if target.get("user") != "U_BOT":
            return {"ok": False, "error": "cant_update_message"}
        if error := _message_error(body):
            return {"ok": False, "error": error}
        target["text"] = body.get("text", "")
        target["blocks"] = body.get("blocks") or []
        if body.get("metadata") is not None:
            target["metadata"] = body["metadata"]
        target["edited"] = {"user": "U_BOT", "ts": self._next_ts()}
        self._edits[(channel, ts)].append(body)
        return {"ok": True, "channel": channel, "ts": ts, "text": target["text"], "message": target}

    def _api_conversations_replies(self, body: Json) -> Json:
        channel, ts = str(body.get("channel") or ""), str(body.get("ts") or "")
        if error := self._channel_error("conversations.replies", channel):
            return {"ok": False, "error": error}
        parent = self._find(channel, ts)
        if parent is None:
            return {"ok": False, "error": "thread_not_found"}
        root = parent.get("thread_ts", parent["ts"])
        if root != parent["ts"]:  # the ts of a reply: Slack answers with its whole thread
            parent = self._find(channel, str(root)) or parent
        oldest = float(body.get("oldest") or 0)
        thread = [parent, *self._replies.get((channel, parent["ts"]), [])]
        found = [m for m in thread if m is parent or float(m["ts"]) > oldest]
        return self._page(found, body)

    def _api_chat_getPermalink(self, body: Json) -> Json:
        channel, ts = str(body.get("channel") or ""), str(body.get("message_ts") or "")
        if error := self._channel_error("chat.getPermalink", channel):
            return {"ok": False, "error": error}
        target = self._find(channel, ts)
        if target is None:
            return {"ok": False, "error": "message_not_found"}
        link = f"{self.workspace_url}archives/{channel}/p{ts.replace('.', '')}"
        root = target.get("thread_ts")
        if root and root != ts:
            link += f"?thread_ts={root}&cid={channel}"
        return {"ok": True, "channel": channel, "permalink": link}

    def _page(self, found: list[Json], body: Json) -> Json:
        """One page of `found` as Slack pages it: `limit`, `cursor`, metadata on request."""
        limit = min(int(body.get("limit") or 100), 999)
        start = int(str(body.get("cursor") or "c0").removeprefix("c"))
        with_meta = _flag(body.get("include_all_metadata"))
        page = [
            {k: v for k, v in m.items() if k != "unfurl_links" and (with_meta or k != "metadata")}
            for m in found[start : start + limit]
        ]
        more = start + limit < len(found)
        return {
            "ok": True,
            "messages": page,
            "has_more": more,
            "response_metadata": {"next_cursor": f"c{start + limit}" if more else ""},
        }

    def _api_chat_postEphemeral(self, body: Json) -> Json:
        if error := self._channel_error("chat.postEphemeral", body.get("channel")):
            return {"ok": False, "error": error}
        if not body.get("user"):
            return {"ok": False, "error": "user_not_in_channel"}
        if error := _message_error(body):
            return {"ok": False, "error": error}
        self._ephemeral.append(body)
        return {"ok": True, "message_ts": self._next_ts()}

    def _api_conversations_history(self, body: Json) -> Json:
        channel = body.get("channel")
        if error := self._channel_error("conversations.history", channel):
            return {"ok": False, "error": error}
        oldest = float(body.get("oldest") or 0)
        limit = min(int(body.get("limit") or 100), 999)
        start = int(str(body.get("cursor") or "c0").removeprefix("c"))
        with_meta = _flag(body.get("include_all_metadata"))
        found = [
            m for m in reversed(self._messages.get(str(channel), [])) if float(m["ts"]) > oldest
        ]
        page = [
            {k: v for k, v in m.items() if k != "unfurl_links" and (with_meta or k != "metadata")}
            for m in found[start : start + limit]
        ]
        more = start + limit < len(found)
        return {
            "ok": True,
            "messages": page,
            "has_more": more,
            "response_metadata": {"next_cursor": f"c{start + limit}" if more else ""},
        }

    def _api_conversations_join(self, body: Json) -> Json:
        ch = self._channel(str(body.get("channel")))
        if not ch.exists:
            return {"ok": False, "error": "channel_not_found"}
        if ch.archived:
            return {"ok": False, "error": "is_archived"}
        if ch.private:
            return {"ok": False, "error": "method_not_supported_for_channel_type"}
        ch.member = True
        return {"ok": True, "channel": _channel_json(ch)}

    def _api_conversations_info(self, body: Json) -> Json:
        ch = self._channel(str(body.get("channel")))
        if not ch.exists:
            return {"ok": False, "error": "channel_not_found"}
        return {"ok": True, "channel": _channel_json(ch)}

    def _api_views_publish(self, body: Json) -> Json:
        view, user = body.get("view"), body.get("user_id")
        if not user or not isinstance(view, dict) or len(view.get("blocks", [])) > 100:
            return {"ok": False, "error": "invalid_arguments"}
        self.views[str(user)] = view
        return {"ok": True, "view": {"id": "V" + uuid.uuid4().hex[:8].upper(), **view}}

    def _api_users_info(self, body: Json) -> Json:
        user = str(body.get("user"))
        is_admin = user in self.admins
        found: Json = {"id": user, "name": user.lower(), "is_admin": is_admin}
        if user in self.user_zones:  # Slack gives the zone of people (not of bots)
            tz = self.user_zones[user]
            found |= {"tz": tz, "tz_label": tz, "tz_offset": _utc_offset(tz)}
        return {"ok": True, "user": found}

    def _api_users_conversations(self, body: Json) -> Json:
        user = str(body.get("user"))
        if user not in self.memberships:
            return {"ok": False, "error": "missing_scope", "needed": "channels:read,groups:read"}
        channels = [{"id": c} for c in sorted(self.memberships[user])]
        return {"ok": True, "channels": channels, "response_metadata": {"next_cursor": ""}}

    def _api_files_getUploadURLExternal(self, body: Json) -> Json:
        filename, length = str(body.get("filename") or ""), str(body.get("length") or "")
        if not filename or not length.isdigit() or int(length) < 1:
            return {"ok": False, "error": "invalid_arguments"}
        file_id = "F" + uuid.uuid4().hex[:10].upper()
        self._files[file_id] = {"id": file_id, "name": filename, "length": int(length)}
        url = f"http://127.0.0.1:{self.port}/upload/v1/{file_id}"
        return {"ok": True, "upload_url": url, "file_id": file_id}

    def _upload(self, file_id: str, data: bytes) -> tuple[int, str]:
        """The upload URL: store the bytes of an announced file (Slack answers `OK - <n>`)."""
        with self._lock:
            if self._upload_faults:
                return self._upload_faults.popleft(), "upload failed"
            f = self._files.get(file_id)
            if f is None or "data" in f:
                return 404, "not found"
            f["data"] = data
            return 200, f"OK - {len(data)}"

    def _api_files_completeUploadExternal(self, body: Json) -> Json:
        raw = body.get("files")
        try:
            wanted = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            wanted = None
        if not isinstance(wanted, list) or not wanted:
            return {"ok": False, "error": "invalid_arguments"}
        channel = str(body.get("channel_id") or "")
        if channel and (error := self._channel_error("files.completeUploadExternal", channel)):
            return {"ok": False, "error": error}
        thread_ts = str(body.get("thread_ts") or "")
        parent = self._find(channel, thread_ts) if thread_ts else None
        if thread_ts and parent is None:
            return {"ok": False, "error": "invalid_thread_ts"}
        found = [self._files.get(str(w.get("id"))) for w in wanted if isinstance(w, dict)]
        if not found or any(f is None or "data" not in f for f in found):
            return {"ok": False, "error": "file_not_found"}
        if any(len(f["data"]) != f["length"] for f in found if f is not None):
            return {"ok": False, "error": "file_upload_size_mismatch"}
        shared = []
        for w, f in zip(wanted, found, strict=True):
            assert f is not None
            f.update(
                shared=True,
                title=str(w.get("title") or f["name"]),
                channel=channel,
                thread_ts=thread_ts or None,
                initial_comment=body.get("initial_comment"),
            )
            shared.append({"id": f["id"], "title": f["title"], "name": f["name"]})
        if channel:
            msg = {
                "type": "message",
                "ts": self._next_ts(),
                "user": "U_BOT",
                "text": str(body.get("initial_comment") or ""),
                "files": shared,
                "upload": True,
            }
            if parent is not None:
                self._add_reply(channel, parent, msg, False)
            else:
                self._messages[channel].append(msg)
        return {"ok": True, "files": shared}

    def _api_apps_connections_open(self, body: Json) -> Json:
        ticket = uuid.uuid4().hex
        port = self.ws_advertised_port
        return {"ok": True, "url": f"ws://127.0.0.1:{port}/link/?ticket={ticket}"}

    def _take_fault(self, method: str) -> tuple[_Fault | None, float]:
        with self._lock:
            faults = self._faults.get(method)
            return (faults.popleft() if faults else None), self._delays.get(method, 0.0)

    def _record(self, method: str, body: Json, headers: dict[str, str]) -> None:
        with self._lock:
            self._calls.append(Call(method, body, headers, time.monotonic()))


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # dropped connections are scripted, not failures


def _utc_offset(tz: str) -> int:
    """Seconds east of UTC now in `tz` (0 for a name the zone database does not know)."""
    try:
        offset = datetime.now(ZoneInfo(tz)).utcoffset()
    except (ZoneInfoNotFoundError, ValueError):
        return 0
    return int(offset.total_seconds()) if offset else 0


def _flag(value: Any) -> bool:
    return value is True or str(value).lower() in ("1", "true")


def _text_of(obj: Any) -> str:
    return str(obj.get("text", "")) if isinstance(obj, dict) else ""


def _message_error(body: Json) -> str | None:
    """Slack's limits on a message: the `error` it would answer, or None."""
    blocks, text = body.get("blocks") or [], body.get("text") or ""
    if not text and not blocks:
        return "no_text"
    if len(text) > 40_000:
        return "msg_too_long"
    if not isinstance(blocks, list) or len(blocks) > 50:
        return "invalid_blocks"
    for block in blocks:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "section" and len(_text_of(block.get("text"))) > 3000:
            return "invalid_blocks"
        if kind == "header" and len(_text_of(block.get("text"))) > 150:
            return "invalid_blocks"
        elements = block.get("elements") or []
        if kind == "context" and not 0 < len(elements) <= 10:
            return "invalid_blocks"
        if kind == "context" and any(len(_text_of(e)) > 3000 for e in elements):
            return "invalid_blocks"
        if kind not in ("section", "header", "context", "divider", "actions", "image", "rich_text"):
            return "invalid_blocks"
    meta = body.get("metadata")
    if meta is not None and not (isinstance(meta, dict) and meta.get("event_type")):
        return "invalid_metadata_format"
    return None


def _channel_json(ch: Channel) -> Json:
    return {
        "id": ch.id,
        "name": ch.id.lower(),
        "is_channel": True,
        "is_private": ch.private,
        "is_archived": ch.archived,
        "is_member": ch.member,
    }


def _parse_body(raw: bytes, content_type: str, query: str) -> Json:
    body: Json = {k: v[0] for k, v in parse_qs(query).items()}
    if "json" in content_type and raw:
        body.update(json.loads(raw))
        return body
    for key, values in parse_qs(raw.decode()).items():
        value: Any = values[0]
        if key in JSON_FIELDS:
            value = json.loads(value)
        body[key] = value
    return body


def _handler_for(fake: FakeSlack) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            self.do_POST()

        def do_POST(self) -> None:
            parts = urlsplit(self.path)
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            if parts.path.startswith("/upload/v1/"):  # a file's bytes, not an API call
                file_id = parts.path.removeprefix("/upload/v1/")
                fake._record("upload", {"file_id": file_id, "size": len(raw)}, headers)
                status, answer = fake._upload(file_id, raw)
                return self._send_text(status, answer)
            body = _parse_body(raw, headers.get("content-type", ""), parts.query)
            if parts.path.startswith("/response/"):
                fake._record("response/" + parts.path.removeprefix("/response/"), body, headers)
                return self._send(200, {"ok": True})
            method = parts.path.removeprefix("/api/")
            fake._record(method, body, headers)
            with fake._lock:
                fake._in_flight[method] += 1
            try:
                self._answer(method, body, headers)
            finally:
                with fake._lock:
                    fake._in_flight[method] -= 1
            return None

        def _answer(self, method: str, body: Json, headers: dict[str, str]) -> None:
            fault, pause = fake._take_fault(method)
            if pause:
                time.sleep(pause)
            if fault and fault.pause:
                time.sleep(fault.pause)
            if fault and fault.gate is not None:
                fault.gate.wait(GATE_TIMEOUT)
            if fault and fault.drop:
                if fault.after_processing:
                    fake.handle(method, body, headers)
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if fault and fault.error is not None:
                payload = {"ok": False, "error": fault.error}
                self._send(fault.status, payload, fault.headers)
                return
            # a client that gave up waiting (timeout) gets an error here: the call took effect
            status, payload = fake.handle(method, body, headers)
            extra = fake.scope_headers(headers, body) if payload.get("ok") else {}
            self._send(status, payload, extra)

        def _send_text(self, status: int, text: str) -> None:
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _send(self, status: int, payload: Json, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

    return Handler


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    """A fresh fake Slack for one test (import it into conftest.py to share it)."""
    server = FakeSlack()
    try:
        yield server
    finally:
        server.close()
