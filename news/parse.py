"""Feed bytes to entries: feedparser on the bytes we fetched, then normalised. No I/O."""

from __future__ import annotations

import calendar
import logging
import re
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import feedparser

from news.bound import bound_elements
from news.entry import Entry, dedup_key
from news.text import TextBudget, html_to_text, truncate
from news.urls import canonical_url, is_http_url, redact_url, without_userinfo

logger = logging.getLogger(__name__)

MAX_ENTRIES = 500
MAX_UNPACKED = 10 * 1024 * 1024
_GZIP_MAGIC = b"\x1f\x8b"
_DECLARED_ENCODING = re.compile(r"""(?<=encoding=)(["'])[A-Za-z0-9._-]+\1""")
TITLE_LIMIT = 300
SUMMARY_LIMIT = 1000
_EARLIEST = datetime(1995, 1, 1, tzinfo=UTC)
_FUTURE_SLACK = timedelta(days=2)
# bozo reasons that say nothing about the document's structure
_HARMLESS = frozenset({"NonXMLContentType", "CharacterEncodingOverride"})
# feedparser's time grows with the number of entries (about 0.1 ms each, the GIL held), so a
# document is cut after the entries we would look at anyway, then closed again.
_ENTRY_END = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?(?:item|entry)\s*>", re.IGNORECASE)
# A character reference to a surrogate or past U+10FFFF crashes feedparser's fallback parser
# (chr() or .encode() in handle_charref), which would lose the whole feed; the ; is optional.
_CHARREF = re.compile(rb"&#(?:[xX]([0-9a-fA-F]+)|([0-9]+));?")
# feedparser's own pattern for the declared encoding, whose value it decodes as UTF-8 (and
# raises UnicodeDecodeError on other bytes).
_PI_ENCODING = re.compile(rb"""<\?.*encoding=['"](.*?)['"].*\?>""")
_WIDE_CHARSET = re.compile(r";\s*charset\s*=\s*[\"']?utf-?(?:16|32)[^;]*", re.IGNORECASE)
_ROOT_END = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?(?:channel|rss|feed|RDF)\s*>", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """What a feed document yielded; `problems` says what was wrong without failing it."""

    title: str
    entries: list[Entry]
    problems: list[str] = field(default_factory=list)
    broken: bool = False

    @property
    def failed(self) -> bool:
        """True when the document gave nothing usable: not a feed, or broken with no entries.

        A well-formed feed with no items is not a failure; a broken one that still
        yields entries is used.
        """
        return not self.entries and self.broken


def parse_feed(
    body: bytes, headers: Mapping[str, str], url: str, now: datetime | None = None
) -> ParsedFeed:
    """Parse `body` (already fetched from `url`) into normalised entries, in document order."""
    now = now or datetime.now(UTC)
    if body[:2] == _GZIP_MAGIC:
        # a body whose Content-Encoding was not undone (or was gzipped twice)
        unpacked = _gunzip(body, MAX_UNPACKED)
        if unpacked is None:
            return ParsedFeed(
                title="", entries=[], problems=["gzip body too large or corrupt"], broken=True
            )
        body = unpacked
    body = _utf16_without_bom(body)
    body, cut = _cap_entries(body, MAX_ENTRIES * 2)
    body = _valid_charrefs(_ascii_declared_encoding(body))
    bounded = bound_elements(body)
    body = bounded.body
    if not body.strip():
        return ParsedFeed(title="", entries=[], problems=["empty_body"], broken=True)
    response_headers = {k.lower(): v for k, v in headers.items()}
    response_headers.setdefault("content-location", url)
    # the base for relative links: a feed's user:password@ must not reach the items' links
    response_headers["content-location"] = without_userinfo(response_headers["content-location"])
    if "content-type" in response_headers:
        content_type = response_headers["content-type"]
        response_headers["content-type"] = _plausible_charset(content_type, body)
    try:
        # bytes, never a str: a str is taken as a URL or a file path to open.
        parsed = feedparser.parse(
            bytes(body),
            response_headers=response_headers,
            sanitize_html=False,  # everything is reduced to plain text anyway
            resolve_relative_uris=False,  # links are resolved anyway; HTML is dropped
        )
    except Exception as exc:  # feedparser promises bozo, but guard the edge anyway
        logger.warning("feedparser raised on %s: %s", redact_url(url), type(exc).__name__)
        return ParsedFeed(
            title="", entries=[], problems=[f"parser_crash: {type(exc).__name__}"], broken=True
        )
    problems: list[str] = [f"cut_after_{MAX_ENTRIES * 2}_entries"] if cut else []
    if bounded.cut:
        problems.append(f"{bounded.cut}_long_elements_cut")
    broken = False
    if parsed.get("bozo"):
        kind = type(parsed.get("bozo_exception")).__name__
        problems.append(f"bozo: {kind}")
        broken = kind not in _HARMLESS
    feed = parsed.get("feed", {})
    version = parsed.get("version") or ""
    raw_entries = parsed.get("entries", [])
    if not version and not raw_entries:
        problems.append("not_a_feed")
        broken = True
    entries: list[Entry] = []
    seen: set[str] = set()
    budget = TextBudget()
    for raw in raw_entries[: MAX_ENTRIES * 2]:
        entry = _normalise(raw, url, now, budget)
        if entry is None or entry.dedup_key in seen:
            continue
        seen.add(entry.dedup_key)
        entries.append(entry)
        if len(entries) >= MAX_ENTRIES:
            problems.append(f"truncated_to_{MAX_ENTRIES}_entries")
            break
    if budget.stripped:
        problems.append(f"html_budget_spent: {budget.stripped} fragments stripped, not parsed")
    return ParsedFeed(
        title=html_to_text(feed.get("title"), limit=200),
        entries=entries,
        problems=problems,
        broken=broken,
    )


def _utf16_without_bom(body: bytes) -> bytes:
    """Re-encode UTF-16 that has no byte-order mark (sniffed from `<` and a zero byte) as UTF-8."""
    codec = {b"\x00<": "utf-16-be", b"<\x00": "utf-16-le"}.get(body[:2])
    if codec is None:
        return body
    text = body.decode(codec, errors="replace")
    text = _DECLARED_ENCODING.sub(r"\1utf-8\1", text, count=1)
    return text.encode("utf-8")


def _cap_entries(body: bytes, limit: int) -> tuple[bytes, bool]:
    """The document up to the end of its `limit`-th entry, with its root closed; and if cut."""
    ends = _ENTRY_END.finditer(body)
    last = None
    for _, match in zip(range(limit), ends, strict=False):
        last = match
    if last is None or next(ends, None) is None:
        return body, False
    closers = b"".join(m.group(0) for m in _ROOT_END.finditer(body, max(len(body) - 1024, 0)))
    return body[: last.end()] + closers, True


def _charref(match: re.Match[bytes]) -> bytes:
    hex_digits, digits = match.group(1), match.group(2)
    number = (hex_digits or digits).lstrip(b"0")
    if len(number) > 8:
        return b"&#xFFFD;"
    value = int(number or b"0", 16 if hex_digits else 10)
    return b"&#xFFFD;" if 0xD800 <= value <= 0xDFFF or value > 0x10FFFF else match.group(0)


def _plausible_charset(content_type: str, body: bytes) -> str:
    """Drop a UTF-16/32 charset from Content-Type when the body is in a one-byte encoding.

    feedparser believes the header over the document, so a server that labels a UTF-8
    feed this way (or BOM-less UTF-16, re-encoded above) would make every poll fail.
    """
    start = body.lstrip(b"\xef\xbb\xbf \t\r\n")
    if start[:1] == b"<" and start[1:2] not in (b"", b"\x00"):
        return _WIDE_CHARSET.sub("", content_type)
    return content_type


def _ascii_declared_encoding(body: bytes) -> bytes:
    """A declared encoding name that is not ASCII (so no encoding at all) becomes utf-8."""
    match = _PI_ENCODING.match(body, 3 if body.startswith(b"\xef\xbb\xbf") else 0)
    if match is None or match.group(1).isascii():
        return body
    return body[: match.start(1)] + b"utf-8" + body[match.end(1) :]


def _valid_charrefs(body: bytes) -> bytes:
    """Numeric character references no parser can decode become U+FFFD (see _CHARREF)."""
    return _CHARREF.sub(_charref, body) if b"&#" in body else body


def _gunzip(data: bytes, limit: int) -> bytes | None:
    """Decompress gzip data up to `limit` bytes; None when it is larger or corrupt."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error:
        return None
    return None if len(out) > limit else out


def _normalise(
    raw: Mapping[str, Any], feed_url: str, now: datetime, budget: TextBudget
) -> Entry | None:
    title = html_to_text(_str(raw.get("title")), limit=TITLE_LIMIT, budget=budget)
    summary_html = _str(raw.get("summary"))
    if not summary_html and raw.get("content"):
        summary_html = _str(raw["content"][0].get("value"))
    summary = html_to_text(summary_html, limit=SUMMARY_LIMIT, budget=budget)
    link = _link(raw)
    if not title:
        title = truncate(summary, 120)  # on a word, with an ellipsis; "" stays ""
    if not title:
        return None
    published = _date(raw, now)
    guid = _str(raw.get("id")) or None
    key = dedup_key(feed_url, guid, link, title, _raw_date(raw))
    if summary == title:
        summary = ""
    return Entry(
        dedup_key=key,
        title=title,
        url=canonical_url(link) if link else None,
        summary=summary,
        published=published,
    )


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _link(raw: Mapping[str, Any]) -> str | None:
    candidates = [_str(raw.get("link"))]
    candidates += [
        _str(link.get("href")) for link in raw.get("links", []) if isinstance(link, dict)
    ]
    guid = raw.get("id")
    if raw.get("guidislink") and isinstance(guid, str):
        candidates.append(guid)
    for candidate in candidates:
        candidate = candidate.strip()
        if candidate and is_http_url(candidate) and len(candidate) <= 2000:
            return candidate
    return None


def _date(raw: Mapping[str, Any], now: datetime) -> datetime:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = raw.get(key)
        if isinstance(value, time.struct_time):
            try:
                when = datetime.fromtimestamp(calendar.timegm(value), UTC)
            except (OverflowError, ValueError, OSError):
                continue
            if _EARLIEST <= when <= now + _FUTURE_SLACK:
                return when
    return now


def _raw_date(raw: Mapping[str, Any]) -> str:
    return _str(raw.get("published")) or _str(raw.get("updated"))
