"""When a planned contact's reminders are due: its start, the offsets, the words for them. Pure.

A contact has an **exact date** when the source named its day: `When.precision` "day"
("on Oct 31", "Friday", "10月31日"), or a span of named days ("Oct 30-31"; its first day).
Sources give no time of day, so the contact's start is 00:00 of that day where it happens
(the place's zone; the channel's zone when the place is unknown, as for a phone call), and
"24 hours before" is 00:00 the day before there. Vaguer dates ("next week", "early March")
get no reminders.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta, tzinfo

MAX_OFFSETS = 3
MAX_OFFSET = 14 * 24 * 60  # minutes: 14 days
DEFAULT_OFFSETS = (1440, 60)
_UNITS = {"m": 1, "h": 60, "d": 1440}
_OFFSET = re.compile(r"(\d{1,5})\s*(m|min|mins|minutes?|h|hr|hrs|hours?|d|days?)", re.IGNORECASE)


class BadOffsets(ValueError):
    """`/diplo remind` arguments that are not 1–3 durations like 24h, 90m or 2d."""


def parse_offsets(words: Sequence[str]) -> tuple[int, ...]:
    """`["24h", "1h"]` → (1440, 60): minutes before the contact, largest first, no repeats."""
    if not words:
        raise BadOffsets("Give one to three durations, like `24h 1h`, or `off`.")
    found: list[int] = []
    for word in words:
        m = _OFFSET.fullmatch(word.strip().rstrip(","))
        if m is None:
            raise BadOffsets(f"{word[:20]!r} is not a duration like 24h, 90m or 2d.")
        minutes = int(m.group(1)) * _UNITS[m.group(2)[0].lower()]
        if not 1 <= minutes <= MAX_OFFSET:
            raise BadOffsets(f"{word[:20]!r}: a reminder comes 1 minute to 14 days before.")
        found.append(minutes)
    unique = sorted(set(found), reverse=True)
    if len(unique) > MAX_OFFSETS:
        raise BadOffsets(f"At most {MAX_OFFSETS} reminders per contact.")
    return tuple(unique)


def stored_offsets(raw: str | None) -> tuple[int, ...]:
    """`channels.reminders` ("1440,60"; "" = off) as minutes, largest first; junk is ignored."""
    if raw is None:
        return DEFAULT_OFFSETS
    values = {int(p) for p in raw.split(",") if p.strip().isdigit()}
    return tuple(sorted((v for v in values if 1 <= v <= MAX_OFFSET), reverse=True))


def offsets_column(offsets: Sequence[int]) -> str:
    """The `channels.reminders` value of `offsets` ("" = off)."""
    return ",".join(str(m) for m in sorted(set(offsets), reverse=True))


def offset_text(minutes: int) -> str:
    """1440 → "24h", 2880 → "2d", 90 → "90m": as `/diplo remind` takes it."""
    if minutes % 1440 == 0 and minutes >= 2880:
        return f"{minutes // 1440}d"
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"


def duration_words(delta: timedelta) -> str:
    """A time left in words, rounded: "2 days", "23 hours", "1 hour 30 minutes", "45 minutes"."""
    minutes = max(1, round(delta.total_seconds() / 60))
    if minutes >= 2850:  # 47.5 hours
        return _count(round(minutes / 1440), "day")
    hours, rest = divmod(minutes, 60)
    if not hours:
        return _count(rest, "minute")
    if rest and hours < 3:
        return f"{_count(hours, 'hour')} {_count(rest, 'minute')}"
    return _count(round(minutes / 60), "hour")


def _count(n: int, unit: str) -> str:
    return f"{n} {unit}" + ("" if n == 1 else "s")


def exact_day(start: date | None, precision: str | None, text: str | None) -> date | None:
    """The contact's day when the source named it (see the module docstring), else None."""
    if start is None:
        return None
    if precision == "day":
        return start
    if precision == "days" and any(ch.isdigit() for ch in text or ""):
        return start
    return None


def contact_start(day: date, zone: tzinfo) -> datetime:
    """When a contact on `day` starts for reminders: 00:00 that day in `zone`, in UTC.

    In UTC, so "24 hours before" is 24 real hours: Python subtracts wall-clock time
    from datetimes in one zone, which is an hour off across a DST change.
    """
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def due_offset(start: datetime, offsets: Sequence[int], now: datetime) -> int | None:
    """The one reminder to queue at `now`: the nearest offset whose time has come.

    None before the first one and once the contact started. When several are due (diplo
    was down), only the nearest is sent: a late "24 hours" reminder an hour before the
    contact would say the wrong thing, and the "1 hour" one says the right one.
    """
    if now >= start:
        return None
    due = [m for m in offsets if start - timedelta(minutes=m) <= now]
    return min(due) if due else None


def superseded_at(start: datetime, offsets: Sequence[int], offset: int) -> datetime:
    """When the reminder `offset` is out of date: the next smaller one's time, or the start."""
    smaller = [m for m in offsets if m < offset]
    return start - timedelta(minutes=max(smaller)) if smaller else start
