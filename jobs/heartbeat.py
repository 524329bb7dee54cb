"""Keep this process's leases while it works: renew them every third of the lease time.

A fetch or a Slack call can outlast a short lease (DIPLO_LEASE_SECONDS, 60 s by default):
without renewal another replica would take the feed or the alert while it is still being
worked on. Only leases this process still holds and that have not run out are renewed
(models.lease.renew), so a row another process took, or one ended at shutdown, stays theirs.
A process killed with -9 stops renewing: its leases run out within the lease time and the
other replicas take the work over at their next poll tick or delivery run.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy.exc import SQLAlchemyError

from deps import Deps
from models.feed import renew_owned as renew_feeds
from models.outbox import renew_owned as renew_alerts

logger = logging.getLogger(__name__)


def renew_own_leases(deps: Deps) -> tuple[int, int]:
    """Extend every lease this process holds to now + the lease time; returns (feeds, alerts)."""
    now, ttl = deps.clock(), deps.settings.lease
    with deps.sessions.begin() as s:
        return renew_feeds(s, deps.owner, now, ttl), renew_alerts(s, deps.owner, now, ttl)


class Heartbeat:
    """A daemon thread renewing this process's leases every `interval` seconds (ttl/3)."""

    def __init__(self, deps: Deps, interval: float | None = None) -> None:
        self.deps = deps
        self.interval = interval or deps.settings.lease.total_seconds() / 3
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="diplo-heartbeat", daemon=True)

    def start(self) -> Heartbeat:
        """Start beating; the first renewal is one interval from now."""
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                feeds, alerts = renew_own_leases(self.deps)
            except SQLAlchemyError as exc:  # the database is away: the next beat tries again
                logger.warning("could not renew this process's leases: %s", type(exc).__name__)
                continue
            if feeds or alerts:
                logger.debug("renewed %d feed and %d alert leases", feeds, alerts)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop renewing (call it once the jobs have finished, before releasing the leases)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
