"""Reminders before planned contacts: queued when due, checked again when sent.

`queue_reminders` runs every DIPLO_SCHEDULE_SECONDS (30 s; jobs/scheduler.py; tests call it
with an explicit `now`). For each planned contact with an exact date (news.reminders) in the
next 15 days and each channel subscribed to one of its topics (not paused, reminders on), it
queues the reminder whose time has come as a REMIND row of the outbox, keyed
`{story}:{offset}:{start}`: insert-ignore on `ux_alerts_keyed` makes it once per channel
across replicas and restarts, and a contact whose date moves gets a new key (the reminder
moves). Postponed or held contacts are not planned any more, so nothing is queued.

`render_reminder` (called by jobs/deliver.py at send time) renders from the story as it
is then, and skips a reminder that is out of date: the story left `planned`, its date
moved, the contact began, a nearer reminder is due, or the channel turned reminders off.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import TYPE_CHECKING

from handlers.blocks import Message, reminder_message
from models.channel import settings_by_channel, settings_of
from models.outbox import REMIND, AlertJob, enqueue_keyed
from models.subscription import channels_for
from models.upcoming import reminder_candidates, topics_of, upcoming_contact
from news.reminders import contact_start, due_offset, superseded_at

if TYPE_CHECKING:
    from deps import Deps

logger = logging.getLogger(__name__)


def reminder_key(story_id: int, offset: int, start: datetime) -> str:
    """The outbox key of one reminder: a new start (the date moved) is a new reminder."""
    return f"{story_id}:{offset}:{start.isoformat()}"


def queue_reminders(deps: Deps, now: datetime | None = None) -> int:
    """Queue every reminder due at `now` (default: the clock); returns how many are new."""
    now = now or deps.clock()
    queued = 0
    with deps.sessions.begin() as s:
        contacts = reminder_candidates(s, now)
        topics = topics_of(s, [c.story_id for c in contacts])
        for contact in contacts:
            day = contact.exact_day
            channels = channels_for(s, topics.get(contact.story_id, []))
            if day is None or not channels:
                continue
            for channel, cs in settings_by_channel(s, channels, deps.settings.default_tz).items():
                if not cs.reminders or cs.paused:
                    continue
                start = contact_start(day, contact.local_zone(cs.zone))
                offset = due_offset(start, cs.reminders, now)
                if offset is None:
                    continue
                payload = {
                    "offset": offset,
                    "start": start.isoformat(),
                    "until": superseded_at(start, cs.reminders, offset).isoformat(),
                }
                key = reminder_key(contact.story_id, offset, start)
                new = enqueue_keyed(
                    s,
                    channel,
                    REMIND,
                    key,
                    now,
                    payload=json.dumps(payload),
                    story_id=contact.story_id,
                )
                if new is not None:
                    queued += 1
                    logger.info("reminder %s queued for %s", key, channel)
    return queued


def render_reminder(deps: Deps, job: AlertJob) -> Message | str:
    """The reminder's message, rendered now; or why it is skipped (out of date)."""
    try:
        payload = json.loads(job.payload or "")
        start = datetime.fromisoformat(payload["start"])
        until = datetime.fromisoformat(payload["until"])
    except (ValueError, KeyError, TypeError):
        return "bad_payload"
    now = deps.clock()
    if job.story_id is None:
        return "no_story"
    with deps.sessions() as s:
        contact = upcoming_contact(s, job.story_id, job.channel)
        cs = settings_of(s, job.channel, deps.settings.default_tz)
    if contact is None:
        return "not_planned"  # held, postponed, or gone
    day = contact.exact_day
    if day is None or contact_start(day, contact.local_zone(cs.zone)) != start:
        return "rescheduled"
    if not cs.reminders:
        return "reminders_off"
    if now >= start:
        return "contact_started"
    if now >= until:
        return "superseded"  # a nearer reminder is due: it says the right time
    link = None
    if contact.story_ts is not None:
        link = deps.sender.permalink(job.channel, contact.story_ts)
    return reminder_message(contact, start, now, cs.zone, link)
