"""Put relevant items into stories in the database, and say what changed for delivery.

Runs in the caller's transaction (the one that stores and classifies the items), so an item
is never stored without its story. Candidates are loaded with an indexed query
(models.story.open_candidates); the decision is news.cluster.assign, the same pure step the
CLI and the benchmark run.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.item import Item
from models.story import (
    Contact,
    Story,
    StoryPerson,
    StoryTopic,
    has_source,
    key_taken,
    open_candidates,
)
from news.cluster import (
    MAX_WHEN_WEEKS,
    Features,
    add_item,
    assign,
    features,
    item_stage,
    open_story,
    story_key,
)
from news.contact import Stage, extract_contact
from news.relevance import Verdict
from news.sources import Source, SourceBook, default_sources

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StoryChange:
    """What one item did to its story; the delivery side turns these into message operations.

    `new`: the item opened the story (post a story message). `advanced`: the story's stage
    moved on (broadcast the reply). `stage`: the story's stage now; `item_stage`: this
    item's stage in it. `new_source`: the item is the story's first from its outlet.
    `urgent` (may bypass quiet hours): "held" when the item took a planned (or postponed)
    contact to held or beyond, "confirmed" when it is the first official source's word on a
    contact that is still planned; else None.
    """

    story_id: int
    story_key: str
    item_id: int
    new: bool
    advanced: bool
    stage: Stage
    item_stage: Stage
    new_source: bool
    urgent: str | None = None


TOOK_PLACE = ("held", "readout", "outcome")


def assign_stories(
    s: Session,
    items_with_verdicts: Sequence[tuple[Item, Verdict]],
    now: datetime,
    sources: SourceBook | None = None,
) -> list[StoryChange]:
    """Assign each relevant item (not yet in a story) to a story; returns the changes in order.

    Items must be flushed (have ids). Irrelevant items and items that already have a contact
    row are skipped, so running it twice changes nothing.
    """
    book = sources or default_sources()
    changes: list[StoryChange] = []
    for item, verdict in items_with_verdicts:
        if not verdict.relevant or item.id is None:
            continue
        if _has_contact(s, item.id):
            continue
        changes.append(_assign_one(s, item, verdict, book, now))
    s.flush()
    return changes


def _has_contact(s: Session, item_id: int) -> bool:
    return s.scalar(select(Contact.id).where(Contact.item_id == item_id)) is not None


def _assign_one(
    s: Session, item: Item, verdict: Verdict, book: SourceBook, now: datetime
) -> StoryChange:
    source = _item_source(book, item)
    published = item.published_at or item.fetched_at or now
    contact = extract_contact(item.title, item.summary or "", published, verdict, source)
    f = features(contact, item.title, published)
    rows = {row.key: row for row in _candidates(s, f)}
    states = {key: row.state() for key, row in rows.items()}
    key = assign(f, states.values())
    if key is None:
        stage: Stage = f.stage
        state = open_story(_free_key(s, story_key(f)), f, stage)
        row = Story(key=state.key, first_seen=now, last_seen=now, source_count=0)
        row.take(state)
        s.add(row)
        s.flush()
        new, advanced = True, True
        before_people: set[str] = set()
        before_stage: str | None = None
    else:
        row, state = rows[key], states[key]
        stage = item_stage(f, state)
        before = before_stage = state.stage
        before_people = _people(state.us, state.china)
        add_item(state, f, stage)
        row.take(state)
        row.last_seen = max(row.last_seen, now)
        new, advanced = False, state.stage != before
    for person in sorted(_people(state.us, state.china) - before_people):
        s.add(StoryPerson(story_id=row.id, person=person))
    urgent = _urgency(s, row.id, before_stage, state.stage, contact.side)
    new_source = not has_source(s, row.id, source.name)
    row.source_count += new_source
    if contact.side == "us" and stage == "readout":
        row.readout_us = True
    if contact.side == "china" and stage == "readout":
        row.readout_china = True
    row.confirmed_by_official = row.readout_us or row.readout_china
    row.place_name = row.place_name or contact.where
    when = contact.when
    s.add(
        Contact(
            item_id=item.id,
            story_id=row.id,
            stage=stage,
            kind=contact.kind if contact.kind_said else "",
            parties_us=",".join(contact.parties_us),
            parties_china=",".join(contact.parties_china),
            place=contact.place,
            when_start=when.start if when else None,
            when_end=when.end if when else None,
            when_precision=when.precision if when else None,
            when_text=when.text[:200] if when else None,
            side=contact.side,
            source_name=source.name[:300],
            source_kind=source.kind,
            created_at=now,
        )
    )
    for topic in verdict.topics:
        if not _has_topic(s, row.id, topic):
            s.add(StoryTopic(story_id=row.id, topic=topic))
    s.flush()
    logger.debug("item %s -> story %s (%s, %s)", item.id, row.key, stage, row.stage)
    story_stage: Stage = state.stage
    return StoryChange(
        row.id, row.key, item.id, new, advanced, story_stage, stage, new_source, urgent
    )


def _urgency(
    s: Session, story_id: int, before: str | None, after: str, side: str | None
) -> str | None:
    """Why this item may bypass quiet hours (see StoryChange), before its contact row is added."""
    if before in ("planned", "postponed") and after in TOOK_PLACE:
        return "held"
    if after == "planned" and side is not None:
        earlier = select(Contact.id).where(Contact.story_id == story_id, Contact.side.is_not(None))
        if s.scalar(earlier.limit(1)) is None:
            return "confirmed"
    return None


def _item_source(book: SourceBook, item: Item) -> Source:
    """The outlet stored on the item at ingest (its side from the book's readout kinds)."""
    if item.source_kind is None:  # an item stored without attribution
        return book.recognise(item.source, item.url)
    return book.stored(
        item.source, item.source_kind, item.source_country or "", item.source_domain or ""
    )


def _candidates(s: Session, f: Features) -> list[Story]:
    first = last = f.day
    if f.when is not None:
        first = min(first, f.when.start)
        last = max(last, min(f.when.end, f.when.start + timedelta(weeks=MAX_WHEN_WEEKS)))
    people = sorted(f.people)
    if not people and not f.region and f.kind is None:
        return []
    return open_candidates(s, people, f.region, f.kind or "", first, last)


def _people(us: set[str], china: set[str]) -> set[str]:
    return {*(f"us:{p}" for p in us), *(f"china:{p}" for p in china)}


def _has_topic(s: Session, story_id: int, topic: str) -> bool:
    query = select(StoryTopic.id).where(StoryTopic.story_id == story_id, StoryTopic.topic == topic)
    return s.scalar(query) is not None


def _free_key(s: Session, base: str) -> str:
    key, n = base[:150], 1
    while key_taken(s, key):
        n += 1
        key = f"{base[:150]}-{n}"
    return key
