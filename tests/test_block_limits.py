"""Every message built from feed text fits Slack's limits and keeps its mrkdwn whole.

Property tests (hypothesis) over arbitrary titles, summaries, sources and URLs: the blocks
pass slack_sdk's own checks and tests/slack_limits.py, no cut falls inside an escape
(`&amp;`) or a `<url|label>` link, and the item's link survives however long it is.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from handlers.blocks import (
    MAX_VIEW_BLOCKS,
    SECTION_LIMIT,
    FailedAlertView,
    FeedView,
    Message,
    StatusReport,
    alert_message,
    escape_mrkdwn,
    feed_added_message,
    feeds_message,
    home_view,
    item_list,
    status_message,
    text_only,
)
from models.item import ItemView
from tests.slack_limits import assert_message_ok, assert_slack_limits

WHEN = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
NASTY = "&<>|*_~`:!@#¦…\u200b\n é中"
TEXT = st.text(alphabet=st.sampled_from(NASTY + "abcxyz "), max_size=600) | st.text(max_size=300)
URL_CHARS = "abcz0129&=?/%-_.|#~"
URL = st.none() | st.builds(
    lambda path: "https://news.example/" + path, st.text(alphabet=URL_CHARS, max_size=2300)
)
ITEM = st.builds(
    ItemView,
    id=st.integers(1, 10**9),
    title=TEXT,
    url=URL,
    source=st.none() | TEXT,
    summary=TEXT,
    published_at=st.just(WHEN),
    label=st.sampled_from(["relevant", "irrelevant", "&<x>"]),
    score=st.none() | st.floats(0, 1),
    topics=st.lists(st.sampled_from(["call", "trade", "&<t>"]), max_size=3).map(tuple),
    reasons=st.lists(TEXT, max_size=8).map(tuple),
)
_WHOLE_MARKUP = re.compile(r"<[^<>]*>")
_ESCAPE = re.compile(r"&(?!amp;|lt;|gt;)")


def mrkdwn_texts(message: Message | dict[str, Any]) -> list[str]:
    """Every mrkdwn string of a message (its text fallback too) or view."""
    blocks = message.blocks if isinstance(message, Message) else message["blocks"]
    texts = [message.text] if isinstance(message, Message) else []
    for block in blocks:
        for obj in [
            block.get("text"),
            *(block.get("elements") or []),
            *(block.get("fields") or []),
        ]:
            if isinstance(obj, dict) and obj.get("type") == "mrkdwn":
                texts.append(obj["text"])
    return texts


def assert_whole_mrkdwn(text: str) -> None:
    """No escape cut short, no `<…>` opened or closed without its other half."""
    assert not _ESCAPE.search(text), text[-80:]
    rest = _WHOLE_MARKUP.sub("", text)
    assert "<" not in rest and ">" not in rest, text[-80:]


def link_target(url: str | None) -> str | None:
    """What `<target|…>` the item's link must show (None: not an http URL)."""
    if not url or not url.startswith("https://news.example/"):
        return None
    return escape_mrkdwn(url).replace("|", "%7C")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ITEM)
@example(
    ItemView(1, "&" * 300, "https://news.example/" + "a" * 1979, "Wire", "", WHEN, None, 1, (), ())
)
@example(ItemView(1, "", None, None, " ", WHEN, "relevant", None, (), ()))
def test_alert_message_always_fits_and_keeps_its_link(item: ItemView) -> None:
    message = alert_message(item)
    assert_message_ok(message)
    for text in mrkdwn_texts(message):
        assert_whole_mrkdwn(text)
    target = link_target(item.url)
    if target is not None and len(target) + len("<|Open the article>") <= SECTION_LIMIT:
        assert any(f"<{target}|" in t for t in mrkdwn_texts(message))
    if target is not None and len(target) <= 2000:
        assert f"<{target}|" in message.blocks[0]["text"]["text"]  # in the title itself
    fallback = text_only(message)
    assert fallback.blocks == [] and 0 < len(fallback.text) <= 2000
    assert_whole_mrkdwn(fallback.text)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ITEM, max_size=60), st.sampled_from([False, True]))
def test_item_lists_and_the_home_tab_always_fit(items: list[ItemView], show_label: bool) -> None:
    message = item_list(items, "Latest & <greatest>", show_label=show_label)
    assert_message_ok(message)
    view = home_view(items, [], [])
    assert_slack_limits(view["blocks"], MAX_VIEW_BLOCKS)
    for text in [*mrkdwn_texts(message), *mrkdwn_texts(view)]:
        assert_whole_mrkdwn(text)


FEED = st.builds(
    FeedView,
    url=st.builds(lambda p: "https://feeds.example/" + p, st.text(URL_CHARS, max_size=2300)),
    title=st.none() | TEXT,
    status=st.sampled_from(["ok", "failing", "disabled"]),
    last_error=st.none() | TEXT,
    consecutive_failures=st.integers(0, 99),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(FEED, max_size=40),
    st.lists(st.builds(FailedAlertView, st.just("C1"), TEXT, st.none() | TEXT), max_size=5),
)
def test_feed_and_status_messages_always_fit(
    feeds: list[FeedView], failed: list[FailedAlertView]
) -> None:
    messages = [
        feeds_message(feeds),
        status_message(StatusReport(feeds, WHEN, 3, {"failed": len(failed)}, [], failed)),
        *(feed_added_message(f.url, f.title or "", 2, True) for f in feeds[:3]),
    ]
    for message in messages:
        assert_message_ok(message)
        for text in mrkdwn_texts(message):
            assert_whole_mrkdwn(text)


def test_a_cut_never_splits_an_escape_or_a_link() -> None:
    from handlers.blocks import section

    for pad in range(2990, 3000):
        for tail in ("&amp;" * 5, "<https://x.example/a|label> more", "<!date^1^{date}|x> y"):
            text = section("x" * pad + tail)["text"]["text"]
            assert len(text) <= SECTION_LIMIT
            assert_whole_mrkdwn(text)
