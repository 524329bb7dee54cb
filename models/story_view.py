"""Detached, immutable views of a story for rendering (Slack messages, commands, Home)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.item import Item, ItemView

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


def load_story(s: Session, story_id: int) -> StoryView | None:
    """The story as it is now, or None when it does not exist.

    Provisional (until the stories tables land): the story's items are those its outbox
    ops carry, outlet = the feed's name, stage unknown ("planned").
    """
    from models.outbox import Alert  # the provisional source of a story's items

    ids = select(Alert.item_id).where(Alert.story_id == story_id, Alert.item_id.is_not(None))
    items = s.scalars(select(Item).where(Item.id.in_(ids)).order_by(Item.id)).all()
    if not items:
        return None
    entries = tuple(StoryEntry(ItemView.of(i), outlet=i.source or "unknown outlet") for i in items)
    return StoryView(id=story_id, stage="planned", entries=entries)


def recent_stories(s: Session, limit: int, topic: str | None = None) -> list[StoryView]:
    """The stories with the newest items first, optionally those with an item on `topic`.

    Provisional (until the stories tables land): stories are read through the outbox.
    """
    from models.outbox import Alert

    newest = func.max(Item.published_at)
    query = (
        select(Alert.story_id, newest)
        .join(Item, Item.id == Alert.item_id)
        .where(Alert.story_id.is_not(None))
        .group_by(Alert.story_id)
        .order_by(newest.desc(), Alert.story_id.desc())
        .limit(limit)
    )
    if topic is not None:
        query = query.where(("," + Item.topics + ",").contains(f",{topic},"))
    stories = [load_story(s, story_id) for story_id, _ in s.execute(query).tuples() if story_id]
    return [story for story in stories if story is not None]
