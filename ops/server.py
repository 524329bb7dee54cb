"""The operations endpoint: GET /metrics, /healthz and /readyz on DIPLO_METRICS_PORT.

Served in every mode (console, Socket Mode, HTTP) by a small threaded WSGI server on its
own daemon thread, bound to 127.0.0.1 unless DIPLO_METRICS_HOST says otherwise.
`/healthz` answers 200 while the process runs; `/readyz` 200 only when every readiness
check passes (the database answers; in Slack modes, Slack is connected), else 503 with the
failing checks named. A check that does not answer within `CHECK_SECONDS` fails.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app

if TYPE_CHECKING:
    from deps import Deps

logger = logging.getLogger(__name__)

CHECK_SECONDS = 3.0
Check = Callable[[], bool]  # True when ready; may raise (counts as not ready)
StartResponse = Callable[..., Any]


def run_check(check: Check, timeout: float = CHECK_SECONDS) -> bool:
    """Run a check on a worker thread; False if it raises or takes longer than `timeout`."""
    result: list[bool] = []

    def target() -> None:
        try:
            result.append(bool(check()))
        except Exception:
            result.append(False)

    worker = threading.Thread(target=target, name="diplo-readyz", daemon=True)
    worker.start()
    worker.join(timeout)
    return bool(result and result[0])


def ops_app(registry: CollectorRegistry, checks: Mapping[str, Check]) -> Callable[..., Any]:
    """The WSGI app: /metrics (Prometheus text format), /healthz, /readyz."""
    metrics = make_wsgi_app(registry)

    def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return _plain(start_response, "405 Method Not Allowed", "GET only\n")
        if path == "/metrics":
            return metrics(environ, start_response)
        if path == "/healthz":
            return _plain(start_response, "200 OK", "ok\n")
        if path == "/readyz":
            failing = failing_checks(checks)
            if failing:
                return _plain(
                    start_response, "503 Service Unavailable", f"not ready: {', '.join(failing)}\n"
                )
            return _plain(start_response, "200 OK", "ready\n")
        return _plain(start_response, "404 Not Found", "not found\n")

    return application


def _plain(start_response: StartResponse, status: str, body: str) -> list[bytes]:
    data = body.encode()
    start_response(
        status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(data)))]
    )
    return [data]


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)


class OpsServer:
    """The operations endpoint on a daemon thread; `close()` stops it."""

    def __init__(
        self, host: str, port: int, registry: CollectorRegistry, checks: Mapping[str, Check]
    ) -> None:
        self._server = make_server(
            host, port, ops_app(registry, checks), server_class=_Server, handler_class=_QuietHandler
        )
        self.host = host
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="diplo-ops",
            daemon=True,
        )
        self._thread.start()
        logger.info("metrics and health on http://%s:%d/metrics", host, self.port)

    def close(self) -> None:
        """Stop serving and wait for the server thread."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def failing_checks(checks: Mapping[str, Check]) -> list[str]:
    """The names of the checks that fail now (each bounded by CHECK_SECONDS)."""
    return [name for name, check in checks.items() if not run_check(check)]


def database_readiness(deps: Deps) -> Callable[[], list[str]]:
    """`failing_checks` of the database check alone (HTTP mode's /readyz on PORT)."""
    from ops.instrument import database_check

    checks = {"database": database_check(deps.sessions)}
    return lambda: failing_checks(checks)


def serve_ops(deps: Deps, slack_ready: Check | None = None) -> OpsServer | None:
    """Start the endpoint on DIPLO_METRICS_PORT (None when unset), with the outbox gauges.

    Readiness: the database answers; with `slack_ready`, Slack is connected too.
    """
    from ops.instrument import database_check, outbox_reader

    settings = deps.settings
    if settings.metrics_port is None:
        return None
    deps.events.watch_outbox(outbox_reader(deps.sessions))
    checks: dict[str, Check] = {"database": database_check(deps.sessions)}
    if slack_ready is not None:
        checks["slack"] = slack_ready
    return OpsServer(settings.metrics_host, settings.metrics_port, deps.events.registry, checks)
