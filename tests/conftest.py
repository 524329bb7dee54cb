"""Shared fixtures: a real database (SQLite file and PostgreSQL), fake servers on 127.0.0.1."""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from deps import Deps
from models.db import make_engine, make_sessionmaker
from models.migrate import upgrade
from settings import Settings
from tests.fakes.feed_server import feed_server  # noqa: F401  (fixture)
from tests.fakes.slack_server import (
    FakeSlack,
    slack,  # noqa: F401  (fixture)
)

POSTGRES_URL = os.environ.get(
    "DIPLO_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

_pg_state: dict[str, str | None] = {}


def postgres_url_or_skip() -> str:
    """The admin URL of the test PostgreSQL server, or skip the test saying why."""
    if "error" not in _pg_state:
        try:
            probe = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
            with probe.connect() as conn:
                conn.execute(text("SELECT 1"))
            probe.dispose()
            _pg_state["error"] = None
        except Exception as exc:  # any failure to connect means: no server here
            _pg_state["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    if _pg_state["error"]:
        pytest.skip(
            f"PostgreSQL not reachable at DIPLO_TEST_POSTGRES_URL={POSTGRES_URL} "
            f"({_pg_state['error']}); start it or point the variable at a server"
        )
    return POSTGRES_URL


def _fresh_postgres_database() -> tuple[str, str]:
    """Create a throwaway database on the test server; returns (url, name)."""
    admin_url = postgres_url_or_skip()
    name = f"diplo_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    base, _, _ = admin_url.rpartition("/")
    return f"{base}/{name}", name


def _drop_postgres_database(name: str) -> None:
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :n AND pid <> pg_backend_pid()"
            ),
            {"n": name},
        )
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database: a SQLite file, or a fresh PostgreSQL database."""
    kind = getattr(request, "param", "sqlite")
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'diplo.db'}"
        return
    url, name = _fresh_postgres_database()
    try:
        yield url
    finally:
        _drop_postgres_database(name)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated database on SQLite (file) and on PostgreSQL; checks no session was left open."""
    if request.param == "sqlite":
        url, name = f"sqlite:///{tmp_path / 'diplo.db'}", None
    else:
        url, name = _fresh_postgres_database()
    eng = make_engine(url)
    try:
        upgrade(eng)
        yield eng
        status = eng.pool.status()
        assert "Checked out connections: 0" in status, f"a session was left open: {status}"
    finally:
        eng.dispose()
        if name:
            _drop_postgres_database(name)


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to the test engine."""
    return make_sessionmaker(engine)


@pytest.fixture
def shared_feeds_dir() -> Path:
    """../shared/data/feeds, or skip saying it is absent."""
    path = SHARED_DATA / "feeds"
    if not path.is_dir():
        pytest.skip(f"real-world feed files not present at {path}")
    return path


@pytest.fixture(scope="module")
def bot_runs() -> None:
    """Skip, saying why, when `python bot.py` cannot even start (a module is missing)."""
    from tests.faults import bot_can_start

    reason = bot_can_start()
    if reason:
        pytest.skip(f"python bot.py --help fails: {reason}")


class Clock:
    """A settable UTC clock for jobs: tests move time instead of sleeping."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 30, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> Clock:
    """A settable clock, starting 2026-11-30 09:00 UTC."""
    return Clock()


@pytest.fixture
def clocked_slack(clock: Clock) -> Iterator[FakeSlack]:
    """The fake Slack stamping messages with the test clock (history lookups compare times)."""
    server = FakeSlack(clock=lambda: clock().timestamp())
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def console() -> io.StringIO:
    """Where the ConsoleSender of `deps` prints."""
    return io.StringIO()


@pytest.fixture
def deps(sessions: sessionmaker[Session], clock: Clock, console: io.StringIO) -> Iterator[Deps]:
    """Deps on the test database: a fetcher allowed to reach 127.0.0.1, the real classifier,
    a console sender writing into `console`, and the settable clock."""
    from handlers.sender import ConsoleSender
    from jobs.fetch import FetchConfig, Fetcher
    from news.relevance import default_classifier

    settings = Settings(
        database_url="unused://", poll_seconds=300, max_failures=3, allow_hosts=LOCAL_HOSTS
    )
    fetcher = Fetcher(FetchConfig(total_timeout=5.0, connect_timeout=2.0, allow_hosts=LOCAL_HOSTS))
    yield Deps(
        settings=settings,
        sessions=sessions,
        fetcher=fetcher,
        classifier=default_classifier(),
        sender=ConsoleSender(stream=console),
        clock=clock,
        owner="test",
    )
    fetcher.close()
