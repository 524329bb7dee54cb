"""The database misbehaves: PostgreSQL restarted or down under the bot, SQLite locked.

PostgreSQL runs in a private throwaway cluster (tests.faults.PrivateCluster: initdb and
pg_ctl as the postgres user, on a free port) because restarting the shared test server
would break tests running in parallel; skipped, saying why, where that cannot start.
The jobs are called through the scheduler's own guarded wrappers, as the bot runs them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from deps import Deps
from handlers.sender import SlackSender, make_web_client
from jobs.fetch import FetchConfig, Fetcher
from jobs.poll import poll_due_feeds
from models.db import make_engine, make_sessionmaker
from models.feed import add_feed
from models.migrate import upgrade
from models.subscription import subscribe
from news.relevance import default_classifier
from settings import Settings
from tests.conftest import LOCAL_HOSTS, Clock
from tests.fakes.feed_server import FeedServer
from tests.fakes.slack_server import FakeSlack
from tests.faults import PrivateCluster, database_drill, hold_sqlite_lock
from tests.feedgen import rss, wire


@pytest.fixture(scope="module")
def cluster() -> Iterator[PrivateCluster]:
    """A private PostgreSQL cluster for this module, removed at the end."""
    reason = PrivateCluster.unavailable()
    if reason:
        pytest.skip(f"no private PostgreSQL cluster: {reason}")
    pg = PrivateCluster()
    try:
        pg.start()
        yield pg
    finally:
        pg.remove()


@pytest.fixture
def pg_engine(cluster: PrivateCluster) -> Iterator[Engine]:
    engine = make_engine(cluster.url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def pg_deps(pg_engine: Engine, clocked_slack: FakeSlack, clock: Clock) -> Iterator[Deps]:
    slack = clocked_slack
    with Fetcher(FetchConfig(total_timeout=5.0, allow_hosts=LOCAL_HOSTS)) as fetcher:
        yield Deps(
            settings=Settings(database_url="unused://", allow_hosts=LOCAL_HOSTS),
            sessions=make_sessionmaker(pg_engine),
            fetcher=fetcher,
            classifier=default_classifier(),
            sender=SlackSender(make_web_client(slack.bot_token, slack.url, timeout=5), pace=0),
            clock=clock,
            owner="pg-test",
        )


def test_postgres_restarted_or_down_under_the_bot_then_it_carries_on(
    pg_deps: Deps,
    cluster: PrivateCluster,
    feed_server: FeedServer,
    clocked_slack: FakeSlack,
    clock: Clock,
) -> None:
    report = database_drill(pg_deps, cluster, feed_server, clocked_slack, clock)
    assert report.posted == report.published  # each story once, in order, nothing lost
    # while it was down, the scheduler's wrappers logged one line per job and lived on
    assert len(report.errors_while_down) == 2
    assert all("runs again at its next interval" in m for m in report.errors_while_down)
    assert report.errors_after == []  # back up: pool pre-ping, no failed tick at all
    assert (report.relevant_stored, report.alerts, report.pending) == (3, 3, 0)


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_sqlite_locked_by_another_writer_waits_then_succeeds(
    deps: Deps, engine: Engine, feed_server: FeedServer, clock: Clock
) -> None:
    with deps.sessions.begin() as s:
        add_feed(s, feed_server.serve("/wire.xml", rss(wire(3))), clock())
        subscribe(s, "C1", ["all"], "U1", clock())
    assert engine.url.database
    holder = hold_sqlite_lock(engine.url.database, 2.0)  # BEGIN IMMEDIATE in another connection
    started = time.monotonic()
    summary = poll_due_feeds(deps)
    waited = time.monotonic() - started
    holder.join()
    assert (summary.ok, summary.new_items) == (1, 3)
    assert 1.5 <= waited < 10, waited
