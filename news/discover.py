"""Pure feed discovery: tell an HTML page from a feed, and find the feeds a page links to."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin

from news.urls import is_http_url

FEED_TYPES = frozenset(
    {
        "application/rss+xml",
        "application/atom+xml",
        "application/rdf+xml",
        "application/x-atom+xml",
        "application/x.atom+xml",
    }
)

_SNIFF_BYTES = 2048
_FEED_ROOT = re.compile(rb"<(?:rss|feed|rdf:rdf)[\s>]")


def _mime(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


class _FeedLinkParser(HTMLParser):
    """Collects <link rel="alternate" type="...feed..." href> and the page's <base href>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.base: str | None = None
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {name: (value or "").strip() for name, value in attrs}
        if tag == "base" and self.base is None and attr.get("href"):
            self.base = attr["href"]
        elif (
            tag == "link"
            and "alternate" in attr.get("rel", "").lower().split()
            and _mime(attr.get("type")) in FEED_TYPES
            and attr.get("href")
        ):
            self.hrefs.append(attr["href"])


def find_feed_links(html: bytes | str, base_url: str) -> list[str]:
    """Absolute http(s) URLs of the feeds an HTML page advertises, in page order, no repeats."""
    text = html.decode("utf-8", errors="replace") if isinstance(html, bytes) else html
    parser = _FeedLinkParser()
    parser.feed(text)
    parser.close()
    base = urljoin(base_url, parser.base) if parser.base else base_url
    links: list[str] = []
    for href in parser.hrefs:
        url = urljoin(base, href)
        if is_http_url(url) and url not in links:
            links.append(url)
    return links


def looks_like_html(body: bytes, content_type: str | None) -> bool:
    """True if a response is a web page rather than a feed.

    The body decides first: servers often send feeds as text/html, and pages as text/xml.
    """
    head = body[:_SNIFF_BYTES].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<!doctype html", b"<html")):
        return True
    if _FEED_ROOT.search(head):
        return False
    if head.startswith(b"<?xml"):
        return b"<html" in head
    return _mime(content_type) in {"text/html", "application/xhtml+xml"}
