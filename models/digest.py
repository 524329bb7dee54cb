"""What a channel's digest shows: the period's stories, the week's planned contacts, the chart data.

Everything is read at send time (jobs/digest_delivery.py), so a story shows its stage as it
is when the digest goes out. Only the channel's subscribed topics count (`all`: every topic);
subscriptions paused because Slack refused posts still count (the digest is one more try).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from models.item import Item, ItemView
from models.story import Contact, StoryTopic
from models.story_view import StoryView, load_story
from models.subscription import ALL_TOPICS, Subscription
from models.upcoming import UpcomingContact, upcoming
from models.watch import for_channel as watches_for
from news.chart import OTHER, ChartData
from news.watch import WatchIndex, item_text

MAX_STORIES = 30  # stories listed in one digest; the rest are counted
MAX_UPCOMING = 10
MAX_WATCHED = 10  # items matching the channel's watch-words, listed
MAX_SCANNED = 2000  # items of the period searched for watch-words, newest first
UPCOMING_DAYS = 7
CHART_DAYS = 7
CHART_TOPICS = 6  # topics drawn one by one; the rest are summed as "other"


@dataclass(frozen=True, slots=True)
class DigestStory:
    """A story of the period, as it is now, and how many of its reports came in the period."""

    story: StoryView
    reports: int


@dataclass(frozen=True, slots=True)
class DigestView:
    """One digest, ready to render (handlers.blocks.digest_message)."""

    channel_id: str
    kind: str  # daily | weekly | now
    start: datetime
    end: datetime
    zone: ZoneInfo
    late: bool
    topics: tuple[str, ...]  # the channel's topics; ("all",) for every topic
    stories: tuple[DigestStory, ...]
    more_stories: int  # stories of the period not listed
    reports: int  # reports (items) of the listed and unlisted stories in the period
    upcoming: tuple[UpcomingContact, ...]
    watched: tuple[tuple[str, ItemView], ...] = ()  # (watch-word, item), newest first
    more_watched: int = 0


def channel_topics(s: Session, channel_id: str) -> tuple[str, ...]:
    """The channel's subscribed topics, sorted (`all` alone when it has that one)."""
    topics = sorted(
        set(s.scalars(select(Subscription.topic).where(Subscription.channel_id == channel_id)))
    )
    return (ALL_TOPICS,) if ALL_TOPICS in topics else tuple(topics)


def _story_filter(
    topics: tuple[str, ...], column: InstrumentedAttribute[int]
) -> list[ColumnElement[bool]]:
    if topics == (ALL_TOPICS,):
        return []
    return [column.in_(select(StoryTopic.story_id).where(StoryTopic.topic.in_(topics)))]


def digest_view(
    s: Session,
    channel_id: str,
    kind: str,
    start: datetime,
    end: datetime,
    zone: ZoneInfo,
    *,
    late: bool = False,
) -> DigestView:
    """The channel's digest of [start, end): its stories (most reports first) and what's next."""
    topics = channel_topics(s, channel_id)
    rows: list[tuple[int, int]] = []
    if topics:
        counted = (
            select(Contact.story_id, func.count(Contact.id).label("n"))
            .where(
                Contact.created_at >= start,
                Contact.created_at < end,
                *_story_filter(topics, Contact.story_id),
            )
            .group_by(Contact.story_id)
            .order_by(func.count(Contact.id).desc(), func.max(Contact.id).desc())
        )
        rows = [(r.story_id, int(r.n)) for r in s.execute(counted)]
    watched = watched_items(s, channel_id, start, end)
    stories = []
    for story_id, n in rows[:MAX_STORIES]:
        view = load_story(s, story_id)
        if view is not None:
            stories.append(DigestStory(view, n))
    return DigestView(
        channel_id=channel_id,
        kind=kind,
        start=start,
        end=end,
        zone=zone,
        late=late,
        topics=topics,
        stories=tuple(stories),
        more_stories=max(len(rows) - MAX_STORIES, 0),
        reports=sum(n for _, n in rows),
        upcoming=tuple(upcoming_on(s, channel_id, topics, end, zone)) if topics else (),
        watched=tuple(watched[:MAX_WATCHED]),
        more_watched=max(len(watched) - MAX_WATCHED, 0),
    )


def watched_items(
    s: Session, channel_id: str, start: datetime, end: datetime
) -> list[tuple[str, ItemView]]:
    """Relevant and related items of [start, end) with one of the channel's watch-words."""
    watches = watches_for(s, channel_id)
    if not watches:
        return []
    index = WatchIndex(watches)
    rows = s.scalars(
        select(Item)
        .where(
            Item.label.in_(("relevant", "related")),
            Item.duplicate_of.is_(None),
            Item.fetched_at >= start,
            Item.fetched_at < end,
        )
        .order_by(Item.fetched_at.desc(), Item.id.desc())
        .limit(MAX_SCANNED)
    )
    found = []
    for item in rows:
        hit = index.match(item_text(item.title, item.summary or ""), item.topic_list)
        if channel_id in hit:
            found.append((hit[channel_id].phrase, ItemView.of(item)))
    return found


def upcoming_on(
    s: Session, channel_id: str, topics: tuple[str, ...], now: datetime, zone: ZoneInfo
) -> list[UpcomingContact]:
    """`/diplo upcoming`'s list for a digest: the next UPCOMING_DAYS days, the channel's topics."""
    return upcoming(
        s,
        now,
        zone,
        channel_id,
        MAX_UPCOMING,
        topics=None if topics == (ALL_TOPICS,) else topics,
        within=timedelta(days=UPCOMING_DAYS),
    )


def chart_data(
    s: Session, topics: tuple[str, ...], end: datetime, zone: ZoneInfo, title: str
) -> ChartData:
    """Stories and items per day by topic over the CHART_DAYS days (local) up to `end`.

    Each day is the 24 local hours ending at the digest's time, so a daily digest's period
    is the last bar. An item with two topics counts once in each; so does a story.
    """
    end_local = end.astimezone(zone)
    bounds = [
        datetime.combine(end_local.date() - timedelta(days=CHART_DAYS - n), end_local.timetz())
        for n in range(CHART_DAYS + 1)
    ]
    edges = [b.replace(tzinfo=zone).astimezone(end.tzinfo) for b in bounds]
    days = tuple(b.date() for b in bounds[:-1])
    wanted = None if topics == (ALL_TOPICS,) else set(topics)
    items: dict[str, list[int]] = {}
    stories: dict[str, list[set[int]]] = {}

    def slot(when: datetime) -> int | None:
        for n in range(CHART_DAYS):
            if edges[n] <= when < edges[n + 1]:
                return n
        return None

    item_rows = s.execute(
        select(Item.fetched_at, Item.topics).where(
            Item.label == "relevant",
            Item.duplicate_of.is_(None),
            Item.fetched_at >= edges[0],
            Item.fetched_at < edges[-1],
        )
    )
    for fetched_at, item_topics in item_rows:
        n = slot(fetched_at)
        for topic in {t for t in (item_topics or "").split(",") if t}:
            if n is not None and (wanted is None or topic in wanted):
                items.setdefault(topic, [0] * CHART_DAYS)[n] += 1
    story_rows = s.execute(
        select(Contact.created_at, Contact.story_id, StoryTopic.topic)
        .join(StoryTopic, StoryTopic.story_id == Contact.story_id)
        .where(Contact.created_at >= edges[0], Contact.created_at < edges[-1])
    )
    for created_at, story_id, topic in story_rows:
        n = slot(created_at)
        if n is not None and (wanted is None or topic in wanted):
            stories.setdefault(topic, [set() for _ in range(CHART_DAYS)])[n].add(story_id)
    story_counts = {t: [len(day) for day in per_day] for t, per_day in stories.items()}
    return _top_topics(days, items, story_counts, title)


def _top_topics(
    days: tuple[date, ...],
    items: dict[str, list[int]],
    stories: dict[str, list[int]],
    title: str,
) -> ChartData:
    """Keep the CHART_TOPICS busiest topics; sum the rest as "other"."""
    names = sorted(set(items) | set(stories), key=lambda t: (-sum(items.get(t, [])), t))
    kept, rest = names[:CHART_TOPICS], names[CHART_TOPICS:]
    zero = [0] * len(days)

    def series(counts: dict[str, list[int]]) -> dict[str, tuple[int, ...]]:
        out = {t: tuple(counts.get(t, zero)) for t in kept}
        if rest:
            out[OTHER] = tuple(sum(counts.get(t, zero)[n] for t in rest) for n in range(len(days)))
        return out

    return ChartData(title=title, days=days, items=series(items), stories=series(stories))
