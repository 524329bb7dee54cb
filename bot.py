"""diplo's entry point and composition root: `python bot.py --help`."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from contextlib import ExitStack
from typing import Protocol

from cli import main
from cli.context import StartupError, configure_logging, open_deps, settings_or_exit
from cli.single import AlreadyRunning, single_bot
from jobs.heartbeat import Heartbeat
from jobs.recover import release_own_leases, start_up
from jobs.scheduler import build_scheduler
from jobs.wakeup import start_delivery
from ops.instrument import meter_slack_client
from ops.server import database_readiness, serve_ops
from settings import Settings

logger = logging.getLogger("diplo")


class Closable(Protocol):
    """A running Slack connection or server."""

    def close(self) -> None: ...


def run_bot(args: argparse.Namespace) -> int:
    """Run the scheduler beside Socket Mode, HTTP mode or the console, until a signal."""
    settings = settings_or_exit()
    configure_logging(settings.log_level, settings.log_format)
    mode = settings.slack_mode
    with open_deps(settings) as deps, ExitStack() as running:
        stop = deps.stopping  # in-flight work sees it and winds down
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        start_up(deps)  # seed feeds; a crashed predecessor's feeds and alerts, at once
        server: Closable | None = None
        if mode != "console":
            from handlers import register_handlers
            from handlers.app import (
                SlackAuthError,
                build_app,
                check_auth,
                run_http,
                run_socket_mode,
            )

            app = build_app(deps)
            meter_slack_client(app.client, deps.events)  # Bolt's and Socket Mode's calls
            try:
                who = check_auth(app.client)
                register_handlers(app, deps)
                if mode == "socket":
                    assert settings.slack_app_token is not None
                    server = run_socket_mode(app, settings.slack_app_token)
                else:
                    ready = database_readiness(deps)  # /readyz on PORT too
                    server = run_http(app, settings.port, settings.http_host, ready=ready)
            except SlackAuthError as exc:  # a rejected bot or app token: one line, exit 2
                raise StartupError(str(exc)) from None
            except OSError as exc:  # HTTP mode: the port is taken
                raise StartupError(f"cannot listen on PORT={settings.port}: {exc}") from None
            logger.info("connected to Slack as %s (%s mode)", who, mode)
        else:
            logger.info("no Slack tokens: console mode, alerts are printed here")
        try:  # after the start-up checks, so a bot that cannot start says why
            running.enter_context(single_bot(settings.database_url))
        except AlreadyRunning as exc:
            raise StartupError(str(exc)) from None
        try:
            ops = serve_ops(deps, getattr(getattr(server, "client", None), "is_connected", None))
        except OSError as exc:
            raise StartupError(f"cannot listen on DIPLO_METRICS_PORT: {exc}") from None
        heartbeat = Heartbeat(deps).start()  # keeps the leases of slow fetches and posts
        scheduler = build_scheduler(deps, deliver=False)
        delivery = start_delivery(deps)
        scheduler.start()
        logger.info(
            "diplo running: %s, polling every %ss", _safe_db(settings), settings.poll_seconds
        )
        try:
            stop.wait()
        finally:
            logger.info("stopping")
            scheduler.shutdown(wait=True)
            delivery.close()
            heartbeat.stop()  # the jobs are done: what is still leased is handed back now
            release_own_leases(deps)
            if server is not None:
                server.close()
            if ops is not None:
                ops.close()
    return 0


def _safe_db(settings: Settings) -> str:
    """The database URL without its password, for the log."""
    from sqlalchemy.engine import make_url

    return make_url(settings.database_url).render_as_string(hide_password=True)


if __name__ == "__main__":
    sys.exit(main(run_bot))
