"""Reminders and digests at two real `bot.py` replicas on one PostgreSQL database: each once.

Both replicas run the reminder and digest jobs every second (DIPLO_SCHEDULE_SECONDS=1) and
deliver with a 3 s lease (DIPLO_LEASE_SECONDS=3), in Socket Mode against the fake Slack, so
every `/diplo` command goes to one of them (the fake takes the open connections in turn).
A planned Trump–Xi meeting, read from a feed on 127.0.0.1, whose day is tomorrow in Seoul:
its 24-hour reminder is due at once (late, still true) and is posted once; `digest now`
sent to both replicas at once posts one digest; a replica killed with -9 while Slack holds
its reminder or digest post (which then lands) is taken over after the lease, and the other
finds the message by its metadata instead of posting it again.
"""

from __future__ import annotations

import contextlib
import re
import signal
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from subprocess import Popen
from threading import Event
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from deps import Deps
from handlers.sender import ConsoleSender
from jobs.classify import classify_new_items
from jobs.fetch import FetchConfig, Fetcher
from jobs.poll import poll_due_feeds
from models.db import make_engine, make_sessionmaker
from models.feed import add_feed
from models.item import save_new
from models.migrate import upgrade
from models.outbox import DIGEST, REMIND, SENT, UNFINISHED, Alert
from models.subscription import subscribe
from news.entry import Entry
from news.relevance import default_classifier
from settings import Settings
from tests.fakes.feed_server import FeedServer
from tests.fakes.slack_server import FakeSlack, Json
from tests.faults import LOCAL, bot_process
from tests.feedgen import Story, rss, wire
from tests.slackbot import slash_form
from tests.slackbot import wait_for as until
from tests.test_fleet import stop, wait_for
from tests.test_replicas import LEASE, clean, owner, replica_env, set_due

pytestmark = [
    pytest.mark.usefixtures("bot_runs"),
    pytest.mark.postgres,
    pytest.mark.parametrize("database_url", ["postgresql"], indirect=True),
]
CHANNEL = "CSCHED"
SEOUL = ZoneInfo("Asia/Seoul")  # Gyeongju's zone: the contact starts at 00:00 there


@pytest.fixture
def db(database_url: str) -> Iterator[Deps]:
    """This test's own view of the shared database (it primes the feed, reads the outbox)."""
    engine = make_engine(database_url)
    upgrade(engine)
    with Fetcher(FetchConfig(allow_hosts=LOCAL)) as fetcher:
        yield Deps(
            settings=Settings(database_url=database_url, poll_seconds=1, allow_hosts=LOCAL),
            sessions=make_sessionmaker(engine),
            fetcher=fetcher,
            classifier=default_classifier(),
            sender=ConsoleSender(),
            owner="the-test",
        )
    engine.dispose()


@contextlib.contextmanager
def replicas(
    database_url: str, feeds: list[str], slack: FakeSlack, tmp_path: Path
) -> Iterator[tuple[list[Popen[bytes]], list[Path]]]:
    """Two Socket Mode replicas, running and connected; each looks for due work every second."""
    env = {
        "SLACK_APP_TOKEN": slack.app_token,
        "DIPLO_SCHEDULE_SECONDS": "1",
        "DIPLO_POLL_SECONDS": "5",  # a poll tick every second; the feed's own interval 5 s
    }
    logs = [tmp_path / f"replica{n}.log" for n in range(2)]
    with contextlib.ExitStack() as stack:
        procs = [  # started together: migrations and seeding race safely (tests/test_fleet.py)
            stack.enter_context(bot_process(replica_env(database_url, feeds, slack, **env), log))
            for log in logs
        ]
        for proc, log in zip(procs, logs, strict=True):
            assert wait_for(log, "diplo running", proc, timeout=90), log.read_text()
        slack.wait_connections(2, timeout=20)
        yield procs, logs


def stop_all(procs: list[Popen[bytes]]) -> list[int]:
    """SIGTERM every replica at once; their exit codes."""
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    return [proc.wait(timeout=15) for proc in procs]


def command(slack: FakeSlack, text: str) -> str:
    """Send `/diplo text` from CHANNEL as an envelope (to the next connection); its reply key."""
    key = f"cmd-{uuid.uuid4().hex[:8]}"
    slack.send_envelope("slash_commands", slash_form(text, CHANNEL, "U1", slack.response_url(key)))
    return key


def reply(slack: FakeSlack, key: str) -> str:
    """The text of the one reply POSTed to the command's response_url."""
    [answer] = until(lambda: slack.responses(key), timeout=15)
    return str(answer["text"])


def rows(db: Deps, op: str) -> list[Alert]:
    with db.sessions() as s:
        return list(s.scalars(select(Alert).where(Alert.op == op).order_by(Alert.id)))


def all_sent(db: Deps) -> bool:
    with db.sessions() as s:
        return not s.scalars(select(Alert.id).where(Alert.status.in_(UNFINISHED))).first()


def carrying(slack: FakeSlack, alert_id: int) -> list[Json]:
    """The channel's top-level messages carrying this outbox row's metadata."""
    return [
        m
        for m in slack.top_level(CHANNEL)
        if ((m.get("metadata") or {}).get("event_payload") or {}).get("alert_id") == alert_id
    ]


def posts_carrying(slack: FakeSlack, alert_id: int) -> int:
    """chat.postMessage calls (answered or not) that carried this outbox row's metadata."""
    return sum(
        ((c.get("metadata") or {}).get("event_payload") or {}).get("alert_id") == alert_id
        for c in slack.calls("chat.postMessage")
    )


def tomorrow_in_seoul() -> datetime:
    """00:00 tomorrow in Seoul (UTC), once the test has time to run before Seoul's midnight."""
    local = datetime.now(SEOUL)
    midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), SEOUL)
    if midnight - local < timedelta(seconds=90):  # "tomorrow" would turn into "today"
        time.sleep((midnight - local).total_seconds() + 1)
        return tomorrow_in_seoul()
    return midnight.astimezone(UTC)


def meeting(start: datetime) -> Story:
    """A report of the planned meeting on the day that starts at `start` (Seoul's midnight)."""
    day = start.astimezone(SEOUL).date()
    title = f"Trump and Xi to meet at APEC in Gyeongju on {day:%b} {day.day}"
    link = "https://www.reuters.com/world/gyeongju-" + uuid.uuid4().hex[:8]
    return Story(title, link=link, guid=link, published=datetime.now(UTC))


def primed_feed(db: Deps, server: FeedServer) -> str:
    """A feed polled once here (its items seen, no alerts), not due for an hour."""
    url = server.serve("/wire.xml", rss(wire(3)))
    with db.sessions.begin() as s:
        add_feed(s, url, db.clock())
    assert poll_due_feeds(db).ok == 1
    set_due(db, url, timedelta(hours=1))
    return url


def publish(db: Deps, server: FeedServer, url: str, story: Story) -> None:
    """The feed now carries `story`, and is due at once."""
    server.serve("/wire.xml", rss([story, *wire(3)]))
    set_due(db, url)


def planned_story_posted(db: Deps, slack: FakeSlack) -> int:
    """Wait for the meeting's story message in CHANNEL; the story's id."""
    until(lambda: all_sent(db) and slack.top_level(CHANNEL), timeout=20)
    with db.sessions() as s:
        [story_id] = set(s.scalars(select(Alert.story_id).where(Alert.story_id.is_not(None))))
    return int(story_id)


def reminders_queued(logs: list[Path]) -> list[int]:
    """How many reminders each replica logged it queued."""
    return [len(re.findall(r"reminder \S+ queued for", log.read_text())) for log in logs]


def holder(db: Deps, op: str, procs: list[Popen[bytes]]) -> int:
    """Which replica (index) holds the lease of the one `op` row."""
    [row] = rows(db, op)
    held = str(row.lease_owner)
    [index] = [n for n, p in enumerate(procs) if held.startswith(owner(p) + "/")]
    return index


# --- two replicas, one reminder ----------------------------------------------------------------


def test_two_replicas_post_a_due_reminder_once(
    database_url: str, db: Deps, tmp_path: Path, feed_server: FeedServer, slack: FakeSlack
) -> None:
    url = primed_feed(db, feed_server)
    start = tomorrow_in_seoul()
    with replicas(database_url, [url], slack, tmp_path) as (procs, logs):
        keys = [command(slack, "subscribe all"), command(slack, "remind 24h")]
        assert "all" in reply(slack, keys[0]) and "24h" in reply(slack, keys[1])
        assert set(slack.envelopes_by_connection()) == {1, 2}  # one command each
        published = time.monotonic()
        publish(db, feed_server, url, meeting(start))
        story_id = planned_story_posted(db, slack)
        until(lambda: [r.status for r in rows(db, REMIND)] == [SENT], timeout=15)
        posted = time.monotonic() - published
        time.sleep(3.0)  # three more reminder ticks at each replica: room for a second one
        assert stop_all(procs) == [0, 0]
    for log in logs:
        clean(log)
    [row] = rows(db, REMIND)
    assert row.story_id == story_id and row.key == f"{story_id}:1440:{start.isoformat()}"
    [message] = carrying(slack, row.id)
    assert message["text"].startswith("In ") and "Gyeongju" in message["text"]
    assert posts_carrying(slack, row.id) == 1
    assert len(slack.top_level(CHANNEL)) == 2  # the story message and its reminder
    assert sorted(reminders_queued(logs)) == [0, 1]
    print(f"feed item published → its reminder posted once by 2 replicas in {posted:.1f} s")


# --- digest now, at both replicas at once --------------------------------------------------------


def seed_stories(db: Deps, slack: FakeSlack, feed_url: str) -> None:
    """CHANNEL on `all`, and three reports of two stories in the (local) feed, as a poll
    stores them (jobs.classify); wait until the replicas have posted them."""
    now = db.clock()
    reports = [
        ("Trump and Xi speak by phone about trade and Taiwan", "https://www.reuters.com/c1"),
        ("Trump and Xi hold phone call on tariffs", "https://apnews.com/c2"),
        ("US and China trade talks resume in Geneva", "https://www.bloomberg.com/t1"),
    ]
    entries = [
        Entry(dedup_key=uuid.uuid4().hex * 2, title=title, url=url, summary="", published=now)
        for title, url in reports
    ]
    with db.sessions.begin() as s:
        subscribe(s, CHANNEL, ["all"], "U1", now)
        feed, _ = add_feed(s, feed_url, now)
        items = save_new(s, feed.id, "Wire", entries, now)
        assert classify_new_items(s, items, db.classifier, now, alert=True, sources=db.sources)
    until(lambda: all_sent(db) and slack.top_level(CHANNEL), timeout=20)


def test_digest_now_at_both_replicas_at_once_posts_one_digest(
    database_url: str, db: Deps, tmp_path: Path, feed_server: FeedServer, slack: FakeSlack
) -> None:
    url = feed_server.serve("/quiet.xml", rss(wire(2)))
    with replicas(database_url, [url], slack, tmp_path) as (procs, logs):
        seed_stories(db, slack, url)
        before = len(slack.top_level(CHANNEL))
        keys = [command(slack, "digest now"), command(slack, "digest now")]  # a double click
        answers = [reply(slack, k) for k in keys]
        assert set(slack.envelopes_by_connection()) == {1, 2}  # one at each replica
        until(lambda: [r.status for r in rows(db, DIGEST)] == [SENT], timeout=30)
        time.sleep(2.0)  # room for a second digest
        assert stop_all(procs) == [0, 0]
    for log in logs:
        clean(log)
    assert sorted("already" in a for a in answers) == [False, True], answers  # one was queued
    [row] = rows(db, DIGEST)
    [digest] = carrying(slack, row.id)
    assert posts_carrying(slack, row.id) == 1
    assert len(slack.top_level(CHANNEL)) == before + 1
    shared = slack.calls("files.completeUploadExternal")
    assert len(shared) <= 1 and len(slack.requests("files.getUploadURLExternal")) == len(shared)
    assert all(f.get("thread_ts") == digest["ts"] for f in shared)
    print(f"`digest now` twice at 2 replicas: 1 digest, {len(shared)} chart")


# --- kill -9 while the post is in flight ---------------------------------------------------------


def kill_holder_mid_post(
    db: Deps, slack: FakeSlack, op: str, procs: list[Popen[bytes]], gate: Event
) -> tuple[int, float]:
    """Wait for `op`'s post to be held by the fake Slack; kill -9 its sender; let the post land.

    Returns (the killed replica's index, time.monotonic() of the kill).
    """
    until(lambda: slack.in_flight("chat.postMessage"), timeout=20)
    killed = holder(db, op, procs)
    procs[killed].send_signal(signal.SIGKILL)
    procs[killed].wait(10)
    killed_at = time.monotonic()
    gate.set()  # Slack takes the post after its sender died: nobody recorded it
    until(lambda: slack.in_flight("chat.postMessage") == 0, timeout=10)
    return killed, killed_at


def test_a_replica_killed_with_9_while_posting_a_reminder_is_taken_over_without_a_repeat(
    database_url: str, db: Deps, tmp_path: Path, feed_server: FeedServer, slack: FakeSlack
) -> None:
    url = primed_feed(db, feed_server)
    start = tomorrow_in_seoul()
    gate = Event()
    try:
        with replicas(database_url, [url], slack, tmp_path) as (procs, logs):
            keys = [command(slack, "subscribe all"), command(slack, "remind off")]
            assert [bool(reply(slack, k)) for k in keys] == [True, True]
            publish(db, feed_server, url, meeting(start))
            planned_story_posted(db, slack)
            slack.hold_next("chat.postMessage", gate)
            assert "24h" in reply(slack, command(slack, "remind 24h"))
            killed, killed_at = kill_holder_mid_post(db, slack, REMIND, procs, gate)
            [row] = rows(db, REMIND)
            assert row.status != SENT and len(carrying(slack, row.id)) == 1  # landed, unrecorded
            until(lambda: rows(db, REMIND)[0].status == SENT, timeout=LEASE + 15)
            took_over = time.monotonic() - killed_at
            time.sleep(2.0)  # room for a repeat
            survivor = procs[1 - killed]
            assert stop(survivor)[0] == 0
    finally:
        gate.set()
    searched = f"alert {row.id} was left unrecorded by a stopped sender; searching"
    assert searched in clean(logs[1 - killed])
    assert slack.requests("conversations.history")
    [row] = rows(db, REMIND)
    assert len(carrying(slack, row.id)) == 1 and posts_carrying(slack, row.id) == 1
    assert row.slack_ts == carrying(slack, row.id)[0]["ts"]
    assert took_over < LEASE + 5, took_over
    print(f"kill -9 mid-reminder: the other replica found it posted {took_over:.1f} s later")


def test_a_replica_killed_with_9_while_posting_a_digest_is_taken_over_without_a_repeat(
    database_url: str, db: Deps, tmp_path: Path, feed_server: FeedServer, slack: FakeSlack
) -> None:
    url = feed_server.serve("/quiet.xml", rss(wire(2)))
    gate = Event()
    try:
        with replicas(database_url, [url], slack, tmp_path) as (procs, logs):
            seed_stories(db, slack, url)
            before = len(slack.top_level(CHANNEL))
            slack.hold_next("chat.postMessage", gate)
            assert "on its way" in reply(slack, command(slack, "digest now"))
            killed, killed_at = kill_holder_mid_post(db, slack, DIGEST, procs, gate)
            [row] = rows(db, DIGEST)
            assert row.status != SENT and len(carrying(slack, row.id)) == 1
            until(lambda: rows(db, DIGEST)[0].status == SENT, timeout=LEASE + 15)
            took_over = time.monotonic() - killed_at
            time.sleep(2.0)
            assert stop(procs[1 - killed])[0] == 0
    finally:
        gate.set()
    clean(logs[1 - killed])
    assert slack.requests("conversations.history")  # it looked before posting
    [row] = rows(db, DIGEST)
    assert len(carrying(slack, row.id)) == 1 and posts_carrying(slack, row.id) == 1
    assert len(slack.top_level(CHANNEL)) == before + 1
    # the chart was handed over before the post, never shared: a found digest gets none
    assert slack.calls("files.completeUploadExternal") == []
    assert took_over < LEASE + 5, took_over
    print(f"kill -9 mid-digest: the other replica found it posted {took_over:.1f} s later")
