"""news.parse and news.entry: bytes in, normalised entries out; stable dedup keys."""

from __future__ import annotations

import gzip
import re
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from news.entry import dedup_key
from news.parse import MAX_ENTRIES, parse_feed
from tests.feedgen import Story, rss

DATA = Path(__file__).parent / "data" / "feeds"
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
# Files with no items, and whether that makes them a failed poll:
NO_ITEMS = {
    # served while the publisher's CMS failed: the document ends before its first item
    "malformed-reuters-mostread-server-error.rss": True,
    # a well-formed channel that really had zero items: fine, nothing new
    "news-dailymail-world-no-prolog.rss": False,
}


def parse_file(name: str, url: str = "https://feed.example/rss"):
    return parse_feed((DATA / name).read_bytes(), {"content-type": "application/xml"}, url, NOW)


def test_atom_entities_and_relative_links() -> None:
    parsed = parse_file("atom_entities.atom", "https://news.example/feed.atom")
    assert parsed.title == "Example & Co"
    first, undated = parsed.entries
    assert first.title == "Biden & Xi meet in Woodside"
    assert first.url == "https://news.example/2026/woodside"
    assert first.summary == "The two leaders met for four hours."
    assert first.published == datetime(2026, 11, 29, 22, 0, tzinfo=UTC)
    assert undated.published == NOW


def test_entries_without_ids_tracking_params_and_absurd_dates() -> None:
    parsed = parse_file("rss_no_ids.xml")
    titles = [e.title for e in parsed.entries]
    assert titles == ["Linked only", "Neither guid nor link", "Dated 1970", "Dated 2199"]
    assert parsed.entries[0].url == "https://noids.example/a?id=7"
    assert parsed.entries[1].url is None
    assert parsed.entries[2].published == NOW
    assert parsed.entries[3].published == NOW


def test_slack_markup_is_kept_as_text_and_javascript_links_dropped() -> None:
    parsed = parse_file("rss_hostile_markup.xml")
    assert parsed.entries[0].title.startswith("<!channel> Trump and Xi <@U123>")
    assert parsed.entries[1].url is None


def test_billion_laughs_and_external_entities_are_never_expanded() -> None:
    started = time.perf_counter()
    parsed = parse_file("billion_laughs.xml")
    assert time.perf_counter() - started < 2
    text = " ".join(e.title + e.summary for e in parsed.entries)
    assert "lollollol" not in text
    assert "root:" not in text


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"", "empty_body"),
        (b"   \n", "empty_body"),
        (b"<html><body><h1>Moved</h1></body></html>", "not_a_feed"),
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": []}', "not_a_feed"),
        (b"\xff\xfe\x00garbage\x00", "not_a_feed"),
    ],
)
def test_things_that_are_not_feeds_fail_with_a_reason(body: bytes, problem: str) -> None:
    parsed = parse_feed(body, {}, "https://x.example/", NOW)
    assert parsed.failed
    assert any(problem in p for p in parsed.problems)


def test_utf16_with_bom_and_wrong_declared_encoding() -> None:
    doc = rss([Story("Xi and Trump — talks", link="https://x.example/1")]).decode()
    utf16 = doc.replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16")
    assert (
        parse_feed(utf16, {}, "https://x.example/", NOW).entries[0].title == "Xi and Trump — talks"
    )
    latin = doc.replace("—", "é").encode("latin-1")  # declared UTF-8, actually Latin-1
    parsed = parse_feed(latin, {"content-type": "application/rss+xml"}, "https://x.example/", NOW)
    assert parsed.entries and "talks" in parsed.entries[0].title


def test_control_characters_and_long_titles_are_cleaned_and_capped() -> None:
    long = "Trump " + "x" * 10_000
    parsed = parse_feed(
        rss(
            [
                Story("bad\x01\x02 title\x7f", link="https://x.example/1"),
                Story(long, link="https://x.example/2"),
            ]
        ),
        {},
        "https://x.example/",
        NOW,
    )
    assert parsed.entries[0].title == "bad title"
    assert len(parsed.entries[1].title) <= 300


def test_huge_feed_is_truncated() -> None:
    stories = [Story(f"story {i}", link=f"https://x.example/{i}") for i in range(MAX_ENTRIES + 50)]
    parsed = parse_feed(rss(stories), {}, "https://x.example/", NOW)
    assert len(parsed.entries) == MAX_ENTRIES
    assert any("truncated" in p for p in parsed.problems)


def test_dedup_key_prefers_guid_then_link_then_text() -> None:
    feed = "https://feed.example/rss"
    by_guid = dedup_key(feed, "abc", "https://x.example/1", "Title", "d1")
    assert by_guid == dedup_key(feed, "abc", "https://x.example/other", "New title", "d2")
    assert by_guid != dedup_key("https://other.example/rss", "abc", None, "Title", "d1")
    by_link = dedup_key(feed, None, "https://x.example/1?utm_source=a", "T", "d")
    assert by_link == dedup_key("https://else.example/", None, "https://x.example/1", "T2", "d2")
    # a guid that is a URL is the same story as that link in another feed
    assert by_link == dedup_key(feed, "https://x.example/1", None, "T", "d")
    by_text = dedup_key(feed, None, None, "Trump, Xi talk", "Mon")
    assert by_text == dedup_key(feed, None, None, "trump xi talk", "Mon")
    assert by_text != dedup_key(feed, None, None, "trump xi talk", "Tue")


def test_republished_story_keeps_its_key() -> None:
    first = parse_feed(
        rss([Story("Old title", guid="g-1", link="https://x.example/1")]),
        {},
        "https://x.example/",
        NOW,
    )
    again = parse_feed(
        rss([Story("Updated title", guid="g-1", link="https://x.example/1", published=NOW)]),
        {},
        "https://x.example/",
        NOW,
    )
    assert first.entries[0].dedup_key == again.entries[0].dedup_key


def test_every_real_world_feed_parses_into_sane_items(shared_feeds_dir: Path) -> None:
    files = sorted(p for p in shared_feeds_dir.iterdir() if p.suffix != ".md")
    assert files
    for path in files:
        parsed = parse_feed(path.read_bytes(), {}, f"https://feeds.example/{path.name}", NOW)
        raw = path.read_bytes()
        raw = (gzip.decompress(raw) if path.suffix == ".gz" else raw).replace(b"\x00", b"")
        if path.name.startswith("notfeed-") or path.name in NO_ITEMS:
            assert not parsed.entries, path.name
            assert parsed.failed is NO_ITEMS.get(path.name, True), path.name
            continue
        if not re.search(rb"<(item|entry)[\s>/]", raw):
            assert not parsed.entries and not parsed.failed, path.name  # an empty channel
            continue
        assert parsed.entries, f"{path.name}: {parsed.problems}"
        keys = [e.dedup_key for e in parsed.entries]
        assert len(keys) == len(set(keys)), path.name
        for e in parsed.entries:
            assert e.title and e.title == e.title.strip() and "<" not in e.title[:1], path.name
            assert len(e.title) <= 300 and len(e.summary) <= 1000
            assert e.url is None or e.url.startswith(("http://", "https://")), (path.name, e.url)
            assert e.published.tzinfo is not None
            assert "\x00" not in e.title + e.summary
