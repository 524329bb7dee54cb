"""Per-channel settings (threads on or off today; time zone, quiet hours, digests later)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Boolean, Integer, Select, String, Text, false, select, true, update
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


# --- digests and alerts on/off (issue 11; `settings_of` will bundle these) -------------------

DEFAULT_TZ = "America/New_York"  # DIPLO_DEFAULT_TZ's default


@dataclass(frozen=True, slots=True)
class DigestSchedule:
    """A channel's digest settings: `every` None means no scheduled digest."""

    channel_id: str
    every: str | None
    weekday: int | None
    at: int | None
    tz: str | None
    updated_at: datetime | None
    paused: bool = False


def zone_of(tz: str | None, default: str = DEFAULT_TZ) -> ZoneInfo:
    """The channel's zone (`channels.tz`), else `default`; an unknown name falls back too.

    One place for the coordinator to swap for `settings_of(...).zone`.
    """
    for name in (tz, default, DEFAULT_TZ):
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def channel_zone(s: Session, channel_id: str, default: str = DEFAULT_TZ) -> ZoneInfo:
    """The channel's time zone as a ZoneInfo (see `zone_of`)."""
    tz = s.scalar(select(Channel.tz).where(Channel.channel_id == channel_id))
    return zone_of(tz, default)


def digest_schedule(s: Session, channel_id: str) -> DigestSchedule:
    """The channel's digest settings (no row: no digest)."""
    row = s.get(Channel, channel_id)
    if row is None:
        return DigestSchedule(channel_id, None, None, None, None, None)
    return _schedule(row)


def _schedule(row: Channel) -> DigestSchedule:
    return DigestSchedule(
        row.channel_id,
        row.digest_every,
        row.digest_weekday,
        row.digest_at,
        row.tz,
        row.updated_at,
        paused=row.paused_reason is not None,
    )


def digest_schedules(s: Session) -> list[DigestSchedule]:
    """Every channel with a scheduled digest, by channel."""
    rows = s.scalars(
        select(Channel).where(Channel.digest_every.is_not(None)).order_by(Channel.channel_id)
    )
    return [_schedule(row) for row in rows]


def set_digest(
    s: Session,
    channel_id: str,
    every: str | None,
    weekday: int | None,
    at: int | None,
    now: datetime,
) -> None:
    """Set (or with `every` None, turn off) the channel's digest schedule."""
    ensure(s, channel_id, now)
    s.execute(
        update(Channel)
        .where(Channel.channel_id == channel_id)
        .values(
            digest_every=every,
            digest_weekday=weekday if every == "weekly" else None,
            digest_at=at if every else None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )


def alerts_on(s: Session, channel_id: str) -> bool:
    """Whether the channel gets live alerts (the default: yes; off: digests only)."""
    value = s.scalar(select(Channel.alerts_on).where(Channel.channel_id == channel_id))
    return True if value is None else bool(value)


def set_alerts(s: Session, channel_id: str, on: bool, now: datetime) -> bool:
    """Turn the channel's live alerts on or off; returns the previous setting."""
    before = alerts_on(s, channel_id)
    ensure(s, channel_id, now)
    s.execute(
        update(Channel)
        .where(Channel.channel_id == channel_id)
        .values(alerts_on=on, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return before


def alerts_off_ids() -> Select[str]:
    """SELECT of the channels whose live alerts are off (for `NOT IN` filters)."""
    return select(Channel.channel_id).where(Channel.alerts_on.is_(false()))


def alerts_off_among(s: Session, channel_ids: Iterable[str]) -> set[str]:
    """Which of these channels have their live alerts off."""
    wanted = list(dict.fromkeys(channel_ids))
    if not wanted:
        return set()
    return set(s.scalars(alerts_off_ids().where(Channel.channel_id.in_(wanted))))
