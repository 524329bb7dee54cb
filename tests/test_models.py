"""models: schema from migrations, insert-ignore, leases, UTC datetimes, on both databases."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from models import Base
from models.feed import Feed, add_feed, claim_due_feeds
from models.item import Item, save_new
from models.lease import DEFAULT_TTL
from models.migrate import include_object, pending
from models.outbox import enqueue, status_counts
from models.subscription import channels_for, pause_channel, subscribe, unsubscribe
from news.entry import Entry

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def entry(n: int) -> Entry:
    return Entry(
        dedup_key=f"{n:064d}",
        title=f"story {n}",
        url=f"https://x.example/{n}",
        summary="",
        published=NOW,
    )


def test_migrations_match_the_models(engine: Engine) -> None:
    assert not pending(engine)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": include_object})
        diff = compare_metadata(context, Base.metadata)
    assert diff == [], diff


def test_datetimes_come_back_aware_utc(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        _, created = add_feed(s, "https://x.example/rss", NOW)
        assert created
    with sessions() as s:
        stored = s.scalars(select(Feed)).one()
        assert stored.created_at == NOW and stored.created_at.tzinfo is not None


def test_save_new_returns_only_new_items(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        feed, _ = add_feed(s, "https://x.example/rss", NOW)
        assert len(save_new(s, feed.id, "X", [entry(1), entry(2)], NOW)) == 2
        assert [i.title for i in save_new(s, feed.id, "X", [entry(2), entry(3)], NOW)] == [
            "story 3"
        ]
        assert s.scalar(select(func.count(Item.id))) == 3


def test_racing_inserts_store_each_item_once(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        feed_id = add_feed(s, "https://x.example/rss", NOW)[0].id
    new_counts: list[int] = []
    lock = threading.Lock()

    def insert() -> None:
        with sessions.begin() as s:
            n = len(save_new(s, feed_id, "X", [entry(i) for i in range(200)], NOW))
        with lock:
            new_counts.append(n)

    threads = [threading.Thread(target=insert) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(new_counts) == [0, 0, 0, 200]


def test_claims_are_disjoint_and_leased(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        for i in range(30):
            add_feed(s, f"https://x.example/{i}", NOW)
    claimed: list[list[int]] = []
    barrier = threading.Barrier(3)

    def claim(owner: str) -> None:
        barrier.wait()
        with sessions.begin() as s:
            ids = [f.id for f in claim_due_feeds(s, NOW, owner, 20)]
        claimed.append(ids)

    threads = [threading.Thread(target=claim, args=(f"o{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [i for ids in claimed for i in ids]
    assert len(every) == len(set(every)) == 30
    with sessions.begin() as s:  # leased feeds are not claimed again until the lease ends
        assert claim_due_feeds(s, NOW + DEFAULT_TTL - timedelta(seconds=1), "late", 50) == []
        assert len(claim_due_feeds(s, NOW + DEFAULT_TTL, "late", 50)) == 30


def test_subscriptions_and_outbox(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        assert subscribe(s, "C1", ["trade", "call", "trade"], "U1", NOW) == ["trade", "call"]
        assert subscribe(s, "C1", ["trade"], "U1", NOW) == []
        subscribe(s, "C2", ["all"], "U2", NOW)
        assert channels_for(s, ["call"]) == ["C1", "C2"]
        assert channels_for(s, ["taiwan"]) == ["C2"]
        assert pause_channel(s, "C2", "is_archived") == 1
        assert channels_for(s, ["taiwan"]) == []
        subscribe(s, "C2", ["all"], "U2", NOW)  # subscribing again resumes
        assert channels_for(s, ["taiwan"]) == ["C2"]
        assert unsubscribe(s, "C1", None) == ["call", "trade"]
        feed, _ = add_feed(s, "https://x.example/rss", NOW)
        item = save_new(s, feed.id, "X", [entry(1)], NOW)[0]
        assert enqueue(s, item.id, ["C1", "C2", "C1"], NOW) == 2
        assert enqueue(s, item.id, ["C1"], NOW) == 0
        assert status_counts(s)["pending"] == 2
