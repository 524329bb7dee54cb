"""Credit stored items and feeds to their outlets in batches (migration 0007, `reclassify`).

Works on a plain connection with its own light table definitions, so the migration keeps
working when the ORM models change. The dedup key is never touched; a headline whose
aggregator suffix is cut gets the title key of the cut headline, so the same story from
another feed is still found as a duplicate.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import Connection

from news.sources import Source, SourceBook
from news.text import fold

BATCH = 1000

_feeds = sa.table(
    "feeds",
    sa.column("id", sa.Integer),
    sa.column("url", sa.String),
    sa.column("title", sa.String),
    sa.column("source_name", sa.String),
    sa.column("source_kind", sa.String),
    sa.column("source_domain", sa.String),
)
_items = sa.table(
    "items",
    sa.column("id", sa.Integer),
    sa.column("feed_id", sa.Integer),
    sa.column("title", sa.Text),
    sa.column("title_key", sa.String),
    sa.column("url", sa.String),
    sa.column("source", sa.String),
    sa.column("source_kind", sa.String),
    sa.column("source_country", sa.String),
    sa.column("source_domain", sa.String),
)


@dataclass
class Backfilled:
    """Rows written by a backfill."""

    feeds: int = 0
    items: int = 0
    headlines: int = 0  # aggregator suffixes cut


def title_key(title: str) -> str:
    """The same key as news.entry.Entry.title_key."""
    return hashlib.sha256(fold(title).encode()).hexdigest()[:32]


def _columns(source: Source) -> dict[str, str | None]:
    return {
        "source": source.name[:300] or None,
        "source_kind": source.kind,
        "source_country": source.country[:8] or None,
        "source_domain": source.domain[:255] or None,
    }


def _feed_rows(conn: Connection) -> dict[int, tuple[str, str | None]]:
    return {row.id: (row.url, row.title) for row in conn.execute(sa.select(_feeds))}


def credit_feeds(conn: Connection, book: SourceBook) -> int:
    """Set every feed's own outlet from its URL and title; returns feeds changed."""
    changed = 0
    for row in conn.execute(sa.select(_feeds)).all():
        source = book.feed_source(row.url, row.title)
        values = {
            "source_name": source.name[:300] or None,
            "source_kind": source.kind,
            "source_domain": source.domain[:255] or None,
        }
        if values != {k: getattr(row, k) for k in values}:
            conn.execute(sa.update(_feeds).where(_feeds.c.id == row.id).values(**values))
            changed += 1
    return changed


def backfill_items(conn: Connection, book: SourceBook, batch: int = BATCH) -> Backfilled:
    """Credit items stored without a source kind, from their title, link and feed.

    An aggregator's " - Outlet" suffix names the outlet and is cut from the stored title
    (its title key follows); the dedup key stays as it was.
    """
    done = Backfilled(feeds=credit_feeds(conn, book))
    feeds = _feed_rows(conn)
    last = 0
    while True:
        rows = conn.execute(
            sa.select(_items)
            .where(_items.c.id > last, _items.c.source_kind.is_(None))
            .order_by(_items.c.id)
            .limit(batch)
        ).all()
        if not rows:
            return done
        updates = []
        for row in rows:
            feed_url, feed_title = feeds.get(row.feed_id, (None, row.source))
            headline, source = book.credit(
                row.title, row.url, None, None, feed_url, feed_title or row.source
            )
            values: dict[str, str | int | None] = {"_id": row.id, **_columns(source)}
            headline = headline or row.title
            values["title"] = headline
            values["title_key"] = title_key(headline) if headline != row.title else row.title_key
            done.headlines += headline != row.title
            updates.append(values)
        _write(conn, updates)
        done.items += len(updates)
        last = rows[-1].id


def _write(conn: Connection, updates: list[dict[str, str | int | None]]) -> None:
    if not updates:
        return
    conn.execute(
        sa.update(_items)
        .where(_items.c.id == sa.bindparam("_id"))
        .values(
            title=sa.bindparam("title"),
            title_key=sa.bindparam("title_key"),
            source=sa.bindparam("source"),
            source_kind=sa.bindparam("source_kind"),
            source_country=sa.bindparam("source_country"),
            source_domain=sa.bindparam("source_domain"),
        ),
        updates,
    )
