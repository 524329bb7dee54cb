"""Detached, immutable views of a story for rendering (Slack messages, commands, Home)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.item import Item, ItemView
from models.story import Contact, Story, StoryTopic
from news.zones import in_china

STAGES = ("planned", "held", "readout", "outcome", "postponed")
SIDES = ("us", "china")


@dataclass(frozen=True, slots=True)
class StoryEntry:
    """One item of a story: what it says about the contact, and who published it.

    `side` is set for an official source of one side (`us`, `china`): its readout.
    """

    item: ItemView
    outlet: str
    stage: str | None = None
    side: str | None = None


@dataclass(frozen=True, slots=True)
class StoryView:
    """One story as it is now: the contact record and its items, oldest first."""

    id: int
    stage: str
    entries: tuple[StoryEntry, ...]
    kind: str | None = None
    parties: tuple[str, ...] = ()
    where: str | None = None
    when: date | None = None
    region: str | None = None  # the place's region (news/contact.toml)

    @property
    def in_china(self) -> bool:
        """The contact is in mainland China (times get Beijing time beside them)."""
        return in_china(self.region)

    @property
    def headline(self) -> StoryEntry:
        """The entry whose title heads the story: its first item."""
        return self.entries[0]

    @property
    def latest(self) -> StoryEntry:
        """The newest development."""
        return self.entries[-1]

    @property
    def outlets(self) -> list[str]:
        """Distinct outlets, in the order they first reported."""
        return list(dict.fromkeys(e.outlet for e in self.entries))

    @property
    def last_seen(self) -> datetime:
        """When the newest item was published."""
        return max(e.item.published_at for e in self.entries)

    def readout(self, side: str) -> StoryEntry | None:
        """The first official account of `side` (a readout-stage item of its official source)."""
        official = [e for e in self.entries if e.side == side]
        readouts = [e for e in official if e.stage == "readout"]
        chosen = readouts or official
        return chosen[0] if chosen else None

    @property
    def paired(self) -> tuple[StoryEntry, StoryEntry] | None:
        """Both sides' official accounts, when both are in."""
        us, china = self.readout("us"), self.readout("china")
        return (us, china) if us and china else None


def entries_of(story: StoryView, item_ids: Sequence[int]) -> list[StoryEntry]:
    """The story's entries for these items, in the story's order (unknown ids are skipped)."""
    wanted = set(item_ids)
    return [e for e in story.entries if e.item.id in wanted]


def people_names(keys: str) -> tuple[str, ...]:
    """`trump,xi` → ("Trump", "Xi"); `wang-yi` → "Wang Yi"."""
    return tuple(k.replace("-", " ").title() for k in keys.split(",") if k)


_people = people_names


def view_of(story: Story, rows: Sequence[tuple[Contact, Item]]) -> StoryView | None:
    """A story row and its (contact, item) rows, oldest first, as a detached view."""
    entries = tuple(
        StoryEntry(
            ItemView.of(item),
            outlet=contact.source_name or item.source or "unknown outlet",
            stage=contact.stage,
            side=contact.side,
        )
        for contact, item in rows
    )
    if not entries:
        return None
    return StoryView(
        id=story.id,
        stage=story.stage,
        entries=entries,
        kind=story.kind,
        parties=(*_people(story.parties_us), *_people(story.parties_china)),
        where=story.place_name,
        when=story.scheduled_start,
        region=story.region,
    )


def load_story(s: Session, story_id: int) -> StoryView | None:
    """The story as it is now (its items in the order they joined), or None when unknown."""
    story = s.get(Story, story_id)
    if story is None:
        return None
    rows = s.execute(
        select(Contact, Item)
        .join(Item, Item.id == Contact.item_id)
        .where(Contact.story_id == story_id)
        .order_by(Contact.id)
    ).tuples()
    return view_of(story, list(rows))


def recent_stories(s: Session, limit: int, topic: str | None = None) -> list[StoryView]:
    """The most recently active stories first; with `topic`, those with an item on it."""
    query = select(Story.id).order_by(Story.last_seen.desc(), Story.id.desc()).limit(limit)
    if topic is not None:
        query = query.where(
            Story.id.in_(select(StoryTopic.story_id).where(StoryTopic.topic == topic))
        )
    stories = [load_story(s, story_id) for story_id in s.scalars(query)]
    return [story for story in stories if story is not None]
