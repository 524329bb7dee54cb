"""Claim due work with a lease: the one mechanism behind every table of rows to work on.

A leased row names its holder in `lease_owner` (a process, `host:pid`, or one of its runs,
`host:pid/run`) and how long it holds the row in `lease_until`. Every user follows the
same steps:

- claim: pick rows that are due and `free` (no lease, or one that ran out) with
  `FOR UPDATE SKIP LOCKED` (PostgreSQL: concurrent claimers get disjoint rows; SQLite: the
  transaction holds the write lock), then `take` them for `ttl`;
- while working: the process's heartbeat `renew`s what it still holds every ttl/3
  (jobs/heartbeat.py), so a slow fetch or Slack call keeps its rows; a process killed with
  -9 stops renewing and the others take its rows once the lease has run out;
- done, or stopping: `release` drops a lease (work not started: whoever is next does it);
  `expire` ends it now but keeps the owner (work that may be half done, such as a post in
  flight: the next taker checks first).

Users: feeds (models/feed.py) and outbox operations (models/outbox.py: alerts, story
messages, replies and edits). Reminders and digests are outbox operations too (rows in
`alerts`), so they are claimed, renewed, released and taken over by this same lease.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, String, or_, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.db import UTCDateTime, rowcount

DEFAULT_TTL = timedelta(seconds=60)  # DIPLO_LEASE_SECONDS


class Leased:
    """Mixin for a table whose rows are claimed with a lease: the two lease columns."""

    if TYPE_CHECKING:
        id: Mapped[int]

    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def end_lease(self) -> None:
        """Drop this row's lease (its work is recorded)."""
        self.lease_owner = None
        self.lease_until = None


def owned_by(model: type[Leased], owner: str) -> ColumnElement[bool]:
    """Rows leased by `owner` itself or by one of its runs (`owner/…`)."""
    run = model.lease_owner.startswith(owner + "/", autoescape=True)
    return (model.lease_owner == owner) | run


def free(model: type[Leased], now: datetime) -> ColumnElement[bool]:
    """Rows nobody holds at `now`: no lease, or one that has run out."""
    return or_(model.lease_until.is_(None), model.lease_until <= now)


def is_free(lease_until: datetime | None, now: datetime) -> bool:
    """`free` for a row already read (under FOR UPDATE)."""
    return lease_until is None or lease_until <= now


def take(
    s: Session,
    model: type[Leased],
    ids: Iterable[int],
    owner: str,
    now: datetime,
    ttl: timedelta,
    **values: Any,
) -> int:
    """Lease these rows (picked free and locked by the caller) to `owner` until now + ttl.

    `values` are set in the same UPDATE (the outbox marks its rows `sending`). Returns how
    many rows.
    """
    ids = list(ids)
    if not ids:
        return 0
    result = s.execute(
        update(model)
        .where(model.id.in_(ids))
        .values(lease_owner=owner, lease_until=now + ttl, **values)
        .execution_options(synchronize_session=False)
    )
    return rowcount(result)


def renew(
    s: Session,
    model: type[Leased],
    owner: str,
    now: datetime,
    ttl: timedelta,
    *where: ColumnElement[bool],
) -> int:
    """Extend to now + ttl the leases `owner` (or its runs) still holds; returns how many.

    A lease that has run out (or was ended, `expire`) is not renewed: another process may
    have taken the row, or is about to, and the row is no longer ours.
    """
    result = s.execute(
        update(model)
        .where(owned_by(model, owner), model.lease_until > now, *where)
        .values(lease_until=now + ttl)
        .execution_options(synchronize_session=False)
    )
    return rowcount(result)


def release(s: Session, model: type[Leased], *where: ColumnElement[bool], **values: Any) -> int:
    """Drop the leases of the rows `where` selects (say whose); returns how many.

    For work not started, or finished: the row is free for anyone at once. `values` are
    set in the same UPDATE.
    """
    if not where:
        raise ValueError("release needs a condition saying whose leases")
    result = s.execute(
        update(model)
        .where(*where)
        .values(lease_owner=None, lease_until=None, **values)
        .execution_options(synchronize_session=False)
    )
    return rowcount(result)


def expire(s: Session, model: type[Leased], now: datetime, *where: ColumnElement[bool]) -> int:
    """End now the running leases of the rows `where` selects, keeping their owner.

    For work that may be half done (a Slack post in flight): the next taker sees who held
    it and checks before doing it again. Returns how many leases were ended.
    """
    if not where:
        raise ValueError("expire needs a condition saying whose leases")
    result = s.execute(
        update(model)
        .where(or_(model.lease_until.is_(None), model.lease_until > now), *where)
        .values(lease_until=now)
        .execution_options(synchronize_session=False)
    )
    return rowcount(result)


def owners(s: Session, model: type[Leased], *where: ColumnElement[bool]) -> set[str]:
    """Every owner named on a row (lease running or not) among those `where` selects."""
    query = select(model.lease_owner).where(model.lease_owner.is_not(None), *where)
    return set(s.scalars(query.distinct()))
