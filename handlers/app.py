"""The Bolt app and the two ways to run it: Socket Mode, or HTTP on /slack/events.

`bot.py` calls, in order: `build_app(deps)`, `register_handlers(app, deps)`,
`check_auth(app.client)`, then `run_socket_mode(app, token)` or `run_http(app, port)`.

HTTP mode is served by waitress: one thread does the network I/O of every connection
(reading whole requests, closing idle ones), and a fixed pool of worker threads runs the
app, so stalled or slow clients cost a little memory each and never a thread.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
)
from waitress.server import create_server

from deps import Deps

logger = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
MAX_BODY_BYTES = 1024 * 1024  # Slack's payloads are a few KB; refuse anything huge
HTTP_THREADS = 8  # workers running the app; Bolt acks at once and works on its own pool
HTTP_CONNECTION_LIMIT = 5000  # open connections before new ones wait in the listen backlog
HTTP_IDLE_TIMEOUT = 10  # seconds without a byte before a connection is closed
SERVER_HEADER = "diplo"

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
Readiness = Callable[[], list[str]]  # the names of the failing checks (empty: ready)


class SlackAuthError(RuntimeError):
    """Slack refused a token (or could not be reached) at start-up; the message says which."""


def build_app(deps: Deps) -> App:
    """A Bolt App talking to `settings.slack_api_url`; no Slack call is made here.

    Without a signing secret (Socket Mode) a random one is used, so an HTTP endpoint started
    by mistake refuses every request instead of accepting unsigned ones.
    """
    settings = deps.settings
    if not settings.slack_bot_token:
        raise SlackAuthError("SLACK_BOT_TOKEN is not set")
    client = WebClient(
        token=settings.slack_bot_token,
        base_url=settings.slack_api_url,
        retry_handlers=[
            ConnectionErrorRetryHandler(),
            RateLimitErrorRetryHandler(max_retry_count=2),
        ],
    )
    app = App(
        name="diplo",
        client=client,
        signing_secret=settings.slack_signing_secret or secrets.token_hex(32),
        token_verification_enabled=False,  # check_auth() does it, with a clear error
        request_verification_enabled=True,  # Socket Mode requests skip it by themselves
        process_before_response=False,  # ack() answers Slack at once; work continues after
    )
    from handlers import replay

    replay.register(app, deps)  # after Bolt's signature check: a replayed request gets 401
    return app


def check_auth(client: WebClient) -> str:
    """Call auth.test; return the bot's user ID, or raise SlackAuthError with one clear line."""
    try:
        response = client.auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error") or exc.response.status_code
        raise SlackAuthError(f"SLACK_BOT_TOKEN was rejected by Slack: {error}") from None
    except (SlackClientError, OSError) as exc:
        raise SlackAuthError(f"could not reach Slack at {client.base_url}: {exc}") from None
    user_id = str(response.get("user_id") or "")
    logger.info(
        "connected to Slack as %s (%s) in %s (%s)",
        response.get("user"),
        user_id,
        response.get("team"),
        response.get("team_id"),
    )
    return user_id


class QuickSocketModeHandler(SocketModeHandler):
    """Bolt's builtin Socket Mode handler whose `close()` does not hang for 3 s.

    The builtin `close()` waits for the reader thread's pending recv (it holds the lock
    close() needs, with a 3 s timeout); shutting the socket down first ends that read now.
    """

    def close(self) -> None:
        session = getattr(self.client, "current_session", None)
        sock = getattr(session, "sock", None)
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        super().close()


def run_socket_mode(app: App, app_token: str, ping_interval: float = 5.0) -> QuickSocketModeHandler:
    """Open the Socket Mode connection and return at once; the handler reconnects by itself.

    On a `disconnect` message from Slack it reconnects at once. A connection that silently
    died is noticed only by failing pings (about 5 × `ping_interval`): the builtin client
    ignores EOF. Stop it with `handler.close()`.
    """
    handler = QuickSocketModeHandler(app, app_token=app_token, ping_interval=ping_interval)
    try:
        handler.connect()
    except SlackApiError as exc:
        handler.close()
        error = exc.response.get("error") or exc.response.status_code
        raise SlackAuthError(f"SLACK_APP_TOKEN was rejected by Slack: {error}") from None
    logger.info("Socket Mode connected")
    return handler


def wsgi_app(app: App, ready: Readiness | None = None) -> WsgiApp:
    """Bolt on POST /slack/events (signature checked by Bolt), plus GET /healthz and, with
    `ready`, GET /readyz (503 naming the failing checks)."""
    slack = SlackRequestHandler(app, path=EVENTS_PATH)

    def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method, path = environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", "")
        if path == HEALTH_PATH and method in ("GET", "HEAD"):
            return _plain(start_response, "200 OK", b"ok")
        if path == READY_PATH and ready is not None and method in ("GET", "HEAD"):
            failing = ready()
            if failing:
                body = f"not ready: {', '.join(failing)}".encode()
                return _plain(start_response, "503 Service Unavailable", body)
            return _plain(start_response, "200 OK", b"ready")
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if method == "POST" and not 0 <= length <= MAX_BODY_BYTES:
            return _plain(start_response, "413 Payload Too Large", b"too large")
        return slack(environ, start_response)

    return application


def _plain(start_response: StartResponse, status: str, body: bytes) -> list[bytes]:
    start_response(
        status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))]
    )
    return [body]


class HttpServer:
    """waitress serving the app from a daemon thread; `shutdown()` stops it.

    Bounded: `HTTP_THREADS` workers, `HTTP_CONNECTION_LIMIT` connections, a request body of
    at most `MAX_BODY_BYTES` (413 before it is read), and a connection silent for
    `HTTP_IDLE_TIMEOUT` seconds (a half-sent request included) is closed.
    """

    def __init__(
        self,
        app: App,
        host: str,
        port: int,
        idle_timeout: int = HTTP_IDLE_TIMEOUT,
        ready: Readiness | None = None,
    ) -> None:
        self._server = create_server(
            wsgi_app(app, ready),
            host=host,
            port=port,
            threads=HTTP_THREADS,
            connection_limit=HTTP_CONNECTION_LIMIT,
            channel_timeout=idle_timeout,
            cleanup_interval=min(idle_timeout, 2),  # how often idle connections are looked for
            max_request_body_size=MAX_BODY_BYTES,
            max_request_header_size=64 * 1024,
            asyncore_use_poll=True,  # select() cannot watch more than 1,024 sockets
            ident=SERVER_HEADER,  # `Server: diplo`, no versions
            expose_tracebacks=False,
            clear_untrusted_proxy_headers=True,
        )
        self.host = host
        self.port: int = int(self._server.effective_port)  # type: ignore[union-attr]
        self._thread = threading.Thread(target=self._server.run, name="diplo-http", daemon=True)
        self._thread.start()

    def shutdown(self) -> None:
        """Stop accepting requests, close every connection and wait for the server thread."""
        self._server.task_dispatcher.shutdown(timeout=5)
        self._server.close()  # the listening socket
        for channel in list(self._server._map.values()):  # type: ignore[union-attr]
            with contextlib.suppress(OSError):
                channel.close()
        self._thread.join(timeout=5)

    close = shutdown  # the same name as the Socket Mode handler's, for bot.py


def run_http(
    app: App,
    port: int,
    host: str = "0.0.0.0",
    idle_timeout: int = HTTP_IDLE_TIMEOUT,
    ready: Readiness | None = None,
) -> HttpServer:
    """Serve Slack's requests on http://host:port/slack/events (port 0: a free port)."""
    server = HttpServer(app, host, port, idle_timeout, ready)
    logger.info("listening for Slack on http://%s:%d%s", host, server.port, EVENTS_PATH)
    return server
