"""Full-text search over items: SQLite FTS5 (trigram) or PostgreSQL tsvector + pg_trgm.

The indexes live outside the SQLAlchemy metadata (migrations/versions/0006_search.py
creates them; `SEARCH_OBJECTS` keeps them out of autogenerate's view):
- SQLite: `items_fts`, an external-content FTS5 table over items(title, summary) with the
  `trigram` tokenizer (case-insensitive substrings, Chinese included), kept in sync by
  triggers on items.
- PostgreSQL: a GIN index on `to_tsvector('simple', title || ' ' || summary)` for words
  (prefix match, no stemming) and pg_trgm GIN indexes on title and summary for everything
  else (Chinese, phrases, `10%`); PostgreSQL maintains both itself.
How each term is looked up is explained in news/query.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    column,
    func,
    literal_column,
    or_,
    select,
    text,
)
from sqlalchemy.orm import Session

from models.item import Item
from news.query import Query, Term

FTS_TABLE = "items_fts"
TSVECTOR_INDEX = "ix_items_fts"
TRIGRAM_INDEXES = ("ix_items_title_trgm", "ix_items_summary_trgm")
# What 0006 creates outside the models: autogenerate must neither add nor drop them.
SEARCH_OBJECTS = frozenset({TSVECTOR_INDEX, *TRIGRAM_INDEXES})
# With no term an index can look up, only the newest items are searched (a bounded scan).
RECENT_WINDOW = 20_000
# SQLite: a term matching more items than this is checked item by item, newest first.
PROBE_ABOVE = 20_000


@dataclass(frozen=True, slots=True)
class SearchResult:
    """The matching items, newest first; `recent_only` when only RECENT_WINDOW were searched."""

    items: Sequence[Item]
    recent_only: bool


def is_search_object(name: str | None, type_: str) -> bool:
    """True for the FTS table (and its shadow tables) and the search indexes."""
    if not name:
        return False
    if type_ == "table":
        return name == FTS_TABLE or name.startswith(FTS_TABLE + "_")
    return type_ == "index" and name in SEARCH_OBJECTS


def _like_pattern(term: str) -> str:
    """`%term%` with `\\`, `%` and `_` escaped, so a user's wildcard is a literal character."""
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _contains(term: str, postgres: bool) -> ColumnElement[bool]:
    """Title or summary contains `term`, case-insensitively (LIKE; PostgreSQL: trigram GIN)."""
    pattern = _like_pattern(term)
    if postgres:  # backslash is PostgreSQL's default LIKE escape; an ESCAPE clause hides it
        return or_(Item.title.ilike(pattern), Item.summary.ilike(pattern))
    return or_(Item.title.ilike(pattern, escape="\\"), Item.summary.ilike(pattern, escape="\\"))


def fts5_match(terms: Sequence[Term]) -> str:
    """An FTS5 MATCH expression: each term one quoted string, all required (no operators)."""
    return " ".join('"' + t.text.replace('"', '""') + '"' for t in terms)


def _tsvector() -> ColumnElement[object]:
    """The expression the PostgreSQL GIN index is built on (it must match exactly)."""
    return func.to_tsvector(
        literal_column("'simple'::regconfig"), Item.title + literal_column("' '") + Item.summary
    )


def _word_prefix(term: Term) -> ColumnElement[bool]:
    """A word of a space-separated script: some word starts with it (tsvector GIN)."""
    tsquery = func.to_tsquery(literal_column("'simple'::regconfig"), term.text + ":*")
    return _tsvector().bool_op("@@")(tsquery)


def topic_filter(topic: str) -> ColumnElement[bool]:
    """items.topics (comma-separated) holds `topic`."""
    return or_(
        Item.topics == topic,
        Item.topics.like(f"{topic},%"),
        Item.topics.like(f"%,{topic}"),
        Item.topics.like(f"%,{topic},%"),
    )


def indexed(dialect: str, query: Query) -> bool:
    """Whether some term of `query` can be looked up in an index on `dialect`."""
    if dialect == "postgresql":
        return any(t.kind == "word" or t.indexable for t in query.terms)
    return any(t.indexable for t in query.terms)


def search_query(
    dialect: str,
    query: Query,
    limit: int,
    *,
    probe: bool = False,
    window_start: datetime | None = None,
) -> Select[Item]:
    """The SELECT for `query` on `dialect`.

    SQLite: with `probe`, the newest items are walked (published_at index) and each is
    looked up in FTS5, which is fast for a common term; without, FTS5 lists every match,
    which is fast for a rare one. `window_start`: only items published since then.
    """
    postgres = dialect == "postgresql"
    stmt = select(Item)
    if postgres:
        for term in query.terms:
            stmt = stmt.where(
                _word_prefix(term) if term.kind == "word" else _contains(term.text, True)
            )
    else:
        looked_up = [t for t in query.terms if t.indexable]
        if looked_up:
            fts = fts5_match(looked_up)
            if probe:
                stmt = stmt.where(
                    text(
                        f"EXISTS (SELECT 1 FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :fts "
                        f"AND {FTS_TABLE}.rowid = items.id)"
                    ).bindparams(fts=fts)
                )
            else:
                matches = text(f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :fts")
                rowids = matches.bindparams(fts=fts).columns(column("rowid", Integer))
                stmt = stmt.where(Item.id.in_(rowids))
        for term in query.terms:
            if not term.indexable:
                stmt = stmt.where(_contains(term.text, False))
    if query.topic:
        stmt = stmt.where(topic_filter(query.topic))
    if query.source:
        stmt = stmt.where(Item.source.ilike(_like_pattern(query.source), escape="\\"))
    if query.since:
        stmt = stmt.where(Item.published_at >= query.since)
    if window_start is not None:
        stmt = stmt.where(Item.published_at >= window_start)
    return stmt.order_by(Item.published_at.desc(), Item.id.desc()).limit(limit)


def _common(s: Session, query: Query, cap: int) -> bool:
    """SQLite: whether the indexed terms match at least `cap` items (counted up to it)."""
    fts = fts5_match([t for t in query.terms if t.indexable])
    counted = text(
        f"SELECT count(*) FROM (SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :fts "
        "LIMIT :cap)"
    )
    return (s.scalar(counted, {"fts": fts, "cap": cap}) or 0) >= cap


def _window_start(s: Session) -> datetime | None:
    """When the RECENT_WINDOW-th newest item was published (None: fewer items than that)."""
    query = (
        select(Item.published_at)
        .order_by(Item.published_at.desc())
        .offset(RECENT_WINDOW - 1)
        .limit(1)
    )
    return s.scalar(query)


def search(s: Session, query: Query, limit: int, probe_above: int = PROBE_ABOVE) -> SearchResult:
    """The newest `limit` items that contain every term and pass the filters.

    `probe_above`: on SQLite, terms matching at least this many items are checked item by
    item, newest first (see `search_query`).
    """
    dialect = s.get_bind().dialect.name
    if not indexed(dialect, query):
        start = _window_start(s)
        stmt = search_query(dialect, query, limit, window_start=start)
        return SearchResult(s.scalars(stmt).all(), True)
    probe = dialect == "sqlite" and _common(s, query, probe_above)
    return SearchResult(s.scalars(search_query(dialect, query, limit, probe=probe)).all(), False)
