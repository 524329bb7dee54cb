"""Managing the feed list: seeding at start, a checked add (fetch, discover, prime), OPML."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from deps import Deps
from jobs.classify import classify_new_items
from jobs.fetch import Fetched, FetchFailed, FetchRequest, NotModified
from models.feed import (
    Feed,
    add_feed,
    all_feeds,
    credit_feed,
    get_by_url,
    insert_missing_feeds,
)
from models.item import save_new
from news.discover import find_feed_links, looks_like_html
from news.opml import OpmlFeed, read_opml, write_opml
from news.parse import ParsedFeed, parse_feed
from news.urls import is_http_url, redact_url
from settings import Settings

logger = logging.getLogger(__name__)

DEFAULT_FEEDS_FILE = Path(__file__).resolve().parent.parent / "news" / "default_feeds.opml"


@dataclass(frozen=True, slots=True)
class FeedAdded:
    """The feed is stored (or was already); its current entries count as seen."""

    url: str
    title: str
    items: int
    created: bool


@dataclass(frozen=True, slots=True)
class FeedRejected:
    """The URL was not added, and why (shown to the user as is)."""

    url: str
    reason: str


def default_feed_list(deps: Deps) -> list[OpmlFeed]:
    """DIPLO_FEEDS when set; else the OPML file DIPLO_FEEDS_FILE or the bundled defaults."""
    return configured_feeds(deps.settings)


def configured_feeds(settings: Settings) -> list[OpmlFeed]:
    """The feeds the settings name: DIPLO_FEEDS, else DIPLO_FEEDS_FILE or the bundled list."""
    if settings.feeds:
        return [OpmlFeed(url) for url in settings.feeds]
    path = settings.feeds_file or DEFAULT_FEEDS_FILE
    return read_opml(path.read_bytes())


def seed_feeds(deps: Deps) -> int:
    """Store the configured feeds that are missing; returns how many were added.

    DIPLO_FEEDS is declarative: its feeds are (re-)added at every start. The default list
    only seeds an empty database, so a feed removed in chat stays removed. Safe to race:
    replicas starting together insert with ON CONFLICT DO NOTHING, never check-then-insert.
    """
    wanted = default_feed_list(deps)
    now = deps.clock()
    with deps.sessions.begin() as s:
        if not deps.settings.feeds and all_feeds(s):
            return 0
        added = insert_missing_feeds(s, [(f.url, f.title[:300] or None) for f in wanted], now)
    if added:
        logger.info("seeded %d feeds", added)
    return added


def add_feed_checked(deps: Deps, url: str, added_by: str | None) -> FeedAdded | FeedRejected:
    """Fetch `url` (or the feed an HTML page links to), check it parses, store and prime it."""
    url = url.strip()
    if not is_http_url(url):
        return FeedRejected(url, "only http:// and https:// feed URLs can be added")
    with deps.sessions() as s:
        existing = get_by_url(s, url)
        if existing is not None and existing.enabled:
            return FeedAdded(url, existing.title or url, 0, created=False)
    found = _fetch_feed(deps, url)
    if isinstance(found, FeedRejected):
        return found
    feed_url, fetched, parsed = found
    now = deps.clock()
    with deps.sessions.begin() as s:
        feed, created = add_feed(s, feed_url, now, added_by=added_by)
        feed.title = (parsed.title or feed.title or feed_url)[:300]
        credit_feed(feed, deps.sources.feed_source(feed.url, feed.title))
        items = save_new(s, feed.id, feed.title, parsed.entries, now)
        classify_new_items(s, items, deps.classifier, now, alert=False, sources=deps.sources)
        feed.primed = True
        feed.etag = fetched.etag
        feed.last_modified = fetched.last_modified
        feed.last_polled_at = now
        feed.last_ok_at = now
        feed.next_poll_at = now
        title = feed.title
    logger.info(
        "feed %s added by %s (%d items seen)", redact_url(feed_url), added_by or "cli", len(items)
    )
    return FeedAdded(feed_url, title, len(items), created)


def _fetch_feed(deps: Deps, url: str) -> tuple[str, Fetched, ParsedFeed] | FeedRejected:
    """Fetch and parse `url`; an HTML page is followed once to the feed it links to."""
    candidate = url
    for hop in range(2):
        result = deps.fetcher.fetch(FetchRequest(0, candidate))
        if isinstance(result, FetchFailed):
            return FeedRejected(url, f"could not fetch {candidate}: {result.reason}")
        if isinstance(result, NotModified):
            return FeedRejected(url, f"{candidate} answered 304 Not Modified to a plain GET")
        feed_url = result.moved_to or candidate
        parsed = parse_feed(
            result.body, result.headers, result.final_url, deps.clock(), deps.sources
        )
        page = looks_like_html(result.body, result.headers.get("content-type"))
        if parsed.entries or (not parsed.failed and not page):
            return feed_url, result, parsed
        links = find_feed_links(result.body, result.final_url) if hop == 0 else []
        if not links:
            if page:
                return FeedRejected(
                    url, f"{candidate} is a web page that links to no RSS or Atom feed"
                )
            return FeedRejected(url, f"{candidate} is not an RSS or Atom feed")
        candidate = links[0]
    return FeedRejected(url, f"{candidate} is not an RSS or Atom feed")


def import_opml(deps: Deps, data: bytes) -> tuple[int, int]:
    """Add every feed of an OPML document (polled and primed later); returns (added, known)."""
    feeds = read_opml(data)
    now = deps.clock()
    added = 0
    with deps.sessions.begin() as s:
        for entry in feeds:
            feed, created = add_feed(s, entry.url, now)
            if created and entry.title:
                feed.title = entry.title[:300]
            added += created
    return added, len(feeds) - added


def export_opml(feeds: Sequence[Feed]) -> str:
    """The feed list as OPML."""
    return write_opml([OpmlFeed(f.url, f.title or "") for f in feeds])
