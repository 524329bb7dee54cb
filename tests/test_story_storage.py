"""jobs.stories + models.story: stories stored in the item's transaction, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from jobs.classify import classify_new_items, reclassify_all
from jobs.stories import StoryChange, assign_stories
from models.feed import add_feed
from models.item import Item, save_new
from models.outbox import Alert
from models.story import (
    Contact,
    Story,
    StoryPerson,
    contacts_of,
    open_candidates,
    stories_with_topic,
)
from news.entry import Entry
from news.relevance import default_classifier

NOW = datetime(2025, 11, 24, 16, 0, tzinfo=UTC)

CALL = [
    (
        "Trump and Xi discuss Ukraine and soybeans in phone call",
        "Reuters",
        "https://www.reuters.com/a",
    ),
    ("习近平同美国总统特朗普通电话", "新华社", "http://www.news.cn/b"),
    ("Xi tells Trump Taiwan's return is part of post-war order", "AP", "https://apnews.com/c"),
    (
        "Readout of President Trump's call with President Xi",
        "White House",
        "https://www.whitehouse.gov/d",
    ),
]
OTHER = [
    (
        "Hegseth meets Chinese defense minister Dong Jun in Kuala Lumpur",
        "AP",
        "https://apnews.com/e",
    ),
    ("China's economy slows as tariffs bite", "Reuters", "https://www.reuters.com/f"),
]


def store(s: Session, rows: list[tuple[str, str, str]], at: datetime, start: int = 0) -> list[Item]:
    feed, _ = add_feed(s, f"https://feed.example/{start}", at)
    items: list[Item] = []
    for n, (title, source, url) in enumerate(rows, start=start):
        entry = Entry(dedup_key=f"{n:064d}", title=title, url=url, summary="", published=at)
        items += save_new(s, feed.id, source, [entry], at)
    return items


def test_items_of_one_call_make_one_story_with_paired_readouts(
    sessions: sessionmaker[Session],
) -> None:
    changes: list[StoryChange] = []
    with sessions.begin() as s:
        items = store(s, CALL + OTHER, NOW)
        classify_new_items(s, items, default_classifier(), NOW, alert=False, story_changes=changes)
    assert len(changes) == 5  # the irrelevant item has no story
    call = [c for c in changes if c.item_id <= items[3].id]
    assert len({c.story_id for c in call}) == 1
    assert [c.new for c in call] == [True, False, False, False]
    assert call[0].stage == "held" and call[1].advanced and call[1].stage == "readout"
    assert [c.new_source for c in call] == [True, True, True, True]
    with sessions() as s:
        story = s.get(Story, call[0].story_id)
        assert story is not None
        assert (story.kind, story.stage, story.item_count, story.source_count) == (
            "call",
            "readout",
            4,
            4,
        )
        assert story.readout_us and story.readout_china and story.confirmed_by_official
        assert (story.parties_us, story.parties_china) == ("trump", "xi")
        assert [c.side for c in contacts_of(s, story.id)] == [None, "china", None, "us"]
        people = set(s.scalars(select(StoryPerson.person).where(StoryPerson.story_id == story.id)))
        assert people == {"us:trump", "china:xi"}
        assert s.scalar(select(func.count(Story.id))) == 2
        assert story.id in {x.id for x in stories_with_topic(s, "call")}
        assert s.scalar(select(func.count(Alert.id))) == 0  # alerts are not this module's job


def test_later_items_join_through_the_indexed_query(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        first = store(s, CALL[:1], NOW)
        classify_new_items(s, first, default_classifier(), NOW, alert=False)
    later = NOW + timedelta(hours=5)
    with sessions.begin() as s:
        items = store(s, CALL[1:2], later, start=10)
        changes = assign_stories(
            s, [(i, default_classifier().classify(i.title)) for i in items], later
        )
        assert len(changes) == 1 and not changes[0].new
        day = NOW.date()
        assert len(open_candidates(s, ["us:trump"], None, "call", day, day)) == 1
        assert open_candidates(s, ["us:biden"], None, "call", day, day) == []
        assert (
            open_candidates(
                s, ["us:trump"], None, "call", day + timedelta(days=60), day + timedelta(days=60)
            )
            == []
        )
        again = assign_stories(
            s, [(i, default_classifier().classify(i.title)) for i in items], later
        )
        assert again == []  # an item in a story is never assigned twice
        assert s.scalar(select(func.count(Contact.id))) == 2


def test_reclassify_assigns_existing_items_to_stories(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        store(s, CALL + OTHER, NOW)
    counts = reclassify_all(sessions, default_classifier())
    assert counts["relevant"] == 5 and counts["stories"] == 2
    assert reclassify_all(sessions, default_classifier())["stories"] == 0
    with sessions() as s:
        assert s.scalar(select(func.count(Contact.id))) == 5
