"""Which Slack channel wants which topics; and the queries about it."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime

from sqlalchemy import String, Text, UniqueConstraint, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.channel import alerts_off_ids, pause, paused_ids, paused_reasons, resume
from models.db import Base, UTCDateTime, insert_ignore

ALL_TOPICS = "all"


class Subscription(Base):
    """A channel's subscription to one topic (or to `all`)."""

    __tablename__ = "subscriptions"
    __table_args__ = (UniqueConstraint("channel_id", "topic"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(50), index=True)
    topic: Mapped[str] = mapped_column(String(50))
    created_by: Mapped[str | None] = mapped_column(String(50))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Before migration 0008 the pause state lived here; it is `channels.paused_reason` now
    # (0008 copied it). The column stays for downgrades; nothing reads or writes it.
    legacy_paused_reason: Mapped[str | None] = mapped_column("paused_reason", Text)


def subscribe(
    s: Session, channel_id: str, topics: Iterable[str], user_id: str | None, now: datetime
) -> list[str]:
    """Subscribe the channel to `topics`; returns the topics that were new.

    Subscribing again resumes a paused channel (models.channel.resume).
    """
    wanted = list(dict.fromkeys(topics))
    if not wanted:
        return []
    rows = [
        {"channel_id": channel_id, "topic": t, "created_by": user_id, "created_at": now}
        for t in wanted
    ]
    stmt = (
        insert_ignore(s, Subscription)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["channel_id", "topic"])
        .returning(Subscription.topic)
    )
    added = set(s.scalars(stmt))
    resume(s, channel_id, now)
    return [t for t in wanted if t in added]


def unsubscribe(s: Session, channel_id: str, topics: Iterable[str] | None) -> list[str]:
    """Drop the channel's subscriptions to `topics` (all when None); returns those dropped."""
    query = select(Subscription.topic).where(Subscription.channel_id == channel_id)
    if topics is not None:
        query = query.where(Subscription.topic.in_(list(topics)))
    dropped = list(s.scalars(query.order_by(Subscription.topic)))
    if dropped:
        s.execute(
            delete(Subscription).where(
                Subscription.channel_id == channel_id, Subscription.topic.in_(dropped)
            )
        )
    return dropped


def for_channel(s: Session, channel_id: str) -> Sequence[Subscription]:
    """The channel's subscriptions, by topic."""
    return s.scalars(
        select(Subscription)
        .where(Subscription.channel_id == channel_id)
        .order_by(Subscription.topic)
    ).all()


def listing(
    s: Session, channels: Collection[str] | None = None, limit: int = 300
) -> Sequence[Subscription]:
    """Subscriptions of these channels (every channel when None), by channel and topic."""
    query = select(Subscription)
    if channels is not None:
        query = query.where(Subscription.channel_id.in_(list(channels)))
    return s.scalars(query.order_by(Subscription.channel_id, Subscription.topic).limit(limit)).all()


def channels_for(s: Session, topics: Iterable[str]) -> list[str]:
    """Channels not paused with a subscription to any of `topics` or to `all`, sorted.

    Channels with live alerts off (`/diplo alerts off`: digests only) are left out.
    """
    wanted = [*topics, ALL_TOPICS]
    return sorted(
        set(
            s.scalars(
                select(Subscription.channel_id).where(
                    Subscription.topic.in_(wanted),
                    Subscription.channel_id.not_in(paused_ids()),
                    Subscription.channel_id.not_in(alerts_off_ids()),
                )
            )
        )
    )


def pause_channel(s: Session, channel_id: str, reason: str, now: datetime | None = None) -> int:
    """Pause a channel Slack refuses to post to (models.channel.pause).

    Returns how many of its subscriptions that stops (0 when it was paused already).
    """
    if not pause(s, channel_id, reason, now):
        return 0
    return len(for_channel(s, channel_id))


def paused(s: Session) -> list[tuple[Subscription, str]]:
    """Every subscription of a paused channel, with why the channel is paused."""
    reasons = paused_reasons(s)
    if not reasons:
        return []
    return [(sub, reasons[sub.channel_id]) for sub in listing(s, reasons)]
