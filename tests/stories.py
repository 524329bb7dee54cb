"""Build stories in the test database the way the bot does (helpers shared by story tests)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from deps import Deps
from models.item import Item
from models.outbox import enqueue_story
from models.story import Contact, Story, StoryTopic

EPOCH = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # the test clock's start


def ensure_story(s: Session, story_id: int, stage: str, topics: str = "call") -> Story:
    """The story row `story_id`, created (a Trump–Xi call) if missing; its stage set."""
    story = s.get(Story, story_id)
    now = s.info.get("now")
    if story is None:
        day = (now or EPOCH).date()
        story = Story(
            id=story_id,
            key=f"test-story-{story_id}",
            kind="call",
            stage=stage,
            parties_us="trump",
            parties_china="xi",
            first_day=day,
            last_day=day,
            open_from=day,
            open_until=day + timedelta(days=10),
            first_seen=now or EPOCH,
            last_seen=now or EPOCH,
        )
        s.add(story)
        for topic in topics.split(","):
            s.add(StoryTopic(story_id=story_id, topic=topic))
        s.flush()
    story.stage = stage
    if now is not None:
        story.last_seen = max(story.last_seen, now)
    return story


def store_item(
    s: Session,
    deps: Deps,
    story_id: int,
    outlet: str,
    title: str,
    *,
    stage: str = "planned",
    side: str | None = None,
    topics: str = "call",
    minutes: int = 0,
) -> int:
    """Store one relevant item of the story (with its contact row); returns its id."""
    now = deps.clock()
    s.info["now"] = now
    ensure_story(s, story_id, stage, topics)
    item = Item(
        feed_id=None,
        dedup_key=uuid.uuid4().hex * 2,
        title_key=uuid.uuid4().hex,
        url="https://news.example/" + uuid.uuid4().hex[:8],
        title=title,
        summary="",
        source=outlet,
        published_at=now + timedelta(minutes=minutes),
        fetched_at=now,
        label="relevant",
        score=1.0,
        topics=topics,
        reasons="[]",
    )
    s.add(item)
    s.flush()
    s.add(
        Contact(
            item_id=item.id,
            story_id=story_id,
            stage=stage,
            kind="call",
            side=side,
            source_name=outlet,
            created_at=now,
        )
    )
    s.flush()
    return item.id


def add_story(
    deps: Deps,
    story_id: int,
    reports: Sequence[tuple[str, str]],
    channels: Sequence[str] = ("C1",),
    topics: str = "call",
) -> list[int]:
    """Store (outlet, title) reports of one story, oldest first, queued for `channels`."""
    ids = []
    with deps.sessions.begin() as s:
        for n, (outlet, title) in enumerate(reports):
            item = store_item(s, deps, story_id, outlet, title, topics=topics, minutes=n)
            enqueue_story(s, story_id, item, channels, deps.clock())
            ids.append(item)
    return ids
