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


def search_query(dialect: str, query: Query, limit: int) -> tuple[Select[Item], bool]:
    """The SELECT for `query` on `dialect`, and whether it is limited to the recent window."""
    postgres = dialect == "postgresql"
    stmt = select(Item)
    indexed = False
    if postgres:
        for term in query.terms:
            if term.kind == "word":
                stmt, indexed = stmt.where(_word_prefix(term)), True
            else:
                stmt = stmt.where(_contains(term.text, postgres))
                indexed = indexed or term.indexable
    else:
        looked_up = [t for t in query.terms if t.indexable]
        if looked_up:
            matches = text(f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :fts")
            rowids = matches.bindparams(fts=fts5_match(looked_up)).columns(column("rowid", Integer))
            stmt, indexed = stmt.where(Item.id.in_(rowids)), True
        for term in query.terms:
            if not term.indexable:
                stmt = stmt.where(_contains(term.text, postgres))
    if query.topic:
        stmt = stmt.where(topic_filter(query.topic))
    if query.source:
        stmt = stmt.where(Item.source.ilike(_like_pattern(query.source), escape="\\"))
    if query.since:
        stmt = stmt.where(Item.published_at >= query.since)
    if not indexed:
        recent = select(Item.id).order_by(Item.published_at.desc()).limit(RECENT_WINDOW)
        if query.since:
            recent = recent.where(Item.published_at >= query.since)
        stmt = stmt.where(Item.id.in_(recent.scalar_subquery()))
    return stmt.order_by(Item.published_at.desc(), Item.id.desc()).limit(limit), not indexed


def search(s: Session, query: Query, limit: int) -> SearchResult:
    """The newest `limit` items that contain every term and pass the filters."""
    stmt, recent_only = search_query(s.get_bind().dialect.name, query, limit)
    return SearchResult(s.scalars(stmt).all(), recent_only)
