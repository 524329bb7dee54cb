"""One bot process per SQLite file: a second `bot.py run` on the same file is refused.

SQLite has one writer at a time and no row leases, and WAL does not work across hosts, so
diplo treats a SQLite database as single-process: `run` holds an exclusive lock on
`<file>.lock` for its lifetime (released by the kernel even after `kill -9`). One-shot
commands (`poll --once`, `feeds`, `reclassify`, …) stay allowed beside a running bot: they
are short transactions under SQLite's own locking. Several replicas need PostgreSQL.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url


class AlreadyRunning(Exception):
    """Another bot process holds this SQLite file; the message is one line."""


def sqlite_path(database_url: str) -> Path | None:
    """The file of a SQLite URL (None for PostgreSQL or an in-memory database)."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database).resolve()


@contextmanager
def single_bot(database_url: str) -> Iterator[None]:
    """Hold the bot lock of a SQLite database for the block; PostgreSQL needs none."""
    path = sqlite_path(database_url)
    if path is None:
        yield
        return
    lock = path.with_name(path.name + ".lock")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.read(fd, 32).decode(errors="replace").strip() or "?"
            raise AlreadyRunning(
                f"another diplo bot (pid {other}) is running on {path}; SQLite serves one bot "
                "process — stop it first, or use PostgreSQL (DATABASE_URL) for several replicas"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield
    finally:
        os.close(fd)  # releases the lock
