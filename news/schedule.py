"""When a channel's digest is due: local wall-clock times in its zone, DST included (pure).

A digest is due at `at` (minutes after local midnight) every day, or every week on
`weekday` (0 = Monday). Each due time closes a period that opened at the previous due
time, so a daily period is 23 or 25 hours long across a DST change, and always runs from
08:00 local to 08:00 local. A local time that does not exist (02:30 on the spring-forward
day) falls at the same offset as just before the change (03:30 local); one that happens
twice (01:30 on the fall-back day) is its first occurrence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

Every = Literal["daily", "weekly"]
EVERY: tuple[Every, ...] = ("daily", "weekly")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DEFAULT_AT = 8 * 60  # 08:00
_CLOCK = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")


@dataclass(frozen=True, slots=True)
class Period:
    """What one digest covers: [start, end) in UTC; `end` is when it is due."""

    start: datetime
    end: datetime

    @property
    def key(self) -> str:
        """The outbox key of its digest: the period's start, UTC ISO (unique per channel)."""
        return self.start.astimezone(UTC).isoformat()


def parse_clock(text: str) -> int | None:
    """`08:00` or `8:00` (24-hour) as minutes after midnight; None when it is not a time."""
    m = _CLOCK.fullmatch(text.strip())
    return int(m.group(1)) * 60 + int(m.group(2)) if m else None


def parse_weekday(text: str) -> int | None:
    """`mon`, `Monday`, `tues`… as 0–6 (Monday = 0); None when it is not a day."""
    word = text.strip().lower().rstrip(".")
    if len(word) < 2:
        return None
    found = [n for n, day in enumerate(WEEKDAYS) if day.startswith(word)]
    return found[0] if len(found) == 1 else None


def clock_text(minutes: int) -> str:
    """Minutes after midnight as `HH:MM`."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def at_local(day: date, minutes: int, zone: ZoneInfo) -> datetime:
    """The UTC instant of local wall-clock time `minutes` on `day` in `zone`."""
    wall = datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=zone)
    return wall.astimezone(UTC)


def _due_day(day: date, every: Every, weekday: int | None) -> bool:
    return every == "daily" or day.weekday() == (weekday or 0)


def last_due(every: Every, weekday: int | None, at: int, zone: ZoneInfo, now: datetime) -> datetime:
    """The latest due time at or before `now` (UTC)."""
    day = now.astimezone(zone).date() + timedelta(days=1)  # a due time may lie ahead in UTC
    while True:
        if _due_day(day, every, weekday):
            due = at_local(day, at, zone)
            if due <= now:
                return due
        day -= timedelta(days=1)


def period_ending(every: Every, at: int, at_due: datetime, zone: ZoneInfo) -> Period:
    """The period closed by the due time `at_due`: back to the previous due time (local)."""
    days = 7 if every == "weekly" else 1
    start = at_local(at_due.astimezone(zone).date() - timedelta(days=days), at, zone)
    return Period(start, at_due.astimezone(UTC))


def due_period(every: Every, weekday: int | None, at: int, zone: ZoneInfo, now: datetime) -> Period:
    """The period of the latest digest due at or before `now`."""
    return period_ending(every, at, last_due(every, weekday, at, zone, now), zone)


def next_due(every: Every, weekday: int | None, at: int, zone: ZoneInfo, now: datetime) -> datetime:
    """The first due time after `now` (UTC)."""
    day = now.astimezone(zone).date() - timedelta(days=1)
    while True:
        if _due_day(day, every, weekday):
            due = at_local(day, at, zone)
            if due > now:
                return due
        day += timedelta(days=1)
