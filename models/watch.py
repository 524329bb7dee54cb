"""Channel watch-words (one row per channel, phrase and topic); and the queries about them."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, String, UniqueConstraint, delete, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.db import Base, UTCDateTime, insert_ignore
from news.watch import MAX_PER_CHANNEL, Watch, WatchIndex

ANY_TOPIC = ""


class WatchWord(Base):
    """A phrase a channel watches for, limited to one topic or not (`topic` "" = any topic).

    `topic` is "" rather than NULL for "any topic": a UNIQUE constraint treats NULLs as
    distinct on SQLite and PostgreSQL, so NULL would let the same phrase be stored twice.
    AUTOINCREMENT on SQLite: ids are never reused, which the matcher cache relies on.
    """

    __tablename__ = "watch_words"
    __table_args__ = (
        UniqueConstraint("channel_id", "normalized", "topic"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(50), index=True)
    phrase: Mapped[str] = mapped_column(String(200))
    normalized: Mapped[str] = mapped_column(String(200))
    topic: Mapped[str] = mapped_column(String(50), default=ANY_TOPIC)
    created_by: Mapped[str | None] = mapped_column(String(50))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


@dataclass(frozen=True, slots=True)
class WatchAdded:
    """What `add_watches` did: phrases stored, those already watched, or over the limit."""

    added: list[str]
    already: list[str]
    over_limit: bool = False


def for_channel(s: Session, channel_id: str) -> list[Watch]:
    """The channel's watch-words, oldest first."""
    rows = s.scalars(
        select(WatchWord).where(WatchWord.channel_id == channel_id).order_by(WatchWord.id)
    )
    return [_watch(row) for row in rows]


def _watch(row: WatchWord) -> Watch:
    return Watch(row.channel_id, row.phrase, row.normalized, row.topic or None)


def add_watches(
    s: Session,
    channel_id: str,
    phrases: Sequence[tuple[str, str]],
    topic: str | None,
    user_id: str | None,
    now: datetime,
) -> WatchAdded:
    """Store (phrase, normalized) pairs for the channel unless that passes the per-channel limit.

    Two commands racing may together pass the limit by a few; the limit is a guard against
    noise, not a quota.
    """
    key = topic or ANY_TOPIC
    existing = {(w.normalized, w.topic or ANY_TOPIC) for w in for_channel(s, channel_id)}
    wanted = dict((norm, phrase) for phrase, norm in phrases)
    fresh = {norm: phrase for norm, phrase in wanted.items() if (norm, key) not in existing}
    already = [phrase for norm, phrase in wanted.items() if norm not in fresh]
    if len(existing) + len(fresh) > MAX_PER_CHANNEL:
        return WatchAdded([], already, over_limit=True)
    if not fresh:
        return WatchAdded([], already)
    rows = [
        {
            "channel_id": channel_id,
            "phrase": phrase,
            "normalized": norm,
            "topic": key,
            "created_by": user_id,
            "created_at": now,
        }
        for norm, phrase in fresh.items()
    ]
    stmt = (
        insert_ignore(s, WatchWord)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["channel_id", "normalized", "topic"])
        .returning(WatchWord.normalized)
    )
    stored = set(s.scalars(stmt))
    added = [phrase for norm, phrase in fresh.items() if norm in stored]
    return WatchAdded(added, already + [p for n, p in fresh.items() if n not in stored])


def remove_watches(
    s: Session, channel_id: str, normalized: Sequence[str] | None, topic: str | None = None
) -> list[Watch]:
    """Drop the channel's watch-words (these, every one when None; one topic's if given)."""
    query = select(WatchWord).where(WatchWord.channel_id == channel_id)
    if normalized is not None:
        query = query.where(WatchWord.normalized.in_(list(normalized)))
    if topic is not None:
        query = query.where(WatchWord.topic == topic)
    rows = list(s.scalars(query.order_by(WatchWord.id)))
    if rows:
        s.execute(delete(WatchWord).where(WatchWord.id.in_([r.id for r in rows])))
    return [_watch(r) for r in rows]


# --- the compiled matcher, cached per database --------------------------------------------------

_Version = tuple[int, int, int]
_cache: weakref.WeakKeyDictionary[Engine, tuple[_Version, WatchIndex]] = weakref.WeakKeyDictionary()
_cache_lock = threading.Lock()


def watch_index(s: Session) -> WatchIndex:
    """Every channel's watch-words compiled into one matcher, rebuilt only when they change.

    The version is (count, max id, sum of ids): rows are never updated and ids never reused,
    so any insert or delete changes it. One cheap aggregate query per call.
    """
    count, top, total = s.execute(
        select(
            func.count(WatchWord.id),
            func.coalesce(func.max(WatchWord.id), 0),
            func.coalesce(func.sum(WatchWord.id), 0),
        )
    ).one()
    version = (int(count), int(top), int(total))
    engine = s.get_bind()
    if not isinstance(engine, Engine):
        engine = engine.engine
    with _cache_lock:
        cached = _cache.get(engine)
    if cached is not None and cached[0] == version:
        return cached[1]
    rows = s.scalars(select(WatchWord).order_by(WatchWord.id))
    index = WatchIndex(_watch(row) for row in rows)
    with _cache_lock:
        _cache[engine] = (version, index)
    return index
