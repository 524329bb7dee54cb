"""Property tests (hypothesis) for the code that meets hostile input.

Already covered elsewhere, not repeated here: `parse_command` never raises
(test_commands.py), any text renders within Slack's limits (test_blocks.py), URL
canonicalisation (test_urls.py). Here: the mrkdwn escaper's algebra, alerts that can never
carry live markup or a non-http link, the normaliser and the feed parser on arbitrary
input, the relevance engine's contract, and Slack's own escaping undone by the parser.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from xml.sax.saxutils import escape

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from handlers.blocks import alert_message, escape_mrkdwn, item_list
from handlers.commands import parse_command, unwrap_slack_text
from models.item import ItemView
from news.parse import MAX_ENTRIES, parse_feed
from news.relevance import default_classifier
from news.text import html_to_text
from tests.faults import CONTROL, live_markup, mrkdwn_texts, unclean_entry
from tests.slack_limits import assert_message_ok

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
CLASSIFIER = default_classifier()
LABELS = {"relevant", "related", "irrelevant"}
SLACKISH = st.sampled_from(
    ["<!channel>", "<!here>", "<!everyone>", "<@U123>", "<#C1|general>", "<https://evil|good>",
     "&", "&amp;", "&lt;", "<", ">", "|", "*", "`", "javascript:alert(1)", "<!date^1^x|y>"]
)  # fmt: skip
HOSTILE_TEXT = st.lists(st.one_of(st.text(max_size=40), SLACKISH), max_size=12).map("".join)
URLS = st.one_of(
    st.none(),
    st.text(max_size=60),
    st.builds(lambda path: "https://news.example/" + path, HOSTILE_TEXT),
    st.sampled_from(
        [
            "javascript:alert(1)",
            "https://good.example/a|<!channel>",
            "https://x.example/a>b<!here>",
            "http://x.example/?q=<@U1>&a=1",
            "data:text/html,<script>",
            "https://x.example/\x00",
        ]
    ),
)


def unescape_mrkdwn(text: str) -> str:
    """What a Slack client shows for escaped text."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


# --- the mrkdwn escaper ------------------------------------------------------------------------


@given(HOSTILE_TEXT)
@example("&lt;!channel&gt;")
@example("&amp;lt;")
def test_escaped_text_has_no_markup_and_shows_exactly_the_input(text: str) -> None:
    escaped = escape_mrkdwn(text)
    assert "<" not in escaped and ">" not in escaped
    assert "&" not in re.sub(r"&(?:amp|lt|gt);", "", escaped)  # & only as an entity start
    assert unescape_mrkdwn(escaped) == text
    twice = escape_mrkdwn(escaped)  # escaping escaped text shows the entities, no markup
    assert "<" not in twice and ">" not in twice
    assert unescape_mrkdwn(twice) == escaped


@given(HOSTILE_TEXT)
def test_slack_escaping_is_undone_by_the_command_parser(text: str) -> None:
    assert unwrap_slack_text(escape_mrkdwn(text)) == text


@given(
    st.from_regex(r"https?://[a-z0-9.-]{1,20}\.example(/[A-Za-z0-9._~%!$&'()*+,;=:@/?-]{0,40})?",
                  fullmatch=True),
    st.text(alphabet=st.characters(blacklist_characters="<>|"), max_size=30),
)  # fmt: skip
def test_a_url_as_slack_sends_it_reaches_feeds_add_unchanged(url: str, label: str) -> None:
    wrapped = f"<{escape_mrkdwn(url)}|{escape_mrkdwn(label)}>" if label else f"<{url}>"
    request = parse_command(f"feeds add {wrapped}", "C1", "U1")
    assert request.args[:2] == ("add", url)


# --- alerts and lists built from feed text -----------------------------------------------------


@given(
    title=HOSTILE_TEXT,
    summary=HOSTILE_TEXT,
    source=st.one_of(st.none(), HOSTILE_TEXT),
    url=URLS,
    topics=st.lists(HOSTILE_TEXT, max_size=3),
    reasons=st.lists(HOSTILE_TEXT, max_size=3),
)
@settings(max_examples=150, deadline=None)
def test_alerts_never_carry_live_markup_or_a_non_http_link(
    title: str,
    summary: str,
    source: str | None,
    url: str | None,
    topics: list[str],
    reasons: list[str],
) -> None:
    item = ItemView(
        1, title or "x", url, source, summary, NOW, "relevant", 1.0, tuple(topics), tuple(reasons)
    )
    for message in (alert_message(item), item_list([item], title or "Latest")):
        assert_message_ok(message)
        for text in mrkdwn_texts(message.text, message.blocks):
            assert live_markup(text) == [], text


# --- the normaliser and the parser -------------------------------------------------------------


@given(st.text(max_size=3000), st.integers(min_value=1, max_value=500))
@example("<p>a</p>\x00\x1b\u0085b&#0;&amp;lt;", 10)
@settings(max_examples=200)
def test_html_to_text_is_clean_one_line_and_capped(raw: str, limit: int) -> None:
    text = html_to_text(raw, limit=limit)
    assert len(text) <= limit
    assert text == text.strip()
    assert "\n" not in text and "\t" not in text
    assert not CONTROL.search(text)


@given(st.binary(max_size=4000))
@example(b"\x1f\x8b\x08\x00" + b"\x00" * 20)
@example(b'<?xml version="1.0" encoding="\xc6"?><rss><channel><item><title>a&#xD800;</title>')
@example(b"\xff\xfe<\x00r\x00s\x00s\x00")
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_bytes_parse_to_clean_capped_entries_or_a_reason(body: bytes) -> None:
    parsed = parse_feed(body, {"content-type": "application/rss+xml"}, "https://f.example/", NOW)
    assert parsed.entries or parsed.problems or not parsed.failed
    assert len(parsed.entries) <= MAX_ENTRIES
    assert len({e.dedup_key for e in parsed.entries}) == len(parsed.entries)
    for entry in parsed.entries:
        assert unclean_entry(entry.title, entry.summary, entry.url, entry.published, NOW) == []


def _reads_as_double_encoded(text: str) -> bool:
    """feedparser repairs text whose Latin-1 bytes are UTF-8 ('Ã©' becomes 'é'): skip those."""
    try:
        return text.encode("latin-1").decode("utf-8") != text
    except UnicodeError:
        return False


TITLE = st.text(
    alphabet=st.characters(whitelist_categories=("L", "N", "Zs", "Pd", "Po", "Sm", "So")),
    min_size=1,
    max_size=120,
).filter(lambda t: t.strip() and not _reads_as_double_encoded(t))


@given(
    st.lists(st.tuples(TITLE, st.one_of(st.none(), TITLE)), min_size=1, max_size=12),
    st.sampled_from(["utf-8", "utf-16", "utf-16-le"]),
)
@settings(max_examples=80, deadline=None)
def test_a_wellformed_feed_yields_every_item_with_its_title(
    stories: list[tuple[str, str | None]], encoding: str
) -> None:
    items = "".join(
        f"<item><title>{escape(title)}</title><guid>g{n}</guid>"
        + (f"<description>{escape(summary)}</description>" if summary else "")
        + "</item>"
        for n, (title, summary) in enumerate(stories)
    )
    declared = "utf-16" if encoding.startswith("utf-16") else encoding
    doc = (
        f'<?xml version="1.0" encoding="{declared}"?><rss version="2.0"><channel>'
        f"<title>T</title>{items}</channel></rss>"
    )
    parsed = parse_feed(doc.encode(encoding), {}, "https://f.example/", NOW)
    assert not parsed.failed
    titles = [html_to_text(title, limit=300) for title, _ in stories]
    # a title that is only markup ("<A>") leaves no text: that item has nothing to show
    assert [e.title for e in parsed.entries] == [t for t in titles if t]


# --- the relevance engine ----------------------------------------------------------------------


@given(HOSTILE_TEXT, HOSTILE_TEXT)
@example("Trump and Xi speak by phone about trade", "")
@example("<!channel> 特朗普 习近平 通话", "&lt;b&gt;")
@settings(max_examples=200, deadline=None)
def test_the_relevance_engine_answers_any_text_within_its_contract(
    title: str, summary: str
) -> None:
    verdict = CLASSIFIER.classify(title, summary)
    assert verdict.label in LABELS
    assert 0.0 <= verdict.score <= 1.0
    assert set(verdict.topics) <= set(CLASSIFIER.topics)
    assert len(set(verdict.topics)) == len(verdict.topics)
    assert verdict.relevant == (verdict.label == "relevant")
    assert all(isinstance(r, str) for r in verdict.reasons)
    assert CLASSIFIER.classify(title, summary) == verdict  # deterministic


VOCABULARY = st.sampled_from(
    ["Trump", "Xi", "Jinping", "Biden", "China", "Chinese", "U.S.", "United States", "Beijing",
     "Washington", "call", "phone", "summit", "meet", "visit", "trade", "tariffs", "Taiwan",
     "not", "former", "will", "said", "and", "with", "习近平", "特朗普", "通话", "会晤", ",",
     ".", ";", "\n", "<b>", "&amp;"]
)  # fmt: skip
LONG_TEXT = st.lists(st.one_of(VOCABULARY, st.text(max_size=6)), min_size=300, max_size=900).map(
    " ".join
)


@given(LONG_TEXT, LONG_TEXT)
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.data_too_large])
def test_the_relevance_engine_is_fast_on_long_text(title: str, summary: str) -> None:
    started = time.perf_counter()
    CLASSIFIER.classify(title, summary)
    assert time.perf_counter() - started < 1.0
