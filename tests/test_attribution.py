"""Sources end to end: entries credited at ingest (feed server → poll), the label on the posted
alert (fake Slack), `/diplo sources` through the Bolt App, and migration 0007's backfill."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from xml.sax.saxutils import escape, quoteattr

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from deps import Deps
from handlers.blocks import source_label
from handlers.sender import ConsoleSender, SlackSender, make_web_client
from jobs.classify import reclassify_all
from jobs.deliver import deliver_pending
from jobs.fetch import FetchConfig, Fetcher
from jobs.poll import poll_due_feeds
from models.attribution import title_key
from models.db import make_engine, make_sessionmaker
from models.feed import Feed, add_feed
from models.item import Item
from models.migrate import upgrade
from models.story import Contact
from models.subscription import subscribe
from news.entry import dedup_key
from news.relevance import default_classifier
from news.sources import parse_sources
from settings import Settings
from tests.conftest import LOCAL_HOSTS, Clock
from tests.fakes.feed_server import FeedServer
from tests.fakes.slack_server import FakeSlack
from tests.feedgen import BASE
from tests.slackbot import Bot, make_bot

GOOGLE = "https://news.google.com/rss/articles/"


@dataclass(frozen=True)
class Aggregated:
    """An entry of an aggregator's feed, with an optional <source url=…>name</source>."""

    title: str
    guid: str
    link: str | None = None
    source: str | None = None
    source_url: str | None = None


def aggregator_rss(entries: list[Aggregated], title: str = "xi jinping - Google News") -> bytes:
    items = []
    for e in entries:
        parts = [f"<title>{escape(e.title)}</title>"]
        parts.append(f"<link>{escape(e.link or GOOGLE + e.guid)}</link>")
        parts.append(f'<guid isPermaLink="false">{escape(e.guid)}</guid>')
        parts.append("<pubDate>Mon, 30 Nov 2026 08:00:00 GMT</pubDate>")
        if e.source is not None:
            url = f" url={quoteattr(e.source_url)}" if e.source_url else ""
            parts.append(f"<source{url}>{escape(e.source)}</source>")
        items.append("<item>" + "".join(parts) + "</item>")
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>https://news.google.com/</link>"
        + "".join(items)
        + "</channel></rss>"
    ).encode()


CALM = [Aggregated(f"Markets story number {i} - Reuters", f"calm-{i}") for i in range(2)]
SUFFIX = Aggregated("Trump and Xi agree to meet in Busan next week - Reuters", "gn-suffix")
ELEMENT = Aggregated(
    "Xi Jinping holds phone call with Trump - Xinhua News Agency",
    "gn-element",
    source="Xinhua News Agency",
    source_url="http://www.news.cn",
)
UNKNOWN_ELEMENT = Aggregated(
    "Xi and Trump meet on sidelines of APEC summit",
    "gn-unknown",
    source="Busan Daily Courier",
    source_url="https://courier.example",
)
NEITHER = Aggregated("Trump says he spoke with Xi by phone on Friday", "gn-neither")
DIRECT = Aggregated(
    "Readout of President Trump's Call with President Xi Jinping of China",
    "wh-readout",
    link="https://www.whitehouse.gov/briefings-statements/2026/11/readout-call",
)


@pytest.fixture
def bot(deps: Deps, slack: FakeSlack) -> Bot:
    made = make_bot(deps, slack)
    sender = SlackSender(make_web_client(slack.bot_token, slack.url, timeout=5), pace=0)
    return Bot(made.app, replace(made.deps, sender=sender), slack)


def repoll(deps: Deps, url: str) -> None:
    with deps.sessions.begin() as s:
        feed = s.scalars(select(Feed).where(Feed.url == url)).one()
        feed.next_poll_at = deps.clock()
    poll_due_feeds(deps)


def serve_and_poll(deps: Deps, feeds: FeedServer, path: str, entries: list[Aggregated]) -> str:
    """Prime an aggregator feed with calm entries, then add `entries`; poll and deliver."""
    url = feeds.serve(path, aggregator_rss(CALM))
    with deps.sessions.begin() as s:
        add_feed(s, url, deps.clock())
    poll_due_feeds(deps)
    feeds.serve(path, aggregator_rss([*entries, *CALM]))
    repoll(deps, url)
    deliver_pending(deps)
    return url


def stored(deps: Deps) -> dict[str, tuple[str | None, str | None, str | None, str | None]]:
    with deps.sessions() as s:
        return {
            i.title: (i.source, i.source_kind, i.source_country, i.source_domain)
            for i in s.scalars(select(Item))
        }


def test_aggregator_entries_are_credited_and_alerts_say_who_speaks(
    bot: Bot, slack: FakeSlack, feed_server: FeedServer
) -> None:
    with bot.deps.sessions.begin() as s:
        subscribe(s, "CALL", ["all"], "U1", bot.deps.clock())
    serve_and_poll(
        bot.deps, feed_server, "/gn.xml", [SUFFIX, ELEMENT, UNKNOWN_ELEMENT, NEITHER, DIRECT]
    )

    items = stored(bot.deps)
    # the title's " - Outlet" suffix names the outlet and is cut from the stored headline
    assert items["Trump and Xi agree to meet in Busan next week"] == (
        "Reuters",
        "wire",
        "GB",
        "reuters.com",
    )
    # the <source> element names it (an alias of Xinhua); its suffix is cut too
    assert items["Xi Jinping holds phone call with Trump"] == (
        "Xinhua",
        "state-media-china",
        "CN",
        "news.cn",
    )
    # an outlet the sources file does not know keeps the name the element gives
    assert items["Xi and Trump meet on sidelines of APEC summit"] == (
        "Busan Daily Courier",
        "other",
        None,
        "courier.example",
    )
    # neither: the feed's own source (an aggregator's feed: its title and host)
    assert items["Trump says he spoke with Xi by phone on Friday"] == (
        "xi jinping - Google News",
        "other",
        None,
        "127.0.0.1",
    )
    # a link to a known outlet in an aggregator's feed: the link's domain
    assert items[DIRECT.title][:2] == ("White House", "official-us")
    assert not any(" - Reuters" in t or "Xinhua News Agency" in t for t in items)

    # stories: every item is in a story message or a thread reply; each names its outlet
    messages = [*slack.top_level("CALL")]
    messages += [r for thread in slack.all_replies("CALL").values() for r in thread]
    posted = {m["ts"]: json.dumps(m["blocks"], ensure_ascii=False) for m in messages}
    everything = "\n".join([*posted.values(), *(m["text"] for m in messages)])
    relevant = [
        "Trump and Xi agree to meet in Busan next week",
        "Xi Jinping holds phone call with Trump",
        "Xi and Trump meet on sidelines of APEC summit",
        "Trump says he spoke with Xi by phone on Friday",
        DIRECT.title,
    ]
    for title in relevant:
        assert title in everything, title
    by_title = {t: next(b for b in posted.values() if t in b) for t in relevant}
    assert "Reuters · wire" in everything
    assert "Xinhua · Chinese state media" in by_title["Xi Jinping holds phone call with Trump"]
    assert "White House · US government" in by_title[DIRECT.title]
    assert "Busan Daily Courier" in everything
    assert not any("- Reuters" in b for b in posted.values())


def test_official_source_stored_at_ingest_makes_the_readout(
    deps: Deps, feed_server: FeedServer
) -> None:
    serve_and_poll(deps, feed_server, "/gn.xml", [ELEMENT, DIRECT])
    with deps.sessions() as s:
        contacts = {c.source_name: (c.source_kind, c.side) for c in s.scalars(select(Contact))}
    assert contacts["Xinhua"] == ("state-media-china", "china")
    assert contacts["White House"] == ("official-us", "us")


def test_same_headline_from_aggregator_and_outlet_alerts_once(
    bot: Bot, slack: FakeSlack, feed_server: FeedServer
) -> None:
    with bot.deps.sessions.begin() as s:
        subscribe(s, "CALL", ["all"], "U1", bot.deps.clock())
    serve_and_poll(bot.deps, feed_server, "/gn.xml", [SUFFIX])
    # the outlet's own feed carries the headline without the suffix, under another guid
    own = Aggregated(
        "Trump and Xi agree to meet in Busan next week",
        "reuters-1",
        link="https://www.reuters.com/world/busan",
    )
    serve_and_poll(bot.deps, feed_server, "/reuters.xml", [own])
    assert len(slack.messages("CALL")) == 1
    with bot.deps.sessions() as s:
        second = s.scalars(select(Item).where(Item.url == "https://www.reuters.com/world/busan"))
        assert second.one().duplicate_of is not None


def test_the_feed_itself_is_credited(deps: Deps, feed_server: FeedServer) -> None:
    """A feed on a known outlet's domain (a custom sources file) credits unknown links to it."""
    book = parse_sources(
        '[readout]\nofficial-china = "china"\n'
        '[[source]]\nname = "MFA"\nkind = "official-china"\ncountry = "CN"\n'
        'domains = ["127.0.0.1"]\n'
    )
    deps = replace(deps, sources=book)
    entry = Aggregated("Wang Yi meets Rubio", "mfa-1", link="https://unknown.example/a")
    url = feed_server.serve("/mfa.xml", aggregator_rss([entry], title="Ministry news"))
    with deps.sessions.begin() as s:
        add_feed(s, url, deps.clock())
    poll_due_feeds(deps)
    with deps.sessions() as s:
        feed = s.scalars(select(Feed)).one()
        assert (feed.source_name, feed.source_kind, feed.source_domain) == (
            "MFA",
            "official-china",
            "127.0.0.1",
        )
    assert stored(deps)["Wang Yi meets Rubio"] == ("MFA", "official-china", "CN", "127.0.0.1")


# --- /diplo sources ----------------------------------------------------------------------


def test_sources_command_lists_outlets_by_kind_with_counts(
    bot: Bot, feed_server: FeedServer
) -> None:
    serve_and_poll(bot.deps, feed_server, "/gn.xml", [SUFFIX, ELEMENT])
    reply = bot.command("sources")
    assert reply["response_type"] == "ephemeral"
    shown = json.dumps(reply["blocks"], ensure_ascii=False)
    assert "*Chinese state media* (0 feeds, 1 item): Xinhua, People's Daily" in shown
    assert "*Wire services* (0 feeds, 3 items): Reuters, AP" in shown  # 2 calm + 1
    assert "*US government* (0 feeds, 0 items): White House" in shown
    assert "*Other outlets* (1 feed, 0 items)" in shown  # the aggregator's feed
    assert "news/sources.toml" in shown
    assert "sources" in json.dumps(bot.command("help")["blocks"])


def test_source_label() -> None:
    assert source_label("Xinhua", "state-media-china") == "Xinhua · Chinese state media"
    assert source_label("MFA", "official-china") == "MFA · Chinese government"
    assert source_label("White House", "official-us") == "White House · US government"
    assert source_label("Reuters", "wire") == "Reuters · wire"
    assert source_label("BBC", "major") == "BBC"
    assert source_label("", None) == "unknown source"
    assert source_label("Chinese government", "official-china") == "Chinese government"


# --- migration 0007 ---------------------------------------------------------------------


@pytest.fixture
def old_engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    upgrade(eng, "0004")
    yield eng
    eng.dispose()


def deps_on(eng: Engine, clock: Clock) -> Deps:
    settings = Settings(
        database_url="unused://", poll_seconds=300, max_failures=3, allow_hosts=LOCAL_HOSTS
    )
    fetcher = Fetcher(FetchConfig(total_timeout=5.0, connect_timeout=2.0, allow_hosts=LOCAL_HOSTS))
    return Deps(
        settings=settings,
        sessions=make_sessionmaker(eng),
        fetcher=fetcher,
        classifier=default_classifier(),
        sender=ConsoleSender(),
        clock=clock,
        owner="test",
    )


def insert_old(eng: Engine, feed_url: str, rows: list[tuple[str, str, str | None]]) -> None:
    """Rows as diplo stored them before 0007: the raw title, the feed's title as source."""
    with eng.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO feeds (url, title, enabled, primed, created_at, next_poll_at,"
                " consecutive_failures, too_active_count) VALUES (:u, :t, :e, :p, :c, :c, 0, 0)"
            ),
            {"u": feed_url, "t": "xi jinping - Google News", "e": True, "p": True, "c": BASE},
        )
        feed_id = conn.execute(text("SELECT id FROM feeds WHERE url = :u"), {"u": feed_url}).one()[
            0
        ]
        for title, guid, link in rows:
            conn.execute(
                text(
                    "INSERT INTO items (feed_id, dedup_key, title_key, url, title, summary,"
                    " source, published_at, fetched_at, label, topics, reasons) VALUES"
                    " (:f, :k, :tk, :url, :t, '', :s, :d, :d, 'relevant', 'summit', '[]')"
                ),
                {
                    "f": feed_id,
                    "k": dedup_key(feed_url, guid, link, title, ""),
                    "tk": title_key(title),
                    "url": link,
                    "t": title,
                    "s": "xi jinping - Google News",
                    "d": BASE,
                },
            )


@pytest.mark.parametrize(
    "database_url",
    ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
    indirect=True,
)
def test_migration_backfills_and_stored_items_are_not_stored_again(
    old_engine: Engine, feed_server: FeedServer, clock: Clock
) -> None:
    path = "/gn.xml"
    url = feed_server.serve(path, aggregator_rss([SUFFIX, NEITHER, DIRECT]))
    insert_old(
        old_engine,
        url,
        [(e.title, e.guid, e.link or GOOGLE + e.guid) for e in (SUFFIX, NEITHER, DIRECT)],
    )
    with old_engine.begin() as conn:  # a feed with no title, and an item whose feed is gone
        conn.execute(
            text(
                "INSERT INTO items (dedup_key, title_key, url, title, summary, source,"
                " published_at, fetched_at, topics, reasons) VALUES ('k-orphan', 'x',"
                " 'https://apnews.com/x', 'Orphan story', '', 'AP News', :d, :d, '', '[]')"
            ),
            {"d": BASE},
        )
    upgrade(old_engine)

    deps = deps_on(old_engine, clock)
    try:
        items = stored(deps)
        assert items["Trump and Xi agree to meet in Busan next week"][:2] == ("Reuters", "wire")
        assert items[NEITHER.title][:2] == ("xi jinping - Google News", "other")
        assert items[DIRECT.title][:2] == ("White House", "official-us")
        assert items["Orphan story"][:2] == ("AP", "wire")
        with deps.sessions() as s:
            cut = s.scalars(select(Item).where(Item.title.like("Trump and Xi agree%"))).one()
            assert cut.title_key == title_key("Trump and Xi agree to meet in Busan next week")
            feed = s.scalars(select(Feed)).one()
            assert (feed.source_name, feed.source_kind) == ("xi jinping - Google News", "other")
            before = s.scalar(select(Item.id).order_by(Item.id.desc()).limit(1))

        # the same entries polled again are the stored items (same dedup key): none is new
        feed_server.serve(path, aggregator_rss([SUFFIX, NEITHER, DIRECT, *CALM]))
        summary = poll_due_feeds(deps)
        assert summary.new_items == 2 and summary.alerts == 0  # only the calm ones
        with deps.sessions() as s:
            titles = [i.title for i in s.scalars(select(Item).where(Item.id > before))]
        assert sorted(titles) == ["Markets story number 0", "Markets story number 1"]

        # the same headline under another guid is a duplicate of the stored (cut) one
        other = feed_server.serve("/gn2.xml", aggregator_rss(CALM))
        with deps.sessions.begin() as s:
            add_feed(s, other, deps.clock())
        poll_due_feeds(deps)
        again = replace(SUFFIX, guid="gn-suffix-2")
        feed_server.serve("/gn2.xml", aggregator_rss([again, *CALM]))
        repoll(deps, other)
        with deps.sessions() as s:
            dup = s.scalars(select(Item).where(Item.url == GOOGLE + "gn-suffix-2")).one()
            assert dup.duplicate_of == cut.id
    finally:
        deps.fetcher.close()


def test_reclassify_credits_outlets_a_changed_sources_file_knows(
    sessions: sessionmaker[Session], deps: Deps, feed_server: FeedServer
) -> None:
    entry = Aggregated(
        "Trump and Xi to hold video call on trade", "c-1", link="https://courier.example/a"
    )
    serve_and_poll(deps, feed_server, "/c.xml", [entry])
    assert stored(deps)[entry.title][1] == "other"
    book = parse_sources(
        '[[source]]\nname = "Courier"\nkind = "major"\ncountry = "KR"\n'
        'domains = ["courier.example"]\n'
    )
    counts = reclassify_all(sessions, default_classifier(), sources=book)
    assert counts["sources"] == 1
    assert stored(deps)[entry.title] == ("Courier", "major", "KR", "courier.example")
    # a second run changes nothing
    assert reclassify_all(sessions, default_classifier(), sources=book)["sources"] == 0
