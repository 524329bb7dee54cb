"""Every entry diplo has seen, stored once; and the queries about them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text, func, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.db import Base, UTCDateTime, insert_ignore
from news.entry import Entry
from news.sources import UNKNOWN, default_sources


class Item(Base):
    """One news item; `dedup_key` is unique across all feeds."""

    __tablename__ = "items"
    __table_args__ = (
        Index("ix_items_label_published", "label", "published_at"),
        Index("ix_items_title_key", "title_key"),
        Index("ix_items_source_kind", "source_kind"),
        Index("ix_items_published_at", "published_at"),  # search's newest-first window
        Index("ix_items_duplicate_of", "duplicate_of"),  # retention keeps referred-to items
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    feed_id: Mapped[int | None] = mapped_column(
        ForeignKey("feeds.id", ondelete="SET NULL"), index=True
    )
    dedup_key: Mapped[str] = mapped_column(String(64), unique=True)
    title_key: Mapped[str] = mapped_column(String(32))
    url: Mapped[str | None] = mapped_column(String(2000))
    title: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text, default="")
    # the outlet that published it (news.sources): name, kind, country code, the domain it
    # was recognised by; an aggregator's item is credited to the outlet it names
    source: Mapped[str | None] = mapped_column(String(300))
    source_kind: Mapped[str | None] = mapped_column(String(20))
    source_country: Mapped[str | None] = mapped_column(String(8))
    source_domain: Mapped[str | None] = mapped_column(String(255))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime())
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    label: Mapped[str | None] = mapped_column(String(20))
    score: Mapped[float | None] = mapped_column(Float)
    topics: Mapped[str] = mapped_column(Text, default="")
    reasons: Mapped[str] = mapped_column(Text, default="[]")
    duplicate_of: Mapped[int | None] = mapped_column(Integer)

    @property
    def topic_list(self) -> list[str]:
        """Topics as a list (stored as a comma-separated string)."""
        return [t for t in self.topics.split(",") if t]

    @property
    def reason_list(self) -> list[str]:
        """Reasons as a list (stored as JSON)."""
        try:
            value = json.loads(self.reasons or "[]")
        except ValueError:
            return []
        return [str(v) for v in value] if isinstance(value, list) else []


def save_new(
    s: Session, feed_id: int, source: str | None, entries: Sequence[Entry], now: datetime
) -> list[Item]:
    """Insert the entries not stored yet and return only those, oldest first.

    Each item is credited to its entry's outlet; an entry without one (built by hand, not
    parsed) is recognised by its link's domain and the name `source`.
    ON CONFLICT DO NOTHING makes two pollers racing on the same entry store it once.
    """
    if not entries:
        return []
    book = default_sources()
    credited = [
        (e, e.source if e.source != UNKNOWN else book.recognise(source, e.url)) for e in entries
    ]
    rows = [
        {
            "feed_id": feed_id,
            "dedup_key": e.dedup_key,
            "title_key": e.title_key,
            "url": e.url,
            "title": e.title,
            "summary": e.summary,
            "source": (credit.name or source or "")[:300] or None,
            "source_kind": credit.kind,
            "source_country": credit.country[:8] or None,
            "source_domain": credit.domain[:255] or None,
            "published_at": e.published,
            "fetched_at": now,
            "topics": "",
            "reasons": "[]",
        }
        for e, credit in credited
    ]
    # One statement with the rows as parameters (executemany, batched by SQLAlchemy's
    # "insertmanyvalues"): it compiles once and is cached, unlike a VALUES list per call.
    stmt = (
        insert_ignore(s, Item)
        .on_conflict_do_nothing(index_elements=["dedup_key"])
        .returning(Item.id)
    )
    new_ids = list(s.scalars(stmt, rows))
    if not new_ids:
        return []
    items = s.scalars(select(Item).where(Item.id.in_(new_ids))).all()
    return sorted(items, key=lambda i: (i.published_at, i.id))


def latest(s: Session, limit: int, topic: str | None = None) -> Sequence[Item]:
    """The most recent relevant items, optionally for one topic."""
    query = select(Item).where(Item.label == "relevant", Item.duplicate_of.is_(None))
    if topic:
        query = query.where(
            or_(
                Item.topics == topic,
                Item.topics.like(f"{topic},%"),
                Item.topics.like(f"%,{topic}"),
                Item.topics.like(f"%,{topic},%"),
            )
        )
    return s.scalars(query.order_by(Item.published_at.desc(), Item.id.desc()).limit(limit)).all()


def count_since(s: Session, since: datetime) -> int:
    """Items fetched since `since`."""
    return s.scalar(select(func.count(Item.id)).where(Item.fetched_at >= since)) or 0


def count_all(s: Session) -> int:
    """Every stored item."""
    return s.scalar(select(func.count(Item.id))) or 0


def count_by_source_kind(s: Session) -> dict[str, int]:
    """Stored items per source kind (one indexed GROUP BY)."""
    rows = s.execute(select(Item.source_kind, func.count()).group_by(Item.source_kind))
    counts: dict[str, int] = {}
    for kind, n in rows:
        counts[kind or "other"] = counts.get(kind or "other", 0) + n
    return counts


@dataclass(frozen=True, slots=True)
class ItemView:
    """A detached, immutable copy of an item, safe to hand to another thread or to Slack code."""

    id: int
    title: str
    url: str | None
    source: str | None
    summary: str
    published_at: datetime
    label: str | None
    score: float | None
    topics: tuple[str, ...]
    reasons: tuple[str, ...]
    source_kind: str | None = None

    @classmethod
    def of(cls, item: Item) -> ItemView:
        """Copy the fields of a loaded item."""
        return cls(
            id=item.id,
            title=item.title,
            url=item.url,
            source=item.source,
            summary=item.summary,
            published_at=item.published_at,
            label=item.label,
            score=item.score,
            topics=tuple(item.topic_list),
            reasons=tuple(item.reason_list),
            source_kind=item.source_kind,
        )
