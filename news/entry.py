"""One news entry as diplo understands it, and the key that says two entries are the same."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from news.sources import UNKNOWN, Source
from news.text import fold
from news.urls import canonical_url, is_http_url


@dataclass(frozen=True, slots=True)
class Entry:
    """A feed entry normalised to plain text, UTC time and a canonical http(s) link."""

    dedup_key: str
    title: str
    url: str | None
    summary: str
    published: datetime
    source: Source = UNKNOWN  # the outlet that published it (news.sources)

    @property
    def title_key(self) -> str:
        """A short hash of the folded title: the same headline from two feeds.

        The title is the headline without an aggregator's " - Outlet" suffix, so the same
        story from Google News and from the outlet's own feed has one key.
        """
        return hashlib.sha256(fold(self.title).encode()).hexdigest()[:32]


_GLOBAL_ID_PREFIXES = ("tag:", "urn:")


def dedup_key(feed_url: str, guid: str | None, link: str | None, title: str, date: str) -> str:
    """Return the stable identity of an entry, the same on every poll.

    Order: the entry's id/guid (global when it is a URL, tag: or urn:, else scoped to the
    feed), else the canonical link (tracking parameters removed), else title + date.
    A story re-published with a new date or title keeps its guid or link, so its key.
    """
    if guid and guid.strip():
        g = guid.strip()
        if is_http_url(g):
            basis = "url:" + canonical_url(g)
        elif g.lower().startswith(_GLOBAL_ID_PREFIXES):
            basis = "id:" + g
        else:
            basis = f"id:{canonical_url(feed_url)}#{g}"
    elif link and is_http_url(link):
        basis = "url:" + canonical_url(link)
    else:
        basis = f"text:{canonical_url(feed_url)}#{fold(title)}|{date}"
    return hashlib.sha256(basis.encode("utf-8", "surrogatepass")).hexdigest()
