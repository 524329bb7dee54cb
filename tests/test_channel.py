"""models.channel (per-channel settings) and migration 0005 (story ops) on both databases."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.orm import Session, sessionmaker

from models.channel import Channel, ensure, set_threads, settings_by_channel, threads_on
from models.db import make_engine
from models.migrate import downgrade, upgrade
from models.outbox import POST, Alert

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def test_threads_are_on_until_turned_off(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        assert threads_on(s, "C1") is True  # no row: the default
        assert set_threads(s, "C1", False, NOW) is True  # returns the previous setting
        assert set_threads(s, "C1", False, NOW) is False
        ensure(s, "C1", NOW)  # idempotent, keeps the choice
        ensure(s, "C2", NOW)
    with sessions() as s:
        assert threads_on(s, "C1") is False and threads_on(s, "C2") is True
        settings = settings_by_channel(s, ["C1", "C2", "C3", "C1"])
        assert {c: cs.threads for c, cs in settings.items()} == {
            "C1": False,
            "C2": True,
            "C3": True,
        }
        assert s.scalar(select(Channel.created_at).where(Channel.channel_id == "C1")) == NOW


def _migrate(engine: Engine, revision: str, down: bool = False) -> None:
    (downgrade if down else upgrade)(engine, revision)


@pytest.mark.parametrize(
    "database_url",
    ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
    indirect=True,
)
def test_alerts_queued_before_the_change_survive_the_migration(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0002")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO items (dedup_key, title_key, title, summary, published_at, "
                    "fetched_at, topics, reasons) VALUES ('k', 't', 'Xi', '', :n, :n, '', '[]')"
                ),
                {"n": NOW.replace(tzinfo=None)},
            )
            conn.execute(
                text(
                    "INSERT INTO alerts (item_id, channel_id, status, attempts, next_attempt_at,"
                    " created_at) VALUES (1, 'C1', 'pending', 0, :n, :n)"
                ),
                {"n": NOW.replace(tzinfo=None)},
            )
        upgrade(engine)
        with Session(engine) as s:
            alert = s.scalars(select(Alert)).one()
            assert (alert.op, alert.story_id, alert.broadcast, alert.item_id) == (
                POST,
                None,
                False,
                1,
            )
        assert "channels" in inspect(engine).get_table_names()
        _migrate(engine, "0002", down=True)
        assert "channels" not in inspect(engine).get_table_names()
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM alerts")).scalar() == 1
        _migrate(engine, "head")
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "database_url",
    ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
    indirect=True,
)
def test_the_pause_state_moves_to_the_channel(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0007")
        with engine.begin() as conn:
            for channel, topic, reason in (
                ("C1", "trade", "channel_not_found"),
                ("C1", "summit", "channel_not_found"),
                ("C2", "trade", None),
            ):
                conn.execute(
                    text(
                        "INSERT INTO subscriptions (channel_id, topic, created_by, created_at,"
                        " paused_reason) VALUES (:c, :t, 'U1', :n, :r)"
                    ),
                    {"c": channel, "t": topic, "n": NOW.replace(tzinfo=None), "r": reason},
                )
        upgrade(engine)
        with Session(engine) as s:
            rows = dict(s.execute(select(Channel.channel_id, Channel.paused_reason)).tuples().all())
            assert rows == {"C1": "channel_not_found"}  # C2 keeps its defaults without a row
            c1 = s.get(Channel, "C1")
            assert c1 is not None
            assert (c1.tz, c1.quiet_start, c1.alerts_on, c1.reminders) == (
                None,
                None,
                True,
                "1440,60",
            )
        _migrate(engine, "0007", down=True)
        _migrate(engine, "head")
    finally:
        engine.dispose()
