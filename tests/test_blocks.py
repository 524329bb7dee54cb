"""handlers.blocks: pure rendering, escaping, and Slack's size limits on every message."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handlers import blocks
from handlers.blocks import (
    MAX_VIEW_BLOCKS,
    FeedView,
    StatusReport,
    SubscriptionView,
    alert_message,
    escape_mrkdwn,
    feeds_message,
    help_message,
    home_view,
    item_list,
    status_message,
    subscriptions_message,
    topics_message,
)
from models.item import ItemView
from tests.slack_limits import assert_message_ok, assert_slack_limits

WHEN = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def item(n: int = 1, **fields: Any) -> ItemView:
    values: dict[str, Any] = {
        "id": n,
        "title": f"Xi and Biden talk by phone #{n}",
        "url": f"https://news.example/{n}",
        "source": "Wire",
        "summary": "The two leaders spoke for two hours.",
        "published_at": WHEN,
        "label": "relevant",
        "score": 0.9,
        "topics": ("call",),
        "reasons": ("leaders named",),
    }
    values.update(fields)
    return ItemView(**values)


HOSTILE = "<!channel> <@U123> <https://evil.example|click> & *bold* `code` " + "x" * 5000


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("a & b", "a &amp; b"),
        ("<!here>", "&lt;!here&gt;"),
        ("<https://x|y>", "&lt;https://x|y&gt;"),
        ("&amp;", "&amp;amp;"),
        ("plain", "plain"),
    ],
)
def test_escape_mrkdwn(raw: str, escaped: str) -> None:
    assert escape_mrkdwn(raw) == escaped


def test_item_list_escapes_feed_text_and_links_titles() -> None:
    message = item_list([item(title="A <!channel> & B", source="<@U1>")], "Latest")
    body = json.dumps(message.blocks)
    assert "<!channel>" not in body and "<@U1>" not in body
    assert "&lt;!channel&gt;" in body
    assert "<https://news.example/1|" in message.blocks[1]["text"]["text"]
    assert "<!channel>" not in message.text
    assert_message_ok(message)


def test_item_without_http_link_is_not_linked() -> None:
    message = item_list([item(url="javascript:alert(1)")], "Latest")
    assert "javascript" not in json.dumps(message.blocks)


def test_empty_item_list_says_so() -> None:
    message = item_list([], "Latest relevant items", empty="No relevant items stored yet.")
    assert "No relevant items stored yet." in message.text
    assert_message_ok(message)


def test_hostile_and_huge_texts_stay_within_limits() -> None:
    items = [item(n, title=HOSTILE, summary=HOSTILE, source=HOSTILE) for n in range(60)]
    feeds = [
        FeedView(f"https://f{n}.example/rss", HOSTILE, "failing", HOSTILE, 7) for n in range(300)
    ]
    subs = [SubscriptionView(f"C{n:05}", f"topic{n}", HOSTILE) for n in range(300)]
    report = StatusReport(feeds, WHEN, 12, {"pending": 3, "failed": 1}, subs)
    for message in [
        item_list(items, HOSTILE),
        feeds_message(feeds, note=escape_mrkdwn(HOSTILE)),  # notes are mrkdwn: caller escapes
        status_message(report),
        subscriptions_message("C1", subs, note=escape_mrkdwn(HOSTILE)),
        topics_message({f"t{n}": HOSTILE for n in range(100)}),
        help_message([(HOSTILE, HOSTILE)] * 80, reason=escape_mrkdwn(HOSTILE)),
        alert_message(items[0]),
    ]:
        assert_message_ok(message)
        assert "<!channel>" not in json.dumps(message.blocks)
    view = home_view(items, subs, feeds)
    assert view["type"] == "home"
    assert_slack_limits(view["blocks"], max_blocks=MAX_VIEW_BLOCKS)


@given(st.text(max_size=4000), st.text(max_size=300))
@settings(max_examples=60, deadline=None)
def test_any_text_renders_within_limits(title: str, source: str) -> None:
    message = item_list([item(title=title or "x", source=source, summary=title)], source)
    assert_message_ok(message)
    assert_message_ok(alert_message(item(title=title or "x", source=source)))


def test_subscriptions_have_one_unsubscribe_button_each() -> None:
    subs = [SubscriptionView("C1", "trade"), SubscriptionView("C1", "taiwan", "not_in_channel")]
    message = subscriptions_message("C1", subs)
    buttons = [b["accessory"] for b in message.blocks if "accessory" in b]
    assert [(b["action_id"], b["value"]) for b in buttons] == [
        (blocks.UNSUBSCRIBE_ACTION, "trade"),
        (blocks.UNSUBSCRIBE_ACTION, "taiwan"),
    ]
    assert "paused: not_in_channel" in json.dumps(message.blocks)
    assert "<#C1>" in message.text
    assert_message_ok(message)


def test_subscriptions_empty() -> None:
    message = subscriptions_message("C1", [])
    assert "no subscriptions" in message.text
    assert_message_ok(message)


def test_status_lists_failing_feeds_with_errors_and_paused_channels() -> None:
    feeds = [
        FeedView("https://ok.example/rss", "OK", "ok"),
        FeedView("https://bad.example/rss", "Bad", "failing", "http_503", 3),
        FeedView("https://off.example/rss", "Off", "disabled", "http_410_gone", 10),
    ]
    paused = [SubscriptionView("C9", "trade", "channel_not_found")]
    message = status_message(StatusReport(feeds, WHEN, 4, {"pending": 2, "failed": 1}, paused))
    body = json.dumps(message.blocks)
    assert "1 ok, 1 failing, 1 disabled" in body
    assert "http_503" in body and "http_410_gone" in body
    assert "<#C9>" in body and "channel_not_found" in body
    assert "2 queued, 1 failed" in body
    assert "Items today: 4" in message.text
    assert_message_ok(message)


def test_channel_mention_only_for_well_formed_ids() -> None:
    assert blocks.channel_mention("C0123ABC") == "<#C0123ABC>"
    assert blocks.channel_mention("<!channel>") == "&lt;!channel&gt;"


def test_code_cannot_break_out_of_backticks() -> None:
    assert blocks.code("a`b <!here>") == "`a'b &lt;!here&gt;`"
