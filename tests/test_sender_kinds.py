"""Sender kinds: a console process never takes, changes or drops a real channel's alert.

A real `python bot.py poll --once` and a real `python bot.py` (console mode: no Slack
tokens) run against a SQLite file a Slack-mode bot also uses; the real channels' alerts are
still there, untouched, and a Slack-mode delivery then posts them to the fake Slack.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from deps import Deps, default_owner
from handlers.sender import ConsoleSender, SlackSender, make_web_client
from jobs.deliver import LEASE, DeliverySummary, deliver_pending
from jobs.recover import release_dead_leases, start_up
from models.db import make_engine, make_sessionmaker
from models.migrate import upgrade
from models.outbox import (
    CONSOLE,
    CONSOLE_CHANNEL,
    KINDS,
    PENDING,
    PSEUDO_CHANNELS,
    SENDING,
    SENT,
    SLACK,
    Alert,
    SenderKind,
    claim_batch,
    expire_leases,
    fail_channel,
)
from news.relevance import default_classifier
from settings import Settings
from tests.fakes.feed_server import FeedServer
from tests.fakes.slack_server import FakeSlack
from tests.faults import LOCAL, bot_env, bot_process, queue_alert
from tests.feedgen import rss, wire
from tests.test_kill_loop import dead_pid


def test_every_channel_belongs_to_exactly_one_sender_kind() -> None:
    channels = [CONSOLE_CHANNEL, "C1", "G123", "D9", "consoles", "", *PSEUDO_CHANNELS]
    for channel in channels:
        assert sum(kind.owns(channel) for kind in KINDS) == 1, channel
    assert CONSOLE.owns(CONSOLE_CHANNEL) and not SLACK.owns(CONSOLE_CHANNEL)
    assert SLACK.owns("C1") and not CONSOLE.owns("C1")
    future = SenderKind("email", frozenset({"email"}))
    assert future.owns("email") and not future.owns("C1") and not future.owns(CONSOLE_CHANNEL)


def test_claims_and_start_up_stay_within_the_sender_kind(deps: Deps) -> None:
    queue_alert(deps, ["C1", CONSOLE_CHANNEL], "Xi and Biden speak")
    with deps.sessions.begin() as s:
        console = claim_batch(s, deps.clock(), "console-proc", 10, LEASE, kind=CONSOLE)
        slack = claim_batch(s, deps.clock(), "slack-proc", 10, LEASE, kind=SLACK)
    assert [j.channel for j in console] == [CONSOLE_CHANNEL]
    assert [j.channel for j in slack] == ["C1"]
    with deps.sessions.begin() as s:  # each kind's own "gone owner" clean-up
        assert expire_leases(s, ["slack-proc"], deps.clock(), kind=CONSOLE) == 0
        assert expire_leases(s, ["console-proc"], deps.clock(), kind=SLACK) == 0
        assert fail_channel(s, "C1", "x", deps.clock(), owner="slack-proc", kind=CONSOLE) == 0
        assert fail_channel(s, CONSOLE_CHANNEL, "x", deps.clock(), owner="c", kind=SLACK) == 0
    with deps.sessions() as s:
        rows = {a.channel_id: (a.status, a.lease_owner) for a in s.scalars(select(Alert))}
    assert rows == {CONSOLE_CHANNEL: (SENDING, "console-proc"), "C1": (SENDING, "slack-proc")}


# --- the real processes --------------------------------------------------------------------


@pytest.fixture
def shared_db(tmp_path: Path) -> Iterator[tuple[str, sessionmaker[Session]]]:
    """A migrated SQLite file, as a Slack-mode bot and a console process would share it."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    engine = make_engine(url)
    upgrade(engine)
    try:
        yield url, make_sessionmaker(engine)
    finally:
        engine.dispose()


def slack_deps(url: str, sessions: sessionmaker[Session], slack: FakeSlack) -> Deps:
    """A Slack-mode bot's deps in this process (real clock: the subprocesses use it too)."""
    sender = SlackSender(make_web_client(slack.bot_token, slack.url, timeout=5), pace=0)
    return Deps(
        settings=Settings(database_url=url, allow_hosts=LOCAL),
        sessions=sessions,
        fetcher=None,  # type: ignore[arg-type]  # these tests never poll in-process
        classifier=default_classifier(),
        sender=sender,
        owner=default_owner(),
    )


def snapshot(sessions: sessionmaker[Session], channels: set[str]) -> list[dict[str, Any]]:
    """Every column of the alerts of these channels."""
    columns = Alert.__table__.columns.keys()
    with sessions() as s:
        rows = s.scalars(select(Alert).where(Alert.channel_id.in_(channels)).order_by(Alert.id))
        return [{c: getattr(a, c) for c in columns} for a in rows]


@pytest.mark.slow
def test_a_console_process_leaves_real_channels_alerts_to_slack(
    bot_runs: None,
    shared_db: tuple[str, sessionmaker[Session]],
    slack: FakeSlack,
    feed_server: FeedServer,
    tmp_path: Path,
) -> None:
    url, sessions = shared_db
    deps = slack_deps(url, sessions, slack)
    for n in range(3):  # queued the way a Slack-mode bot queues them: one row per channel
        queue_alert(deps, ["C1", "C2"] if n else ["C1"], f"Xi and Biden speak, part {n}")
    queue_alert(deps, [CONSOLE_CHANNEL], "A console alert")
    queue_alert(deps, ["C3"], "Left sending by a Slack bot that died")
    host = deps.owner.rpartition(":")[0]
    with sessions.begin() as s:  # a dead Slack bot of this host was posting C1's first alert
        [held] = claim_batch(s, deps.clock(), f"{host}:{dead_pid()}/x", 1, LEASE, kind=SLACK)
    assert held.channel == "C1"
    real = {"C1", "C2", "C3"}
    before = snapshot(sessions, real)

    env = bot_env(url, [feed_server.serve("/w.xml", rss(wire(2)))], slack)
    env = {k: v for k, v in env.items() if not k.startswith("SLACK_")}  # console mode
    log = tmp_path / "console.log"
    with bot_process(env, log, "poll", "--once") as proc:
        assert proc.wait(timeout=60) == 0, log.read_text()
    with bot_process(env, log) as proc:  # the long-running console bot, briefly
        deadline = time.monotonic() + 30
        while "diplo running" not in log.read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()
            time.sleep(0.1)
        time.sleep(1.0)  # several delivery runs (DIPLO_DELIVER_SECONDS=0.2)
        proc.terminate()
        assert proc.wait(timeout=20) == 0, log.read_text()

    printed = log.read_text()
    assert "alert 1 for console" in printed and "A console alert" in printed
    assert " for C" not in printed and "Xi and Biden" not in printed
    assert snapshot(sessions, real) == before  # not claimed, leased, expired or dropped
    with sessions() as s:
        console = s.scalars(select(Alert).where(Alert.channel_id == CONSOLE_CHANNEL)).one()
        assert console.status == SENT

    assert release_dead_leases(deps) == (0, 1)  # the Slack bot's own restart takes it back
    assert deliver_pending(deps) == DeliverySummary(sent=6)
    for channel in real:
        with sessions() as s:
            ids = list(
                s.scalars(select(Alert.id).where(Alert.channel_id == channel).order_by(Alert.id))
            )
        assert [m["metadata"]["event_payload"]["alert_id"] for m in slack.messages(channel)] == ids
    with sessions() as s:
        assert {a.status for a in s.scalars(select(Alert))} == {SENT}


def test_a_slack_process_drops_only_stale_console_alerts(deps: Deps) -> None:
    queue_alert(deps, ["C1", CONSOLE_CHANNEL], "Xi and Biden speak")
    deps.sender = SlackSender(make_web_client("xoxb-x", "http://127.0.0.1:9/api/"), pace=0)
    start_up(deps)  # the documented clean-up: console alerts would never be printed
    with deps.sessions() as s:
        assert [(a.channel_id, a.status) for a in s.scalars(select(Alert))] == [("C1", PENDING)]
    deps.sender, deps.console_alerts = ConsoleSender(), True
    queue_alert(deps, [CONSOLE_CHANNEL], "Another")
    start_up(deps)
    with deps.sessions() as s:
        assert len(s.scalars(select(Alert)).all()) == 2
