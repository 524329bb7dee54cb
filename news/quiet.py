"""Quiet hours: parse a window ("22:00-07:00") and say when it is quiet, in a channel's zone.

Pure: no clock, no database. A window is a wall-clock span in the channel's time zone that
may cross midnight. Each night it is one continuous stretch of real time, from the first
instant the local clock shows the start to the first instant it then shows the end. So a
start or end the clock skips (spring forward) is met at the jump, and one it shows twice
(fall back) counts at its first showing: the window never opens twice in a night.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

URGENT_POLICIES = ("none", "held", "all")  # what may bypass quiet hours (default: all)
URGENT_DEFAULT = "all"
URGENT_KINDS = ("held", "confirmed")  # a planned contact took place; an official confirmed it
DAY_MINUTES = 24 * 60

_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_DASHES = re.compile(r"\s*[-–—]\s*")


class QuietWindowError(ValueError):
    """A quiet window that cannot be read; the message says why, for the user."""


@dataclass(frozen=True, slots=True)
class Window:
    """One night's quiet hours as real time: `start` ≤ t < `end` (UTC)."""

    start: datetime
    end: datetime

    def __contains__(self, when: datetime) -> bool:
        return self.start <= when < self.end


def parse_clock(text: str) -> int:
    """`"07:30"` → 450 (minutes after midnight); 24-hour HH:MM only."""
    m = _CLOCK.match(text.strip())
    if m is None:
        raise QuietWindowError(f"{text.strip()!r} is not a time of day: use HH:MM, like 22:00.")
    return int(m.group(1)) * 60 + int(m.group(2))


def parse_window(text: str) -> tuple[int, int]:
    """`"22:00-07:00"` → (1320, 420): start and end in minutes after local midnight."""
    parts = _DASHES.split(text.strip())
    if len(parts) != 2 or not all(parts):
        raise QuietWindowError("Give the window as START-END, like 22:00-07:00.")
    start, end = parse_clock(parts[0]), parse_clock(parts[1])
    if start == end:
        raise QuietWindowError("The window starts and ends at the same time.")
    return start, end


def clock_text(minutes: int) -> str:
    """450 → `"07:30"`."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def bypasses(policy: str, kind: str | None) -> bool:
    """Whether an alert of urgency `kind` is posted during quiet hours under `policy`."""
    if kind is None or policy == "none":
        return False
    return policy == "all" or policy == kind


def wall_instant(day: date, minutes: int, tz: ZoneInfo) -> datetime:
    """The first instant (UTC) at which the clock in `tz` shows `minutes` of `day` or later.

    An ambiguous time (shown twice) gives its first showing; a skipped one, the jump.
    """
    naive = datetime.combine(day, time(minutes // 60, minutes % 60))
    a = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    b = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    lo, hi = min(a, b), max(a, b)
    if _wall(lo, tz) >= naive:
        return lo
    while hi - lo > timedelta(seconds=1):  # a gap: find the jump (at most a few hours wide)
        mid = lo + (hi - lo) / 2
        if _wall(mid, tz) >= naive:
            hi = mid
        else:
            lo = mid
    return hi.replace(microsecond=0)


def _wall(when: datetime, tz: ZoneInfo) -> datetime:
    return when.astimezone(tz).replace(tzinfo=None)


def window_of(day: date, tz: ZoneInfo, start: int, end: int) -> Window:
    """The window that starts on local `day` (it ends the next day when it crosses midnight)."""
    end_day = day if end > start else day + timedelta(days=1)
    return Window(wall_instant(day, start, tz), wall_instant(end_day, end, tz))


def _nearby(now: datetime, tz: ZoneInfo, start: int, end: int) -> list[Window]:
    today = now.astimezone(tz).date()
    days = (today - timedelta(days=2), today - timedelta(days=1), today)
    return [window_of(d, tz, start, end) for d in days]


def current_window(now: datetime, tz: ZoneInfo, start: int, end: int) -> Window | None:
    """The quiet window `now` is in, or None."""
    for window in _nearby(now, tz, start, end):
        if now in window:
            return window
    return None


def in_quiet(now: datetime, tz: ZoneInfo, start: int, end: int) -> bool:
    """Whether `now` (aware) is within the quiet hours `start`–`end` of zone `tz`."""
    return current_window(now, tz, start, end) is not None


def window_end(now: datetime, tz: ZoneInfo, start: int, end: int) -> datetime | None:
    """When the quiet window `now` is in ends (UTC), or None outside quiet hours."""
    window = current_window(now, tz, start, end)
    return window.end if window else None


def last_window(now: datetime, tz: ZoneInfo, start: int, end: int) -> Window | None:
    """The most recent window that has ended by `now`."""
    ended = [w for w in _nearby(now, tz, start, end) if w.end <= now and w.start < w.end]
    return max(ended, key=lambda w: w.end) if ended else None
