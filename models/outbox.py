"""The alert outbox: one row per (item, channel), the source of truth for delivery."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    ForeignKey,
    Index,
    Integer,
    Row,
    String,
    Text,
    UniqueConstraint,
    case,
    delete,
    false,
    func,
    select,
    text,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.db import Base, UTCDateTime, insert_ignore, rowcount
from models.item import Item, ItemView

PENDING = "pending"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"
UNFINISHED = (PENDING, SENDING)
# What an outbox row does (`op`): item alerts of v1 and story messages are `post`.
POST = "post"
REPLY = "reply"
UPDATE = "update"
# Console mode's pseudo-channel: every relevant item, printed by the ConsoleSender.
CONSOLE_CHANNEL = "console"


_UNFINISHED_UPDATE = "op = 'update' AND status IN ('pending', 'sending')"


class Alert(Base):
    """One alert to post: an item for a channel, with its delivery state."""

    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("item_id", "channel_id"),
        Index("ix_alerts_status_next_attempt_at", "status", "next_attempt_at"),
        # one story message per (story, channel), also across replicas (insert-ignore)
        Index(
            "ux_alerts_story_post",
            "story_id",
            "channel_id",
            unique=True,
            sqlite_where=text("op = 'post'"),
            postgresql_where=text("op = 'post'"),
        ),
        # at most one unfinished edit per story message: later changes coalesce into it
        Index(
            "ux_alerts_story_update",
            "story_id",
            "channel_id",
            unique=True,
            sqlite_where=text(_UNFINISHED_UPDATE),
            postgresql_where=text(_UNFINISHED_UPDATE),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # None for an `update` (it renders the story, not an item)
    item_id: Mapped[int | None] = mapped_column(
        ForeignKey("items.id", ondelete="CASCADE"), index=True
    )
    story_id: Mapped[int | None] = mapped_column(Integer, index=True)
    op: Mapped[str] = mapped_column(String(10), default=POST, server_default=POST)
    broadcast: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # an `update` claimed while the story changed again: sent, it goes back to pending
    rerender: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    channel_id: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(20), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    slack_ts: Mapped[str | None] = mapped_column(String(50))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set when an attempt may have posted without it being recorded (a crash, a timeout):
    # before posting again, the channel's history since then is searched for the alert.
    maybe_posted_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


def enqueue(s: Session, item_id: int, channels: Iterable[str], now: datetime) -> int:
    """Queue the item for each channel once (insert-ignore); returns how many rows are new."""
    rows = [
        {
            "item_id": item_id,
            "channel_id": channel,
            "status": PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for channel in dict.fromkeys(channels)
    ]
    if not rows:
        return 0
    stmt = (
        insert_ignore(s, Alert)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["item_id", "channel_id"])
        .returning(Alert.id)
    )
    return len(list(s.scalars(stmt)))


def drop_pending(s: Session, channel: str) -> int:
    """Delete the channel's alerts not sent yet; returns how many."""
    result = s.execute(
        delete(Alert).where(Alert.channel_id == channel, Alert.status.in_(UNFINISHED))
    )
    return rowcount(result)


def status_counts(s: Session) -> dict[str, int]:
    """How many alerts are in each status."""
    counts = {PENDING: 0, SENDING: 0, SENT: 0, FAILED: 0}
    for status, n in s.execute(select(Alert.status, func.count(Alert.id)).group_by(Alert.status)):
        counts[status] = n
    return counts


@dataclass(frozen=True, slots=True)
class AlertJob:
    """A claimed alert, detached from the session: all the deliver job needs to post it."""

    alert_id: int
    channel: str
    attempt: int  # 1 on the first try
    claimed_at: datetime
    maybe_posted_since: datetime | None  # look in the channel's history from here first
    was_stale_sending: bool  # a sender claimed it before and never reported back
    item: ItemView


def _claimable(
    status: str, next_attempt_at: datetime, lease_until: datetime | None, now: datetime
) -> bool:
    if status == PENDING:
        return next_attempt_at <= now
    return status == SENDING and (lease_until is None or lease_until <= now)


def _take_claimable(
    heads: Sequence[Row[Any, Any]],
    locked: dict[int, Row[int, str, datetime, datetime | None]],
    now: datetime,
) -> tuple[list[int], list[int]]:
    """Each channel's claimable alerts up to its first unclaimable or locked one: (chosen, stale).

    `stale` lists the chosen alerts left `sending` by a sender whose lease ran out.
    """
    chosen: list[int] = []
    stale: list[int] = []
    blocked: set[str] = set()
    for alert_id, channel in heads:
        row = locked.get(alert_id)
        if channel in blocked:
            continue
        if row is None or not _claimable(row.status, row.next_attempt_at, row.lease_until, now):
            blocked.add(channel)
            continue
        chosen.append(alert_id)
        if row.status == SENDING:
            stale.append(alert_id)
    return chosen, stale


def claim_batch(
    s: Session, now: datetime, owner: str, limit: int, lease: timedelta, per_channel: int = 10
) -> list[AlertJob]:
    """Lease the due alerts, oldest first, keeping each channel's order; returns them.

    Only a prefix of each channel's unfinished alerts is taken, starting with its oldest: an
    alert waiting for a retry (or held by another sender) holds back the later ones. Alerts
    left in `sending` by a sender whose lease ran out are taken too, flagged so the channel
    is searched before posting again. PostgreSQL: FOR UPDATE SKIP LOCKED keeps concurrent
    claimers apart, and a channel whose oldest alert is locked by another is skipped.
    SQLite: the transaction holds the write lock (BEGIN IMMEDIATE).
    """
    rank = func.row_number().over(partition_by=Alert.channel_id, order_by=Alert.id).label("rank")
    ranked = select(Alert.id, Alert.channel_id, rank).where(Alert.status.in_(UNFINISHED)).subquery()
    heads = s.execute(
        select(ranked.c.id, ranked.c.channel_id)
        .where(ranked.c.rank <= per_channel)
        .order_by(ranked.c.channel_id, ranked.c.id)
    ).all()
    if not heads:
        return []
    locked = {
        row.id: row
        for row in s.execute(
            select(Alert.id, Alert.status, Alert.next_attempt_at, Alert.lease_until)
            .where(Alert.id.in_([h.id for h in heads]))
            .with_for_update(skip_locked=True)
        )
    }
    chosen, stale = _take_claimable(heads, locked, now)
    chosen = sorted(chosen)[:limit]
    if not chosen:
        return []
    stale_set = set(stale).intersection(chosen)
    if stale_set:
        s.execute(
            update(Alert)
            .where(Alert.id.in_(stale_set))
            .values(maybe_posted_since=func.coalesce(Alert.maybe_posted_since, Alert.claimed_at))
            .execution_options(synchronize_session=False)
        )
    s.execute(
        update(Alert)
        .where(Alert.id.in_(chosen))
        .values(
            status=SENDING,
            lease_owner=owner,
            lease_until=now + lease,
            claimed_at=now,
            attempts=Alert.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    )
    rows = s.execute(
        select(Alert, Item)
        .join(Item, Item.id == Alert.item_id)
        .where(Alert.id.in_(chosen))
        .order_by(Alert.id)
        .execution_options(populate_existing=True)
    ).all()
    return [
        AlertJob(
            alert_id=alert.id,
            channel=alert.channel_id,
            attempt=alert.attempts,
            claimed_at=now,
            maybe_posted_since=alert.maybe_posted_since,
            was_stale_sending=alert.id in stale_set,
            item=ItemView.of(item),
        )
        for alert, item in rows
    ]


def _held(alert_id: int, owner: str) -> tuple[ColumnElement[bool], ...]:
    return (Alert.id == alert_id, Alert.status == SENDING, Alert.lease_owner == owner)


def mark_sent(s: Session, alert_id: int, ts: str, now: datetime) -> bool:
    """Record the alert as posted with this `ts` (whoever holds it: the post happened)."""
    result = s.execute(
        update(Alert)
        .where(Alert.id == alert_id, Alert.status != SENT)
        .values(status=SENT, slack_ts=ts, sent_at=now, lease_owner=None, lease_until=None)
        .execution_options(synchronize_session=False)
    )
    return bool(rowcount(result))


def mark_retry(
    s: Session,
    alert_id: int,
    now: datetime,
    delay: timedelta,
    error: str,
    *,
    owner: str,
    maybe_posted: bool = False,
) -> bool:
    """Put the alert back to wait `delay`; `maybe_posted` when the failed try may have landed."""
    values: dict[str, object] = {
        "status": PENDING,
        "next_attempt_at": now + delay,
        "last_error": error[:500],
        "lease_owner": None,
        "lease_until": None,
    }
    if maybe_posted:
        values["maybe_posted_since"] = func.coalesce(Alert.maybe_posted_since, Alert.claimed_at)
    result = s.execute(
        update(Alert)
        .where(*_held(alert_id, owner))
        .values(values)
        .execution_options(synchronize_session=False)
    )
    return bool(rowcount(result))


def _failed(error: str, now: datetime) -> dict[str, object]:
    """The values of an alert given up for good, with its error."""
    return {
        "status": FAILED,
        "last_error": error[:500],
        "failed_at": now,
        "lease_owner": None,
        "lease_until": None,
    }


def mark_failed(s: Session, alert_id: int, error: str, now: datetime, *, owner: str) -> bool:
    """Give the alert up for good (Slack refuses it); it stays listed with its error."""
    result = s.execute(
        update(Alert)
        .where(*_held(alert_id, owner))
        .values(_failed(error, now))
        .execution_options(synchronize_session=False)
    )
    return bool(rowcount(result))


def fail_channel(s: Session, channel: str, error: str, now: datetime, *, owner: str) -> int:
    """Fail every alert still waiting for `channel` (and those `owner` holds); returns how many."""
    result = s.execute(
        update(Alert)
        .where(
            Alert.channel_id == channel,
            (Alert.status == PENDING) | ((Alert.status == SENDING) & (Alert.lease_owner == owner)),
        )
        .values(_failed(error, now))
        .execution_options(synchronize_session=False)
    )
    return rowcount(result)


def release(
    s: Session, alert_ids: Sequence[int], *, owner: str, not_before: datetime | None = None
) -> int:
    """Hand claimed alerts back untried (their attempt is not counted); returns how many."""
    if not alert_ids:
        return 0
    values: dict[str, object] = {
        "status": PENDING,
        "attempts": Alert.attempts - 1,
        "lease_owner": None,
        "lease_until": None,
    }
    if not_before is not None:
        values["next_attempt_at"] = case(
            (Alert.next_attempt_at < not_before, not_before), else_=Alert.next_attempt_at
        )
    result = s.execute(
        update(Alert)
        .where(Alert.id.in_(alert_ids), Alert.status == SENDING, Alert.lease_owner == owner)
        .values(values)
        .execution_options(synchronize_session=False)
    )
    return rowcount(result)


def sending_owners(s: Session) -> set[str]:
    """Every owner of an alert left in `sending` (being posted, or by a stopped sender)."""
    query = select(Alert.lease_owner).where(Alert.status == SENDING, Alert.lease_owner.is_not(None))
    return set(s.scalars(query.distinct()))


def expire_leases(s: Session, owners: Sequence[str], now: datetime) -> int:
    """End now the leases of alerts these (gone) owners were sending; returns how many.

    The alerts stay `sending`, so the next claim takes them as stale and searches the
    channel before posting again: a post that landed before the crash is not repeated.
    """
    if not owners:
        return 0
    result = s.execute(
        update(Alert)
        .where(
            Alert.status == SENDING,
            Alert.lease_owner.in_(list(owners)),
            Alert.lease_until.is_(None) | (Alert.lease_until > now),
        )
        .values(lease_until=now)
        .execution_options(synchronize_session=False)
    )
    return rowcount(result)


def pending_count(s: Session) -> int:
    """Alerts not delivered yet (waiting or being sent)."""
    return s.scalar(select(func.count(Alert.id)).where(Alert.status.in_(UNFINISHED))) or 0


def failed_recent(s: Session, limit: int) -> Sequence[Alert]:
    """The most recently failed alerts, newest first."""
    return s.scalars(
        select(Alert)
        .where(Alert.status == FAILED)
        .order_by(Alert.failed_at.desc(), Alert.id.desc())
        .limit(limit)
    ).all()
