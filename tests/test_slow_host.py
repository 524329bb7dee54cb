"""One slow host must not hold back a poll cycle: real HTTP on two loopback addresses.

127.0.0.2 serves many feeds that stall until the fetch deadline; 127.0.0.1 serves a feed
with a new relevant story. The fast story is stored and its alert queued while the slow
host's feeds are still timing out; the next cycle does not wait for them either; they
are recorded later with their back-off, and the slow host never sees more than
`per_host` requests at once.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from deps import Deps
from jobs.fetch import FetchConfig, Fetcher
from jobs.poll import poll_due_feeds
from models.feed import Feed, add_feed
from models.item import Item
from models.outbox import Alert
from models.subscription import subscribe
from tests.fakes.feed_server import FeedServer, Reply
from tests.feedgen import TRUMP_XI_CALL, rss, wire

SLOW_FEEDS = 6
DEADLINE = 1.5  # seconds per fetch: the slow host needs 3 rounds of 2, about 4.5 s


@pytest.fixture
def slow_server() -> Iterator[FeedServer]:
    """A feed server on 127.0.0.2: another publisher, as the fetcher sees it."""
    server = FeedServer(host="127.0.0.2")
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def loopback_deps(deps: Deps) -> Iterator[Deps]:
    """The test deps with a fetcher allowed on 127.0.0.0/8, DEADLINE per fetch, 2 per host."""
    fetcher = Fetcher(
        FetchConfig(
            total_timeout=DEADLINE,
            connect_timeout=1.0,
            per_host=2,
            allow_hosts=frozenset({"127.0.0.0/8"}),
        )
    )
    yield dataclasses.replace(deps, fetcher=fetcher)
    fetcher.close()


def _wait_until(condition, seconds: float) -> bool:
    ends = time.monotonic() + seconds
    while time.monotonic() < ends:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_a_stalling_host_does_not_hold_back_the_cycle(
    loopback_deps: Deps, feed_server: FeedServer, slow_server: FeedServer, clock
) -> None:
    deps = loopback_deps
    fast_url = feed_server.serve("/wire.xml", rss(wire(3)), etag='"v1"')
    with deps.sessions.begin() as s:
        fast_id = add_feed(s, fast_url, clock())[0].id
        subscribe(s, "C1", ["call"], "U1", clock())
    assert poll_due_feeds(deps).ok == 1  # primed

    slow_ids = []
    with deps.sessions.begin() as s:
        for n in range(SLOW_FEEDS):
            url = slow_server.script(f"/stall{n}.xml", [Reply(body=rss(wire(1)), delay=30.0)])
            slow_ids.append(add_feed(s, url, clock())[0].id)
    feed_server.serve("/wire.xml", rss([TRUMP_XI_CALL, *wire(3)]), etag='"v2"')
    clock.advance(seconds=301)

    started = time.monotonic()
    summary = poll_due_feeds(deps, wait=0.5 * DEADLINE)
    took = time.monotonic() - started
    assert took < DEADLINE, f"the cycle waited {took:.1f} s for the slow host"
    assert (summary.ok, summary.new_items, summary.alerts) == (1, 1, 1)
    assert summary.in_flight == SLOW_FEEDS
    assert len(slow_server.requests) == 2  # per-host politeness: the others wait their turn
    with deps.sessions() as s:
        assert s.scalars(select(Item.title).where(Item.feed_id == fast_id)).first()
        [alert] = s.scalars(select(Alert)).all()
        assert alert.channel_id == "C1"

    # the next cycle starts at once: the slow feeds are leased, so not due
    started = time.monotonic()
    assert poll_due_feeds(deps, wait=0.5 * DEADLINE).feeds == 0
    assert time.monotonic() - started < 0.5

    # the slow feeds are recorded as they time out, each with its own back-off
    def recorded() -> bool:
        with deps.sessions() as s:
            rows = s.scalars(select(Feed).where(Feed.id.in_(slow_ids))).all()
            return all(f.last_error == "timeout" and f.lease_owner is None for f in rows)

    assert _wait_until(recorded, 4 * SLOW_FEEDS * DEADLINE)
    with deps.sessions() as s:
        for feed in s.scalars(select(Feed).where(Feed.id.in_(slow_ids))):
            assert feed.consecutive_failures == 1
            assert (feed.next_poll_at - clock()).total_seconds() == 300
    assert len(slow_server.requests) == SLOW_FEEDS  # each fetched once
    engine = deps.sessions.kw["bind"]
    assert _wait_until(lambda: engine.pool.checkedout() == 0, 5)
