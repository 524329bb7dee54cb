"""The retention job: prune old irrelevant items in small transactions, one replica at a time."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from deps import Deps
from models.retention import prune_batch

logger = logging.getLogger(__name__)

BATCH = 1000  # rows per transaction: short write locks, nothing waits long behind them
_LOCK_KEY = 0x6469706C6F02  # pg_try_advisory_xact_lock: one pruning replica at a time


def _may_prune(s: Session) -> bool:
    """On PostgreSQL, whether this replica holds the pruning lock (SQLite: always)."""
    if s.get_bind().dialect.name != "postgresql":
        return True
    return bool(s.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _LOCK_KEY}))


def prune_old_items(deps: Deps, batch: int = BATCH) -> int:
    """Delete irrelevant items older than DIPLO_RETENTION_DAYS; returns how many went.

    One transaction per batch, until a batch comes back short, another replica holds the
    lock, or the process is stopping.
    """
    days = deps.settings.retention_days
    if days <= 0:
        return 0
    cutoff = deps.clock() - timedelta(days=days)
    total = 0
    while not deps.stopping.is_set():
        with deps.sessions.begin() as s:
            if not _may_prune(s):
                logger.debug("another replica is pruning old items")
                break
            pruned = prune_batch(s, cutoff, batch)
        total += pruned
        if pruned < batch:
            break
    if total:
        logger.info("pruned %d irrelevant items older than %d days", total, days)
    return total
