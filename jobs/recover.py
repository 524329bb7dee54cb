"""Start-up work before the first poll (seed feeds, take back a crashed predecessor's leases),
and the shutdown counterpart (hand this process's leases back at once).

A process killed while polling leaves its feeds leased and, while posting, its alerts in
`sending`, until the lease runs out (DIPLO_LEASE_SECONDS, 60 s by default): other replicas
then take them over; a restarted bot on the same host takes them back at once.
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import SQLAlchemyError

from deps import Deps, owner_is_gone
from jobs.catchup import catch_up
from jobs.feeds import seed_feeds
from models.feed import lease_owners, release_leases
from models.feed import release_owned as release_feeds
from models.outbox import (
    CONSOLE,
    CONSOLE_CHANNEL,
    drop_pending,
    expire_leases,
    notify_queued,
    sending_owners,
)
from models.outbox import release_owned as release_alerts

logger = logging.getLogger(__name__)


def release_dead_leases(deps: Deps) -> tuple[int, int]:
    """Free the feed and alert leases of stopped processes; returns (feeds, alerts).

    Call it once at start-up, before the scheduler runs (see deps.owner_is_gone).
    """
    kind = deps.sender.kind  # another kind's alerts are left to a process of that kind
    with deps.sessions.begin() as s:
        owners = lease_owners(s) | sending_owners(s, kind)
        gone = sorted(o for o in owners if owner_is_gone(o, deps.owner))
        feeds = release_leases(s, gone)
        alerts = expire_leases(s, gone, deps.clock(), kind=kind)
    if feeds or alerts:
        logger.info(
            "took back %d feeds and %d alerts leased by stopped processes (%s)",
            feeds,
            alerts,
            ", ".join(gone),
        )
    return feeds, alerts


def start_up(deps: Deps) -> None:
    """Seed the configured feeds, take back dead leases, fold a downtime's backlog into
    catch-ups (jobs/catchup.py), drop stale console alerts.

    Console-mode alerts still queued when Slack is configured would never be printed: a
    Slack process drops them (the one change a sender makes to another kind's alerts). A
    console process never touches a real channel's alert: it claims, leases and drops only
    console ones (see models.outbox.SenderKind).
    """
    seed_feeds(deps)
    release_dead_leases(deps)
    catch_up(deps)  # before delivery starts: a backlog from downtime comes as one message
    if not deps.console_alerts and deps.sender.kind is not CONSOLE:
        with deps.sessions.begin() as s:
            dropped = drop_pending(s, CONSOLE_CHANNEL)
        if dropped:
            logger.info("dropped %d console alerts queued before Slack was configured", dropped)


def release_own_leases(deps: Deps) -> tuple[int, int]:
    """At a graceful stop, after the jobs finished: free this process's feeds and alerts.

    Another replica then polls those feeds at its next tick and posts those alerts at once
    (woken by NOTIFY) instead of waiting for the leases to run out. Returns (feeds, alerts).
    """
    try:
        with deps.sessions.begin() as s:
            feeds = release_feeds(s, deps.owner)
            alerts = release_alerts(s, deps.owner, deps.clock())
            if alerts:
                notify_queued(s)  # other replicas' delivery loops wake on the commit
    except SQLAlchemyError as exc:  # the database is gone: the leases run out by themselves
        logger.warning("could not release this process's leases at shutdown: %s", exc.args[0])
        return 0, 0
    if feeds or alerts:
        logger.info("released %d feed and %d alert leases held at shutdown", feeds, alerts)
    return feeds, alerts
