"""The alert outbox: one row per (item, channel), the source of truth for delivery.

Rows are claimed with the lease of models/lease.py, like feeds; every kind of operation
queued here (alerts, story messages, replies, edits, and the reminders and digests) shares it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

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
    literal_column,
    select,
    text,
    true,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from models import lease as leases
from models.channel import settings_by_channel
from models.db import Base, UTCDateTime, insert_ignore, rowcount
from models.item import Item, ItemView
from models.lease import Leased

PENDING = "pending"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"
UNFINISHED = (PENDING, SENDING)
# What an outbox row does (`op`): item alerts of v1 and story messages are `post`.
POST = "post"
# `op = 'post'` written out in the SQL, not bound: SQLite's planner uses a partial index (here
# ux_alerts_story_post) only when the query states its condition literally.
POST_OP: ColumnElement[str] = literal_column("'post'")
REPLY = "reply"
UPDATE = "update"
# Messages of the channel, not of one item (issue 11): each has a `key`, unique per
# (channel, op), so it is queued once however many replicas or restarts try.
REMIND = "remind"  # a planned contact is near (payload: offset, scheduled time)
DIGEST = "digest"  # the channel's daily or weekly summary
CATCHUP = "catchup"  # what was held during quiet hours or while diplo was away
MORE = "more"  # the rolling "more stories" message beyond the flood budget
OP_NAMES = {  # what each op is, for status lines
    POST: "alert",  # a story message, or an item alert (v1, watch-words)
    REPLY: "reply",
    UPDATE: "edit",
    REMIND: "reminder",
    DIGEST: "digest",
    CATCHUP: "catch-up",
    MORE: "more-stories message",
}
FOLDED = "folded"  # status of an alert a catch-up or "more stories" message stands for
SKIPPED = "skipped"  # status of a keyed message out of date at send time (never posted)
KEYED_OPS = (REMIND, DIGEST, CATCHUP, MORE)
# Top-level messages of the channel: a channel's story messages, catch-ups and "more stories"
# messages go before its replies and edits (claim_batch's ranking).
TOP_LEVEL = (POST, CATCHUP, MORE)
# Console mode's pseudo-channel: every relevant item, printed by the ConsoleSender.
CONSOLE_CHANNEL = "console"
NOTIFY_CHANNEL = "diplo_outbox"  # PostgreSQL LISTEN/NOTIFY channel: alerts were queued
QUEUED_FLAG = "diplo_alerts_queued"  # Session.info key set by notify_queued


@dataclass(frozen=True, slots=True)
class SenderKind:
    """The channels one kind of sender delivers to: the only alerts it may claim or change.

    A kind with `pseudo_channels` (the console) owns exactly those; the kind without (Slack)
    owns every channel no kind in `KINDS` claims as a pseudo-channel. A new kind of sender
    adds its own pseudo-channel(s) to `KINDS`, and every other kind then leaves them alone.
    """

    name: str
    pseudo_channels: frozenset[str] = frozenset()

    def owns(self, channel: str) -> bool:
        """True when alerts for `channel` are this kind's to deliver."""
        if self.pseudo_channels:
            return channel in self.pseudo_channels
        return channel not in PSEUDO_CHANNELS

    def where(self) -> ColumnElement[bool]:
        """`owns` as SQL on `alerts.channel_id`."""
        if self.pseudo_channels:
            return Alert.channel_id.in_(sorted(self.pseudo_channels))
        return Alert.channel_id.not_in(sorted(PSEUDO_CHANNELS))


SLACK = SenderKind("slack")
CONSOLE = SenderKind("console", frozenset({CONSOLE_CHANNEL}))
KINDS = (SLACK, CONSOLE)
PSEUDO_CHANNELS = frozenset(c for kind in KINDS for c in kind.pseudo_channels)


_UNFINISHED_UPDATE = "op = 'update' AND status IN ('pending', 'sending')"
_KEYED = "key IS NOT NULL"


class Alert(Leased, Base):
    """One alert to post: an item for a channel, with its delivery state and lease."""

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
        # one reminder, digest, catch-up or "more stories" message per (channel, op, key)
        Index(
            "ux_alerts_keyed",
            "channel_id",
            "op",
            "key",
            unique=True,
            sqlite_where=text(_KEYED),
            postgresql_where=text(_KEYED),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # None for an `update` (it renders the story, not an item)
    item_id: Mapped[int | None] = mapped_column(
        ForeignKey("items.id", ondelete="CASCADE"), index=True
    )
    story_id: Mapped[int | None] = mapped_column(
        ForeignKey("stories.id", ondelete="CASCADE"), index=True
    )
    op: Mapped[str] = mapped_column(String(10), default=POST, server_default=POST)
    broadcast: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # an `update` claimed while the story changed again: sent, it goes back to pending
    rerender: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    channel_id: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(20), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    slack_ts: Mapped[str | None] = mapped_column(String(50))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set when an attempt may have posted without it being recorded (a crash, a timeout):
    # before posting again, the channel's history since then is searched for the alert.
    maybe_posted_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The channel's watch-word that matched, when the alert comes from one (not a subscription).
    watch_phrase: Mapped[str | None] = mapped_column(String(200))
    key: Mapped[str | None] = mapped_column(String(120))  # see REMIND … MORE
    payload: Mapped[str | None] = mapped_column(Text)  # JSON the keyed message renders from
    urgent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # the catch-up or "more stories" message that stands for this (FOLDED) alert
    folded_into: Mapped[int | None] = mapped_column(Integer, index=True)


def enqueue(
    s: Session,
    item_id: int,
    channels: Iterable[str],
    now: datetime,
    watch_phrases: Mapping[str, str] | None = None,
) -> int:
    """Queue the item for each channel once (insert-ignore); returns how many rows are new.

    `watch_phrases` gives, per channel, the watch-word that brought the item there.
    """
    phrases = watch_phrases or {}
    rows = [
        {
            "item_id": item_id,
            "channel_id": channel,
            "status": PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
            "watch_phrase": phrases.get(channel),
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
    new = len(list(s.scalars(stmt)))
    if new:
        notify_queued(s)
    return new


def enqueue_story(
    s: Session,
    story_id: int,
    item_id: int,
    channels: Iterable[str],
    now: datetime,
    *,
    advanced: bool = False,
    urgent: str | None = None,
) -> int:
    """Queue a story's new item for each channel; returns for how many channels (like `enqueue`).

    A channel without the story's message yet gets a `post` (the story message); any
    other gets a `reply` (`broadcast` when the item `advanced` the story's stage) and the
    story message one coalesced `update`. Insert-ignore on the partial unique index makes
    two racing transactions post one story message: the loser falls through to a reply.

    `urgent` ("held": a planned contact took place; "confirmed": an official source
    announced it) lets the ops bypass quiet hours (models.fold); a story message still
    waiting becomes urgent too, so the reply never waits behind a held message.
    """
    queued = 0
    marks = {"urgent": True, "payload": json.dumps({"urgent": urgent})} if urgent else {}
    for channel in dict.fromkeys(channels):
        base = {
            "story_id": story_id,
            "item_id": item_id,
            "channel_id": channel,
            "status": PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        post = _insert_ignore(s, {**base, "op": POST, "broadcast": False, **marks})
        if post is not None:
            queued += 1
            continue
        if marks:
            s.execute(
                update(Alert)
                .where(
                    Alert.op == POST_OP,
                    Alert.story_id == story_id,
                    Alert.channel_id == channel,
                    Alert.status == PENDING,
                    Alert.urgent == false(),
                )
                .values(marks)
                .execution_options(synchronize_session=False)
            )
        reply = {**base, "op": REPLY, "broadcast": advanced, **marks}
        if _insert_ignore(s, reply) is not None:
            queued += 1
            enqueue_update(s, story_id, channel, now)
    if queued:
        notify_queued(s)
    return queued


def enqueue_update(s: Session, story_id: int, channel: str, now: datetime) -> int:
    """Queue an edit of the story message, coalesced: at most one unfinished per message.

    An edit already waiting renders the story at send time, so it covers this change too;
    one being sent may have rendered before it, so it is flagged to go once more.
    """
    row = {
        "story_id": story_id,
        "item_id": None,
        "channel_id": channel,
        "op": UPDATE,
        "broadcast": False,
        "status": PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }
    if _insert_ignore(s, row) is not None:
        notify_queued(s)
        return 1
    s.execute(
        update(Alert)
        .where(
            Alert.story_id == story_id,
            Alert.channel_id == channel,
            Alert.op == UPDATE,
            Alert.status == SENDING,
        )
        .values(rerender=True)
        .execution_options(synchronize_session=False)
    )
    return 0


def _insert_ignore(s: Session, row: Mapping[str, object]) -> int | None:
    """Insert one outbox row unless any unique index refuses it; its id, or None."""
    stmt = insert_ignore(s, Alert).values(row).on_conflict_do_nothing().returning(Alert.id)
    return s.scalars(stmt).first()


def enqueue_keyed(
    s: Session,
    channel: str,
    op: str,
    key: str,
    now: datetime,
    *,
    payload: str | None = None,
    story_id: int | None = None,
) -> int | None:
    """Queue a channel's keyed message (REMIND, DIGEST, …) once per (channel, op, key).

    Due at once (`next_attempt_at = now`): keyed rows are inserted when due, never ahead.
    Returns the new row's id, or None when that key was queued before (by anyone).
    """
    row = {
        "story_id": story_id,
        "item_id": None,
        "channel_id": channel,
        "op": op,
        "key": key[:120],
        "payload": payload,
        "broadcast": False,
        "status": PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }
    new = _insert_ignore(s, row)
    if new is not None:
        notify_queued(s)
    return new


def keyed_since(s: Session, channel: str, op: str, key_prefix: str, since: datetime) -> bool:
    """Whether the channel has a keyed `op` row whose key starts `key_prefix`, queued since."""
    query = select(Alert.id).where(
        Alert.channel_id == channel,
        Alert.op == op,
        Alert.key.startswith(key_prefix, autoescape=True),
        Alert.created_at >= since,
    )
    return s.scalars(query.limit(1)).first() is not None


def drop_pending(s: Session, channel: str) -> int:
    """Delete the channel's alerts not sent yet; returns how many."""
    result = s.execute(
        delete(Alert).where(Alert.channel_id == channel, Alert.status.in_(UNFINISHED))
    )
    return rowcount(result)


def status_counts(s: Session) -> dict[str, int]:
    """How many alerts are in each status (folded and skipped ones included)."""
    counts = {PENDING: 0, SENDING: 0, SENT: 0, FAILED: 0, FOLDED: 0, SKIPPED: 0}
    for status, n in s.execute(select(Alert.status, func.count(Alert.id)).group_by(Alert.status)):
        counts[status] = n
    return counts


def queue_by_op(s: Session) -> dict[str, int]:
    """The messages waiting to be sent (pending or sending) by kind: post, reply, remind, …"""
    rows = s.execute(
        select(Alert.op, func.count(Alert.id))
        .where(Alert.status.in_((PENDING, SENDING)))
        .group_by(Alert.op)
    ).tuples()
    return {op: n for op, n in rows if n}


@dataclass(frozen=True, slots=True)
class AlertJob:
    """A claimed alert, detached from the session: all the deliver job needs to post it."""

    alert_id: int
    channel: str
    attempt: int  # 1 on the first try
    claimed_at: datetime
    maybe_posted_since: datetime | None  # look in the channel's history from here first
    was_stale_sending: bool  # a sender claimed it before and never reported back
    item: ItemView | None  # None for an `update`
    op: str = POST
    story_id: int | None = None
    broadcast: bool = False
    # for a reply or update: the story message in this channel, if posted (else its post
    # was claimed in this same batch and goes first), or whether it failed for good;
    # for a CATCHUP or MORE op: its own message once posted (MORE is then edited)
    parent_ts: str | None = None
    parent_failed: bool = False
    threads: bool = True  # the channel's choice at claim time
    tz: str | None = None  # the channel's zone at claim time (None: DIPLO_DEFAULT_TZ)
    watch_phrase: str | None = None  # the channel's watch-word that matched, if any
    key: str | None = None  # keyed ops (REMIND … MORE): the row's key
    payload: str | None = None  # keyed ops: the JSON they render from


class HeldOps(Protocol):
    """What claim_batch asks before ranking: which pending ops to leave alone for now."""

    def held(self, s: Session, now: datetime, kind: SenderKind) -> set[int]:
        """Ids of `kind`'s pending ops held back at `now` (quiet hours, an outage backlog)."""
        ...


def _claimable(
    status: str, next_attempt_at: datetime, lease_until: datetime | None, now: datetime
) -> bool:
    if status == PENDING:
        return next_attempt_at <= now
    return status == SENDING and leases.is_free(lease_until, now)


def _take_claimable(
    heads: Sequence[tuple[int, str]],
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
    s: Session,
    now: datetime,
    owner: str,
    limit: int,
    lease: timedelta,
    per_channel: int = 10,
    *,
    kind: SenderKind,
    hold: HeldOps | None = None,
) -> list[AlertJob]:
    """Lease the due alerts of `kind`'s channels, oldest first, keeping each channel's order.

    Other kinds' alerts are filtered out in SQL: never read, locked or leased.

    Only a prefix of each channel's unfinished alerts is taken, starting with its oldest: an
    alert waiting for a retry (or held by another sender) holds back the later ones. Alerts
    left in `sending` by a sender whose lease ran out are taken too, flagged so the channel
    is searched before posting again. PostgreSQL: FOR UPDATE SKIP LOCKED keeps concurrent
    claimers apart, and a channel whose oldest alert is locked by another is skipped.
    SQLite: the transaction holds the write lock (BEGIN IMMEDIATE).

    `hold` (models.fold.FoldPolicy) names ops held back (quiet hours, an outage's backlog
    waiting for its catch-up): they are left out before ranking, as if not queued yet.
    """
    # --- held back: a separate step, before ranking (models.fold decides what)
    held = hold.held(s, now, kind) if hold is not None else set()
    not_held = Alert.id.not_in(sorted(held)) if held else true()
    # story messages first: a new story is never stuck behind other stories' replies; edits
    # last: rendered at send time, one edit then shows every reply sent before it
    priority = case((Alert.op.in_(TOP_LEVEL), 0), (Alert.op == UPDATE, 2), else_=1)
    rank = (
        func.row_number()
        .over(partition_by=Alert.channel_id, order_by=(priority, Alert.id))
        .label("rank")
    )
    ranked = (
        select(Alert.id, Alert.channel_id, priority.label("priority"), rank)
        .where(Alert.status.in_(UNFINISHED), kind.where(), not_held)
        .subquery()
    )
    heads = s.execute(
        select(ranked.c.id, ranked.c.channel_id, ranked.c.priority)
        .where(ranked.c.rank <= per_channel)
        .order_by(ranked.c.channel_id, ranked.c.priority, ranked.c.id)
    ).all()
    order = {h.id: (h.priority, h.id) for h in heads}
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
    chosen, stale = _take_claimable([(h.id, h.channel_id) for h in heads], locked, now)
    chosen = sorted(chosen, key=order.__getitem__)[:limit]
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
    leases.take(
        s,
        Alert,
        chosen,
        owner,
        now,
        lease,
        status=SENDING,
        claimed_at=now,
        attempts=Alert.attempts + 1,
        rerender=False,  # an edit claimed now renders every change made so far
    )
    rows = s.execute(
        select(Alert, Item)
        .outerjoin(Item, Item.id == Alert.item_id)
        .where(Alert.id.in_(chosen))
        .execution_options(populate_existing=True)
    ).all()
    rows = sorted(rows, key=lambda row: order[row[0].id])
    parents = _story_messages(s, [a for a, _ in rows if a.op != POST and a.story_id is not None])
    channels = settings_by_channel(s, {a.channel_id for a, _ in rows})
    jobs = []
    for alert, item in rows:
        parent = parents.get((alert.story_id, alert.channel_id))
        own_ts = alert.slack_ts if alert.op in (CATCHUP, MORE) else None  # MORE: edit it
        jobs.append(
            AlertJob(
                alert_id=alert.id,
                channel=alert.channel_id,
                attempt=alert.attempts,
                claimed_at=now,
                maybe_posted_since=alert.maybe_posted_since,
                was_stale_sending=alert.id in stale_set,
                item=ItemView.of(item) if item is not None else None,
                op=alert.op,
                story_id=alert.story_id,
                broadcast=alert.broadcast,
                parent_ts=parent.slack_ts if parent is not None else own_ts,
                parent_failed=parent is not None and parent.status == FAILED,
                threads=channels[alert.channel_id].threads,
                tz=channels[alert.channel_id].tz,
                watch_phrase=alert.watch_phrase,
                key=alert.key,
                payload=alert.payload,
            )
        )
    return jobs


def _story_messages(
    s: Session, ops: Sequence[Alert]
) -> dict[tuple[int | None, str], Row[Any, Any, Any, Any]]:
    """The story message (`post` op: status and ts) of each op's story in its channel."""
    stories = {a.story_id for a in ops}
    if not stories:
        return {}
    rows = s.execute(
        select(Alert.story_id, Alert.channel_id, Alert.status, Alert.slack_ts).where(
            Alert.op == POST_OP,
            Alert.story_id.in_(stories),
            Alert.channel_id.in_({a.channel_id for a in ops}),
            Alert.status.in_((SENT, FAILED)),
        )
    ).all()
    return {(r.story_id, r.channel_id): r for r in rows}


def story_message_ts(s: Session, story_id: int, channel: str) -> str | None:
    """The ts of the story's message in the channel, once posted."""
    return s.scalar(
        select(Alert.slack_ts).where(
            Alert.op == POST_OP,
            Alert.story_id == story_id,
            Alert.channel_id == channel,
            Alert.status == SENT,
        )
    )


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


def mark_update_sent(s: Session, alert_id: int, ts: str, now: datetime) -> bool:
    """Record an edit as made; one the story outran while it was sent goes again.

    Returns True when the edit is finished (False: it was queued once more).
    """
    again = s.scalar(select(Alert.rerender).where(Alert.id == alert_id, Alert.status != SENT))
    if again:
        s.execute(
            update(Alert)
            .where(Alert.id == alert_id)
            .values(
                status=PENDING,
                rerender=False,
                next_attempt_at=now,
                lease_owner=None,
                lease_until=None,
                slack_ts=ts,
            )
            .execution_options(synchronize_session=False)
        )
        return False
    return mark_sent(s, alert_id, ts, now)


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


def mark_skipped(s: Session, alert_id: int, reason: str, *, owner: str) -> bool:
    """End a keyed message out of date at send time (SKIPPED, with why); never posted.

    The row stays, so its key is never queued again.
    """
    result = s.execute(
        update(Alert)
        .where(*_held(alert_id, owner))
        .values(
            status=SKIPPED,
            last_error=reason[:500],
            lease_owner=None,
            lease_until=None,
        )
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


def fail_channel(
    s: Session, channel: str, error: str, now: datetime, *, owner: str, kind: SenderKind
) -> int:
    """Fail every alert still waiting for `channel` (and those `owner` holds); returns how many.

    Only a channel of `kind` (the sender that found it refusing posts) is touched.
    """
    if not kind.owns(channel):
        return 0
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
    values: dict[str, object] = {"status": PENDING, "attempts": Alert.attempts - 1}
    if not_before is not None:
        values["next_attempt_at"] = case(
            (Alert.next_attempt_at < not_before, not_before), else_=Alert.next_attempt_at
        )
    held = (Alert.id.in_(alert_ids), Alert.status == SENDING, Alert.lease_owner == owner)
    return leases.release(s, Alert, *held, **values)


def sending_owners(s: Session, kind: SenderKind) -> set[str]:
    """Every owner of an alert of `kind` left `sending` (being posted, or by a stopped sender)."""
    return leases.owners(s, Alert, Alert.status == SENDING, kind.where())


def expire_leases(s: Session, owners: Sequence[str], now: datetime, *, kind: SenderKind) -> int:
    """End now the leases of `kind`'s alerts these (gone) owners were sending; returns how many.

    Another kind's leases are left to a process of that kind (it takes them back itself).

    The alerts stay `sending`, so the next claim takes them as stale and searches the
    channel before posting again: a post that landed before the crash is not repeated.
    """
    if not owners:
        return 0
    gone = Alert.lease_owner.in_(list(owners))
    return leases.expire(s, Alert, now, Alert.status == SENDING, gone, kind.where())


def renew_owned(s: Session, owner: str, now: datetime, ttl: timedelta) -> int:
    """Extend the leases of the alerts `owner`'s runs are sending; returns how many."""
    return leases.renew(s, Alert, owner, now, ttl, Alert.status == SENDING)


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


def failed_reasons(s: Session, limit: int) -> list[tuple[str, str, str | None, str]]:
    """The most recently failed messages as (channel, what, error, op), newest first.

    `what` is the item's title, or for an op without an item (an edit, a reminder, a digest,
    a catch-up) its kind and story or key.
    """
    rows = s.execute(
        select(Alert.channel_id, Item.title, Alert.last_error, Alert.op, Alert.story_id, Alert.key)
        .outerjoin(Item, Item.id == Alert.item_id)
        .where(Alert.status == FAILED)
        .order_by(Alert.failed_at.desc(), Alert.id.desc())
        .limit(limit)
    )
    return [
        (r.channel_id, r.title or _what(r.op, r.story_id, r.key), r.last_error, r.op) for r in rows
    ]


def _what(op: str, story_id: int | None, key: str | None) -> str:
    story = f" of story #{story_id}" if story_id is not None else ""
    return f"{OP_NAMES.get(op, op)}{story}" + (f" ({key})" if key and not story else "")


def release_owned(s: Session, owner: str, now: datetime) -> int:
    """End now the alert leases of this process (`owner`, or `owner/run`); returns how many.

    Called at a graceful shutdown, after the in-flight sends finished: whatever is still
    `sending` may have been posted, so it stays `sending` with its lease ended, and the next
    claimer searches the channel before posting (as after a crash, without the wait).
    """
    return leases.expire(s, Alert, now, Alert.status == SENDING, leases.owned_by(Alert, owner))


def notify_queued(s: Session) -> None:
    """Tell other processes alerts were queued: PostgreSQL NOTIFY, sent when `s` commits.

    The session is marked too (`s.info`), so this process can wake its own delivery after
    the commit (jobs/wakeup.py). Notifications are merged by PostgreSQL per transaction.
    """
    s.info[QUEUED_FLAG] = True
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text("SELECT pg_notify(:channel, '')"), {"channel": NOTIFY_CHANNEL})


def outbox_depth(s: Session) -> list[tuple[str, int, datetime | None]]:
    """(state, alerts, oldest created_at) for pending, sending and failed alerts.

    Read through the (status, next_attempt_at) index; sent alerts, the bulk, are not counted.
    """
    rows = s.execute(
        select(Alert.status, func.count(Alert.id), func.min(Alert.created_at))
        .where(Alert.status.in_((PENDING, SENDING, FAILED)))
        .group_by(Alert.status)
    ).all()
    found = {status: (n, oldest) for status, n, oldest in rows}
    return [
        (state, found.get(state, (0, None))[0], found.get(state, (0, None))[1])
        for state in (PENDING, SENDING, FAILED)
    ]
