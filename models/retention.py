"""Retention: which stored items may be deleted, and deleting them a batch at a time.

Only irrelevant items older than the cut-off go. An item anything else refers to stays:
every foreign key to items.id in the metadata (alerts, contacts, and whatever table comes
next) and items.duplicate_of are checked, both when choosing and again when deleting.
The FTS index follows by itself (SQLite triggers; PostgreSQL indexes).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ColumnElement, delete, exists, select
from sqlalchemy.orm import Session, aliased

from models.db import Base, rowcount
from models.item import Item

PRUNED_LABEL = "irrelevant"


def referring_columns() -> list[Column[int]]:
    """Every column of another table with a foreign key to items.id."""
    items = Item.__table__
    return [
        fk.parent
        for table in Base.metadata.tables.values()
        for fk in table.foreign_keys
        if fk.column.table is items and table is not items
    ]


def _prunable(cutoff: datetime) -> list[ColumnElement[bool]]:
    """The conditions an item must meet to be deleted."""
    duplicate = aliased(Item)
    kept_by = [~exists().where(column == Item.id) for column in referring_columns()]
    return [
        Item.label == PRUNED_LABEL,
        Item.published_at < cutoff,
        ~exists().where(duplicate.duplicate_of == Item.id),
        *kept_by,
    ]


def prune_batch(s: Session, cutoff: datetime, limit: int) -> int:
    """Delete up to `limit` prunable items, oldest first; returns how many went."""
    conditions = _prunable(cutoff)
    query = select(Item.id).where(*conditions).order_by(Item.published_at).limit(limit)
    ids = list(s.scalars(query))
    if not ids:
        return 0
    # The conditions again: a reference added since the SELECT keeps its item.
    result = s.execute(
        delete(Item).where(Item.id.in_(ids), *_prunable(cutoff)),
        execution_options={"synchronize_session": False},
    )
    return rowcount(result)
