"""`/diplo` through the real Bolt App: signed requests in, replies at the fake response_url."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_sdk import WebClient
from sqlalchemy import update

from deps import Deps
from handlers.blocks import UNSUBSCRIBE_ACTION, Message, escape_mrkdwn
from handlers.commands import COMMANDS, Request, parse_command, run_command
from jobs.fetch import FetchConfig, Fetcher
from models.channel import paused_reasons
from models.feed import add_feed, all_feeds
from models.item import save_new
from models.outbox import (
    CATCHUP,
    DIGEST,
    FAILED,
    FOLDED,
    REMIND,
    SKIPPED,
    Alert,
    enqueue,
    enqueue_keyed,
)
from models.subscription import for_channel, pause_channel, subscribe
from news.entry import Entry
from tests.fakes.feed_server import FeedServer
from tests.fakes.slack_server import FakeSlack
from tests.feedgen import BASE, TRUMP_XI_CALL, rss, wire
from tests.slack_limits import assert_message_ok
from tests.slackbot import Bot, make_bot, slack_deps, slash_form, store_items

# For tests of Slack behaviour that barely touch the database: PostgreSQL adds nothing there.
sqlite_only = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
TOPICS = ["summit", "call", "visit", "trade", "tech", "fentanyl", "taiwan", "security"]


@pytest.fixture
def bot(deps: Deps, slack: FakeSlack) -> Bot:
    """The App, admins: UADMIN only."""
    return make_bot(deps, slack, admins=frozenset({"UADMIN"}))


def text_of(reply: dict[str, Any]) -> str:
    """Everything the user would read: the blocks (or the text without them)."""
    return json.dumps(reply.get("blocks") or reply["text"], ensure_ascii=False)


# --- the parser ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "name", "args"),
    [
        ("", "help", ()),
        ("   ", "help", ()),
        ("help", "help", ()),
        ("HELP", "help", ()),
        ("latest", "latest", ()),
        ("latest 3 trade", "latest", ("3", "trade")),
        ("  latest\u00a0\u00a07   ", "latest", ("7",)),
        ("subscribe trade taiwan", "subscribe", ("trade", "taiwan")),
        ("sub trade", "subscribe", ("trade",)),
        ("unsub all", "unsubscribe", ("all",)),
        (
            "feeds add <https://x.example/rss|x.example/rss>",
            "feeds",
            ("add", "https://x.example/rss"),
        ),
        ("feeds add <https://x.example/rss>", "feeds", ("add", "https://x.example/rss")),
        (
            "feeds add <https://x.example/?a=1&amp;b=2>",
            "feeds",
            ("add", "https://x.example/?a=1&b=2"),
        ),
        ("search xi &amp; biden", "search", ("xi", "&", "biden")),
        ("search &lt;b&gt;", "search", ("<b>",)),
        ("frobnicate now", "frobnicate", ("now",)),
        ("<#C1|general>", "#c1", ()),
    ],
)
def test_parse_command(text: str, name: str, args: tuple[str, ...]) -> None:
    assert parse_command(text, "C1", "U1") == Request(name, args, "C1", "U1")


@given(st.text(max_size=500), st.text(max_size=20), st.text(max_size=20))
def test_parse_command_never_raises(text: str, channel: str, user: str) -> None:
    request = parse_command(text, channel, user)
    assert request.name and " " not in request.name
    assert all(a and not a.isspace() for a in request.args)


COMMAND_WORDS = [*COMMANDS, "feeds add", "feeds remove", "latest 99", "subscribe all", "x"]


@given(
    text=st.one_of(
        st.text(max_size=300),
        st.builds(lambda w, t: f"{w} {t}", st.sampled_from(COMMAND_WORDS), st.text(max_size=200)),
    ),
    channel=st.sampled_from(["C1", "G1", "D1", "", "<!channel>"]),
)
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_any_text_gets_a_reply_within_slack_limits(
    deps: Deps, slack: FakeSlack, text: str, channel: str
) -> None:
    d = slack_deps(deps, slack)
    client = WebClient(token=slack.bot_token, base_url=slack.url)
    reply = run_command(d, parse_command(text, channel, "U1"), client)
    assert isinstance(reply, Message)
    assert_message_ok(reply)
    assert "Traceback" not in reply.text


# --- help and bad input ------------------------------------------------------------------------


@sqlite_only
@pytest.mark.parametrize("text", ["", "help", "  "])
def test_help(bot: Bot, text: str) -> None:
    reply = bot.command(text)
    assert reply["response_type"] == "ephemeral"
    for name in COMMANDS:
        assert f"/diplo {name}" in text_of(reply)


@sqlite_only
def test_unknown_command_names_the_word_and_shows_usage(bot: Bot) -> None:
    reply = bot.command("frobnicate <!channel>")
    assert "Unknown command `frobnicate`." in text_of(reply)
    assert "/diplo latest" in text_of(reply)


@sqlite_only
def test_unknown_word_cannot_ping(bot: Bot) -> None:
    reply = bot.command("<!channel>")
    assert "<!channel>" not in text_of(reply)


# --- latest, search, topics ------------------------------------------------------------------


def test_latest_shows_relevant_items_newest_first(bot: Bot) -> None:
    store_items(
        bot.deps,
        [(f"Relevant {n}", "relevant", "call") for n in range(7)]
        + [("Noise", "irrelevant", ""), ("Nearby", "related", "trade")],
    )
    reply = bot.command("latest")
    body = text_of(reply)
    assert [f"Relevant {n}" in body for n in range(7)] == [True] * 5 + [False] * 2
    assert "Noise" not in body and "Nearby" not in body
    assert body.index("Relevant 0") < body.index("Relevant 4")
    assert "Relevant 6" in text_of(bot.command("latest 20"))
    assert "Relevant 2" not in text_of(bot.command("latest 2"))


def test_latest_for_one_topic(bot: Bot) -> None:
    store_items(
        bot.deps, [("Chip curbs", "relevant", "trade,tech"), ("Phone call", "relevant", "call")]
    )
    body = text_of(bot.command("latest tech"))
    assert "Chip curbs" in body and "Phone call" not in body
    body = text_of(bot.command("latest TRADE 3"))
    assert "Chip curbs" in body
    assert "Phone call" in text_of(bot.command("latest all"))


@sqlite_only
def test_latest_empty(bot: Bot) -> None:
    assert "No relevant items stored yet." in text_of(bot.command("latest"))


@sqlite_only
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("latest 0", "`0` is not a number from 1 to 20."),
        ("latest 21", "`21` is not a number from 1 to 20."),
        ("latest -3", "`-3` is not a number from 1 to 20."),
        ("latest 2.5", "`2.5` is not a number from 1 to 20."),
        ("latest 3 4", "Give at most one number."),
        ("latest trade taiwan", "Give at most one topic."),
        ("latest weather", "Unknown topic `weather`. Topics are:"),
    ],
)
def test_latest_bad_arguments(bot: Bot, text: str, expected: str) -> None:
    assert expected in text_of(bot.command(text))


@sqlite_only
def test_unknown_topic_lists_the_topics(bot: Bot) -> None:
    body = text_of(bot.command("latest weather"))
    assert all(f"`{t}`" in body for t in [*TOPICS, "all"])


@sqlite_only
def test_topics_lists_the_taxonomy_one_line_each(bot: Bot) -> None:
    reply = bot.command("topics")
    body = text_of(reply)
    for name, description in bot.deps.classifier.topics.items():
        assert f"`{name}` — " in body
        assert json.dumps(escape_mrkdwn(description)[:20], ensure_ascii=False)[1:-1] in body
    assert "`all`" in body


def test_search_matches_every_word_newest_first(bot: Bot) -> None:
    store_items(
        bot.deps,
        [
            ("Xi meets Biden in Lima", "relevant", "summit"),
            ("Biden speaks on tariffs", "related", "trade"),
            ("Xi and Biden to talk again", "irrelevant", ""),
        ]
        + [(f"Xi Biden filler {n}", "relevant", "") for n in range(12)],
    )
    body = text_of(bot.command("search xi BIDEN"))
    assert "*Xi* meets *Biden* in Lima" in body  # matched words in bold
    assert "Biden speaks on tariffs" not in body
    assert body.count("wire.example/") == 10  # newest 10 only
    assert "Nothing stored matches" in text_of(bot.command("search zebra"))
    assert "Give one or more words" in text_of(bot.command("search"))


def test_search_words_are_literal_not_sql_patterns(bot: Bot) -> None:
    store_items(bot.deps, [("Tariffs rise 10% overnight", "relevant", "trade")])
    assert "Tariffs rise" in text_of(bot.command("search 10%"))
    assert "Nothing stored matches" in text_of(bot.command("search _"))


# --- subscriptions ---------------------------------------------------------------------------


def channel_topics(deps: Deps, channel: str) -> dict[str, str | None]:
    with deps.sessions() as s:
        reason = paused_reasons(s, [channel]).get(channel)
        return {sub.topic: reason for sub in for_channel(s, channel)}


def test_subscribe_stores_joins_and_tells_the_channel(bot: Bot) -> None:
    reply = bot.command("subscribe trade, Taiwan trade", channel="CPUB")
    assert channel_topics(bot.deps, "CPUB") == {"trade": None, "taiwan": None}
    assert reply["response_type"] == "in_channel"
    assert "<@U1> subscribed <#CPUB> to `trade` and `taiwan`." in reply["text"]
    assert [c["channel"] for c in bot.slack.calls("conversations.join")] == ["CPUB"]
    again = bot.command("subscribe trade", channel="CPUB")
    assert again["response_type"] == "ephemeral"
    assert "already subscribed to `trade`" in again["text"]


def test_subscribe_all_pseudo_topic(bot: Bot) -> None:
    bot.command("subscribe all")
    assert channel_topics(bot.deps, "C1") == {"all": None}


def test_subscribe_unknown_topic_changes_nothing(bot: Bot) -> None:
    reply = bot.command("subscribe trade weather")
    assert "Unknown topic `weather`" in text_of(reply)
    assert channel_topics(bot.deps, "C1") == {}


@sqlite_only
def test_subscribe_without_topic_shows_usage(bot: Bot) -> None:
    assert "subscribe &lt;topic&gt;" in text_of(bot.command("subscribe"))


@sqlite_only
def test_subscribe_in_a_dm_says_alerts_go_to_channels(bot: Bot) -> None:
    reply = bot.command("subscribe trade", channel="D123")
    assert "Alerts go to channels" in reply["text"]
    assert channel_topics(bot.deps, "D123") == {}


@sqlite_only
def test_private_channel_without_the_bot_gets_invite_hint(bot: Bot) -> None:
    bot.slack.set_channel("GPRIV", private=True, member=False)
    reply = bot.command("subscribe call", channel="GPRIV")
    assert "/invite @diplo" in reply["text"]
    assert channel_topics(bot.deps, "GPRIV") == {"call": None}
    assert bot.slack.calls("conversations.join") == []


@sqlite_only
def test_private_channel_with_the_bot_needs_no_hint(bot: Bot) -> None:
    bot.slack.set_channel("GPRIV", private=True, member=True)
    assert "/invite" not in bot.command("subscribe call", channel="GPRIV")["text"]


@sqlite_only
@pytest.mark.parametrize(
    ("state", "error"),
    [({"archived": True}, "is_archived"), ({"private": True}, "method_not_supported")],
)
def test_failed_join_gets_invite_hint(bot: Bot, state: dict[str, bool], error: str) -> None:
    bot.slack.set_channel("CX", member=False, **state)
    reply = bot.command("subscribe call", channel="CX")
    assert "/invite @diplo" in reply["text"]


def test_subscribing_again_resumes_a_paused_subscription(bot: Bot) -> None:
    bot.command("subscribe trade")
    with bot.deps.sessions.begin() as s:
        pause_channel(s, "C1", "not_in_channel")
    assert "paused: not_in_channel" in text_of(bot.command("subscriptions"))
    assert "Resumed the paused `trade`" in bot.command("subscribe trade")["text"]
    assert channel_topics(bot.deps, "C1") == {"trade": None}


def test_subscriptions_are_per_channel(bot: Bot) -> None:
    bot.command("subscribe trade", channel="C1")
    bot.command("subscribe call", channel="C2")
    bot.command("unsubscribe call", channel="C1")
    assert channel_topics(bot.deps, "C1") == {"trade": None}
    assert channel_topics(bot.deps, "C2") == {"call": None}
    body = text_of(bot.command("subscriptions", channel="C2"))
    assert "`call`" in body and "`trade`" not in body


def test_unsubscribe(bot: Bot) -> None:
    bot.command("subscribe trade taiwan call")
    reply = bot.command("unsubscribe taiwan weather")
    assert "unsubscribed <#C1> from `taiwan`" in reply["text"]
    assert "was not subscribed to `weather`" in reply["text"]
    assert reply["response_type"] == "in_channel"
    assert channel_topics(bot.deps, "C1") == {"call": None, "trade": None}
    bot.command("unsubscribe all")
    assert channel_topics(bot.deps, "C1") == {}
    assert "Name a topic, or `all`." in text_of(bot.command("unsubscribe"))


def test_subscriptions_list_has_buttons_and_the_button_unsubscribes(bot: Bot) -> None:
    assert "has no subscriptions" in bot.command("subscriptions")["text"]
    bot.command("subscribe trade call")
    reply = bot.command("subscriptions")
    buttons = [b["accessory"] for b in reply["blocks"] if "accessory" in b]
    assert {b["value"] for b in buttons} == {"trade", "call"}
    assert {b["action_id"] for b in buttons} == {UNSUBSCRIBE_ACTION}

    after = bot.click("trade")
    assert after["replace_original"] is True
    assert "Unsubscribed from `trade`" in text_of(after)
    assert [b["accessory"]["value"] for b in after["blocks"] if "accessory" in b] == ["call"]
    assert channel_topics(bot.deps, "C1") == {"call": None}
    assert "not subscribed to `trade`" in text_of(bot.click("trade"))


# --- status ----------------------------------------------------------------------------------


def test_status(bot: Bot) -> None:
    store_items(bot.deps, [("Xi call", "relevant", "call"), ("Other", "irrelevant", "")])
    now = bot.deps.clock()
    with bot.deps.sessions.begin() as s:
        bad, _ = add_feed(s, "https://bad.example/rss", now)
        bad.consecutive_failures, bad.last_error, bad.last_polled_at = 3, "http_503", now
        off, _ = add_feed(s, "https://off.example/rss", now)
        off.enabled, off.last_error = False, "http_410_gone"
        item_ids = [i.id for i in save_new(s, bad.id, "Bad", [_entry("q1"), _entry("q2")], now)]
        enqueue(s, item_ids[0], ["C1", "C2"], now)
        subscribe(s, "CGONE", ["trade"], "U1", now)
        pause_channel(s, "CGONE", "channel_not_found")
    body = text_of(bot.command("status"))
    assert "1 ok, 1 failing, 1 disabled" in body
    assert "http_503" in body and "http_410_gone" in body
    assert "Items stored today (UTC): 4" in body
    assert "2 queued (2 alerts), 0 failed" in body
    assert "<#CGONE>" in body and "channel_not_found" in body


def test_status_counts_the_queue_by_kind_and_names_failed_keyed_messages(bot: Bot) -> None:
    """Reminders, digests and catch-ups are in the queue, folded and skipped rows counted,
    and a reminder that failed for good is named though it has no item."""
    now = bot.deps.clock()
    with bot.deps.sessions.begin() as s:
        reminder = enqueue_keyed(s, "C1", REMIND, "7:60:2026-12-01T10:00", now, payload="{}")
        digest = enqueue_keyed(s, "C1", DIGEST, "2026-11-30T08:00", now, payload="{}")
        enqueue_keyed(s, "C2", DIGEST, "2026-11-30T09:00", now, payload="{}")
        folded = enqueue_keyed(s, "C1", CATCHUP, "quiet:1", now, payload="{}")
        skipped = enqueue_keyed(s, "C1", REMIND, "7:1440:2026-12-01T10:00", now, payload="{}")
        states = {reminder: (FAILED, "channel_not_found"), folded: (FOLDED, None)}
        states[skipped] = (SKIPPED, None)
        for alert_id, (status, error) in states.items():
            s.execute(
                update(Alert)
                .where(Alert.id == alert_id)
                .values(status=status, last_error=error, failed_at=now)
            )
    assert digest is not None
    body = text_of(bot.command("status"))
    assert "2 queued (2 digests), 1 failed, 0 sent" in body
    assert "1 folded into catch-up or more-stories messages" in body
    assert "1 skipped (out of date when due)" in body
    assert "reminder (7:60:2026-12-01T10:00)" in body and "channel_not_found" in body


def _entry(key: str) -> Entry:
    return Entry(dedup_key=key, title=f"Item {key}", url=None, summary="", published=BASE)


# --- feeds -----------------------------------------------------------------------------------


@pytest.fixture
def wire_feed(feed_server: FeedServer) -> str:
    return feed_server.serve("/wire.xml", rss([TRUMP_XI_CALL, *wire(3)]))


def feed_urls(deps: Deps) -> list[str]:
    with deps.sessions() as s:
        return [f.url for f in all_feeds(s)]


def test_feeds_lists_feeds_for_everyone(bot: Bot) -> None:
    with bot.deps.sessions.begin() as s:
        add_feed(s, "https://ok.example/rss", bot.deps.clock())
    body = text_of(bot.command("feeds", user="USOMEONE"))
    assert "ok.example/rss" in body and "1 ok" in body


def test_admin_adds_a_feed_wrapped_by_slack(bot: Bot, wire_feed: str) -> None:
    reply = bot.command(
        f"feeds add <{wire_feed}|{wire_feed.removeprefix('http://')}>", user="UADMIN"
    )
    assert "Added" in reply["text"] and "4 current items" in reply["text"]
    assert feed_urls(bot.deps) == [wire_feed]
    with bot.deps.sessions() as s:
        assert all_feeds(s)[0].primed
    assert "already polled" in bot.command(f"feeds add {wire_feed}", user="UADMIN")["text"]


@sqlite_only
def test_non_admin_cannot_add_or_remove(bot: Bot, wire_feed: str) -> None:
    bot.slack.set_admin("UWSADMIN")  # DIPLO_ADMINS is set, so the workspace role is moot
    for user in ("U1", "UWSADMIN"):
        assert "Only admins" in bot.command(f"feeds add {wire_feed}", user=user)["text"]
        assert "Only admins" in bot.command(f"feeds remove {wire_feed}", user=user)["text"]
    assert feed_urls(bot.deps) == []


@sqlite_only
def test_without_admin_list_workspace_admins_decide(
    deps: Deps, slack: FakeSlack, wire_feed: str
) -> None:
    bot = make_bot(deps, slack)
    slack.set_admin("UWSADMIN")
    assert "Only admins" in bot.command(f"feeds add {wire_feed}", user="U1")["text"]
    assert "Added" in bot.command(f"feeds add {wire_feed}", user="UWSADMIN")["text"]
    assert [c["user"] for c in slack.calls("users.info")] == ["U1", "UWSADMIN"]


@sqlite_only
def test_a_page_that_is_not_a_feed_is_refused(bot: Bot, feed_server: FeedServer) -> None:
    url = feed_server.serve("/hello.txt", b"hello there", content_type="text/plain")
    reply = bot.command(f"feeds add {url}", user="UADMIN")
    assert "Could not add" in reply["text"] and "not an RSS or Atom feed" in reply["text"]
    page = feed_server.serve(
        "/bare.html", b"<html><body>hi</body></html>", content_type="text/html"
    )
    assert "links to no RSS or Atom feed" in bot.command(f"feeds add {page}", user="UADMIN")["text"]
    missing = feed_server.url("/missing.xml")
    assert "http_404" in bot.command(f"feeds add {missing}", user="UADMIN")["text"]
    assert "Could not add" in bot.command("feeds add ftp://x.example/rss", user="UADMIN")["text"]
    assert feed_urls(bot.deps) == []


@sqlite_only
def test_an_html_page_is_followed_to_its_feed(
    bot: Bot, feed_server: FeedServer, wire_feed: str
) -> None:
    html = b'<html><head><link rel="alternate" type="application/rss+xml" href="/wire.xml">'
    page = feed_server.serve("/news", html, content_type="text/html")
    reply = bot.command(f"feeds add {page}", user="UADMIN")
    assert "Added" in reply["text"]
    assert feed_urls(bot.deps) == [wire_feed]


@sqlite_only
def test_a_private_address_is_refused_without_the_allow_list(
    deps: Deps, slack: FakeSlack, wire_feed: str
) -> None:
    with Fetcher(FetchConfig(total_timeout=5.0)) as guarded:
        bot = make_bot(replace(deps, fetcher=guarded), slack, admins=frozenset({"UADMIN"}))
        reply = bot.command(f"feeds add {wire_feed}", user="UADMIN")
    assert "blocked_address" in reply["text"] and "private or local address" in reply["text"]
    assert feed_urls(deps) == []


def test_admin_removes_a_feed(bot: Bot) -> None:
    with bot.deps.sessions.begin() as s:
        add_feed(s, "https://old.example/rss?a=1&b=2", bot.deps.clock())
    reply = bot.command("feeds remove <https://old.example/rss?a=1&amp;b=2>", user="UADMIN")
    assert "Removed the feed" in reply["text"]
    assert feed_urls(bot.deps) == []
    assert (
        "No feed has the URL"
        in bot.command("feeds remove https://x.example", user="UADMIN")["text"]
    )


@sqlite_only
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("feeds add", "takes exactly one URL"),
        ("feeds remove a b", "takes exactly one URL"),
        ("feeds purge", "`purge` is not `add` or `remove`."),
    ],
)
def test_feeds_bad_arguments(bot: Bot, text: str, expected: str) -> None:
    assert expected in text_of(bot.command(text, user="UADMIN"))


# --- robustness ------------------------------------------------------------------------------


@sqlite_only
def test_a_crash_becomes_a_polite_reply(bot: Bot) -> None:
    broken = replace(bot.deps, sessions=None)  # any bug below the table: here a TypeError
    client = WebClient(token=bot.slack.bot_token, base_url=bot.slack.url)
    reply = run_command(broken, parse_command("latest", "C1", "U1"), client)
    assert "something went wrong" in reply.text


@sqlite_only
def test_other_commands_and_buttons_are_still_acked(bot: Bot) -> None:
    form = slash_form("x", "C1", "U1", bot.slack.response_url("other"))
    ack = bot.dispatch(urlencode({**form, "command": "/weather"}))
    assert ack.status == 200 and "/weather" in ack.body
    payload = {
        "type": "block_actions",
        "team": {"id": "T1"},
        "user": {"id": "U1"},
        "api_app_id": "A1",
        "actions": [
            {"type": "button", "action_id": "view_story", "block_id": "b", "action_ts": "1"}
        ],
    }
    assert bot.dispatch(urlencode({"payload": json.dumps(payload)})).status == 200
