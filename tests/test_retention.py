"""Retention: old irrelevant items pruned in batches; referred-to items kept; FTS in sync."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select, text, update
from sqlalchemy.orm import Session

from deps import Deps
from jobs.classify import classify_new_items
from jobs.retention import _LOCK_KEY, prune_old_items
from jobs.scheduler import build_scheduler
from models.feed import add_feed
from models.item import Item, save_new
from models.outbox import enqueue
from models.retention import referring_columns
from models.search import search
from models.story import Contact
from news.entry import Entry
from news.query import parse_query

CALL = [
    "Trump and Xi discuss Ukraine and soybeans in phone call",
    "习近平同美国总统特朗普通电话",
]


def store(s: Session, deps: Deps, titles: list[str], days_old: float, label: str) -> list[Item]:
    now = deps.clock()
    feed, _ = add_feed(s, f"https://wire.example/{uuid.uuid4().hex}.xml", now)
    entries = [
        Entry(
            dedup_key=uuid.uuid4().hex,
            title=title,
            url=f"https://wire.example/{uuid.uuid4().hex}",
            summary=f"about {title}",
            published=now - timedelta(days=days_old),
        )
        for title in titles
    ]
    items = save_new(s, feed.id, "Wire", entries, now)
    for item in items:
        item.label = label
    return items


def titles(s: Session) -> set[str]:
    return set(s.scalars(select(Item.title)))


def test_referring_columns_cover_alerts_and_contacts() -> None:
    assert {f"{c.table.name}.{c.name}" for c in referring_columns()} >= {
        "alerts.item_id",
        "contacts.item_id",
    }


def test_prunes_only_old_unreferenced_irrelevant_items_in_batches(
    deps: Deps, engine: Engine
) -> None:
    with deps.sessions.begin() as s:
        store(s, deps, [f"old noise {n}" for n in range(25)], 400, "irrelevant")
        store(s, deps, ["recent noise"], 300, "irrelevant")
        store(s, deps, ["old related"], 800, "related")
        store(s, deps, ["old relevant"], 800, "relevant")
        (alerted,) = store(s, deps, ["old alerted noise"], 400, "irrelevant")
        enqueue(s, alerted.id, ["C1"], deps.clock())
        (original,) = store(s, deps, ["old original noise"], 400, "irrelevant")
        (copy,) = store(s, deps, ["recent copy"], 1, "irrelevant")
        copy.duplicate_of = original.id
        story_items = store(s, deps, CALL, 400, "irrelevant")
        classify_new_items(s, story_items, deps.classifier, deps.clock(), alert=False)
    with deps.sessions.begin() as s:  # a rules change later called them irrelevant
        ids = [i.id for i in story_items]
        s.execute(update(Item).where(Item.id.in_(ids)).values(label="irrelevant"))
        assert s.scalar(select(func.count(Contact.id))) == 2

    assert prune_old_items(deps, batch=10) == 25

    with deps.sessions() as s:
        assert titles(s) == {
            "recent noise",
            "old related",
            "old relevant",
            "old alerted noise",
            "old original noise",
            "recent copy",
            *CALL,
        }
        assert search(s, parse_query("noise", set()), 50).items  # the index still answers
        found = {i.title for i in search(s, parse_query("old noise", set()), 50).items}
        assert found == {"old alerted noise", "old original noise"}
    if engine.dialect.name == "sqlite":
        with engine.begin() as conn:  # raises if the FTS index and the items table differ
            conn.execute(
                text("INSERT INTO items_fts(items_fts, rank) VALUES('integrity-check', 1)")
            )
            assert conn.execute(text("SELECT count(*) FROM items_fts_docsize")).scalar() == 8
    assert prune_old_items(deps, batch=10) == 0


def test_retention_zero_keeps_everything(deps: Deps) -> None:
    with deps.sessions.begin() as s:
        store(s, deps, ["ancient noise"], 5000, "irrelevant")
    keep = replace(deps, settings=replace(deps.settings, retention_days=0))
    assert prune_old_items(keep) == 0
    assert "retention" not in {j.id for j in build_scheduler(keep).get_jobs()}
    assert "retention" in {j.id for j in build_scheduler(deps).get_jobs()}


@pytest.mark.parametrize(
    "engine", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_one_replica_prunes_at_a_time(deps: Deps, engine: Engine) -> None:
    with deps.sessions.begin() as s:
        store(s, deps, [f"old noise {n}" for n in range(5)], 400, "irrelevant")
    with engine.connect() as other:  # another replica is pruning
        other.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _LOCK_KEY})
        assert prune_old_items(deps) == 0
        other.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _LOCK_KEY})
        other.commit()
    assert prune_old_items(deps) == 5
