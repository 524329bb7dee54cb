"""Build stories in the test database the way the bot does (helpers shared by story tests)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta

from deps import Deps
from models.item import Item
from models.outbox import enqueue_story


def add_story(
    deps: Deps,
    story_id: int,
    reports: Sequence[tuple[str, str]],
    channels: Sequence[str] = ("C1",),
    topics: str = "call",
) -> list[int]:
    """Store (outlet, title) reports of one story, oldest first, queued for `channels`."""
    now = deps.clock()
    ids = []
    with deps.sessions.begin() as s:
        for n, (outlet, title) in enumerate(reports):
            item = Item(
                feed_id=None,
                dedup_key=uuid.uuid4().hex * 2,
                title_key=uuid.uuid4().hex,
                url="https://news.example/" + uuid.uuid4().hex[:8],
                title=title,
                summary="",
                source=outlet,
                published_at=now + timedelta(minutes=n),
                fetched_at=now,
                label="relevant",
                score=1.0,
                topics=topics,
                reasons="[]",
            )
            s.add(item)
            s.flush()
            enqueue_story(s, story_id, item.id, channels, now)
            ids.append(item.id)
    return ids
