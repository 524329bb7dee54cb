"""Who published an item: the outlet, its kind, and which side it speaks for (news/sources.toml).

An outlet is recognised by the domain of the item's link (or the feed's URL) or by its name as
a feed gives it. Items of a news aggregator (Google News) are credited to the outlet named by
the entry's <source> element or the title's " - Outlet" suffix, which is cut from the headline.
Everything here is pure; `load_sources` reads the data file once.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Literal, cast
from urllib.parse import urlsplit

from news.rules import toml_error

DEFAULT_SOURCES_PATH = Path(__file__).with_name("sources.toml")

SourceKind = Literal["wire", "official-us", "official-china", "state-media-china", "major", "other"]
Side = Literal["us", "china"]
KINDS: tuple[str, ...] = (
    "wire",
    "official-us",
    "official-china",
    "state-media-china",
    "major",
    "other",
)
SIDES: tuple[str, ...] = ("us", "china")
DEFAULT_AGGREGATORS = ("news.google.com", "news.yahoo.com", "bing.com", "msn.com")
MAX_SUFFIX = 60  # characters of a " - Outlet" title suffix; a longer tail is part of the headline

_SUFFIX = re.compile(r"\s+[-–—|]\s+([^-–—|]{1,60})$")
_SOURCE_HEADER = re.compile(r"^\s*\[\[\s*source\s*\]\]")


class SourcesError(ValueError):
    """The sources file cannot be read or is malformed; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class Source:
    """One outlet: shown name, kind, country code, the domain it was recognised by (or "")."""

    name: str
    kind: SourceKind
    country: str
    domain: str
    side: Side | None = None  # the side whose official account this outlet gives, if any

    @property
    def official(self) -> bool:
        """Whether items from this outlet are a side's own account (a readout)."""
        return self.side is not None


UNKNOWN = Source("", "other", "", "")


@dataclass(frozen=True, slots=True)
class _Entry:
    name: str
    kind: SourceKind
    country: str
    domains: tuple[str, ...]
    side: Side | None


class SourceBook:
    """The known outlets, looked up by domain or by name."""

    def __init__(
        self,
        entries: list[_Entry],
        aggregators: tuple[str, ...],
        readout: dict[str, Side | None] | None = None,
    ) -> None:
        self._entries = tuple(entries)
        self._readout = dict(readout or {})
        self._domains: dict[str, _Entry] = {}
        self._names: dict[str, _Entry] = {}
        self._aggregators = frozenset(aggregators)
        for entry in entries:
            for domain in entry.domains:
                self._domains.setdefault(domain, entry)

    def _add_name(self, name: str, entry: _Entry) -> None:
        self._names.setdefault(_name_key(name), entry)

    @property
    def sources(self) -> tuple[Source, ...]:
        """Every known outlet in file order (domain: its first domain)."""
        return tuple(_source(e, e.domains[0] if e.domains else "") for e in self._entries)

    def by_domain(self, url: str | None) -> Source | None:
        """The outlet whose domain (or a parent domain of it) is the URL's host, if known."""
        host = _host(url)
        while "." in host:
            entry = self._domains.get(host)
            if entry is not None:
                return _source(entry, host)
            host = host.partition(".")[2]
        return None

    def by_name(self, name: str | None) -> Source | None:
        """The outlet called `name` (its name or an alias, any case), if known."""
        if not name or not isinstance(name, str):
            return None
        entry = self._names.get(_name_key(name))
        return _source(entry, entry.domains[0] if entry.domains else "") if entry else None

    def is_aggregator(self, url: str | None) -> bool:
        """Whether the URL is on a news aggregator whose entries name another outlet."""
        host = _host(url)
        return (
            any(host == a or host.endswith("." + a) for a in self._aggregators) if host else False
        )

    def recognise(
        self, name: str | None = None, url: str | None = None, feed_url: str | None = None
    ) -> Source:
        """The outlet of an item: by its link's domain, then by name, then the feed's domain.

        Unknown outlets come back as kind "other", named as given (or by the link's host).
        """
        if not self.is_aggregator(url):
            found = self.by_domain(url)
            if found is not None:
                return found
        found = self.by_name(name)
        if found is not None:
            return found
        if not self.is_aggregator(feed_url):
            found = self.by_domain(feed_url)
            if found is not None:
                return found
        host = _host(url) if not self.is_aggregator(url) else ""
        shown = name.strip()[:100] if isinstance(name, str) and name.strip() else host
        return Source(shown, "other", "", host)

    def attribute(
        self,
        title: str,
        link: str | None = None,
        source_title: str | None = None,
        source_url: str | None = None,
        feed_url: str | None = None,
    ) -> tuple[str, Source]:
        """(headline, outlet) of one feed entry; an aggregator's " - Outlet" suffix is cut off.

        The entry's <source> element (`source_title`, `source_url`) wins; then, for an
        aggregator's entry, the title's suffix; then the link's and the feed's domain.
        """
        title = title if isinstance(title, str) else ""
        aggregated = self.is_aggregator(link) or self.is_aggregator(feed_url)
        suffix = _SUFFIX.search(title)
        tail = suffix[1].strip() if suffix else ""
        if source_title or source_url:
            source = self.by_name(source_title) or self.by_domain(source_url)
            if source is None:
                source = self.recognise(source_title, None if aggregated else link, None)
                if source_url and not self.is_aggregator(source_url) and not source.domain:
                    source = Source(source.name, "other", "", _host(source_url))
            named = {_name_key(source_title or ""), _name_key(source.name)}
            if suffix and (_name_key(tail) in named or self.by_name(tail) == source):
                title = title[: suffix.start()].rstrip()
            return title, source
        if aggregated and suffix and len(tail) <= MAX_SUFFIX:
            source = self.by_name(tail) or Source(tail, "other", "", "")
            return title[: suffix.start()].rstrip(), source
        source = self.recognise(None, link, feed_url)
        if suffix and self.by_name(tail) == source and source.kind != "other":
            title = title[: suffix.start()].rstrip()
        return title, source

    def feed_source(self, feed_url: str | None, feed_title: str | None = None) -> Source:
        """The outlet a feed itself belongs to, from its URL's domain or its title.

        An aggregator's feed is kind "other", named by its title (or host).
        """
        host = _host(feed_url)
        title = feed_title.strip()[:100] if isinstance(feed_title, str) else ""
        if self.is_aggregator(feed_url):
            return Source(title or host, "other", "", host)
        found = self.by_domain(feed_url) or self.by_name(title)
        return found if found is not None else Source(title or host, "other", "", host)

    def credit(
        self,
        title: str,
        link: str | None = None,
        source_title: str | None = None,
        source_url: str | None = None,
        feed_url: str | None = None,
        feed_title: str | None = None,
    ) -> tuple[str, Source]:
        """(headline, outlet) of one entry of a feed; like `attribute`, with the feed as fallback.

        When neither the entry (its <source>, an aggregator's title suffix) nor its link's
        domain names a known outlet, the item is the feed's: its known outlet, or else an
        "other" named by the feed's title, with the link's (or the feed's) domain.
        """
        headline, source = self.attribute(title, link, source_title, source_url, feed_url)
        if source.kind != "other" or source_title or source_url:
            return headline, source
        if headline != title:  # named by an aggregator's " - Outlet" suffix
            return headline, source
        feed = self.feed_source(feed_url, feed_title)
        if feed.kind != "other":
            return headline, feed
        return headline, Source(feed.name or source.name, "other", "", source.domain or feed.domain)

    def stored(self, name: str | None, kind: str | None, country: str, domain: str) -> Source:
        """The Source of an item's stored columns, with the side its kind speaks for."""
        if kind not in KINDS:
            return self.recognise(name, None)
        known = self.by_name(name)
        if known is not None and known.kind == kind:
            return Source(known.name, known.kind, country or known.country, domain, known.side)
        return Source(name or "", cast(SourceKind, kind), country, domain, self._readout.get(kind))

    def reattribute(self, name: str | None, url: str | None) -> Source | None:
        """An already credited item's outlet by the current book, if that tells more.

        Its link's domain, then its stored name; None when neither is known (keep it as is).
        """
        found = None if self.is_aggregator(url) else self.by_domain(url)
        return found or self.by_name(name)


def _source(entry: _Entry, domain: str) -> Source:
    return Source(entry.name, entry.kind, entry.country, domain, entry.side)


def _name_key(name: str) -> str:
    text = unicodedata.normalize("NFKC", name).casefold()
    text = text.replace("’", "'").replace(".", "")
    text = re.sub(r"^the\s+", "", text.strip())
    return " ".join(text.split())


def _host(url: str | None) -> str:
    if not url or not isinstance(url, str):
        return ""
    return _cached_host(url)


@lru_cache(maxsize=8192)  # a feed's URL is asked for on each of its entries
def _cached_host(url: str) -> str:
    try:
        host = urlsplit(url if "//" in url else "//" + url).hostname or ""
    except ValueError:
        return ""
    host = host.lower().rstrip(".")
    return host[4:] if host.startswith("www.") else host


def load_sources(path: Path | str | None = None) -> SourceBook:
    """Read the sources file (default news/sources.toml); raise SourcesError if bad."""
    path = Path(path) if path is not None else DEFAULT_SOURCES_PATH
    shown = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SourcesError(f"{shown}: cannot read the sources file: {exc}") from None
    return parse_sources(text, shown)


def parse_sources(text: str, source: str = "<sources>") -> SourceBook:
    """Build a SourceBook from TOML text; `source` names the file in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SourcesError(toml_error(exc, text, source)) from None
    lines = text.splitlines()
    headers = [n for n, line in enumerate(lines) if _SOURCE_HEADER.match(line)]

    def fail(index: int | None, key: str | None, problem: str) -> SourcesError:
        line = None
        if index is not None and index < len(headers):
            start = headers[index]
            end = headers[index + 1] if index + 1 < len(headers) else len(lines)
            line = start
            if key is not None:
                pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
                line = next((n for n in range(start, end) if pattern.match(lines[n])), start)
        elif key is not None:
            pattern = re.compile(rf"^\s*\[?\s*{re.escape(key)}\b")
            line = next((n for n, text in enumerate(lines) if pattern.match(text)), None)
        where = f" line {line + 1}" if line is not None else ""
        return SourcesError(f"{source}{where}: {problem}")

    unknown = set(data) - {"readout", "source", "aggregators"}
    if unknown:
        raise fail(None, sorted(unknown)[0], f"unknown table {sorted(unknown)[0]!r}")
    readout = data.get("readout", {})
    if not isinstance(readout, dict):
        raise fail(None, "readout", "[readout] must be a table of kind = side")
    sides: dict[str, Side | None] = {}
    for kind, side in readout.items():
        if kind not in KINDS:
            raise fail(None, "readout", f"[readout] has unknown kind {kind!r}")
        if side not in SIDES:
            raise fail(None, "readout", f"[readout] {kind} must be one of {', '.join(SIDES)}")
        sides[kind] = side
    aggregators = data.get("aggregators", {}).get("domains", list(DEFAULT_AGGREGATORS))
    if not isinstance(aggregators, list) or not all(isinstance(a, str) for a in aggregators):
        raise fail(None, "aggregators", "[aggregators] domains must be a list of domains")
    raw = data.get("source", [])
    if not isinstance(raw, list):
        raise fail(None, "source", "source must be an array of tables ([[source]])")
    entries: list[_Entry] = []
    names: list[tuple[str, _Entry]] = []
    for index, item in enumerate(raw):
        entry = _entry(item, index, sides, fail)
        entries.append(entry)
        names.append((entry.name, entry))
        names.extend((alias, entry) for alias in item.get("aliases", []))
    book = SourceBook(entries, tuple(a.lower() for a in aggregators), sides)
    for name, entry in names:
        book._add_name(name, entry)
    return book


def _entry(item: Any, index: int, sides: dict[str, Side | None], fail: Any) -> _Entry:
    if not isinstance(item, dict):
        raise fail(index, None, "each [[source]] must be a table")
    extra = set(item) - {"name", "kind", "country", "domains", "aliases", "readout"}
    if extra:
        key = sorted(extra)[0]
        raise fail(index, key, f"unknown key {key!r} in [[source]]")
    name = item.get("name")
    if not isinstance(name, str) or not name.strip():
        raise fail(index, "name", "[[source]] needs a name")
    kind = item.get("kind")
    if kind not in KINDS:
        raise fail(index, "kind", f"{name}: kind must be one of {', '.join(KINDS)}, got {kind!r}")
    country = item.get("country", "")
    if not isinstance(country, str):
        raise fail(index, "country", f"{name}: country must be a text")
    for key in ("domains", "aliases"):
        value = item.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise fail(index, key, f"{name}: {key} must be a list of texts")
    domains = tuple(_host(d) or d.lower() for d in item.get("domains", []))
    override = item.get("readout")
    if override is not None and not isinstance(override, bool):
        raise fail(index, "readout", f"{name}: readout must be true or false")
    side = sides.get(kind)
    if override is False:
        side = None
    elif override is True and side is None:
        side = "us" if country == "US" else "china" if country == "CN" else None
    return _Entry(name.strip(), kind, country, domains, side)


@cache
def default_sources() -> SourceBook:
    """The outlets of news/sources.toml, read once per process."""
    return load_sources()


def attribute(
    title: str,
    link: str | None = None,
    source_title: str | None = None,
    source_url: str | None = None,
    feed_url: str | None = None,
    book: SourceBook | None = None,
) -> tuple[str, Source]:
    """(headline, outlet) for a feed entry, with the default sources unless `book` is given."""
    return (book or default_sources()).attribute(title, link, source_title, source_url, feed_url)
