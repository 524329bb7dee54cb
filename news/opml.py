"""OPML feed lists in and out; pure."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from news.urls import is_http_url


class OpmlError(ValueError):
    """The OPML document cannot be read."""


@dataclass(frozen=True, slots=True)
class OpmlFeed:
    """One feed of an OPML list."""

    url: str
    title: str = ""


_DOCTYPE = re.compile(rb"<!DOCTYPE|<!ENTITY", re.IGNORECASE)


def read_opml(data: bytes) -> list[OpmlFeed]:
    """Feeds (outlines with an http(s) xmlUrl) of an OPML document, in order, without repeats."""
    if _DOCTYPE.search(data):
        raise OpmlError("OPML with a DOCTYPE or entities is refused")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise OpmlError(f"not valid OPML/XML: {exc}") from None
    if root.tag.lower() != "opml":
        raise OpmlError(f"not OPML: the root element is <{root.tag}>")
    feeds: dict[str, OpmlFeed] = {}
    for outline in root.iter("outline"):
        url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
        if url and is_http_url(url) and url not in feeds:
            feeds[url] = OpmlFeed(url, (outline.get("title") or outline.get("text") or "").strip())
    return list(feeds.values())


def write_opml(feeds: Sequence[OpmlFeed], title: str = "diplo feeds") -> str:
    """An OPML 2.0 document listing `feeds`."""
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<opml version="2.0">',
        f"  <head><title>{escape(title)}</title></head>",
        "  <body>",
    ]
    for feed in feeds:
        text = quoteattr(feed.title or feed.url)
        lines.append(f'    <outline type="rss" text={text} xmlUrl={quoteattr(feed.url)}/>')
    lines += ["  </body>", "</opml>", ""]
    return "\n".join(lines)
