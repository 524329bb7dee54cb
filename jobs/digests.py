"""Queue each channel's digest when it is due: once per period, across replicas and restarts.

Scheduled every DIPLO_SCHEDULE_SECONDS (jobs/scheduler.py), and run once from tests with an
explicit `now`. For every channel with a schedule, the latest due time at or before `now`
(its local wall-clock time, news/schedule.py) closes a period; one DIGEST row keyed by the
period's start is inserted with insert-ignore, so however many processes run this, and
however often, the period gets one digest. No row is ever inserted ahead of time.

Downtime: a digest whose time passed while diplo was down is posted late (and says so) when
diplo comes back within the same period; once the next digest is due, that one is posted
instead (it covers the time since). A digest due before the channel's settings last changed
is not posted late: setting `daily 07:00` at 07:30 starts tomorrow, not at once.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from models.channel import DigestSchedule, digest_schedules
from models.db import serialize
from models.outbox import DIGEST, enqueue_keyed, keyed_since
from news.schedule import EVERY, Every, Period, due_period
from news.zones import zone

if TYPE_CHECKING:
    from deps import Deps

logger = logging.getLogger(__name__)

LATE_AFTER = timedelta(minutes=10)  # inserted later than this after its time: "posted late"
NOW_DAYS = {"daily": 1, "weekly": 7}  # `digest now` covers the channel's period length
NOW_AGAIN = timedelta(minutes=1)  # a second `digest now` sooner than this is the same click


@dataclass(frozen=True, slots=True)
class DigestPayload:
    """What a DIGEST row renders from (JSON in `alerts.payload`)."""

    kind: str  # daily | weekly | now
    start: datetime
    end: datetime
    late: bool = False

    def to_json(self) -> str:
        """The payload as stored."""
        return json.dumps(
            {
                "kind": self.kind,
                "start": self.start.isoformat(),
                "end": self.end.isoformat(),
                "late": self.late,
            }
        )

    @classmethod
    def from_json(cls, raw: str | None) -> DigestPayload:
        """Parse a stored payload (raises ValueError/KeyError/TypeError when malformed)."""
        data = json.loads(raw or "")
        return cls(
            kind=str(data["kind"]),
            start=datetime.fromisoformat(data["start"]),
            end=datetime.fromisoformat(data["end"]),
            late=bool(data.get("late", False)),
        )


def due_digest(schedule: DigestSchedule, now: datetime, default_tz: str) -> DigestPayload | None:
    """The digest due for this channel at `now` (already queued or not), or None."""
    every = schedule.every
    if every not in EVERY or schedule.at is None or schedule.paused:
        return None
    kind: Every = "weekly" if every == "weekly" else "daily"
    local = zone(schedule.tz, default_tz)
    period: Period = due_period(kind, schedule.weekday, schedule.at, local, now)
    if schedule.updated_at is not None and period.end < schedule.updated_at:
        return None  # due before the settings changed: the next one is the first
    return DigestPayload(kind, period.start, period.end, late=now - period.end > LATE_AFTER)


def queue_due_digests(deps: Deps, now: datetime | None = None) -> int:
    """Insert the digests due at `now` not queued yet; returns how many were new."""
    now = now or deps.clock()
    default_tz = deps.settings.default_tz
    queued = 0
    with deps.sessions.begin() as s:
        for schedule in digest_schedules(s):
            due = due_digest(schedule, now, default_tz)
            if due is None:
                continue
            key = due.start.isoformat()
            if enqueue_keyed(s, schedule.channel_id, DIGEST, key, now, payload=due.to_json()):
                queued += 1
                logger.info(
                    "digest for %s queued (period from %s%s)",
                    schedule.channel_id,
                    key,
                    ", late" if due.late else "",
                )
    return queued


def queue_digest_now(deps: Deps, channel_id: str, every: str | None) -> bool:
    """`/diplo digest now`: one digest of the last day (a week if weekly) at once.

    A double click posts one, at any replica: False when the channel's last `digest now`
    was queued less than NOW_AGAIN ago. The check and the insert hold the channel's lock
    (two clicks either side of a minute would otherwise get two keys); the key, by the
    minute, is the last guard.
    """
    now = deps.clock()
    start = now - timedelta(days=NOW_DAYS.get(every or "daily", 1))
    payload = DigestPayload("now", start, now)
    key = "now:" + now.replace(second=0, microsecond=0).isoformat()
    with deps.sessions.begin() as s:
        serialize(s, f"digest-now:{channel_id}")
        if keyed_since(s, channel_id, DIGEST, "now:", now - NOW_AGAIN):
            return False
        return enqueue_keyed(s, channel_id, DIGEST, key, now, payload=payload.to_json()) is not None
