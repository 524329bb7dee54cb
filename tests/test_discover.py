"""news.discover: feed links in HTML pages, and telling pages from feeds (pure, table-driven)."""

from __future__ import annotations

import pytest

from news.discover import find_feed_links, looks_like_html

BASE = "https://www.example.com/news/china/index.html"


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        pytest.param(
            '<html><head><link rel="alternate" type="application/rss+xml" '
            'href="https://feeds.example.com/china.rss"></head></html>',
            ["https://feeds.example.com/china.rss"],
            id="absolute",
        ),
        pytest.param(
            '<link rel="alternate" type="application/atom+xml" href="/feeds/atom.xml">',
            ["https://www.example.com/feeds/atom.xml"],
            id="root-relative",
        ),
        pytest.param(
            '<link rel="alternate" type="application/rss+xml" href="rss.xml">',
            ["https://www.example.com/news/china/rss.xml"],
            id="relative",
        ),
        pytest.param(
            '<link rel="alternate" type="application/rss+xml" href="//cdn.example.net/f.xml">',
            ["https://cdn.example.net/f.xml"],
            id="scheme-relative",
        ),
        pytest.param(
            '<head><base href="https://other.example.org/sub/">'
            '<link rel="alternate" type="application/rss+xml" href="feed.xml"></head>',
            ["https://other.example.org/sub/feed.xml"],
            id="base-href",
        ),
        pytest.param(
            """<head>
              <link rel="stylesheet" href="/s.css">
              <link rel="alternate" type="application/rss+xml" title="All" href="/all.rss">
              <link rel="alternate" hreflang="zh" href="/zh/">
              <link rel="alternate" type="application/atom+xml" title="Asia" href="/asia.atom">
              <link rel="alternate" type="application/rss+xml" href="/all.rss">
              <link rel="alternate" type="application/json" href="/feed.json">
            </head>""",
            ["https://www.example.com/all.rss", "https://www.example.com/asia.atom"],
            id="multiple-in-order-no-repeats",
        ),
        pytest.param(
            "<LINK REL='Alternate Home' TYPE='Application/RSS+XML; charset=utf-8' HREF='/x.rss'/>",
            ["https://www.example.com/x.rss"],
            id="case-and-params",
        ),
        pytest.param(
            '<link rel="alternate" type="application/rss+xml" href="/f.xml?a=1&amp;b=2">',
            ["https://www.example.com/f.xml?a=1&b=2"],
            id="entities",
        ),
        pytest.param(
            '<link rel="alternate" type="application/rss+xml" href="javascript:alert(1)">'
            '<link rel="alternate" type="application/rss+xml" href="">'
            '<link rel="alternate" type="application/rss+xml">',
            [],
            id="unusable-hrefs",
        ),
        pytest.param('<a href="/feed.xml">RSS</a><link rel="icon" href="/i.png">', [], id="none"),
        pytest.param("", [], id="empty"),
        pytest.param(
            "<head><link rel=alternate type=application/rss+xml href=/u.rss><body><p>unclosed",
            ["https://www.example.com/u.rss"],
            id="unquoted-and-unclosed",
        ),
    ],
)
def test_find_feed_links(html: str, expected: list[str]) -> None:
    assert find_feed_links(html, BASE) == expected
    assert find_feed_links(html.encode(), BASE) == expected


def test_find_feed_links_survives_bad_bytes() -> None:
    page = b'<link rel="alternate" type="application/rss+xml" href="/f\xff.xml"><p>\xfe'
    assert find_feed_links(page, BASE) == ["https://www.example.com/f\ufffd.xml"]


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (b"<!DOCTYPE html><html><head>", "text/html; charset=utf-8", True),
        (b"\xef\xbb\xbf\n  <!doctype HTML>", None, True),
        (b"<html lang='en'>", "application/rss+xml", True),  # mislabelled page
        (b'<?xml version="1.0"?><rss version="2.0"><channel>', "text/html", False),
        (b'<?xml version="1.0"?>\n<feed xmlns="http://www.w3.org/2005/Atom">', "text/xml", False),
        (b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">', None, False),
        (b"<rss version='2.0'>", "text/html", False),
        (
            b'<?xml version="1.0"?><!DOCTYPE html><html xmlns="http://www.w3.org/1999/xhtml">',
            None,
            True,
        ),
        (b"<!-- generated --><div>hello</div>", "text/html", True),
        (b"<!-- generated --><div>hello</div>", "application/xhtml+xml", True),
        (b"<!-- generated --><div>hello</div>", "application/octet-stream", False),
        (b"", "text/html", True),
        (b"", None, False),
    ],
)
def test_looks_like_html(body: bytes, content_type: str | None, expected: bool) -> None:
    assert looks_like_html(body, content_type) is expected
