"""Alembic environment: uses the connection handed in by models.migrate, else DATABASE_URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

import models  # noqa: F401  (registers every table)
from models.db import Base, make_engine
from models.migrate import include_object

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # ALTER on SQLite becomes copy-and-move
        compare_type=True,
        include_object=include_object,  # the search indexes live outside the models
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from settings import load_settings

    engine = make_engine(load_settings().database_url)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


run_migrations_online()
