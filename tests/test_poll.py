"""jobs.poll end to end: a real feed server on 127.0.0.1, a real database, the real classifier."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import func, select

from deps import Deps
from jobs.poll import poll_due_feeds
from models.feed import Feed, add_feed, all_feeds
from models.item import Item
from models.outbox import Alert
from models.subscription import subscribe
from tests.fakes.feed_server import FeedServer, Reply
from tests.feedgen import TRUMP_XI_CALL, Story, rss, wire

IRRELEVANT = Story(
    "Local council approves new bus lanes", link="https://wire.example/bus", guid="bus"
)


def add(deps: Deps, url: str) -> int:
    with deps.sessions.begin() as s:
        feed, _ = add_feed(s, url, deps.clock())
        return feed.id


def feed_row(deps: Deps, feed_id: int) -> Feed:
    with deps.sessions() as s:
        feed = s.get(Feed, feed_id)
        assert feed is not None
        return feed


def alerts(deps: Deps) -> list[tuple[str, str]]:
    with deps.sessions() as s:
        rows = s.execute(
            select(Alert.channel_id, Item.title)
            .join(Item, Item.id == Alert.item_id)
            .order_by(Alert.id)
        ).all()
        return [(c, t) for c, t in rows]


def test_first_poll_primes_then_only_new_relevant_items_alert(
    deps: Deps, feed_server: FeedServer, clock
) -> None:
    url = feed_server.serve("/wire.xml", rss(wire(5)), etag='"v1"')
    feed_id = add(deps, url)
    with deps.sessions.begin() as s:
        subscribe(s, "C1", ["call"], "U1", clock())
        subscribe(s, "C2", ["trade"], "U1", clock())

    first = poll_due_feeds(deps)
    assert (first.ok, first.new_items, first.alerts) == (1, 5, 0)
    assert feed_row(deps, feed_id).primed

    # the same body again: 304 thanks to the ETag; nothing parsed, nothing new
    clock.advance(seconds=301)
    second = poll_due_feeds(deps)
    assert (second.not_modified, second.new_items) == (1, 0)
    assert feed_server.requests[-1].headers.get("if-none-match") == '"v1"'

    # a new relevant story and a new irrelevant one appear
    feed_server.serve("/wire.xml", rss([TRUMP_XI_CALL, IRRELEVANT, *wire(5)]), etag='"v2"')
    clock.advance(seconds=301)
    third = poll_due_feeds(deps)
    assert (third.new_items, third.alerts) == (2, 1)
    assert alerts(deps) == [("C1", TRUMP_XI_CALL.title)]
    with deps.sessions() as s:
        item = s.scalars(select(Item).where(Item.title == TRUMP_XI_CALL.title)).one()
        assert item.label == "relevant"
        assert "call" in item.topic_list
        assert item.url == "https://wire.example/world/trump-xi-call"  # utm_* removed
        assert s.scalar(select(func.count(Item.id))) == 7


def test_feed_not_due_is_not_polled(deps: Deps, feed_server: FeedServer, clock) -> None:
    add(deps, feed_server.serve("/a.xml", rss(wire(1))))
    assert poll_due_feeds(deps).feeds == 1
    clock.advance(seconds=100)
    assert poll_due_feeds(deps).feeds == 0
    assert feed_server.hits("/a.xml") == 1


def test_unchanged_body_without_validators_is_not_parsed_again(
    deps: Deps, feed_server: FeedServer, clock
) -> None:
    add(deps, feed_server.serve("/plain.xml", rss(wire(3))))
    poll_due_feeds(deps)
    clock.advance(seconds=301)
    summary = poll_due_feeds(deps)
    assert summary.outcomes[0].status == "unchanged"


def test_a_broken_feed_fails_alone_and_backs_off_then_is_disabled(
    deps: Deps, feed_server: FeedServer, clock
) -> None:
    good = add(deps, feed_server.serve("/good.xml", rss(wire(2))))
    bad = add(
        deps,
        feed_server.serve("/bad.xml", b"<html><body>Moved</body></html>", content_type="text/html"),
    )
    summary = poll_due_feeds(deps)
    assert (summary.ok, summary.failed) == (1, 1)
    row = feed_row(deps, bad)
    assert row.consecutive_failures == 1 and "not a feed" in (row.last_error or "")
    assert row.next_poll_at == clock() + timedelta(seconds=300)
    assert feed_row(deps, good).consecutive_failures == 0

    # exponential back-off: the second failure waits twice as long
    clock.advance(seconds=301)
    poll_due_feeds(deps)
    assert feed_row(deps, bad).next_poll_at == clock() + timedelta(seconds=600)
    clock.advance(seconds=601)
    poll_due_feeds(deps)  # third failure: max_failures=3 in the test settings
    row = feed_row(deps, bad)
    assert not row.enabled and row.status == "disabled"
    clock.advance(days=3)
    poll_due_feeds(deps)
    assert feed_server.hits("/bad.xml") == 3


def test_retry_after_is_honoured(deps: Deps, feed_server: FeedServer, clock) -> None:
    feed_id = add(
        deps, feed_server.script("/busy.xml", [Reply(429, headers={"Retry-After": "3600"})])
    )
    poll_due_feeds(deps)
    row = feed_row(deps, feed_id)
    assert row.next_poll_at >= clock() + timedelta(seconds=3600)
    assert row.last_error and "429" in row.last_error


def test_permanent_redirect_updates_the_stored_url(deps: Deps, feed_server: FeedServer) -> None:
    new = feed_server.serve("/new.xml", rss(wire(1)))
    feed_id = add(deps, feed_server.redirect("/old.xml", "/new.xml", status=301))
    poll_due_feeds(deps)
    assert feed_row(deps, feed_id).url == new


def test_bozo_feed_with_entries_is_used(deps: Deps, feed_server: FeedServer) -> None:
    broken = rss(wire(2)).replace(b"</channel></rss>", b"<item><title>A & B</title></item>")
    add(deps, feed_server.serve("/bozo.xml", broken))
    summary = poll_due_feeds(deps)
    assert summary.ok == 1 and summary.new_items >= 2


def test_the_same_story_in_two_feeds_is_stored_and_alerted_once(
    deps: Deps, feed_server: FeedServer, clock
) -> None:
    a = add(deps, feed_server.serve("/a.xml", rss(wire(1))))
    b = add(deps, feed_server.serve("/b.xml", rss(wire(1, start=10))))
    with deps.sessions.begin() as s:
        subscribe(s, "C1", ["all"], None, clock())
    poll_due_feeds(deps)
    story = Story(
        TRUMP_XI_CALL.title,
        link="https://publisher.example/trump-xi",
        summary=TRUMP_XI_CALL.summary,
    )
    syndicated = Story(TRUMP_XI_CALL.title, link="https://aggregator.example/x?id=9", summary="")
    feed_server.serve("/a.xml", rss([story, *wire(1)]))
    feed_server.serve("/b.xml", rss([story, syndicated, *wire(1, start=10)]))
    clock.advance(seconds=301)
    poll_due_feeds(deps)
    assert alerts(deps) == [("C1", TRUMP_XI_CALL.title)]
    assert a != b


def test_concurrent_pollers_store_each_item_once(
    deps: Deps, feed_server: FeedServer, clock
) -> None:
    for i in range(12):
        add(deps, feed_server.serve(f"/f{i}.xml", rss(wire(20, start=i * 5))))
    errors: list[BaseException] = []

    def run(owner: str) -> None:
        try:
            poll_due_feeds(Deps(**{**deps.__dict__, "owner": owner}))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(f"p{n}",)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with deps.sessions() as s:
        assert s.scalar(select(func.count(Item.id))) == 12 * 20  # guids are scoped to their feed
        assert all(f.last_polled_at for f in all_feeds(s))
    assert sum(feed_server.hits(f"/f{i}.xml") for i in range(12)) == 12
