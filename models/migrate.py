"""Apply Alembic migrations from code (bot start-up, `bot.py db upgrade`, tests)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text
from sqlalchemy.schema import SchemaItem

from news.sources import SourceBook

ROOT = Path(__file__).resolve().parent.parent
_LOCK_KEY = 0x6469706C6F  # "diplo": one migrator at a time across processes (PostgreSQL)


def include_object(
    obj: SchemaItem, name: str | None, type_: str, reflected: bool, compare_to: SchemaItem | None
) -> bool:
    """Autogenerate's filter: leave out what migrations create outside the models (search)."""
    from models.search import is_search_object

    return not is_search_object(name, type_)


def alembic_config() -> Config:
    """An Alembic config pointing at the project's migrations folder."""
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    return config


@contextmanager
def _migrating(engine: Engine) -> Iterator[Connection]:
    """One transaction for a migration run: PostgreSQL under the advisory lock; SQLite with
    foreign keys off, as SQLite's docs prescribe for schema changes.

    A batch migration on SQLite copies a table and drops the old one; with foreign keys on,
    dropping `items` would delete every row that refers to it (`ON DELETE CASCADE`: alerts,
    contacts), so an upgrade or downgrade that rebuilds a parent table would lose data.
    """
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:  # outside a transaction, or SQLite ignores it
            connection.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
        try:
            with connection.begin():
                if connection.dialect.name == "postgresql":
                    connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
                yield connection
        finally:
            if sqlite:
                connection.connection.dbapi_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]


def upgrade(engine: Engine, revision: str = "head", sources: SourceBook | None = None) -> None:
    """Bring the database schema up to `revision`.

    `sources` credits existing rows in migrations that backfill
    outlets; the default sources file otherwise.
    """
    config = alembic_config()
    if sources is not None:
        config.attributes["sources"] = sources
    with _migrating(engine) as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Take the database schema back to `revision` (tests; an operator's way back)."""
    config = alembic_config()
    with _migrating(engine) as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def pending(engine: Engine) -> bool:
    """True when the database is behind the newest migration."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    return current != head


class UnknownRevision(Exception):
    """The database is at a revision these migrations do not know (a newer diplo wrote it)."""


def pending_migrations(engine: Engine) -> list[str]:
    """The migrations this database still needs, oldest first, as `revision (name)`.

    Reads only (no lock, no write); raises UnknownRevision when the database's revision is
    not one of ours.
    """
    script = ScriptDirectory.from_config(alembic_config())
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    known = {rev.revision: rev for rev in script.walk_revisions()}
    if current is not None and current not in known:
        raise UnknownRevision(current)
    applied: set[str] = set()
    at = known.get(current) if current else None
    while at is not None:  # the database's revision and everything below it
        applied.add(at.revision)
        down = at.down_revision
        at = known.get(down) if isinstance(down, str) else None
    todo = [rev for rev in known.values() if rev.revision not in applied]
    return [f"{rev.revision} ({rev.doc.strip().split(':')[0].strip()})" for rev in reversed(todo)]
