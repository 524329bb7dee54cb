"""Planned contacts still ahead (`/diplo upcoming`, App Home, reminders): indexed queries.

Only stories at stage `planned` are listed: one that reached held, readout or outcome, or
was postponed, never is (a story's stage is the furthest its items reached). Every query
starts from the (open_until, open_from) index: a planned story stays open until its date
+ 3 days (news.cluster.StoryState.horizon), so `open_until >= yesterday` keeps every
contact still ahead while reading only the stories open now, never the whole table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from models.item import Item
from models.outbox import POST_OP, SENT, Alert
from models.story import Contact, Story, StoryTopic
from models.story_view import people_names
from news.dates import When
from news.reminders import exact_day
from news.zones import in_china, region_zone, zone

PLANNED = "planned"
MAX_AHEAD = timedelta(days=15)  # reminders look this far ahead (the longest offset: 14 days)


@dataclass(frozen=True, slots=True)
class UpcomingContact:
    """A planned contact as listed and reminded: what, who, where, when, and its story."""

    story_id: int
    kind: str
    parties: tuple[str, ...]
    place: str | None  # as shown ("Gyeongju")
    region: str | None
    forum: str | None
    start: date | None
    end: date | None
    precision: str | None
    said: str | None  # the words the source used ("Oct 31", "early March 2026")
    source_count: int
    title: str  # the story's first headline
    url: str | None  # … and its link
    confirmed_by: str | None = None  # the first official source that announced it
    story_ts: str | None = None  # the story message in the channel asked about, if posted

    @property
    def when(self) -> When | None:
        """The scheduled date as news.dates gives it (None: not announced)."""
        if self.start is None or self.end is None:
            return None
        precision = self.precision or "day"
        return When(self.start, self.end, precision, self.said or "")  # type: ignore[arg-type]

    @property
    def exact_day(self) -> date | None:
        """The contact's day when the source named it (news.reminders.exact_day)."""
        return exact_day(self.start, self.precision, self.said)

    @property
    def zone_name(self) -> str | None:
        """The IANA zone of the place, when known."""
        return region_zone(self.region)

    @property
    def in_china(self) -> bool:
        """In mainland China: times get Beijing time beside them."""
        return in_china(self.region)

    def local_zone(self, fallback: tzinfo) -> tzinfo:
        """The zone the contact's day is counted in: the place's, else `fallback`."""
        name = self.zone_name
        return zone(name, "UTC") if name else fallback

    def passed(self, now: datetime, fallback: tzinfo) -> bool:
        """Its last day is over where it happens (or in `fallback` when the place is unknown)."""
        if self.end is None:
            return False
        return self.end < now.astimezone(self.local_zone(fallback)).date()


def _floor(now: datetime) -> date:
    """A day no zone has left yet at `now` (UTC−12 is a day behind UTC at most)."""
    return now.astimezone(UTC).date() - timedelta(days=1)


def upcoming(
    s: Session,
    now: datetime,
    fallback: tzinfo,
    channel: str | None = None,
    limit: int = 20,
    *,
    topics: Sequence[str] | None = None,
    within: timedelta | None = None,
) -> list[UpcomingContact]:
    """Planned contacts whose date has not passed, soonest first; undated ones last.

    `fallback`: the zone a contact's day is counted in when its place is unknown (the
    channel's). Undated contacts are listed while their story is open (30 days after its
    latest report), newest first. `channel`: fill in the story message's ts there.
    `topics`: only stories on one of these (None: all); `within`: only dated contacts that
    start before `now` + `within` (a digest's "next 7 days").
    """
    floor = _floor(now)
    narrower: list[ColumnElement[bool]] = []
    if topics is not None:
        on_topic = select(StoryTopic.story_id).where(StoryTopic.topic.in_(list(topics)))
        narrower.append(Story.id.in_(on_topic))
    if within is not None:
        narrower.append(Story.scheduled_start <= (now + within).astimezone(fallback).date())
    query = (
        select(Story)
        .where(
            Story.open_until >= floor,
            Story.stage == PLANNED,
            or_(Story.scheduled_end.is_(None), Story.scheduled_end >= floor),
            *narrower,
        )
        .order_by(
            Story.scheduled_start.is_(None),
            Story.scheduled_start,
            Story.scheduled_end,
            Story.last_seen.desc(),
            Story.id,
        )
        .limit(limit + 10)  # a few may have passed where they happen (filtered below)
    )
    found = _views(s, list(s.scalars(query)), channel)
    return [c for c in found if not c.passed(now, fallback)][:limit]


def reminder_candidates(s: Session, now: datetime) -> list[UpcomingContact]:
    """Planned contacts with a named day in the next MAX_AHEAD (reminders may be due)."""
    floor = _floor(now)
    query = (
        select(Story)
        .where(
            Story.open_until >= floor,
            Story.stage == PLANNED,
            Story.scheduled_precision.in_(("day", "days")),
            Story.scheduled_start >= floor,
            Story.scheduled_start <= (now + MAX_AHEAD).date(),
        )
        .order_by(Story.scheduled_start, Story.id)
    )
    return [c for c in _views(s, list(s.scalars(query)), None) if c.exact_day is not None]


def upcoming_contact(s: Session, story_id: int, channel: str | None) -> UpcomingContact | None:
    """One story as an upcoming contact, whatever its stage (None: unknown or not planned)."""
    story = s.get(Story, story_id)
    if story is None or story.stage != PLANNED:
        return None
    views = _views(s, [story], channel)
    return views[0] if views else None


def topics_of(s: Session, story_ids: Sequence[int]) -> dict[int, list[str]]:
    """Each story's topics (story_topics), sorted."""
    found: dict[int, list[str]] = {i: [] for i in story_ids}
    if not story_ids:
        return found
    query = (
        select(StoryTopic.story_id, StoryTopic.topic)
        .where(StoryTopic.story_id.in_(list(story_ids)))
        .order_by(StoryTopic.story_id, StoryTopic.topic)
    )
    for story_id, topic in s.execute(query).tuples():
        found[story_id].append(topic)
    return found


def _views(s: Session, stories: list[Story], channel: str | None) -> list[UpcomingContact]:
    """The stories with their first headline, first official source and message ts."""
    ids = [st.id for st in stories]
    if not ids:
        return []
    first = (
        select(func.min(Contact.id))
        .where(Contact.story_id.in_(ids))
        .group_by(Contact.story_id)
        .scalar_subquery()
    )
    heads = {
        story_id: (title, url)
        for story_id, title, url in s.execute(
            select(Contact.story_id, Item.title, Item.url)
            .join(Item, Item.id == Contact.item_id)
            .where(Contact.id.in_(first))
        ).tuples()
    }
    official: dict[int, str] = {}
    for story_id, name in s.execute(
        select(Contact.story_id, Contact.source_name)
        .where(Contact.story_id.in_(ids), Contact.side.is_not(None))
        .order_by(Contact.id)
    ).tuples():
        official.setdefault(story_id, name)
    posted: dict[int, str] = {}
    if channel is not None:
        # one story message per (story, channel): its unique index finds them; the status is
        # checked here, not in SQL, where SQLite would rather walk every sent alert
        rows = s.execute(
            select(Alert.story_id, Alert.slack_ts, Alert.status).where(
                Alert.op == POST_OP, Alert.channel_id == channel, Alert.story_id.in_(ids)
            )
        ).tuples()
        posted = {
            story_id: ts
            for story_id, ts, status in rows
            if story_id is not None and ts and status == SENT
        }
    return [
        UpcomingContact(
            story_id=st.id,
            kind=st.kind,
            parties=(*people_names(st.parties_us), *people_names(st.parties_china)),
            place=st.place_name,
            region=st.region,
            forum=st.forum,
            start=st.scheduled_start,
            end=st.scheduled_end,
            precision=st.scheduled_precision,
            said=st.scheduled_text,
            source_count=st.source_count,
            title=heads.get(st.id, ("", None))[0],
            url=heads.get(st.id, ("", None))[1],
            confirmed_by=official.get(st.id) or None,
            story_ts=posted.get(st.id),
        )
        for st in stories
    ]
