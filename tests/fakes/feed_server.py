"""A fake feed server on 127.0.0.1:<free port>: static feeds, conditional GET, scripted failures.

    def test_something(feed_server):
        feed_server.serve("/wire.xml", b"<rss .../>", etag='"v1"')
        feed_server.script("/busy.xml", [Reply(503, headers={"Retry-After": "9"}), Reply(body=RSS)])
        feed_server.redirect("/old.xml", "/wire.xml", status=301)
        fetcher.fetch(FetchRequest(1, feed_server.url("/wire.xml")))
        assert feed_server.hits("/wire.xml") == 1

Everything runs in-process on daemon threads; `close()` (the fixture's teardown) also cuts
every open connection, so slow and never-ending replies do not outlive the test.
"""

from __future__ import annotations

import contextlib
import functools
import gzip as gzip_module
import socket
import struct
import threading
import time
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

DATA_DIR = Path(__file__).resolve().parents[1] / "data" / "feeds"
RSS = "application/rss+xml"
_CLIENT_GONE = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)


@dataclass(frozen=True)
class Reply:
    """One scripted response; the flags after `delay` choose how it misbehaves."""

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    content_type: str | None = RSS
    delay: float = 0.0  # seconds before the status line
    gate: threading.Event | None = None  # then wait until it is set (or the server closes)
    reset: bool = False  # read the request, then close the socket with a TCP RST
    trickle: float | None = None  # send the body one byte every `trickle` seconds
    slow_headers: float | None = None  # send header bytes one every `slow_headers` s, forever
    endless: bool = False  # chunked body of zeros that never ends
    omit_length: bool = False  # no Content-Length: the body ends when the connection closes
    gzip: bool = False  # gzip the body and send Content-Encoding: gzip


def redirect(location: str, status: int = 301) -> Reply:
    """A redirect reply (301, 302, 303, 307 or 308) to an absolute or relative location."""
    return Reply(status, headers={"Location": location}, content_type=None)


@functools.lru_cache(maxsize=4)
def gzip_bomb(size: int = 50 * 1024 * 1024) -> bytes:
    """A gzip stream of `size` zero bytes (about 1/1000 of that), built without holding it."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    block = bytes(1024 * 1024)
    parts = [
        compressor.compress(block[: min(len(block), size - done)])
        for done in range(0, size, len(block))
    ]
    parts.append(compressor.flush())
    return b"".join(parts)


@dataclass(frozen=True)
class Recorded:
    """A request as the server saw it; header names are lower-case."""

    method: str
    path: str
    headers: dict[str, str]
    at: float = field(default_factory=time.monotonic)  # when it arrived (time.monotonic())


@dataclass
class _Resource:
    """A static feed that honours If-None-Match and If-Modified-Since."""

    body: bytes
    content_type: str | None
    etag: str | None
    last_modified: str | None
    headers: Mapping[str, str]
    gzip: bool

    def reply(self, request_headers: Mapping[str, str]) -> Reply:
        validators = {
            k: v for k, v in (("ETag", self.etag), ("Last-Modified", self.last_modified)) if v
        }
        if self._not_modified(request_headers):
            return Reply(304, headers={**self.headers, **validators}, content_type=None)
        return Reply(
            200,
            self.body,
            headers={**self.headers, **validators},
            content_type=self.content_type,
            gzip=self.gzip and "gzip" in request_headers.get("accept-encoding", ""),
        )

    def _not_modified(self, request_headers: Mapping[str, str]) -> bool:
        if_none_match = request_headers.get("if-none-match")
        if if_none_match is not None and self.etag:
            tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
            return "*" in tags or self.etag.removeprefix("W/") in tags
        since = request_headers.get("if-modified-since")
        if since and self.last_modified:
            try:
                return parsedate_to_datetime(since) >= parsedate_to_datetime(self.last_modified)
            except (TypeError, ValueError):
                return since == self.last_modified
        return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024
    fake: FeedServer

    def handle_error(self, request: object, client_address: object) -> None:
        """Clients hanging up mid-reply is what several tests do on purpose: stay quiet."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else headers and body wait 40 ms for a delayed ACK
    server: _Server
    timeout = 10  # an idle keep-alive connection is dropped after this

    def log_message(self, format: str, *args: object) -> None:
        """No access log on stderr."""

    def setup(self) -> None:
        super().setup()
        self.server.fake._track(self.connection, add=True)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        self.server.fake._track(self.connection, add=False)

    def do_GET(self) -> None:
        fake = self.server.fake
        headers = {k.lower(): v for k, v in self.headers.items()}
        fake._begin(Recorded(self.command, self.path, headers))
        try:
            if fake.latency:
                fake._closing.wait(fake.latency)
            self._send(fake._next_reply(self.path.split("?")[0], headers))
        except _CLIENT_GONE:
            self.close_connection = True
        finally:
            fake._end()

    def _send(self, reply: Reply) -> None:
        closing = self.server.fake._closing
        if reply.delay:
            closing.wait(reply.delay)
        while reply.gate is not None and not reply.gate.is_set() and not closing.is_set():
            reply.gate.wait(0.05)
        if reply.reset:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return
        if reply.slow_headers is not None:
            self.wfile.write(f"HTTP/1.1 {reply.status} OK\r\nX-Slow: ".encode())
            while not closing.wait(reply.slow_headers):
                self.wfile.write(b"z")
                self.wfile.flush()
            return
        body = gzip_module.compress(reply.body) if reply.gzip else reply.body
        self.send_response(reply.status)
        if reply.content_type:
            self.send_header("Content-Type", reply.content_type)
        if reply.gzip:
            self.send_header("Content-Encoding", "gzip")
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.endless:
            self.send_header("Transfer-Encoding", "chunked")
        elif reply.omit_length:
            self.send_header("Connection", "close")
            self.close_connection = True
        else:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if reply.endless:
            chunk = b"%x\r\n%s\r\n" % (64 * 1024, bytes(64 * 1024))
            while not closing.is_set():
                self.wfile.write(chunk)
        elif reply.trickle is not None:
            for i in range(len(body)):
                self.wfile.write(body[i : i + 1])
                self.wfile.flush()
                if closing.wait(reply.trickle):
                    return
        else:
            self.wfile.write(body)


class FeedServer:
    """A ThreadingHTTPServer on 127.0.0.1:0 serving feeds and scripted replies to paths.

    `host` binds another loopback address (127.0.0.2, …) to look like another publisher.
    """

    def __init__(self, latency: float = 0.0, host: str = "127.0.0.1") -> None:
        self.latency = latency  # seconds added before every reply
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._routes: dict[str, _Resource | list[Reply]] = {}
        self._requests: list[Recorded] = []
        self._connections: set[socket.socket] = set()
        self._active = 0
        self.max_active = 0  # most requests in progress at once since start or reset_stats()
        self.host = host
        self._server = _Server((host, 0), _Handler)
        self._server.fake = self
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()

    def url(self, path: str, host: str | None = None) -> str:
        """http://<host>:<port><path>; pass host="localhost" to look like a second host."""
        return f"http://{host or self.host}:{self.port}{path}"

    def serve(
        self,
        path: str,
        body: bytes,
        *,
        content_type: str | None = RSS,
        etag: str | None = None,
        last_modified: str | None = None,
        headers: Mapping[str, str] | None = None,
        gzip: bool = False,
    ) -> str:
        """Serve body at path (304 when the request's validators match); returns its URL."""
        resource = _Resource(body, content_type, etag, last_modified, dict(headers or {}), gzip)
        with self._lock:
            self._routes[path] = resource
        return self.url(path)

    def serve_file(self, path: str, file: str | Path, **options: object) -> str:
        """serve() a file; a relative name is looked up in tests/data/feeds."""
        source = Path(file) if Path(file).is_absolute() else DATA_DIR / file
        return self.serve(path, source.read_bytes(), **options)  # type: ignore[arg-type]

    def script(self, path: str, replies: Iterable[Reply]) -> str:
        """Answer successive requests to path with replies in turn; the last one repeats."""
        replies = list(replies)
        if not replies:
            raise ValueError("a script needs at least one reply")
        with self._lock:
            self._routes[path] = replies
        return self.url(path)

    def redirect(self, path: str, location: str, status: int = 301) -> str:
        """Answer path with a redirect to location (always); returns the URL of path."""
        return self.script(path, [redirect(location, status)])

    @property
    def requests(self) -> list[Recorded]:
        """Every request so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    def hits(self, path: str) -> int:
        """How many requests asked for path (query string ignored)."""
        return sum(1 for r in self.requests if r.path.split("?")[0] == path)

    def reset_stats(self) -> None:
        """Forget recorded requests and max_active."""
        with self._lock:
            self._requests.clear()
            self.max_active = self._active

    def close(self) -> None:
        """Stop serving and cut every open connection."""
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=5)

    def __enter__(self) -> FeedServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- used by the handler threads ---

    def _next_reply(self, path: str, headers: Mapping[str, str]) -> Reply:
        with self._lock:
            route = self._routes.get(path)
            if isinstance(route, list):
                return route.pop(0) if len(route) > 1 else route[0]
        if route is None:
            return Reply(404, b"not found", content_type="text/plain")
        return route.reply(headers)

    def _begin(self, request: Recorded) -> None:
        with self._lock:
            self._requests.append(request)
            self._active += 1
            self.max_active = max(self.max_active, self._active)

    def _end(self) -> None:
        with self._lock:
            self._active -= 1

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    """A fresh FeedServer for one test, closed at teardown."""
    server = FeedServer()
    try:
        yield server
    finally:
        server.close()
