"""Planned contacts in the test database the way the bot makes them (shared by issue 11 tests).

Items go through the real path of a poll: stored (save_new), classified, put into stories
and queued for the subscribed channels (jobs.classify.classify_new_items), at the time given.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select

from deps import Deps
from jobs.classify import classify_new_items
from models.feed import add_feed
from models.item import save_new
from models.story import Contact
from news.entry import Entry


def ingest(deps: Deps, reports: Sequence[tuple[str, str]], at: datetime) -> list[int]:
    """Store (title, url) reports published at `at`, as one poll would; their story ids."""
    with deps.sessions.begin() as s:
        feed, _ = add_feed(s, f"https://feed.example/{uuid.uuid4().hex}.xml", at)
        entries = [
            Entry(dedup_key=uuid.uuid4().hex * 2, title=title, url=url, summary="", published=at)
            for title, url in reports
        ]
        items = save_new(s, feed.id, "Wire", entries, at)
        classify_new_items(s, items, deps.classifier, at, alert=True, sources=deps.sources)
        found = [s.scalar(select(Contact.story_id).where(Contact.item_id == i.id)) for i in items]
    return [int(x) for x in found if x is not None]
