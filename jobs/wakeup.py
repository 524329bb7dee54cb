"""Deliver within a second of queuing: wake the delivery loop instead of waiting a tick.

Three parts:
- `DeliveryLoop`: runs the deliver job every DIPLO_DELIVER_SECONDS, or at once when
  `deps.deliver_now` is set; an alert queued during a run starts another run right after.
- `wake_on_commit`: a transaction that queued alerts (models.outbox.notify_queued marks
  the session) sets `deps.deliver_now` when it commits, in this process.
- `OutboxListener` (PostgreSQL): `LISTEN diplo_outbox` on its own connection; a NOTIFY
  from any process (sent by the queuing transaction, so it arrives on commit) sets
  `deps.deliver_now` here. It reconnects by itself, waking delivery once after each
  (re)connect in case a notification was missed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from deps import Deps
from models.outbox import NOTIFY_CHANNEL, QUEUED_FLAG

logger = logging.getLogger(__name__)

RECONNECT_SECONDS = (1, 2, 5, 10, 30)


def wake_on_commit(sessions: sessionmaker[Session], wake: threading.Event) -> None:
    """Set `wake` after every commit of a session that queued alerts."""

    def committed(session: Session) -> None:
        if session.info.pop(QUEUED_FLAG, False):
            wake.set()

    def rolled_back(session: Session) -> None:
        session.info.pop(QUEUED_FLAG, None)

    event.listen(sessions, "after_commit", committed)
    event.listen(sessions, "after_rollback", rolled_back)


class DeliveryLoop:
    """A thread running `job(deps)` every `interval` seconds, or at once when woken."""

    def __init__(self, deps: Deps, job: Callable[[], Any], interval: float) -> None:
        self.deps, self.job, self.interval = deps, job, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="diplo-deliver", daemon=True)

    def start(self) -> None:
        """Start the loop (its first run is at once)."""
        self.deps.deliver_now.set()
        self._thread.start()

    def _run(self) -> None:
        wake = self.deps.deliver_now
        while not self._stop.is_set():
            wake.wait(self.interval)
            wake.clear()
            if self._stop.is_set():
                return
            self.job()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the run in progress (its in-flight post finishes)."""
        self._stop.set()
        self.deps.deliver_now.set()
        if self._thread.is_alive():
            self._thread.join(timeout)


def psycopg_conninfo(database_url: str) -> str:
    """The libpq URL of a SQLAlchemy `postgresql+psycopg://` URL."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


class OutboxListener:
    """LISTEN for queued alerts on PostgreSQL and set `wake` on each notification."""

    def __init__(self, database_url: str, wake: threading.Event, poll: float = 0.5) -> None:
        self.conninfo, self.wake, self.poll = psycopg_conninfo(database_url), wake, poll
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="diplo-listen", daemon=True)
        self.connected = threading.Event()

    def start(self) -> None:
        """Start listening on a daemon thread."""
        self._thread.start()

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                self._listen()
                failures = 0
            except Exception as exc:  # the database went away: retry, with a growing pause
                self.connected.clear()
                pause = RECONNECT_SECONDS[min(failures, len(RECONNECT_SECONDS) - 1)]
                failures += 1
                logger.warning("LISTEN %s lost (%s); retrying in %ss", NOTIFY_CHANNEL, exc, pause)
                self._stop.wait(pause)

    def _listen(self) -> None:
        import psycopg

        with psycopg.connect(self.conninfo, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
            self.connected.set()
            self.wake.set()  # anything queued while not listening
            logger.debug("listening for %s", NOTIFY_CHANNEL)
            while not self._stop.is_set():
                for _ in conn.notifies(timeout=self.poll, stop_after=1):
                    self.wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop listening and close the connection."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)


class Delivery:
    """The delivery loop of a bot process, woken locally and (PostgreSQL) by other processes."""

    def __init__(self, deps: Deps) -> None:
        from jobs.deliver import deliver_pending
        from jobs.scheduler import guarded

        wake_on_commit(deps.sessions, deps.deliver_now)
        job = guarded("deliver", deliver_pending, deps)
        self.loop = DeliveryLoop(deps, job, deps.settings.deliver_seconds)
        url = deps.settings.database_url
        self.listener = (
            OutboxListener(url, deps.deliver_now) if url.startswith("postgresql") else None
        )

    def start(self) -> None:
        """Start listening, then delivering."""
        if self.listener is not None:
            self.listener.start()
        self.loop.start()

    def close(self) -> None:
        """Stop listening; let the run in progress finish."""
        if self.listener is not None:
            self.listener.stop()
        self.loop.stop()


def start_delivery(deps: Deps) -> Delivery:
    """Build and start the delivery of a bot process."""
    delivery = Delivery(deps)
    delivery.start()
    return delivery
