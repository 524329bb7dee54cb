"""Watch-words and `/diplo why` end to end: the real Bolt App, feed server, poll and delivery."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from deps import Deps
from handlers.blocks import alert_message, reason_text
from handlers.sender import SlackSender, make_web_client
from jobs.deliver import deliver_pending
from jobs.poll import poll_due_feeds
from models.feed import Feed, add_feed
from models.item import ItemView
from models.outbox import Alert
from models.subscription import subscribe
from models.watch import WatchWord, add_watches, watch_index
from news.watch import MAX_PER_CHANNEL, validate
from tests.conftest import Clock
from tests.fakes.feed_server import FeedServer
from tests.fakes.slack_server import FakeSlack
from tests.feedgen import Story, rss, wire
from tests.slackbot import Bot, make_bot

RARE_EARTHS_RELATED = Story(
    "China curbs rare earths exports as Trump's tariffs bite",
    link="https://wire.example/world/rare-earths?utm_source=rss",
    guid="wire-rare-earths",
    summary="Beijing said the new licences would apply from January.",
)
RARE_EARTHS_RELEVANT = Story(
    "Trump and Xi discuss rare earths in phone call",
    link="https://wire.example/world/trump-xi-rare-earths",
    guid="wire-trump-xi-rare-earths",
)
XITU_RELATED = Story(
    "中国限制稀土出口 美国表示关切",
    link="https://wire.example/zh/xitu",
    guid="wire-xitu",
)
NOT_WATCHED = Story(
    "Beijing tightens chip export rules, US officials say",
    link="https://wire.example/world/chips",
    guid="wire-chips",
)


@pytest.fixture
def bot(deps: Deps, slack: FakeSlack) -> Bot:
    """The App wired to the fake Slack, with a sender that posts there."""
    made = make_bot(deps, slack)
    sender = SlackSender(make_web_client(slack.bot_token, slack.url, timeout=5), pace=0)
    return Bot(made.app, replace(made.deps, sender=sender), slack)


def text_of(reply: dict[str, Any]) -> str:
    return json.dumps(reply.get("blocks") or reply["text"], ensure_ascii=False)


def poll_stories(bot: Bot, feeds: FeedServer, stories: list[Story]) -> str:
    """Prime a feed with calm stories, then serve `stories` too; poll, deliver; the feed URL."""
    deps = bot.deps
    url = feeds.serve("/wire.xml", rss(wire(2)))
    with deps.sessions.begin() as s:
        add_feed(s, url, deps.clock())
    poll_due_feeds(deps)
    feeds.serve("/wire.xml", rss([*stories, *wire(2)]))
    with deps.sessions.begin() as s:
        feed = s.scalars(select(Feed).where(Feed.url == url)).one()
        feed.next_poll_at = deps.clock()
    poll_due_feeds(deps)
    deliver_pending(deps)
    return url


def posted_texts(slack: FakeSlack, channel: str) -> list[str]:
    return [json.dumps(m["blocks"], ensure_ascii=False) for m in slack.messages(channel)]


# --- watch, unwatch, watching -------------------------------------------------------------------


def test_watched_phrase_alerts_that_channel_only(
    bot: Bot, slack: FakeSlack, feed_server: FeedServer
) -> None:
    reply = bot.command('watch "rare earths"', channel="CWATCH")
    assert reply["response_type"] == "in_channel"
    assert "rare earths" in text_of(reply)
    bot.command("watch 稀土", channel="CZH")
    with bot.deps.sessions.begin() as s:
        subscribe(s, "CSUB", ["call"], "U1", bot.deps.clock())
        subscribe(s, "CALL", ["all"], "U1", bot.deps.clock())

    poll_stories(bot, feed_server, [RARE_EARTHS_RELATED, RARE_EARTHS_RELEVANT, XITU_RELATED])

    watch = posted_texts(slack, "CWATCH")
    assert len(watch) == 2  # the related item and the relevant one, though not subscribed
    assert all('Watching: \\"rare earths\\"' in t for t in watch)
    assert "rare earths exports" in watch[0] and "related news" in watch[0]
    zh = posted_texts(slack, "CZH")
    assert len(zh) == 1 and "稀土出口" in zh[0] and 'Watching: \\"稀土\\"' in zh[0]
    # the subscribed channel gets the relevant call only, without a watch line
    sub = posted_texts(slack, "CSUB")
    assert len(sub) == 1 and "phone call" in sub[0] and "Watching" not in sub[0]
    # related items still go to no channel that does not watch a word in them
    everything = posted_texts(slack, "CALL")
    assert len(everything) == 1 and "phone call" in everything[0]
    assert slack.messages("COTHER") == []
    assert sorted({m["channel"] for m in slack.calls("chat.postMessage")}) == [
        "CALL",
        "CSUB",
        "CWATCH",
        "CZH",
    ]


def test_subscribed_channel_that_also_watches_gets_one_alert(
    bot: Bot, slack: FakeSlack, feed_server: FeedServer
) -> None:
    bot.command('watch "rare earths"', channel="CBOTH")
    with bot.deps.sessions.begin() as s:
        subscribe(s, "CBOTH", ["trade"], "U1", bot.deps.clock())
    poll_stories(bot, feed_server, [RARE_EARTHS_RELEVANT])
    texts = posted_texts(slack, "CBOTH")
    assert len(texts) == 1 and "Watching" not in texts[0]  # the subscription covered it


def test_topic_limited_watch_and_unwatch(
    bot: Bot, slack: FakeSlack, feed_server: FeedServer
) -> None:
    reply = bot.command("watch “rare earths” tariffs in taiwan", channel="CT")
    assert "taiwan" in text_of(reply)
    bot.command('watch "export"', channel="CT")
    assert "export" in text_of(bot.command("watching", channel="CT"))
    removed = bot.command("unwatch export", channel="CT")
    assert "stop watching" in text_of(removed)
    listing = text_of(bot.command("watching", channel="CT"))
    assert "rare earths" in listing and "taiwan" in listing and "export" not in listing
    poll_stories(bot, feed_server, [RARE_EARTHS_RELATED])  # a trade item, not taiwan
    assert slack.messages("CT") == []
    dropped = text_of(bot.command("unwatch all", channel="CT"))
    assert "stop watching" in dropped and "in `taiwan`" in dropped
    assert "on `taiwan`" not in text_of(bot.command("watch tariffs in all", channel="CT"))
    bot.command("unwatch all", channel="CT")
    assert "watches no words" in text_of(bot.command("watching", channel="CT"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("watch", "Name a word"),
        ('watch "!!!"', "at least one letter or digit"),
        ('watch "x"', "at least 2 characters"),
        ("watch " + "x" * 61, "at most 60 characters"),
        ("watch <@U0123ABCD>", "not mentions"),
        ("watch <https://x.example/a|x.example/a>", "not mentions, channels or links"),
        ('watch "rare earths" in nosuchtopic', "Unknown topic"),
        ("unwatch", "Name a watched word"),
        ('unwatch "never watched"', "was not watching"),
    ],
)
def test_watch_refuses_bad_input_in_one_line(bot: Bot, text: str, expected: str) -> None:
    reply = bot.command(text, channel="CBAD")
    assert expected in text_of(reply)
    assert reply["response_type"] == "ephemeral"


def test_watch_is_refused_in_a_direct_message(bot: Bot) -> None:
    assert "not direct messages" in text_of(bot.command("watch tariffs", channel="D123"))


def test_the_51st_phrase_is_refused(bot: Bot, deps: Deps) -> None:
    phrases = [(f"word{n}", validate(f"word{n}")) for n in range(MAX_PER_CHANNEL)]
    with deps.sessions.begin() as s:
        assert len(add_watches(s, "CFULL", phrases, None, "U1", deps.clock()).added) == 50
    reply = bot.command("watch onemore", channel="CFULL")
    assert f"at most {MAX_PER_CHANNEL}" in text_of(reply)
    with deps.sessions() as s:
        assert len(s.scalars(select(WatchWord).where(WatchWord.channel_id == "CFULL")).all()) == 50


def test_watching_the_same_phrase_twice_stores_it_once(bot: Bot, deps: Deps) -> None:
    bot.command('watch "Rare Earths"', channel="CDUP")
    reply = bot.command("watch “ｒａｒｅ　ｅａｒｔｈｓ”", channel="CDUP")
    assert "already watches" in text_of(reply)
    with deps.sessions() as s:
        rows = s.scalars(select(WatchWord).where(WatchWord.channel_id == "CDUP")).all()
        assert [(r.phrase, r.normalized, r.topic) for r in rows] == [
            ("Rare Earths", "rare earths", "")
        ]


def test_the_compiled_index_follows_changes(deps: Deps) -> None:
    with deps.sessions.begin() as s:
        assert not watch_index(s)
        add_watches(s, "C1", [("tariffs", "tariffs")], None, "U1", deps.clock())
    with deps.sessions() as s:
        first = watch_index(s)
        assert watch_index(s) is first  # unchanged: the cached matcher
        assert "C1" in first.match("new tariffs", ())
    with deps.sessions.begin() as s:
        s.execute(WatchWord.__table__.delete())
        add_watches(s, "C1", [("chips", "chips")], None, "U1", deps.clock())
    with deps.sessions() as s:
        second = watch_index(s)
        assert second is not first
        assert second.match("new tariffs", ()) == {} and "C1" in second.match("chips", ())


# --- why ------------------------------------------------------------------------------------------


def test_why_explains_alerted_related_and_unseen_items(
    bot: Bot, slack: FakeSlack, feed_server: FeedServer, clock: Clock
) -> None:
    with bot.deps.sessions.begin() as s:
        subscribe(s, "C1", ["call"], "U1", clock())
    poll_stories(bot, feed_server, [RARE_EARTHS_RELEVANT, NOT_WATCHED])

    # relevant, alerted here; the link as Slack wraps it, with a tracking parameter added
    reply = bot.command(
        "why <https://WIRE.example/world/trump-xi-rare-earths?utm_medium=x|wire.example>",
        channel="C1",
    )
    assert reply["response_type"] == "ephemeral"
    shown = text_of(reply)
    for words in ("relevant", "US side: Trump", "China side: Xi", "Alerted to this channel"):
        assert words in shown, words
    # published time in the channel's zone (the default, New York), the zone named
    assert re.search(r"Published \w{3} \d+ \w{3} \d{4}, \d\d:\d\d E[SD]T", shown), shown

    # the same item seen from a channel not subscribed to its topics
    other = text_of(bot.command("why https://wire.example/world/trump-xi-rare-earths", "C2"))
    assert "Not alerted to this channel" in other and "not subscribed to" in other

    # related: never alerted to a channel without a matching watch-word
    related = text_of(bot.command("why https://wire.example/world/chips", channel="C1"))
    assert "related" in related and "only related news" in related

    unseen = text_of(bot.command("why https://wire.example/never-seen", channel="C1"))
    assert "have not seen" in unseen and "/diplo feeds" in unseen


def test_why_names_the_watch_word(bot: Bot, slack: FakeSlack, feed_server: FeedServer) -> None:
    bot.command('watch "rare earths"', channel="CW")
    poll_stories(bot, feed_server, [RARE_EARTHS_RELATED])
    shown = text_of(bot.command("why https://wire.example/world/rare-earths", channel="CW"))
    assert "Alerted to this channel" in shown and 'watch-word \\"rare earths\\"' in shown
    calm = text_of(bot.command("why https://wire.example/story/0", channel="CW"))
    assert "not relevant" in calm and "not about US–China" in calm


def test_why_explains_items_of_a_feed_first_poll(
    bot: Bot, feed_server: FeedServer, clock: Clock
) -> None:
    url = feed_server.serve("/wire.xml", rss([RARE_EARTHS_RELEVANT]))
    with bot.deps.sessions.begin() as s:
        subscribe(s, "C1", ["all"], "U1", clock())
        add_feed(s, url, clock())
    poll_due_feeds(bot.deps)
    shown = text_of(bot.command("why https://wire.example/world/trump-xi-rare-earths", "C1"))
    assert "already in the feed when diplo first read it" in shown


@pytest.mark.parametrize(
    ("reason", "words"),
    [
        ("us:Trump", "US side: Trump"),
        ("china:习近平", "China side: 习近平"),
        ("pair:Trump-Xi", "Both sides: Trump-Xi"),
        ("event:call", "Contact: call"),
        ("link:direct", "linked directly"),
        ("topic:trade:rare earths", "Topic trade (from “rare earths”)"),
        ("negation:third-party:Putin", "A third party takes part: Putin"),
        ("negation:halt:called off", "off or on hold: called off"),
        ("something:new", "something:new"),
    ],
)
def test_reasons_in_words(reason: str, words: str) -> None:
    assert words in reason_text(reason)


def test_watch_line_is_escaped() -> None:
    item = ItemView(
        1, "T", None, "W", "", datetime(2026, 11, 30, tzinfo=UTC), "related", 0.4, ("trade",), ()
    )
    message = alert_message(item, watch_phrase="AT&T <b>")
    line = message.blocks[-1]["elements"][0]["text"]
    assert line.startswith(':mag: Watching: "AT&amp;T &lt;b&gt;"') and "related news" in line
    assert "AT&amp;T" in message.text


def test_why_says_duplicate(bot: Bot, slack: FakeSlack, feed_server: FeedServer) -> None:
    with bot.deps.sessions.begin() as s:
        subscribe(s, "C1", ["all"], "U1", bot.deps.clock())
    poll_stories(bot, feed_server, [RARE_EARTHS_RELEVANT])
    twin = Story(RARE_EARTHS_RELEVANT.title, link="https://other.example/twin", guid="twin")
    url = feed_server.serve("/other.xml", rss([]))
    with bot.deps.sessions.begin() as s:
        add_feed(s, url, datetime(2026, 11, 30, 9, 0, tzinfo=UTC))
    poll_due_feeds(bot.deps)
    feed_server.serve("/other.xml", rss([twin]))
    with bot.deps.sessions.begin() as s:
        feed = s.scalars(select(Feed).where(Feed.url == url)).one()
        feed.next_poll_at = bot.deps.clock()
    poll_due_feeds(bot.deps)
    with bot.deps.sessions() as s:
        assert len(s.scalars(select(Alert)).all()) == 1
    shown = text_of(bot.command("why https://other.example/twin", channel="C1"))
    assert "repeats" in shown and "same headline" in shown
