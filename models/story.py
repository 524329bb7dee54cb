"""Stories (one real-world contact each) and contacts (one relevant item's record of it).

`stories` holds what clustering needs (news.cluster.StoryState) plus what a story message
shows (stage, place, scheduled date, source count, official readouts). `contacts` has one row
per item in a story. `story_people` and `story_topics` index stories by person and by topic,
so the candidate lookup and "topic = trade" queries use an index, not a scan.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.db import Base, UTCDateTime
from news.cluster import StoryState
from news.dates import When


class Story(Base):
    """One story: a call, meeting, visit or round of talks, from announcement to outcome."""

    __tablename__ = "stories"
    __table_args__ = (
        Index("ix_stories_open", "open_until", "open_from"),
        Index("ix_stories_region_open", "region", "open_until"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(160), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    kinds: Mapped[str] = mapped_column(Text, default="{}")  # JSON {kind: items}
    stage: Mapped[str] = mapped_column(String(16))  # planned|held|readout|outcome|postponed
    parties_us: Mapped[str] = mapped_column(String(500), default="")  # comma-separated keys
    parties_china: Mapped[str] = mapped_column(String(500), default="")
    place: Mapped[str | None] = mapped_column(String(60))
    region: Mapped[str | None] = mapped_column(String(60))
    forum: Mapped[str | None] = mapped_column(String(30))
    place_name: Mapped[str | None] = mapped_column(String(100))  # as shown: "Busan"
    scheduled_start: Mapped[date | None] = mapped_column(Date)
    scheduled_end: Mapped[date | None] = mapped_column(Date)
    scheduled_precision: Mapped[str | None] = mapped_column(String(16))
    scheduled_text: Mapped[str | None] = mapped_column(String(200))
    scheduled_day: Mapped[date | None] = mapped_column(Date)  # the item that gave the date
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    held_first: Mapped[date | None] = mapped_column(Date)
    held_last: Mapped[date | None] = mapped_column(Date)
    open_from: Mapped[date] = mapped_column(Date)  # items from these days can still join
    open_until: Mapped[date] = mapped_column(Date)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    item_count: Mapped[int] = mapped_column(Integer, default=0)
    source_count: Mapped[int] = mapped_column(Integer, default=0)
    readout_us: Mapped[bool] = mapped_column(Boolean, default=False)
    readout_china: Mapped[bool] = mapped_column(Boolean, default=False)
    confirmed_by_official: Mapped[bool] = mapped_column(Boolean, default=False)
    grams: Mapped[str] = mapped_column(Text, default="")  # headline trigrams, space-separated

    @property
    def when(self) -> When | None:
        """The scheduled date, if any item gave one."""
        if self.scheduled_start is None or self.scheduled_end is None:
            return None
        return When(
            self.scheduled_start,
            self.scheduled_end,
            self.scheduled_precision or "day",  # type: ignore[arg-type]
            self.scheduled_text or "",
        )

    def state(self) -> StoryState:
        """The clustering view of this row."""
        return StoryState(
            key=self.key,
            us={p for p in self.parties_us.split(",") if p},
            china={p for p in self.parties_china.split(",") if p},
            kinds={k: int(v) for k, v in json.loads(self.kinds or "{}").items()},
            place=self.place,
            region=self.region,
            forum=self.forum,
            when=self.when,
            first=self.first_day,
            last=self.last_day,
            stage=self.stage,  # type: ignore[arg-type]
            held_first=self.held_first,
            held_last=self.held_last,
            when_day=self.scheduled_day,
            grams=set(self.grams.split()),
            size=self.item_count,
        )

    def take(self, state: StoryState) -> None:
        """Copy a clustering view back into this row."""
        self.kind = state.kind
        self.kinds = json.dumps(state.kinds, sort_keys=True)
        self.stage = state.stage
        self.parties_us = ",".join(sorted(state.us))
        self.parties_china = ",".join(sorted(state.china))
        self.place, self.region, self.forum = state.place, state.region, state.forum
        when = state.when
        self.scheduled_start = when.start if when else None
        self.scheduled_end = when.end if when else None
        self.scheduled_precision = when.precision if when else None
        self.scheduled_text = when.text[:200] if when else None
        self.scheduled_day = state.when_day
        self.first_day, self.last_day = state.first, state.last
        self.held_first, self.held_last = state.held_first, state.held_last
        self.open_from, self.open_until = state.horizon()
        self.item_count = state.size
        self.grams = " ".join(sorted(state.grams))


class Contact(Base):
    """One relevant item's record of its story's contact (one row per item)."""

    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), unique=True)
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE"), index=True)
    stage: Mapped[str] = mapped_column(String(16))  # the item's stage within the story
    kind: Mapped[str] = mapped_column(String(16))
    parties_us: Mapped[str] = mapped_column(String(500), default="")
    parties_china: Mapped[str] = mapped_column(String(500), default="")
    place: Mapped[str | None] = mapped_column(String(60))
    when_start: Mapped[date | None] = mapped_column(Date)
    when_end: Mapped[date | None] = mapped_column(Date)
    when_precision: Mapped[str | None] = mapped_column(String(16))
    when_text: Mapped[str | None] = mapped_column(String(200))
    side: Mapped[str | None] = mapped_column(String(8))  # us|china: an official account
    source_name: Mapped[str] = mapped_column(String(300), default="")
    source_kind: Mapped[str] = mapped_column(String(20), default="other")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class StoryPerson(Base):
    """A person in a story, side-tagged ("us:trump"): the candidate lookup's index."""

    __tablename__ = "story_people"
    __table_args__ = (UniqueConstraint("person", "story_id", name="uq_story_people"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE"), index=True)
    person: Mapped[str] = mapped_column(String(80))


class StoryTopic(Base):
    """A topic of a story (from its items' verdicts), for "topic = trade" queries."""

    __tablename__ = "story_topics"
    __table_args__ = (UniqueConstraint("topic", "story_id", name="uq_story_topics"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE"), index=True)
    topic: Mapped[str] = mapped_column(String(40))


def open_candidates(
    s: Session, people: Sequence[str], region: str | None, kind: str, first: date, last: date
) -> list[Story]:
    """Stories open on some day in first..last that share a person (else the venue/kind).

    Uses the (person, story) and (open_until, open_from) indexes: never a scan of all stories.
    """
    query = select(Story).where(Story.open_until >= first, Story.open_from <= last)
    if people:
        query = query.where(
            Story.id.in_(select(StoryPerson.story_id).where(StoryPerson.person.in_(people)))
        )
    elif region:
        query = query.where(Story.region == region)
    else:
        query = query.where(Story.kind == kind)
    return list(s.scalars(query.order_by(Story.id)))


def stories_with_topic(s: Session, topic: str, limit: int = 50) -> list[Story]:
    """The latest stories with a topic (indexed on story_topics.topic)."""
    ids = select(StoryTopic.story_id).where(StoryTopic.topic == topic)
    query = select(Story).where(Story.id.in_(ids)).order_by(Story.last_seen.desc()).limit(limit)
    return list(s.scalars(query))


def contacts_of(s: Session, story_id: int) -> list[Contact]:
    """A story's contacts, oldest first."""
    query = select(Contact).where(Contact.story_id == story_id).order_by(Contact.id)
    return list(s.scalars(query))


def key_taken(s: Session, key: str) -> bool:
    """Whether a story already has this key."""
    return s.scalar(select(Story.id).where(Story.key == key)) is not None


def has_source(s: Session, story_id: int, source_name: str) -> bool:
    """Whether the story already has an item from this outlet."""
    query = select(Contact.id).where(
        Contact.story_id == story_id, Contact.source_name == source_name
    )
    return s.scalar(query.limit(1)) is not None
