"""The bundled demo (news/demo/): its feeds, its news items, and each feed as RSS or Atom at a time.

Pure: it reads the data files and builds feed documents. The local feed server, the demo
clock and the run itself are in cli/demo.py.

- `feeds.toml`: the title, the demo clock's start, and one [[feed]] per outlet (id, title,
  format rss | atom, lang, site).
- `items.jsonl`: one news item a line, in the labelled format of tests/data/stories/*.jsonl
  (id, title, summary, source, url, published, lang, label; relevant items also event, stage,
  when) plus `feed`, the feed it appears on. The labels are what the test expects of the bot;
  the bot never reads them. `python bot.py stories --sources news/demo/sources.toml --eval
  news/demo/items.jsonl` scores the stories engine on them.
- `sources.toml`: the outlets, in the format of news/sources.toml (the demo runs with it).

Publish times are absolute (facts from the public record, so "on Friday" and "October 30"
resolve as they did then); the demo clock starts at `start` and jumps from one item's time to
the next, so a feed shows an item once the clock has passed its `published` time.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from news.rules import toml_error

DEMO_DIR = Path(__file__).with_name("demo")
FORMATS = ("rss", "atom")
LABELS = ("relevant", "related", "irrelevant")
STAGES = ("planned", "held", "readout", "outcome", "postponed")
CONTENT_TYPES = {"rss": "application/rss+xml", "atom": "application/atom+xml"}
_FEED_KEYS = {"id", "title", "format", "lang", "site"}
_ITEM_KEYS = {"id", "feed", "title", "summary", "source", "url", "published", "lang", "label"}
_LABEL_KEYS = {"event", "stage", "when"}


class DemoDataError(ValueError):
    """A demo data file is wrong; the message names the file and the line."""


@dataclass(frozen=True, slots=True)
class DemoFeed:
    """One outlet's feed as the demo server serves it."""

    id: str
    title: str
    format: str  # rss | atom
    lang: str
    site: str

    @property
    def path(self) -> str:
        """Its path on the demo server."""
        return f"/{self.id}.xml"


@dataclass(frozen=True, slots=True)
class DemoItem:
    """One news item of the demo, with the label the test holds the bot to."""

    id: str
    feed: str
    title: str
    summary: str
    url: str
    published: datetime
    lang: str
    label: str  # relevant | related | irrelevant
    event: str | None = None  # relevant: the real-world contact (one story) it reports
    stage: str | None = None  # relevant: how far that contact got, as this item tells it
    when: date | None = None  # relevant and planned: the contact's date

    @property
    def relevant(self) -> bool:
        """True when the bot should alert it."""
        return self.label == "relevant"


@dataclass(frozen=True)
class Scenario:
    """The demo: its feeds and items, and when its clock starts."""

    title: str
    start: datetime
    feeds: tuple[DemoFeed, ...]
    items: tuple[DemoItem, ...]
    sources_file: Path

    def steps(self) -> list[datetime]:
        """The moments the demo clock jumps to: each distinct publish time after the start."""
        return sorted({i.published for i in self.items if i.published > self.start})

    def on_feed(self, feed_id: str, at: datetime) -> list[DemoItem]:
        """The feed's items published by `at`, newest first (as feeds list them)."""
        items = [i for i in self.items if i.feed == feed_id and i.published <= at]
        return sorted(items, key=lambda i: i.published, reverse=True)

    def published_at(self, at: datetime) -> list[DemoItem]:
        """The items that appear at `at` exactly."""
        return [i for i in self.items if i.published == at]

    def feed(self, feed_id: str) -> DemoFeed:
        """The feed with this id."""
        return next(f for f in self.feeds if f.id == feed_id)


def load_scenario(folder: Path = DEMO_DIR) -> Scenario:
    """Read feeds.toml, items.jsonl and sources.toml from `folder`; DemoDataError if bad."""
    feeds_path, items_path = folder / "feeds.toml", folder / "items.jsonl"
    sources = folder / "sources.toml"
    if not sources.is_file():
        raise DemoDataError(f"{sources}: missing")
    title, start, feeds = _read_feeds(feeds_path)
    known = {f.id for f in feeds}
    items: list[DemoItem] = []
    try:
        lines = items_path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DemoDataError(f"{items_path}: cannot read: {exc}") from None
    for number, line in enumerate(lines, 1):
        if line.strip():
            items.append(_item(line, f"{items_path} line {number}", known))
    ids = [i.id for i in items]
    if len(set(ids)) != len(ids):
        twice = sorted({i for i in ids if ids.count(i) > 1})
        raise DemoDataError(f"{items_path}: item ids used twice: {', '.join(twice)}")
    return Scenario(title, start, tuple(feeds), tuple(items), sources)


def _read_feeds(path: Path) -> tuple[str, datetime, list[DemoFeed]]:
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise DemoDataError(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise DemoDataError(toml_error(exc, text, str(path))) from None
    title, start = data.get("title"), data.get("start")
    if not isinstance(title, str) or not isinstance(start, datetime) or start.tzinfo is None:
        raise DemoDataError(f"{path}: needs title (text) and start (a date-time with its zone)")
    feeds: list[DemoFeed] = []
    for n, raw in enumerate(data.get("feed", []), 1):
        where = f"{path}: [[feed]] {n}"
        if not isinstance(raw, dict) or set(raw) != _FEED_KEYS:
            raise DemoDataError(f"{where}: needs exactly {', '.join(sorted(_FEED_KEYS))}")
        if not all(isinstance(v, str) and v for v in raw.values()):
            raise DemoDataError(f"{where}: every value must be a non-empty text")
        if raw["format"] not in FORMATS:
            raise DemoDataError(f"{where}: format must be rss or atom, got {raw['format']!r}")
        feeds.append(DemoFeed(**raw))
    if not feeds:
        raise DemoDataError(f"{path}: no [[feed]]")
    return title, start.astimezone(UTC), feeds


def _item(line: str, where: str, feeds: set[str]) -> DemoItem:
    try:
        raw: Any = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DemoDataError(f"{where}: not JSON: {exc.msg}") from None
    if not isinstance(raw, dict):
        raise DemoDataError(f"{where}: not a JSON object")
    missing = _ITEM_KEYS - set(raw)
    if missing:
        raise DemoDataError(f"{where}: missing {', '.join(sorted(missing))}")
    extra = set(raw) - _ITEM_KEYS - _LABEL_KEYS
    if extra:
        raise DemoDataError(f"{where}: unknown key {sorted(extra)[0]!r}")
    if raw["feed"] not in feeds:
        raise DemoDataError(f"{where}: feed {raw['feed']!r} is not in feeds.toml")
    if raw["label"] not in LABELS:
        raise DemoDataError(f"{where}: label must be one of {', '.join(LABELS)}")
    try:
        published = datetime.fromisoformat(raw["published"])
        when = date.fromisoformat(raw["when"]) if raw.get("when") else None
    except (TypeError, ValueError):
        raise DemoDataError(
            f"{where}: published (ISO date-time) or when (ISO date) is bad"
        ) from None
    if published.tzinfo is None:
        raise DemoDataError(f"{where}: published needs its zone (…Z)")
    if raw["label"] == "relevant" and (not raw.get("event") or raw.get("stage") not in STAGES):
        raise DemoDataError(f"{where}: a relevant item needs event and stage")
    return DemoItem(
        id=str(raw["id"]),
        feed=raw["feed"],
        title=str(raw["title"]),
        summary=str(raw["summary"]),
        url=str(raw["url"]),
        published=published.astimezone(UTC),
        lang=str(raw["lang"]),
        label=raw["label"],
        event=raw.get("event"),
        stage=raw.get("stage"),
        when=when,
    )


def _guid(item: DemoItem) -> str:
    return f"tag:diplo-demo,2025:{item.id}"


def render_feed(feed: DemoFeed, items: Sequence[DemoItem], empty_since: datetime) -> bytes:
    """The feed document (RSS 2.0 or Atom 1.0) listing `items`.

    The same items give the same bytes (its update time is the newest item's, or
    `empty_since` for an empty feed), so a poll with nothing new is answered 304.
    """
    at = max((i.published for i in items), default=empty_since)
    if feed.format == "atom":
        return _atom(feed, items, at)
    entries = "".join(
        "<item>"
        f"<title>{escape(i.title)}</title><link>{escape(i.url)}</link>"
        f'<guid isPermaLink="false">{escape(_guid(i))}</guid>'
        f"<description>{escape(i.summary)}</description>"
        f"<pubDate>{format_datetime(i.published)}</pubDate>"
        "</item>"
        for i in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>{escape(feed.title)}</title><link>{escape(feed.site)}</link>"
        f"<description>{escape(feed.title)} (diplo demo)</description>"
        f"<language>{escape(feed.lang)}</language>"
        f"<lastBuildDate>{format_datetime(at)}</lastBuildDate>{entries}</channel></rss>\n"
    ).encode()


def _atom(feed: DemoFeed, items: Sequence[DemoItem], at: datetime) -> bytes:
    entries = "".join(
        "<entry>"
        f'<title>{escape(i.title)}</title><link rel="alternate" href={quoteattr(i.url)}/>'
        f"<id>{escape(_guid(i))}</id><published>{i.published.isoformat()}</published>"
        f"<updated>{i.published.isoformat()}</updated><summary>{escape(i.summary)}</summary>"
        "</entry>"
        for i in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang={quoteattr(feed.lang)}>'
        f'<title>{escape(feed.title)}</title><link rel="alternate" href={quoteattr(feed.site)}/>'
        f"<id>{escape(feed.site)}</id><updated>{at.isoformat()}</updated>{entries}</feed>\n"
    ).encode()
