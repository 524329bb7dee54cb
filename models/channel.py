"""Per-channel settings (threads on or off today; time zone, quiet hours, digests later)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Boolean, Integer, String, Text, select, true, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.db import Base, UTCDateTime, insert_ignore

THREADS_DEFAULT = True


class Channel(Base):
    """One Slack channel's choices; a channel without a row has every default.

    Every column is nullable or has a server default, so older rows and channels without
    a row keep working. Times of day are minutes after local midnight (0–1439) in `tz`.
    """

    __tablename__ = "channels"

    channel_id: Mapped[str] = mapped_column(String(50), primary_key=True)
    threads: Mapped[bool] = mapped_column(Boolean, default=THREADS_DEFAULT, server_default=true())
    tz: Mapped[str | None] = mapped_column(String(64))  # IANA name; None: DIPLO_DEFAULT_TZ
    quiet_start: Mapped[int | None] = mapped_column(Integer)  # None: no quiet hours
    quiet_end: Mapped[int | None] = mapped_column(Integer)
    quiet_urgent: Mapped[str] = mapped_column(String(10), default="all", server_default="all")
    digest_every: Mapped[str | None] = mapped_column(String(10))  # daily | weekly | None
    digest_weekday: Mapped[int | None] = mapped_column(Integer)  # 0 = Monday (weekly)
    digest_at: Mapped[int | None] = mapped_column(Integer)
    alerts_on: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # minutes before an exact-dated contact, comma-separated; "" = reminders off
    reminders: Mapped[str] = mapped_column(String(60), default="1440,60", server_default="1440,60")
    flood_budget: Mapped[int | None] = mapped_column(Integer)  # None: the configured default
    paused_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


def ensure(s: Session, channel_id: str, now: datetime) -> None:
    """Create the channel's row with the defaults unless it exists (safe under races)."""
    s.execute(
        insert_ignore(s, Channel)
        .values(channel_id=channel_id, threads=THREADS_DEFAULT, created_at=now, updated_at=now)
        .on_conflict_do_nothing(index_elements=["channel_id"])
    )


def set_threads(s: Session, channel_id: str, on: bool, now: datetime) -> bool:
    """Turn threads on or off for the channel; returns the previous setting."""
    before = threads_on(s, channel_id)
    ensure(s, channel_id, now)
    s.execute(
        update(Channel)
        .where(Channel.channel_id == channel_id)
        .values(threads=on, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return before


def threads_on(s: Session, channel_id: str) -> bool:
    """Whether story updates go to threads in this channel (the default: yes)."""
    value = s.scalar(select(Channel.threads).where(Channel.channel_id == channel_id))
    return THREADS_DEFAULT if value is None else bool(value)


def threads_by_channel(s: Session, channel_ids: Iterable[str]) -> dict[str, bool]:
    """`threads_on` for several channels at once."""
    wanted = list(dict.fromkeys(channel_ids))
    found = dict(
        s.execute(select(Channel.channel_id, Channel.threads).where(Channel.channel_id.in_(wanted)))
        .tuples()
        .all()
    )
    return {c: bool(found.get(c, THREADS_DEFAULT)) for c in wanted}


def set_quiet(
    s: Session,
    channel_id: str,
    start: int | None,
    end: int | None,
    urgent: str,
    now: datetime,
) -> None:
    """Set the channel's quiet hours (minutes after local midnight; None: off) and bypass."""
    ensure(s, channel_id, now)
    s.execute(
        update(Channel)
        .where(Channel.channel_id == channel_id)
        .values(quiet_start=start, quiet_end=end, quiet_urgent=urgent, updated_at=now)
        .execution_options(synchronize_session=False)
    )
