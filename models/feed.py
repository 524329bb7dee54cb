"""Feeds to poll, their HTTP cache state and health; and the queries about them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Boolean, Integer, String, Text, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from models import lease as leases
from models.db import Base, UTCDateTime, insert_ignore, rowcount
from models.lease import Leased
from news.sources import Source


class Feed(Leased, Base):
    """One RSS/Atom feed; leased to the process polling it (models/lease.py)."""

    __tablename__ = "feeds"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000), unique=True)
    title: Mapped[str | None] = mapped_column(String(300))
    etag: Mapped[str | None] = mapped_column(String(500))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    body_hash: Mapped[str | None] = mapped_column(String(64))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    primed: Mapped[bool] = mapped_column(Boolean, default=False)
    added_by: Mapped[str | None] = mapped_column(String(50))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_ok_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    next_poll_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    # Set when one poll yielded more new relevant items than DIPLO_FLOOD_ITEMS (a spam or
    # rotating feed): its excess items are stored but not alerted; cleared by a normal poll.
    too_active_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    too_active_count: Mapped[int] = mapped_column(Integer, default=0)
    # the outlet the feed itself belongs to (news.sources.SourceBook.feed_source)
    source_name: Mapped[str | None] = mapped_column(String(300))
    source_kind: Mapped[str | None] = mapped_column(String(20))
    source_domain: Mapped[str | None] = mapped_column(String(255))

    @property
    def status(self) -> str:
        """`ok`, `failing` or `disabled`, as shown by status commands."""
        if not self.enabled:
            return "disabled"
        return "failing" if self.consecutive_failures else "ok"


def credit_feed(feed: Feed, source: Source) -> None:
    """Record the outlet the feed belongs to (only the columns that changed are written)."""
    name = source.name[:300] or None
    if (feed.source_name, feed.source_kind, feed.source_domain) != (
        name,
        source.kind,
        source.domain or None,
    ):
        feed.source_name, feed.source_kind = name, source.kind
        feed.source_domain = source.domain[:255] or None


def count_by_source_kind(s: Session) -> dict[str, int]:
    """Feeds per source kind of their own outlet."""
    rows = s.execute(select(Feed.source_kind, func.count()).group_by(Feed.source_kind))
    counts: dict[str, int] = {}
    for kind, n in rows:
        counts[kind or "other"] = counts.get(kind or "other", 0) + n
    return counts


def get_by_url(s: Session, url: str) -> Feed | None:
    """The feed with exactly this URL, if stored."""
    return s.scalars(select(Feed).where(Feed.url == url)).first()


def add_feed(s: Session, url: str, now: datetime, added_by: str | None = None) -> tuple[Feed, bool]:
    """Store `url` as a feed (re-enabling it if known); returns (feed, created)."""
    feed = get_by_url(s, url)
    if feed is not None:
        if not feed.enabled:
            feed.enabled = True
            feed.consecutive_failures = 0
            feed.last_error = None
            feed.next_poll_at = now
        return feed, False
    feed = Feed(
        url=url,
        added_by=added_by,
        created_at=now,
        next_poll_at=now,
        enabled=True,
        primed=False,
        consecutive_failures=0,
    )
    s.add(feed)
    s.flush()
    return feed, True


def remove_feed(s: Session, url: str) -> bool:
    """Delete the feed with this URL; True if it existed.

    Its items stay (their feed_id becomes NULL), and so do their queued alerts.
    """
    feed = get_by_url(s, url)
    if feed is None:
        return False
    s.delete(feed)
    s.flush()
    return True


def all_feeds(s: Session) -> Sequence[Feed]:
    """Every feed, ordered by URL."""
    return s.scalars(select(Feed).order_by(Feed.url)).all()


def make_all_due(s: Session, now: datetime) -> int:
    """Make every enabled feed due now (a manual `poll --once`); returns how many."""
    result = s.execute(
        update(Feed)
        .where(Feed.enabled.is_(True), Feed.next_poll_at > now)
        .values(next_poll_at=now)
        .execution_options(synchronize_session=False)
    )
    return rowcount(result)


def claim_due_feeds(
    s: Session, now: datetime, owner: str, limit: int, lease: timedelta = leases.DEFAULT_TTL
) -> list[Feed]:
    """Lease up to `limit` enabled feeds whose next poll is due; other pollers skip them.

    PostgreSQL: FOR UPDATE SKIP LOCKED lets several processes claim disjoint sets. SQLite
    drops the clause, and the whole transaction holds the write lock (BEGIN IMMEDIATE).
    """
    due = (
        select(Feed.id)
        .where(Feed.enabled.is_(True), Feed.next_poll_at <= now, leases.free(Feed, now))
        .order_by(Feed.next_poll_at, Feed.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list(s.scalars(due))
    if not leases.take(s, Feed, ids, owner, now, lease):
        return []
    return list(s.scalars(select(Feed).where(Feed.id.in_(ids)).order_by(Feed.next_poll_at)))


def lease_owners(s: Session) -> set[str]:
    """Every owner currently holding a feed lease (expired or not)."""
    return leases.owners(s, Feed)


def release_leases(s: Session, owners: Sequence[str]) -> int:
    """Drop the feed leases of these owners (they are gone); returns how many feeds."""
    if not owners:
        return 0
    return leases.release(s, Feed, Feed.lease_owner.in_(list(owners)))


def renew_owned(s: Session, owner: str, now: datetime, ttl: timedelta) -> int:
    """Extend the feed leases `owner` still holds (its fetches in flight); returns how many."""
    return leases.renew(s, Feed, owner, now, ttl)


def last_poll(s: Session) -> datetime | None:
    """When any feed was last polled."""
    return s.scalar(select(func.max(Feed.last_polled_at)))


def insert_missing_feeds(s: Session, feeds: Sequence[tuple[str, str | None]], now: datetime) -> int:
    """Insert these (url, title) feeds unless stored; returns how many rows are new.

    INSERT … ON CONFLICT DO NOTHING: processes seeding at the same moment never collide.
    """
    rows = [
        {
            "url": url,
            "title": title,
            "created_at": now,
            "next_poll_at": now,
            "enabled": True,
            "primed": False,
            "consecutive_failures": 0,
            "too_active_count": 0,
        }
        for url, title in dict(feeds).items()
    ]
    if not rows:
        return 0
    stmt = (
        insert_ignore(s, Feed)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["url"])
        .returning(Feed.id)
    )
    return len(list(s.scalars(stmt)))


def release_owned(s: Session, owner: str) -> int:
    """Drop every feed lease `owner` (this process, at shutdown) holds; returns how many."""
    return leases.release(s, Feed, leases.owned_by(Feed, owner))
