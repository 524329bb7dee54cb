"""search: full-text indexes over items (FTS5 trigram / tsvector + pg_trgm), read indexes

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 16:00:00

SQLite: `items_fts`, an external-content FTS5 table (trigram tokenizer) kept in sync by
triggers. A later batch migration that recreates `items` drops those triggers with the
table: such a migration must create them again (see `_SQLITE_TRIGGERS`).
PostgreSQL: GIN on to_tsvector('simple', title || ' ' || summary) and pg_trgm GIN on title
and summary. Without the pg_trgm extension (not installed on the server, or no right to
create it) the trigram indexes are skipped with a warning: Chinese and phrase searches then
still work, by scanning.
"""

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

logger = logging.getLogger("alembic.runtime.migration")

_SQLITE_TRIGGERS = (
    """CREATE TRIGGER items_fts_insert AFTER INSERT ON items BEGIN
        INSERT INTO items_fts(rowid, title, summary) VALUES (new.id, new.title, new.summary);
    END""",
    """CREATE TRIGGER items_fts_delete AFTER DELETE ON items BEGIN
        INSERT INTO items_fts(items_fts, rowid, title, summary)
        VALUES ('delete', old.id, old.title, old.summary);
    END""",
    """CREATE TRIGGER items_fts_update AFTER UPDATE OF title, summary ON items BEGIN
        INSERT INTO items_fts(items_fts, rowid, title, summary)
        VALUES ('delete', old.id, old.title, old.summary);
        INSERT INTO items_fts(rowid, title, summary) VALUES (new.id, new.title, new.summary);
    END""",
)


def _pg_trgm(bind: sa.Connection) -> bool:
    """Create pg_trgm if the server has it and we may; False (and a warning) if not."""
    available = bind.execute(
        sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
    ).first()
    if available is None:
        logger.warning("pg_trgm is not available on this server: Chinese search will scan")
        return False
    try:
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError as exc:
        logger.warning("cannot create pg_trgm (%s): Chinese search will scan", exc.orig)
        return False
    return True


def upgrade() -> None:
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.create_index("ix_items_published_at", ["published_at"], unique=False)
        batch_op.create_index("ix_items_duplicate_of", ["duplicate_of"], unique=False)
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        version = bind.exec_driver_sql("SELECT sqlite_version()").scalar_one()
        if tuple(int(p) for p in str(version).split(".")[:2]) < (3, 34):
            raise RuntimeError(f"SQLite {version} has no trigram tokenizer: diplo needs 3.34+")
        op.execute(
            "CREATE VIRTUAL TABLE items_fts USING fts5(title, summary, "
            "content='items', content_rowid='id', tokenize='trigram')"
        )
        for trigger in _SQLITE_TRIGGERS:
            op.execute(trigger)
        op.execute("INSERT INTO items_fts(items_fts) VALUES ('rebuild')")  # backfill
    elif bind.dialect.name == "postgresql":
        op.execute(
            "CREATE INDEX ix_items_fts ON items "
            "USING gin (to_tsvector('simple'::regconfig, title || ' ' || summary))"
        )
        if _pg_trgm(bind):
            op.execute("CREATE INDEX ix_items_title_trgm ON items USING gin (title gin_trgm_ops)")
            op.execute(
                "CREATE INDEX ix_items_summary_trgm ON items USING gin (summary gin_trgm_ops)"
            )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for name in ("items_fts_insert", "items_fts_delete", "items_fts_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS items_fts")
    elif bind.dialect.name == "postgresql":
        for name in ("ix_items_summary_trgm", "ix_items_title_trgm", "ix_items_fts"):
            op.execute(f"DROP INDEX IF EXISTS {name}")
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_index("ix_items_duplicate_of")
        batch_op.drop_index("ix_items_published_at")
