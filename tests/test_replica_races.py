"""Two replicas classifying the same headline at once: one alert, one story (a lock, not a read)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from jobs.classify import classify_new_items
from models.feed import add_feed
from models.item import Item, save_new
from models.outbox import Alert
from models.story import Story
from models.subscription import subscribe
from news.entry import Entry
from news.relevance import default_classifier

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
TITLE = "Trump and Xi speak by phone for two hours, agree to meet at APEC in Gyeongju"


@pytest.mark.postgres
@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
def test_the_same_headline_from_two_feeds_at_two_replicas_at_once_is_alerted_once(
    sessions: sessionmaker[Session],
) -> None:
    classifier = default_classifier()
    with sessions.begin() as s:
        feeds = [add_feed(s, f"https://feed{n}.example/rss", NOW)[0].id for n in (1, 2)]
        subscribe(s, "C1", ["all"], "U1", NOW)
    first_classified = threading.Event()
    second_done = threading.Event()
    errors: list[BaseException] = []

    def replica(n: int, hold: bool) -> None:
        try:
            with sessions.begin() as s:
                entry = Entry(
                    dedup_key=f"{n:064d}",
                    title=TITLE,
                    url=f"https://outlet{n}.example/story",
                    summary="",
                    published=NOW,
                )
                items = save_new(s, feeds[n - 1], f"Outlet {n}", [entry], NOW)
                classify_new_items(s, items, classifier, NOW, alert=True)
                if hold:  # the other replica classifies before this one commits
                    first_classified.set()
                    assert not second_done.wait(1.0), "the second replica did not wait"
        except BaseException as exc:  # reported by the test thread
            errors.append(exc)
        finally:
            if not hold:
                second_done.set()

    first = threading.Thread(target=replica, args=(1, True))
    first.start()
    assert first_classified.wait(10)
    second = threading.Thread(target=replica, args=(2, False))
    second.start()
    time.sleep(0.3)
    first.join(20)
    second.join(20)
    assert not errors, errors
    with sessions() as s:
        items = s.scalars(select(Item).order_by(Item.id)).all()
        assert [i.duplicate_of for i in items] == [None, items[0].id]
        assert s.scalar(select(func.count(Story.id))) == 1
        posts = s.scalars(select(Alert).where(Alert.op == "post")).all()
        assert [(a.channel_id, a.item_id) for a in posts] == [("C1", items[0].id)]
