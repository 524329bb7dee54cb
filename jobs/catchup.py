"""Catch-ups: after quiet hours or an outage, one message per channel instead of the backlog.

`catch_up(deps)` runs every ~20 s (jobs/scheduler.py) and once from tests with `now`: in one
transaction per run it inserts each due CATCHUP row and marks the alerts it stands for
FOLDED (models.fold.fold_due). `render_folded` builds a CATCHUP or MORE message at send
time from its payload and the stories as they are then (current stage, sources).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from handlers.blocks import Message, catchup_message, more_stories_message
from models.db import serialize
from models.fold import FoldPolicy, fold_due
from models.item import Item, ItemView
from models.outbox import CATCHUP, AlertJob
from models.story_view import load_story
from settings import Settings

if TYPE_CHECKING:
    from deps import Deps

logger = logging.getLogger(__name__)

CATCHUP_LOCK = "diplo:catchup"  # PostgreSQL: one replica folds at a time
CATCHUP_SECONDS = 20


def fold_policy(settings: Settings) -> FoldPolicy:
    """The folding defaults from the configuration."""
    return FoldPolicy(
        default_tz=settings.default_tz,
        catchup_after=timedelta(seconds=settings.catchup_after),
        flood_budget=settings.flood_budget,
    )


def catch_up(deps: Deps, now: datetime | None = None) -> list[int]:
    """Insert the catch-ups due at `now` (default: the clock); returns their alert ids."""
    now = now or deps.clock()
    with deps.sessions.begin() as s:
        serialize(s, CATCHUP_LOCK)
        made = fold_due(s, now, fold_policy(deps.settings), deps.sender.kind)
    if made:
        logger.info("catch-up messages queued: %s", made)
        deps.deliver_now.set()
    return made


def render_folded(sessions: sessionmaker[Session], job: AlertJob, tz: tzinfo) -> Message:
    """The CATCHUP or MORE message of `job`, from its payload and the current stories.

    `tz`: the channel's zone, for the times.
    """
    try:
        payload = json.loads(job.payload or "{}")
    except ValueError:
        payload = {}
    if not isinstance(payload, dict):
        payload = {}
    story_ids = [i for i in payload.get("stories", []) if isinstance(i, int)]
    item_ids = [i for i in payload.get("items", []) if isinstance(i, int)]
    with sessions() as s:
        stories = [v for v in (load_story(s, i) for i in story_ids) if v is not None]
        items = [ItemView.of(i) for i in s.scalars(select(Item).where(Item.id.in_(item_ids)))]
    items.sort(key=lambda i: item_ids.index(i.id))
    since = _when(payload.get("since"))
    if job.op == CATCHUP:
        reason = str(payload.get("reason") or "quiet")
        until = _when(payload.get("until"))
        return catchup_message(reason, since, until, stories, items, tz)
    return more_stories_message(stories, since, tz)


def _when(raw: object) -> datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        return None
