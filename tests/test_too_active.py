"""A feed that floods one poll with new relevant items (spam, guids rotating every poll) is
flagged "too active": the first DIPLO_FLOOD_ITEMS are alerted, the rest stored without
alerts, the flag shows in `/diplo status` and `bot.py feeds list`, and it clears at the
feed's next poll under the limit. Real HTTP from the feed server, the real poll path.
"""

from __future__ import annotations

import dataclasses
import json

import pytest
from sqlalchemy import func, select

from deps import Deps
from handlers.blocks import StatusReport, status_message
from handlers.commands import feed_view
from jobs.poll import poll_due_feeds
from models.feed import Feed, add_feed
from models.item import Item
from models.outbox import UPDATE, Alert
from models.subscription import subscribe
from settings import load_settings
from tests.fakes.feed_server import FeedServer
from tests.feedgen import Story, rss, wire
from tests.test_cli import bot

LIMIT = 3


def spam(round_: int, count: int) -> list[Story]:
    """`count` relevant stories whose guids and titles are new in every round."""
    return [
        Story(
            f"Trump and Xi speak by phone about trade, round {round_} take {n}",
            link=f"https://spam.example/{round_}/{n}",
            guid=f"spam-{round_}-{n}",
        )
        for n in range(count)
    ]


def counts(deps: Deps, feed_id: int) -> tuple[int, int]:
    with deps.sessions() as s:
        items = s.scalar(select(func.count(Item.id)).where(Item.feed_id == feed_id)) or 0
        alerts = s.scalar(select(func.count(Alert.id)).where(Alert.op != UPDATE)) or 0
        return items, alerts


def test_flood_items_setting_is_validated() -> None:
    assert load_settings({"DIPLO_FLOOD_ITEMS": "7"}, env_file=None).flood_items == 7
    assert load_settings({}, env_file=None).flood_items == 50
    for bad in ("0", "many"):
        with pytest.raises(ValueError, match="DIPLO_FLOOD_ITEMS"):
            load_settings({"DIPLO_FLOOD_ITEMS": bad}, env_file=None)


def test_a_flooding_feed_is_flagged_its_excess_held_and_the_flag_clears(
    deps: Deps, feed_server: FeedServer, clock, request: pytest.FixtureRequest
) -> None:
    deps = dataclasses.replace(deps, settings=dataclasses.replace(deps.settings, flood_items=LIMIT))
    url = feed_server.serve("/spam.xml", rss(wire(2)))
    with deps.sessions.begin() as s:
        feed_id = add_feed(s, url, clock())[0].id
        subscribe(s, "C1", ["all"], "U1", clock())
    first = poll_due_feeds(deps)  # primes: no alerts, no flag, however many items
    assert (first.new_items, first.alerts) == (2, 0)

    feed_server.serve("/spam.xml", rss(spam(1, 8)))
    clock.advance(seconds=301)
    flood = poll_due_feeds(deps)
    assert (flood.new_items, flood.alerts) == (8, LIMIT)
    assert counts(deps, feed_id) == (10, LIMIT)  # all stored, only LIMIT alerted
    with deps.sessions() as s:
        feed = s.get(Feed, feed_id)
        assert feed is not None
        assert (feed.too_active_since, feed.too_active_count) == (clock(), 8)
        alerted = s.scalars(
            select(Item.title).join(Alert, Alert.item_id == Item.id).order_by(Item.id)
        ).all()
        assert alerted == [st.title for st in spam(1, LIMIT)]  # the first ones, in feed order
        report = StatusReport([feed_view(feed)], clock(), 0, {}, [])
    status = status_message(report)
    shown = json.dumps(status.blocks)
    assert "too active: 8 new relevant items in one poll" in shown

    if request.node.callspec.params.get("engine") == "sqlite":
        env = {"DATABASE_URL": str(deps.sessions.kw["bind"].url)}
        listed = bot("feeds", "list", env=env)
        assert listed.returncode == 0, listed.stderr
        assert "too active since" in listed.stdout and "8 new relevant" in listed.stdout

    # it keeps flooding: the flag stays (same since), the first LIMIT are alerted again
    since = clock()
    feed_server.serve("/spam.xml", rss(spam(2, 5)))
    clock.advance(seconds=301)
    assert poll_due_feeds(deps).alerts == LIMIT
    with deps.sessions() as s:
        feed = s.get(Feed, feed_id)
        assert feed is not None
        assert (feed.too_active_since, feed.too_active_count) == (since, 5)

    # a poll under the limit clears it and alerts normally
    feed_server.serve("/spam.xml", rss(spam(3, 1)))
    clock.advance(seconds=301)
    calm = poll_due_feeds(deps)
    assert calm.alerts == 1
    with deps.sessions() as s:
        feed = s.get(Feed, feed_id)
        assert feed is not None
        assert (feed.too_active_since, feed.too_active_count) == (None, 0)
        assert not feed_view(feed).needs_attention
