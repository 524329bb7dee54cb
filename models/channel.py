"""Per-channel settings: threads, time zone, quiet hours, digests, reminders, budget, pause.

`settings_of` / `settings_by_channel` resolve every column to what applies (defaults for a
channel without a row, the zone as a ZoneInfo); one setter per command. Queries never commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Boolean, Integer, Select, String, Text, false, select, true, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.db import Base, UTCDateTime, insert_ignore, rowcount, utcnow
from news.reminders import offsets_column, stored_offsets
from news.zones import zone

THREADS_DEFAULT = True
DEFAULT_TZ = "America/New_York"  # settings.DIPLO_DEFAULT_TZ's default


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


# --- digests and alerts on/off (`settings_of` bundles these for display) ---------------------


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


@dataclass(frozen=True, slots=True)
class ChannelSettings:
    """A channel's settings with every default resolved (detached: safe across threads).

    `tz` is the stored IANA name (None: the default applies, `zone` is DIPLO_DEFAULT_TZ).
    `reminders`: minutes before an exact-dated contact, largest first; () = off.
    `flood_budget` None: the configured default. `paused_reason` set: Slack refuses posts.
    """

    channel_id: str
    zone: ZoneInfo
    tz: str | None = None
    threads: bool = THREADS_DEFAULT
    quiet_start: int | None = None
    quiet_end: int | None = None
    quiet_urgent: str = "all"
    digest_every: str | None = None
    digest_weekday: int | None = None
    digest_at: int | None = None
    alerts_on: bool = True
    reminders: tuple[int, ...] = stored_offsets(None)
    flood_budget: int | None = None
    paused_reason: str | None = None

    @property
    def paused(self) -> bool:
        """Slack refused posts here; subscribing again resumes."""
        return self.paused_reason is not None


def _resolved(channel_id: str, row: Channel | None, default_tz: str) -> ChannelSettings:
    if row is None:
        return ChannelSettings(channel_id, zone(None, default_tz))
    return ChannelSettings(
        channel_id=channel_id,
        zone=zone(row.tz, default_tz),
        tz=row.tz,
        threads=THREADS_DEFAULT if row.threads is None else bool(row.threads),
        quiet_start=row.quiet_start,
        quiet_end=row.quiet_end,
        quiet_urgent=row.quiet_urgent or "all",
        digest_every=row.digest_every,
        digest_weekday=row.digest_weekday,
        digest_at=row.digest_at,
        alerts_on=True if row.alerts_on is None else bool(row.alerts_on),
        reminders=stored_offsets(row.reminders),
        flood_budget=row.flood_budget,
        paused_reason=row.paused_reason,
    )


def settings_of(s: Session, channel_id: str, default_tz: str = DEFAULT_TZ) -> ChannelSettings:
    """The channel's settings, defaults resolved (`default_tz`: DIPLO_DEFAULT_TZ)."""
    return _resolved(channel_id, s.get(Channel, channel_id), default_tz)


def settings_by_channel(
    s: Session, channel_ids: Iterable[str], default_tz: str = DEFAULT_TZ
) -> dict[str, ChannelSettings]:
    """`settings_of` for many channels in one query."""
    wanted = list(dict.fromkeys(channel_ids))
    rows = {
        row.channel_id: row
        for row in s.scalars(select(Channel).where(Channel.channel_id.in_(wanted)))
    }
    return {c: _resolved(c, rows.get(c), default_tz) for c in wanted}


def _set(s: Session, channel_id: str, now: datetime, **values: object) -> None:
    ensure(s, channel_id, now)
    s.execute(
        update(Channel)
        .where(Channel.channel_id == channel_id)
        .values(updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )


def set_tz(s: Session, channel_id: str, tz: str | None, now: datetime) -> None:
    """Set the channel's IANA zone (validated by the caller); None: back to the default."""
    _set(s, channel_id, now, tz=tz)


def set_tz_if_unset(s: Session, channel_id: str, tz: str, now: datetime) -> bool:
    """Give the channel this zone unless it has one (a race with `/diplo tz` keeps that)."""
    ensure(s, channel_id, now)
    result = s.execute(
        update(Channel)
        .where(Channel.channel_id == channel_id, Channel.tz.is_(None))
        .values(tz=tz, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(rowcount(result))


def set_reminders(s: Session, channel_id: str, offsets: Sequence[int], now: datetime) -> None:
    """Remind this many minutes before exact-dated contacts; () turns reminders off."""
    _set(s, channel_id, now, reminders=offsets_column(offsets))


def set_flood_budget(s: Session, channel_id: str, budget: int | None, now: datetime) -> None:
    """Story messages an hour before "more stories" folds them; 0: none; None: the default."""
    _set(s, channel_id, now, flood_budget=budget)


def pause(s: Session, channel_id: str, reason: str, now: datetime | None = None) -> bool:
    """Pause a channel Slack refuses to post to; False when it was paused already."""
    when = now or utcnow()
    ensure(s, channel_id, when)
    result = s.execute(
        update(Channel)
        .where(Channel.channel_id == channel_id, Channel.paused_reason.is_(None))
        .values(paused_reason=reason[:500], updated_at=when)
        .execution_options(synchronize_session=False)
    )
    return bool(rowcount(result))


def resume(s: Session, channel_id: str, now: datetime) -> str | None:
    """Resume a paused channel; returns why it was paused (None: it was not)."""
    reason = s.scalar(select(Channel.paused_reason).where(Channel.channel_id == channel_id))
    if reason is not None:
        _set(s, channel_id, now, paused_reason=None)
    return reason


def paused_reasons(s: Session, channel_ids: Iterable[str] | None = None) -> dict[str, str]:
    """Why each paused channel (of `channel_ids`, or every one) is paused."""
    query = select(Channel.channel_id, Channel.paused_reason).where(
        Channel.paused_reason.is_not(None)
    )
    if channel_ids is not None:
        query = query.where(Channel.channel_id.in_(list(channel_ids)))
    return {c: r for c, r in s.execute(query.order_by(Channel.channel_id)).tuples() if r}


def paused_ids() -> Select[str]:
    """A subquery of the paused channels' ids (for `NOT IN` filters)."""
    return select(Channel.channel_id).where(Channel.paused_reason.is_not(None))


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
