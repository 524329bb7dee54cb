"""Several real `bot.py` replicas on one PostgreSQL database, sharing the work by leases.

A short lease (DIPLO_LEASE_SECONDS=3) and poll interval keep this quick: the polls are shared
(each feed about once per interval in total), the same headline at two replicas is alerted
once, a replica killed with -9 while it holds feed and alert leases is taken over within
the lease time (and not before: its heartbeat kept them while it lived), SIGTERM hands over
at once, and Socket Mode and HTTP mode requests are answered by whichever replica gets them.
(Three replicas started together on a fresh database: tests/test_fleet.py.)
"""

from __future__ import annotations

import contextlib
import re
import signal
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from subprocess import Popen
from urllib.parse import urlencode

import pytest
from sqlalchemy import select, update

from deps import Deps
from handlers.sender import ConsoleSender
from jobs.fetch import FetchConfig, Fetcher
from jobs.poll import poll_due_feeds
from models.db import make_engine, make_sessionmaker
from models.feed import Feed, add_feed
from models.item import Item
from models.migrate import upgrade
from models.outbox import SENT, UPDATE, Alert, enqueue
from models.subscription import subscribe
from news.relevance import default_classifier
from settings import Settings
from tests.fakes.feed_server import FeedServer, Reply
from tests.fakes.slack_server import FakeSlack
from tests.faults import CHANNEL, LOCAL, bot_env, bot_process, posted_ops
from tests.feedgen import Story, rss, wire
from tests.slackbot import post_form, sign, slash_form
from tests.slackbot import wait_for as until
from tests.test_fleet import relevant, stop, wait_for

pytestmark = [
    pytest.mark.usefixtures("bot_runs"),
    pytest.mark.postgres,
    pytest.mark.parametrize("database_url", ["postgresql"], indirect=True),
]
LEASE = 3  # seconds (DIPLO_LEASE_SECONDS): the heartbeat renews every second
SECRET = "kill-loop-signing-secret"  # tests.faults.bot_env's


@pytest.fixture
def db(database_url: str) -> Iterator[Deps]:
    """This test's own view of the shared database: it primes feeds and queues alerts."""
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


def prime(
    db: Deps, server: FeedServer, urls: list[str], due_in: timedelta = timedelta(hours=1)
) -> None:
    """Add the feeds, subscribe CHANNEL, poll them once (seen, no alerts), due in `due_in`.

    The server's request counts start again from zero.
    """
    now = db.clock()
    with db.sessions.begin() as s:
        for url in urls:
            add_feed(s, url, now)
        subscribe(s, CHANNEL, ["all"], "U1", now)
    summary = poll_due_feeds(db)
    assert summary.ok == len(urls) and summary.alerts == 0, summary
    for url in urls:
        set_due(db, url, due_in)
    server.reset_stats()


def set_due(db: Deps, url: str, due_in: timedelta = timedelta(0)) -> None:
    with db.sessions.begin() as s:
        s.execute(update(Feed).where(Feed.url == url).values(next_poll_at=db.clock() + due_in))


def lease_of(db: Deps, url: str) -> tuple[str | None, datetime | None]:
    with db.sessions() as s:
        feed = s.scalars(select(Feed).where(Feed.url == url)).one()
        return feed.lease_owner, feed.lease_until


def alert_row(db: Deps, alert_id: int) -> Alert:
    with db.sessions() as s:
        alert = s.get(Alert, alert_id)
        assert alert is not None
        return alert


def owner(proc: Popen[bytes]) -> str:
    """The lease owner a bot process names itself (deps.default_owner)."""
    return f"{socket.gethostname()}:{proc.pid}"


def replica_env(
    database_url: str, feeds: list[str], slack: FakeSlack, **extra: str
) -> dict[str, str]:
    """An HTTP-mode replica's environment (its own PORT) with the short lease."""
    extra.setdefault("DIPLO_LEASE_SECONDS", str(LEASE))
    return bot_env(database_url, feeds, slack, **extra)  # a free PORT each


@contextlib.contextmanager
def replica(env: dict[str, str], log: Path) -> Iterator[Popen[bytes]]:
    """One running `bot.py` (it said so), killed at the end if still running."""
    with bot_process(env, log) as proc:
        assert wait_for(log, "diplo running", proc, timeout=90), log.read_text()
        yield proc


def headline(link: str) -> Story:
    """The same relevant headline, published under `link`."""
    return Story(
        "Trump and Xi speak by phone for two hours, agree to meet at APEC in Gyeongju",
        link=link,
        guid=link,
        published=datetime(2026, 11, 30, 9, 0, tzinfo=UTC),
    )


def clean(log: Path) -> str:
    text = log.read_text()
    assert "Traceback" not in text and " ERROR " not in text, text
    return text


# --- sharing the work -------------------------------------------------------------------------


def test_three_replicas_fetch_each_feed_about_once_per_interval_in_total(
    database_url: str, tmp_path: Path, feed_server: FeedServer, slack: FakeSlack
) -> None:
    interval, window = 2, 8.0
    urls = [feed_server.serve(f"/f{i}.xml", rss(wire(2)), etag=f'"f{i}"') for i in range(6)]
    logs = [tmp_path / f"replica{n}.log" for n in range(3)]
    with contextlib.ExitStack() as stack:
        envs = [
            replica_env(database_url, urls, slack, DIPLO_POLL_SECONDS=str(interval)) for _ in logs
        ]
        procs = [
            stack.enter_context(bot_process(env, log)) for env, log in zip(envs, logs, strict=True)
        ]
        for proc, log in zip(procs, logs, strict=True):
            assert wait_for(log, "diplo running", proc, timeout=90), log.read_text()
        time.sleep(1.0)  # the first polls (priming) are over
        feed_server.reset_stats()
        time.sleep(window)
        hits = [feed_server.hits(f"/f{i}.xml") for i in range(6)]
        codes = [stop(p)[0] for p in procs]
    polled = [
        sum(int(n) for n in re.findall(r"polled (\d+) feeds", log.read_text())) for log in logs
    ]
    print(f"fetches per feed in {window:.0f} s, interval {interval} s, 3 replicas:", hits)
    print("feeds polled by each replica over its whole run:", polled)
    assert codes == [0, 0, 0], [clean(log) for log in logs]
    for log in logs:
        clean(log)
    # once per interval, up to a poll tick (1 s) late: 8 s is 2.7..4 intervals, +1 at the edges;
    # every replica polling every feed would be about three times as many
    assert all(2 <= n <= window / interval + 1 for n in hits), hits


def test_the_same_headline_in_two_feeds_at_two_replicas_at_once_is_alerted_once(
    database_url: str, db: Deps, tmp_path: Path, feed_server: FeedServer, slack: FakeSlack
) -> None:
    """Replica 1 fetches feed A, replica 2 feed B; both answers are let go at once."""
    paths = ["/a.xml", "/b.xml"]
    urls = [feed_server.serve(p, rss(wire(3))) for p in paths]
    prime(db, feed_server, urls)
    both = threading.Event()
    for n, path in enumerate(paths):
        body = rss([headline(f"https://outlet{n}.example/story"), *wire(3)])
        feed_server.script(path, [Reply(200, body, gate=both)])
    # a poll every 60 s (DIPLO_POLL_SECONDS=300): each replica polls once, as it starts
    env = {"DIPLO_POLL_SECONDS": "300", "DIPLO_FETCH_TIMEOUT": "30"}
    set_due(db, urls[0])
    with contextlib.ExitStack() as stack:
        first = stack.enter_context(
            replica(replica_env(database_url, urls, slack, **env), tmp_path / "r1.log")
        )
        until(lambda: feed_server.hits(paths[0]), timeout=10)
        set_due(db, urls[1])
        second = stack.enter_context(
            replica(replica_env(database_url, urls, slack, **env), tmp_path / "r2.log")
        )
        until(lambda: feed_server.hits(paths[1]), timeout=10)
        assert [lease_of(db, u)[0] for u in urls] == [owner(first), owner(second)]
        both.set()
        until(lambda: slack.requests("chat.postMessage"), timeout=15)
        until(lambda: all(lease_of(db, u)[0] is None for u in urls), timeout=10)
        time.sleep(1.0)  # room for a second post, if there were one
        assert [stop(p)[0] for p in (first, second)] == [0, 0]
    with db.sessions() as s:
        items = s.scalars(select(Item).where(Item.title == headline("x").title)).all()
        posts = s.scalars(select(Alert).where(Alert.op != UPDATE)).all()
    [original] = [i.id for i in items if i.duplicate_of is None]
    assert len(items) == 2 and {i.duplicate_of for i in items} == {None, original}
    assert [(a.channel_id, a.status) for a in posts] == [(CHANNEL, SENT)]
    assert len(slack.requests("chat.postMessage")) == 1


# --- taking over ------------------------------------------------------------------------------


@contextlib.contextmanager
def holder_and_standby(
    envs: list[dict[str, str]], logs: list[Path], slack: FakeSlack
) -> Iterator[tuple[Popen[bytes], Popen[bytes], threading.Event]]:
    """Replica A running, and replica B started up (migrations, seeding, recovery) but held
    at its Slack auth.test, before its jobs start, until the event yielded is set: work
    queued meanwhile is A's alone."""
    standby = threading.Event()
    with contextlib.ExitStack() as stack:
        holder = stack.enter_context(replica(envs[0], logs[0]))
        slack.hold_next("auth.test", standby)
        other = stack.enter_context(bot_process(envs[1], logs[1]))
        until(lambda: slack.in_flight("auth.test"), timeout=90)
        try:
            yield holder, other, standby
        finally:
            standby.set()


def queue_alerts(db: Deps, titles: list[str]) -> list[int]:
    """Queue one alert to CHANNEL per title, in one transaction (one claim takes them all)."""
    now = db.clock()
    with db.sessions.begin() as s:
        items = [_item(title, now) for title in titles]
        s.add_all(items)
        s.flush()
        for item in items:
            enqueue(s, item.id, [CHANNEL], now)
    with db.sessions() as s:
        return [s.scalars(select(Alert.id).where(Alert.item_id == i.id)).one() for i in items]


def _item(title: str, now: datetime) -> Item:
    key = uuid.uuid4().hex
    return Item(
        feed_id=None,
        dedup_key=key * 2,
        title_key=key,
        url=f"https://news.example/{key[:8]}",
        title=title,
        summary="Leaders talked.",
        source="Wire",
        published_at=now,
        fetched_at=now,
        label="relevant",
        score=1.0,
        topics="call",
        reasons="[]",
    )


def _all_sent(db: Deps, n: int) -> bool:
    with db.sessions() as s:
        statuses = s.scalars(select(Alert.status).where(Alert.op != UPDATE)).all()
    return len(statuses) == n and set(statuses) == {SENT}


def test_a_replica_killed_with_9_is_taken_over_within_the_lease_time_nothing_lost_or_doubled(
    database_url: str, db: Deps, tmp_path: Path, feed_server: FeedServer, slack: FakeSlack
) -> None:
    """A was fetching a feed and posting the first of two alerts (that post lands after it
    died); B waits while A's heartbeat renews them, then takes everything over."""
    url = feed_server.serve("/kill.xml", rss(wire(3)))
    prime(db, feed_server, [url])
    fetch_gate, post_gate = threading.Event(), threading.Event()
    body = rss([relevant(1), *wire(3)])
    feed_server.script("/kill.xml", [Reply(200, body, gate=fetch_gate), Reply(200, body)])
    env = {"DIPLO_POLL_SECONDS": "5", "DIPLO_FETCH_TIMEOUT": "30"}  # a poll tick every 1 s
    envs = [replica_env(database_url, [url], slack, **env) for _ in range(2)]
    logs = [tmp_path / "killed.log", tmp_path / "survivor.log"]
    try:
        with holder_and_standby(envs, logs, slack) as (killed, survivor, standby):
            slack.hold_next("chat.postMessage", post_gate)
            in_flight, waiting = queue_alerts(
                db, ["Trump and Xi talk Taiwan", "Trump and Xi talk trade"]
            )
            set_due(db, url)
            until(
                lambda: feed_server.hits("/kill.xml") and slack.in_flight("chat.postMessage"),
                timeout=10,
            )
            feed_owner, first_until = lease_of(db, url)
            assert feed_owner == owner(killed) and first_until is not None
            for alert_id in (in_flight, waiting):
                assert str(alert_row(db, alert_id).lease_owner).startswith(owner(killed) + "/")
            standby.set()
            assert wait_for(logs[1], "diplo running", survivor, timeout=90), logs[1].read_text()
            while datetime.now(UTC) < first_until + timedelta(seconds=0.5):
                time.sleep(0.05)  # the first lease would have run out by now …
            renewed = lease_of(db, url)
            assert renewed[0] == owner(killed) and (renewed[1] or first_until) > first_until
            assert feed_server.hits("/kill.xml") == 1  # … but the heartbeat kept it
            assert len(slack.requests("chat.postMessage")) == 1
            killed.send_signal(signal.SIGKILL)
            killed.wait(10)
            killed_at = time.monotonic()
            post_gate.set()  # the post in flight lands after its sender died
            until(lambda: feed_server.hits("/kill.xml") == 2, timeout=LEASE + 10)
            refetched = feed_server.requests[-1].at - killed_at
            until(lambda: alert_row(db, waiting).status == SENT, timeout=LEASE + 10)
            resent = time.monotonic() - killed_at
            until(lambda: _all_sent(db, 3), timeout=10)
            assert stop(survivor)[0] == 0
    finally:
        fetch_gate.set()
    print(f"kill -9 → feed fetched again {refetched:.2f} s, next alert posted {resent:.2f} s")
    clean(logs[1])
    ids, _ = posted_ops(slack, CHANNEL)
    assert sorted(ids) == sorted(set(ids)) and len(ids) == 3, ids  # each alert once
    assert ids[:2] == [in_flight, waiting]
    assert refetched < LEASE + 3 and resent < LEASE + 3, (refetched, resent)


def test_sigterm_hands_the_work_over_at_once_not_after_the_lease(
    database_url: str, db: Deps, tmp_path: Path, feed_server: FeedServer, slack: FakeSlack
) -> None:
    """A 30 s lease: the other replica fetches the feed and posts the alert in seconds."""
    url = feed_server.serve("/term.xml", rss(wire(3)))
    prime(db, feed_server, [url])
    fetch_gate, post_gate = threading.Event(), threading.Event()
    body = rss([relevant(2), *wire(3)])
    feed_server.script("/term.xml", [Reply(200, body, gate=fetch_gate), Reply(200, body)])
    env = {"DIPLO_POLL_SECONDS": "5", "DIPLO_FETCH_TIMEOUT": "30", "DIPLO_LEASE_SECONDS": "30"}
    envs = [replica_env(database_url, [url], slack, **env) for _ in range(2)]
    logs = [tmp_path / "stopped.log", tmp_path / "other.log"]
    try:
        with holder_and_standby(envs, logs, slack) as (stopped, other, standby):
            slack.hold_next("chat.postMessage", post_gate)
            in_flight, waiting = queue_alerts(
                db, ["Trump and Xi talk Taiwan", "Trump and Xi talk trade"]
            )
            set_due(db, url)
            until(
                lambda: feed_server.hits("/term.xml") and slack.in_flight("chat.postMessage"),
                timeout=10,
            )
            assert lease_of(db, url)[0] == owner(stopped)
            assert str(alert_row(db, waiting).lease_owner).startswith(owner(stopped) + "/")
            standby.set()
            assert wait_for(logs[1], "diplo running", other, timeout=90), logs[1].read_text()
            stopped.send_signal(signal.SIGTERM)
            time.sleep(0.3)
            post_gate.set()  # the send in flight finishes; the fetch in flight does not
            released = "released 1 feed and 0 alert leases held at shutdown"
            assert wait_for(logs[0], released, stopped, timeout=15), logs[0].read_text()
            stopped_at = time.monotonic()
            until(lambda: feed_server.hits("/term.xml") == 2, timeout=10)
            refetched = feed_server.requests[-1].at - stopped_at
            until(lambda: alert_row(db, waiting).status == SENT, timeout=10)
            resent = time.monotonic() - stopped_at
            until(lambda: _all_sent(db, 3), timeout=10)
            fetch_gate.set()  # its fetch ends (and is ignored): the process exits
            assert stopped.wait(15) == 0
            assert stop(other)[0] == 0
    finally:
        fetch_gate.set()
    print(f"SIGTERM release → feed fetched again {refetched:.2f} s, next alert {resent:.2f} s")
    clean(logs[0])
    ids, _ = posted_ops(slack, CHANNEL)
    assert sorted(ids) == sorted(set(ids)) and len(ids) == 3, ids
    assert ids[:2] == [in_flight, waiting]
    assert refetched < 5 and resent < 5, (refetched, resent)  # the lease is 30 s


# --- Slack: any replica answers ---------------------------------------------------------------


def test_each_socket_mode_replica_holds_a_connection_and_any_answers(
    database_url: str, tmp_path: Path, feed_server: FeedServer, slack: FakeSlack
) -> None:
    url = feed_server.serve("/quiet.xml", rss(wire(2)))
    env = {"SLACK_APP_TOKEN": slack.app_token, "DIPLO_POLL_SECONDS": "3600"}
    with contextlib.ExitStack() as stack:
        procs = [
            stack.enter_context(
                replica(replica_env(database_url, [url], slack, **env), tmp_path / f"s{n}.log")
            )
            for n in range(2)
        ]
        slack.wait_connections(2, timeout=10)
        assert len(slack.requests("apps.connections.open")) == 2
        sent = [_command(slack, "subscribe trade", "C7", 0)]
        # Bolt acks before it runs the command: the subscription is committed once it replied.
        replies = [until(lambda: slack.responses(sent[0][1]), timeout=10)[0]]
        sent += [_command(slack, text, "C7", n) for n, text in enumerate(["subscriptions"] * 3, 1)]
        replies += [until(lambda k=key: slack.responses(k), timeout=10)[0] for _, key in sent[1:]]
        assert all(acked == to for to, acked in (slack.acked_on(e) for e, _ in sent))
        assert set(slack.envelopes_by_connection()) == {1, 2}  # both replicas got commands
        assert all("trade" in str(r) for r in replies[1:]), replies  # one database
        assert stop(procs[0])[0] == 0
        until(lambda: slack.connection_count == 1, timeout=10)
        _, key = _command(slack, "help", "C7", 9)
        assert until(lambda: slack.responses(key), timeout=10)
        assert stop(procs[1])[0] == 0


def _command(slack: FakeSlack, text: str, channel: str, n: int) -> tuple[str, str]:
    """Send `/diplo text` as an envelope; wait for its ack; (envelope id, response key)."""
    key = f"cmd{n}-{uuid.uuid4().hex[:6]}"
    envelope = slack.send_envelope(
        "slash_commands", slash_form(text, channel, "U1", slack.response_url(key))
    )
    slack.wait_ack(envelope, timeout=10)
    return envelope, key


def test_http_mode_replicas_answer_any_request_and_refuse_a_replay_at_the_other(
    database_url: str, tmp_path: Path, feed_server: FeedServer, slack: FakeSlack
) -> None:
    url = feed_server.serve("/quiet.xml", rss(wire(2)))
    envs = [replica_env(database_url, [url], slack, DIPLO_POLL_SECONDS="3600") for _ in range(2)]
    ports = [int(env["PORT"]) for env in envs]
    with contextlib.ExitStack() as stack:
        procs = [
            stack.enter_context(replica(env, tmp_path / f"h{n}.log")) for n, env in enumerate(envs)
        ]
        for n, port in enumerate(ports):
            body = urlencode(slash_form("help", "C1", "U1", slack.response_url(f"h{n}")))
            headers = sign(body, SECRET)
            assert post_form(port, body, headers)[0] == 200
            assert until(lambda n=n: slack.responses(f"h{n}"), timeout=10)
            other = ports[1 - n]  # the same signed request again, at the other replica
            assert post_form(other, body, headers)[0] == 401
        assert [stop(p)[0] for p in procs] == [0, 0]
    assert [len(slack.responses(f"h{n}")) for n in range(2)] == [1, 1]
