"""Fault injection shared by the fault tests and `benchmarks/faults.py` (one copy of each).

- `HOSTILE_FEEDS` and `run_hostile_cycle`: one poll cycle over a good feed and every feed
  that fights back (timeouts, resets, redirect loops, 50 MB bodies, gzip bombs, XXE, bad
  encodings, Slack markup…), with what each must come to.
- `markup_round_trip`: feed text full of Slack markup, polled and posted to the fake Slack.
- `run_slack_storm`: every kind of Slack failure interleaved, then recovery.
- `kill_loop`: a real `python bot.py` killed with SIGKILL again and again.
- `PrivateCluster`: a throwaway PostgreSQL cluster that can be restarted (root only).
- `live_markup`: the `<…>` spans of a Slack text that are not an http(s) link or a date.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
import unicodedata
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select

from deps import Deps
from handlers.sender import SlackSender, make_web_client
from jobs.deliver import MAX_BACKOFF, deliver_pending
from jobs.fetch import FetchConfig, Fetcher
from jobs.poll import PollSummary, poll_due_feeds
from models.db import make_engine, make_sessionmaker
from models.feed import Feed, add_feed
from models.item import Item
from models.migrate import upgrade
from models.outbox import SENT, UPDATE, Alert, enqueue, pending_count
from models.subscription import subscribe
from news.parse import MAX_ENTRIES
from tests.fakes.feed_server import FeedServer, Reply, gzip_bomb, redirect
from tests.fakes.slack_server import FakeSlack
from tests.feedgen import TRUMP_XI_CALL, Story, rss, wire

ROOT = Path(__file__).resolve().parents[1]
LOCAL = frozenset({"127.0.0.1", "localhost"})
FIFTY_MB = 50 * 1024 * 1024
MAX_BYTES = 1024 * 1024  # the hostile cycle's cap: the 5,000-entry feed fits, 50 MB does not
LEAK = "XXE-LEAK"  # served at the URLs external entities name; must never show up
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


# --- Slack markup ---------------------------------------------------------------------------

_SPAN = re.compile(r"<[^<>]*>")
_SAFE_SPAN = re.compile(r"<(?:https?://[^<>|]+\|[^<>|]*|!date\^\d+\^[^<>|]*\|[^<>|]*)>")


def live_markup(text: str) -> list[str]:
    """The `<…>` spans Slack would act on that are not an http(s) link or a date.

    A mention (`<@U1>`), a broadcast (`<!channel>`), a channel (`<#C1>`) or a link to any
    other scheme in text built from feed data is a finding.
    """
    return [span for span in _SPAN.findall(text) if not _SAFE_SPAN.fullmatch(span)]


def mrkdwn_texts(text: str, blocks: Sequence[dict[str, Any]]) -> list[str]:
    """The message text and every mrkdwn text object in its blocks (Slack parses those)."""
    found = [text]

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn" and isinstance(node.get("text"), str):
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(list(blocks))
    return found


# --- hostile feeds --------------------------------------------------------------------------

Setup = Callable[[FeedServer, str], str]  # (server, path) -> the feed's URL


@dataclass(frozen=True)
class Context:
    """What checks of one hostile feed may look at."""

    now: datetime
    server: FeedServer


@dataclass(frozen=True)
class FeedResult:
    """One feed's row and items after the cycle."""

    url: str
    stored_url: str
    last_error: str | None
    failures: int
    enabled: bool
    next_poll_at: datetime
    items: list[Item]


Check = Callable[[FeedResult, Context], list[str]]


@dataclass(frozen=True)
class Hostile:
    """A feed that fights back, and what it must come to.

    `error`: the feed fails and its last_error contains this. None: it parses safely
    (items capped and clean, no error), and `check` may look further.
    """

    name: str
    kind: str
    setup: Setup
    error: str | None = None
    check: Check | None = None
    big: bool = False  # in the bounded-memory set


def _script(*replies: Reply) -> Setup:
    return lambda server, path: server.script(path, list(replies))


def _serve(body: bytes | Callable[[FeedServer], bytes], **options: Any) -> Setup:
    def setup(server: FeedServer, path: str) -> str:
        data = body(server) if callable(body) else body
        return server.serve(path, data, **options)

    return setup


def _doc(items: str, *, title: str = "Hostile wire", head: str = "", decl: str = "") -> bytes:
    decl = decl or '<?xml version="1.0" encoding="UTF-8"?>'
    return (
        f'{decl}{head}<rss version="2.0"><channel><title>{title}</title>'
        f"<link>https://hostile.example/</link>{items}</channel></rss>"
    ).encode()


def _item(title: str, link: str | None = "", extra: str = "") -> str:
    """An RSS item; the default link is unique to the title (links are global dedup keys)."""
    if link == "":
        link = "https://hostile.example/" + hashlib.sha256(title.encode()).hexdigest()[:12]
    link_xml = f"<link>{link}</link>" if link else ""
    return f"<item><title>{title}</title>{link_xml}{extra}</item>"


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _refused(server: FeedServer, path: str) -> str:
    return f"http://127.0.0.1:{free_port()}{path}"


def _redirect_loop(server: FeedServer, path: str) -> str:
    server.redirect(path + ".b", path, 302)
    return server.redirect(path, path + ".b", 302)


def _redirect_chain(server: FeedServer, path: str) -> str:
    for hop in range(7):
        server.redirect(f"{path}.{hop}", f"{path}.{hop + 1}", 302)
    server.serve(f"{path}.7", rss(wire(1, prefix="Chain")))
    return server.url(f"{path}.0")


def _moved(server: FeedServer, path: str) -> str:
    server.serve(path + ".new", rss(wire(2, start=100, prefix="Moved")))
    return server.redirect(path, path + ".new", 301)


def _retry_after_date(server: FeedServer, path: str) -> str:
    when = format_datetime(datetime.now(UTC) + timedelta(hours=2), usegmt=True)
    return server.script(path, [Reply(503, b"busy", headers={"Retry-After": when})])


def _xxe(server: FeedServer, path: str, kind: str) -> str:
    target = server.serve(f"{path}.target", LEAK.encode(), content_type="text/plain")
    dtd = server.serve(
        f"{path}.dtd", f'<!ENTITY leak "{LEAK}">'.encode(), content_type="application/xml-dtd"
    )
    heads = {
        "http": f'<!DOCTYPE rss [<!ENTITY ext SYSTEM "{target}">]>',
        "parameter": f'<!DOCTYPE rss [<!ENTITY % remote SYSTEM "{dtd}"> %remote;]>',
        "dtd": f'<!DOCTYPE rss SYSTEM "{dtd}">',
    }
    body = _doc(
        _item("Entity &ext; &leak; here", f"https://hostile.example/xxe-{kind}"), head=heads[kind]
    )
    return server.serve(path, body)


def _no_requests_for(suffixes: Sequence[str]) -> Check:
    def check(result: FeedResult, ctx: Context) -> list[str]:
        path = "/" + result.url.split("/", 3)[3]
        hits = {s: ctx.server.hits(path + s) for s in suffixes}
        return [f"the parser fetched {path}{s}" for s, n in hits.items() if n]

    return check


def _xxe_case(name: str, kind: str) -> Hostile:
    """An XXE feed of this `kind` (see `_xxe`): parses safely and never fetches the entity."""
    return Hostile(
        name,
        "xml",
        lambda s, p: _xxe(s, p, kind),
        None,
        _no_requests_for([".target", ".dtd"]),
    )


def _all(*checks: Check) -> Check:
    return lambda result, ctx: [p for c in checks for p in c(result, ctx)]


def _titles(expected: Sequence[str]) -> Check:
    def check(result: FeedResult, ctx: Context) -> list[str]:
        titles = [i.title for i in result.items]
        return [] if sorted(titles) == sorted(expected) else [f"titles {titles!r}"]

    return check


def _retry_after(seconds: float) -> Check:
    def check(result: FeedResult, ctx: Context) -> list[str]:
        wait = (result.next_poll_at - ctx.now).total_seconds()
        return [] if wait >= seconds else [f"next poll in {wait:.0f}s, not after Retry-After"]

    return check


def _moved_check(result: FeedResult, ctx: Context) -> list[str]:
    if result.stored_url != result.url + ".new":
        return [f"URL not updated after a 301: {result.stored_url}"]
    return []


def _capped(count: int) -> Check:
    def check(result: FeedResult, ctx: Context) -> list[str]:
        n = len(result.items)
        return [] if n == count else [f"{n} items stored, expected {count}"]

    return check


def _no_links(result: FeedResult, ctx: Context) -> list[str]:
    return [f"unexpected link {i.url}" for i in result.items if i.url is not None]


def _dated_now(result: FeedResult, ctx: Context) -> list[str]:
    return [f"{i.title}: {i.published_at}" for i in result.items if i.published_at != ctx.now]


def _big_feed() -> bytes:
    stories = [
        Story(f"Item {n} of a very long feed", link=f"https://long.example/{n}", guid=f"l{n}")
        for n in range(5000)
    ]
    return rss(stories, title="Five thousand")


def _markup_feed() -> bytes:
    return _doc(
        _item(
            "&lt;!channel&gt; Trump and Xi &lt;@U123&gt; talk &lt;https://evil.example|"
            "https://good.example&gt;",
            "https://hostile.example/m1",
        )
        + _item("Click me &lt;!here&gt;", "javascript:alert(1)"),
        title="&lt;!here&gt; Wire",
    )


def _rss_unicode(variant: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-16"?><rss version="2.0"><channel><title>Wide</title>'
        "<item><title>习近平 特朗普 通话 — Xi and Trump</title>"
        f"<link>https://wide.example/{variant}</link></item></channel></rss>"
    )


WIDE_TITLE = "习近平 特朗普 通话 — Xi and Trump"
SMALL = rss(wire(1, prefix="Slow"))

HOSTILE_FEEDS: tuple[Hostile, ...] = (
    # the network
    Hostile("timeout", "network", _script(Reply(body=SMALL, delay=5.0)), "timeout"),
    Hostile(
        "trickle_1_byte_a_second", "network", _script(Reply(body=SMALL, trickle=1.0)), "timeout"
    ),
    Hostile("trickled_headers", "network", _script(Reply(slow_headers=1.0)), "timeout"),
    Hostile("connection_reset", "network", _script(Reply(reset=True)), "network_error"),
    Hostile("connection_refused", "network", _refused, "connect_error"),
    # HTTP status
    Hostile("http_404", "http", _script(Reply(404, b"no", content_type="text/plain")), "http_404"),
    Hostile("http_410_gone", "http", _script(Reply(410, b"gone")), "http_410_gone"),
    Hostile("http_500", "http", _script(Reply(500, b"oops")), "http_500"),
    Hostile("http_502", "http", _script(Reply(502, b"bad gateway")), "http_502"),
    Hostile(
        "http_429_retry_after",
        "http",
        _script(Reply(429, b"slow down", headers={"Retry-After": "3600"})),
        "http_429",
        _retry_after(3600),
    ),
    Hostile("http_503_retry_after_date", "http", _retry_after_date, "http_503", _retry_after(7000)),
    # redirects
    Hostile("redirect_loop", "redirect", _redirect_loop, "redirect_loop"),
    Hostile("redirect_chain_of_7", "redirect", _redirect_chain, "too_many_redirects"),
    Hostile(
        "redirect_to_metadata_address",
        "redirect",
        _script(redirect("http://169.254.169.254/latest/meta-data/", 302)),
        "blocked_address: 169.254.169.254",
    ),
    Hostile(
        "redirect_to_file_url",
        "redirect",
        _script(redirect("file:///etc/passwd", 301)),
        "bad_redirect",
    ),
    Hostile("permanent_redirect", "redirect", _moved, None, _all(_moved_check, _capped(2))),
    # size
    Hostile("body_50mb", "size", _script(Reply(body=bytes(FIFTY_MB))), "too_large", big=True),
    Hostile(
        "body_50mb_no_length",
        "size",
        _script(Reply(body=bytes(FIFTY_MB), omit_length=True)),
        "too_large",
        big=True,
    ),
    Hostile("body_endless", "size", _script(Reply(endless=True)), "too_large", big=True),
    Hostile(
        "gzip_bomb",
        "size",
        _script(Reply(body=gzip_bomb(), headers={"Content-Encoding": "gzip"})),
        "too_large",
        big=True,
    ),
    Hostile(
        "gzip_bomb_as_body",
        "size",
        _serve(gzip_bomb()),
        "gzip body too large",
        big=True,
    ),
    Hostile("entries_5000", "size", _serve(_big_feed()), None, _capped(MAX_ENTRIES), big=True),
    Hostile(
        "title_10000_chars",
        "size",
        _serve(rss([Story("Trump " + "x" * 10_000, link="https://long.example/t")])),
        None,
        lambda r, c: [] if len(r.items[0].title) <= 300 else ["title not capped"],
    ),
    # XML attacks
    Hostile("billion_laughs", "xml", lambda s, p: s.serve_file(p, "billion_laughs.xml")),
    Hostile(
        "external_entity_file",
        "xml",
        _serve(
            _doc(
                _item("Secret &xxe; here"),
                head='<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
            )
        ),
    ),
    _xxe_case("external_entity_http", "http"),
    _xxe_case("parameter_entity_http", "parameter"),
    _xxe_case("external_dtd_http", "dtd"),
    Hostile(
        "nesting_40000_deep",
        "xml",
        _serve(_doc(_item("Deep " + "<b>" * 20_000 + "x" + "</b>" * 20_000))),
    ),
    # encodings
    Hostile(
        "invalid_utf8",
        "encoding",
        _serve(_doc(_item("Bad bytes here")).replace(b"Bad", b"Bad \xff\xfe\xc3\x28")),
    ),
    Hostile(
        "wrong_declared_encoding",
        "encoding",
        _serve(
            '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>W</title>'
            "<item><title>Новости: Трамп и Си</title><link>https://w.example/1</link></item>"
            "</channel></rss>".encode("cp1251")
        ),
    ),
    Hostile(
        "wrong_http_charset",
        "encoding",
        _serve(
            _rss_unicode("header").replace("UTF-16", "UTF-8").encode(),
            content_type="application/rss+xml; charset=utf-16",
        ),
        None,
        _titles([WIDE_TITLE]),
    ),
    Hostile(
        "garbage_encoding_name",
        "encoding",
        _serve(_doc(_item("Odd declaration"), decl='<?xml version="1.0" encoding="\xc6\xff"?>')),
    ),
    Hostile(
        "utf16_with_bom",
        "encoding",
        _serve(_rss_unicode("bom").encode("utf-16")),
        None,
        _titles([WIDE_TITLE]),
    ),
    Hostile(
        "utf16_without_bom",
        "encoding",
        _serve(_rss_unicode("le").encode("utf-16-le")),
        None,
        _titles([WIDE_TITLE]),
    ),
    Hostile(
        "control_characters",
        "encoding",
        _serve(_doc(_item("Bell\x07 and\x1b escape &#x7f; and &#1;", "https://c.example/1"))),
    ),
    Hostile(
        "nul_and_surrogates",
        "encoding",
        _serve(
            _doc(
                _item("Nul\x00 and &#xD800; and &#55296 and &#x110000;", "https://n.example/1\x00")
            )
        ),
        None,
        _no_links,
    ),
    # not feeds, odd feeds
    Hostile(
        "html_page",
        "content",
        _serve(b"<!doctype html><html><body><h1>News</h1></body></html>", content_type="text/html"),
        "not a feed",
    ),
    Hostile(
        "json_feed",
        "content",
        _serve(
            b'{"version": "https://jsonfeed.org/version/1.1", "title": "J", "items": '
            b'[{"id": "1", "title": "Trump and Xi", "url": "https://j.example/1"}]}',
            content_type="application/feed+json",
        ),
        "not a feed",
    ),
    Hostile("empty_body", "content", _script(Reply(200, b"")), "empty_body"),
    Hostile(
        "binary_garbage",
        "content",
        _serve(bytes(range(256)) * 64, content_type="application/octet-stream"),
        "not a feed",
    ),
    Hostile(
        "entries_without_link_or_id",
        "content",
        _serve(_doc(_item("No link, no id", None) + _item("Nor this one", None))),
        None,
        _all(_no_links, _capped(2)),
    ),
    Hostile(
        "dates_1970_and_2199",
        "content",
        _serve(
            _doc(
                _item("Dated 1970", extra="<pubDate>Thu, 01 Jan 1970 00:00:00 GMT</pubDate>")
                + _item(
                    "Dated 2199",
                    "https://hostile.example/b",
                    "<pubDate>Mon, 01 Jan 2199 00:00:00 GMT</pubDate>",
                )
            )
        ),
        None,
        _dated_now,
    ),
    Hostile("slack_markup", "markup", _serve(_markup_feed())),
)


@dataclass
class HostileReport:
    """What one poll cycle over the hostile feeds came to."""

    summary: PollSummary
    seconds: float
    results: dict[str, FeedResult]
    problems: dict[str, list[str]]
    log_lines: dict[str, list[str]]  # WARNING and above, per feed (by URL)
    errors_logged: list[str]  # ERROR and above
    peak_bytes: int | None = None
    good_items: list[str] = field(default_factory=list)

    def handled(self, name: str) -> bool:
        """True when the feed came to what it must."""
        return not self.problems.get(name)


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


GOOD_FEED = (TRUMP_XI_CALL, *wire(3, prefix="Good"))


def hostile_deps(deps: Deps, **config: Any) -> Deps:
    """`deps` with a fetcher for hostile feeds: 1 s per fetch, 1 MiB, many per host."""
    options: dict[str, Any] = {
        "total_timeout": 1.0,
        "connect_timeout": 0.5,
        "max_bytes": MAX_BYTES,
        "concurrency": 64,
        "per_host": 64,
        "allow_hosts": LOCAL,
    }
    options.update(config)
    return dataclasses.replace(deps, fetcher=Fetcher(FetchConfig(**options)))


def run_hostile_cycle(
    deps: Deps,
    server: FeedServer,
    feeds: Sequence[Hostile] = HOSTILE_FEEDS,
    trace_memory: bool = False,
) -> HostileReport:
    """Serve the good feed and `feeds`, add them all, run ONE poll cycle, check each feed."""
    urls = {"good": server.serve("/good.xml", rss(list(GOOD_FEED)))}
    for hostile in feeds:
        urls[hostile.name] = hostile.setup(server, f"/h/{hostile.name}.xml")
    ids: dict[str, int] = {}
    with deps.sessions.begin() as s:
        for name, url in urls.items():
            ids[name] = add_feed(s, url, deps.clock())[0].id
    lines = _Lines()
    root = logging.getLogger()
    level = root.level
    root.addHandler(lines)
    root.setLevel(min(level, logging.WARNING))  # whatever the caller's logging, see warnings
    if trace_memory:
        tracemalloc.start()
    try:
        started = time.monotonic()
        summary = poll_due_feeds(deps)
        seconds = time.monotonic() - started
        peak = tracemalloc.get_traced_memory()[1] if trace_memory else None
    finally:
        if trace_memory:
            tracemalloc.stop()
        root.removeHandler(lines)
        root.setLevel(level)
    results = {name: _feed_result(deps, urls[name], ids[name]) for name in urls}
    ctx = Context(deps.clock(), server)
    messages = [r.getMessage() for r in lines.records]
    log_lines = {name: [m for m in messages if url in m] for name, url in urls.items()}
    problems = {h.name: _check(h, results[h.name], ctx, log_lines[h.name]) for h in feeds}
    good = results["good"]
    problems["good"] = [] if good.last_error is None and len(good.items) == 4 else ["good failed"]
    return HostileReport(
        summary=summary,
        seconds=seconds,
        results=results,
        problems={k: v for k, v in problems.items() if v},
        log_lines=log_lines,
        errors_logged=[r.getMessage() for r in lines.records if r.levelno >= logging.ERROR],
        peak_bytes=peak,
        good_items=[i.title for i in good.items],
    )


def _feed_result(deps: Deps, url: str, feed_id: int) -> FeedResult:
    with deps.sessions() as s:
        feed = s.get(Feed, feed_id)
        assert feed is not None
        items = list(s.scalars(select(Item).where(Item.feed_id == feed_id).order_by(Item.id)))
        return FeedResult(
            url=url,
            stored_url=feed.url,
            last_error=feed.last_error,
            failures=feed.consecutive_failures,
            enabled=feed.enabled,
            next_poll_at=feed.next_poll_at,
            items=items,
        )


def _check(hostile: Hostile, result: FeedResult, ctx: Context, lines: list[str]) -> list[str]:
    problems: list[str] = []
    if hostile.error is not None:
        if hostile.error not in (result.last_error or ""):
            problems.append(f"last_error {result.last_error!r}, expected {hostile.error!r}")
        if result.failures != 1 or not result.enabled:
            problems.append(f"{result.failures} failures, enabled={result.enabled}")
        if len(lines) != 1:
            problems.append(f"{len(lines)} log lines instead of one: {lines}")
    else:
        if result.last_error is not None or result.failures:
            problems.append(f"failed: {result.last_error}")
        if not 0 < len(result.items) <= MAX_ENTRIES:
            problems.append(f"{len(result.items)} items")
        if lines:
            problems.append(f"warnings for a feed that parsed: {lines}")
        problems += [p for item in result.items for p in _unsafe_item(item, ctx.now)]
    if hostile.check is not None:
        problems += hostile.check(result, ctx)
    return problems


def _unsafe_item(item: Item, now: datetime) -> list[str]:
    """Why a stored item is not clean and capped (empty when it is)."""
    return unclean_entry(item.title, item.summary, item.url, item.published_at, now, item.source)


def unclean_entry(
    title: str,
    summary: str,
    url: str | None,
    published: datetime,
    now: datetime,
    source: str | None = None,
) -> list[str]:
    """Why an entry is not clean and capped: what every parsed feed entry must be."""
    problems = []
    text = f"{title} {summary} {source or ''} {url or ''}"
    if not title.strip() or len(title) > 300 or len(summary) > 1000:
        problems.append(f"title/summary not capped: {len(title)}/{len(summary)}")
    if title != title.strip() or summary != summary.strip():
        problems.append("untrimmed text")
    if url is not None and (not url.startswith(("http://", "https://")) or len(url) > 2000):
        problems.append(f"non-http link {url!r}")
    for name, value in (("title", title), ("summary", summary), ("source", source), ("url", url)):
        bad = [c for c in value or "" if CONTROL.match(c) or 0xD800 <= ord(c) <= 0xDFFF]
        if bad:
            problems.append(f"control characters or surrogates {bad[:5]!r} in the {name}")
    if unicodedata.normalize("NFC", title) != title:
        problems.append("title not NFC")
    for leak in ("lol" * 20, "root:x:", LEAK):  # an expanded entity, /etc/passwd, XXE target
        if leak in text:
            problems.append(f"{leak[:12]!r} shown")
    if published.tzinfo is None or not (
        datetime(1995, 1, 1, tzinfo=UTC) <= published <= now + timedelta(days=2)
    ):
        problems.append(f"date {published}")
    return problems


# --- Slack markup, end to end ---------------------------------------------------------------

MARKUP_STORIES = (
    Story(
        "<!channel> Trump and Xi speak by phone about trade <@U123>",
        link="https://markup.example/1",
        guid="m1",
        summary="<!here> see <https://evil.example|https://good.example> and <#C999>",
    ),
    Story(
        "Trump and Xi agree to meet <https://evil.example|https://good.example>",
        link="javascript:alert(document.cookie)",
        guid="m2",
        summary="Click <javascript:alert(1)|here>",
    ),
    Story(
        "Trump and Xi hold summit talks in Busan &amp; <!everyone>",
        link="https://markup.example/3?a=<!here>|x",
        guid="m3",
    ),
)


def markup_round_trip(deps: Deps, server: FeedServer, slack: FakeSlack) -> list[str]:
    """Poll Slack-markup stories into a subscribed channel, deliver them; what leaked.

    `deps` must post to `slack` (a SlackSender); the first poll primes the feed.
    """
    url = server.serve("/markup.xml", rss(list(wire(2, prefix="Calm")), title="<!here> Wire"))
    with deps.sessions.begin() as s:
        add_feed(s, url, deps.clock())
        subscribe(s, "CMARKUP", ["all"], "U1", deps.clock())
    poll_due_feeds(deps)
    server.serve(
        "/markup.xml", rss([*MARKUP_STORIES, *wire(2, prefix="Calm")], title="<!here> Wire")
    )
    with deps.sessions.begin() as s:  # due again now
        feed = s.scalars(select(Feed).where(Feed.url == url)).one()
        feed.next_poll_at = deps.clock()
    poll_due_feeds(deps)
    deliver_pending(deps)
    posted = all_messages(slack, "CMARKUP")
    problems = []
    delivered, _ = posted_ops(slack, "CMARKUP")
    if len(delivered) != len(MARKUP_STORIES):
        problems.append(f"{len(delivered)} items posted, expected {len(MARKUP_STORIES)}")
    for message in posted:
        for text in mrkdwn_texts(message["text"], message["blocks"]):
            problems += [f"live markup {span!r}" for span in live_markup(text)]
            if "javascript:" in text and "<javascript:" in text:
                problems.append("a javascript: link")
    wire_text = " ".join(str(m["text"]) + str(m["blocks"]) for m in posted)
    for raw in ("<!channel>", "<!here>", "<@U123>", "<!everyone>", "<#C999>"):
        if raw in wire_text:
            problems.append(f"{raw} posted raw")
    for escaped in ("&lt;!channel&gt;", "&lt;@U123&gt;", "&lt;!here&gt;"):
        if escaped not in wire_text:
            problems.append(f"{escaped} missing: the text was dropped, not escaped")
    return problems


# --- Slack that fails -----------------------------------------------------------------------

STORM = (
    "429",
    "ok",
    "ratelimited",
    "500",
    "dropped_after_posting",
    "timeout",
    "ok",
    "503",
    "dropped",
    "429",
    "timeout_after_posting",
    "502",
    "ok",
    "ratelimited",
    "dropped_after_posting",
    "500",
)


@dataclass
class StormReport:
    """Faults injected into delivery, and what the alerts came to."""

    injected: Counter[str]
    queued: int
    delivered: int
    duplicated: int
    out_of_order: list[str]
    runs: int
    auth_stops: list[str]


def queue_alert(deps: Deps, channels: Sequence[str], title: str) -> int:
    """Store one relevant item and queue it for `channels`; returns the item id."""
    now = deps.clock()
    with deps.sessions.begin() as s:
        item = Item(
            feed_id=None,
            dedup_key=uuid.uuid4().hex * 2,
            title_key=uuid.uuid4().hex,
            url="https://news.example/" + uuid.uuid4().hex[:8],
            title=title,
            summary="Leaders talked.",
            source="Wire",
            published_at=now,
            fetched_at=now,
            label="relevant",
            score=1.0,
            topics="call",
            reasons="[]",
        )
        s.add(item)
        s.flush()
        enqueue(s, item.id, channels, now)
        return item.id


def _inject(slack: FakeSlack, kind: str, timeout: float) -> None:
    post = "chat.postMessage"
    if kind == "ok":
        slack.pass_next(post)
    elif kind == "429":
        slack.fail_next(post, 1, status=429, headers={"Retry-After": "2"})
    elif kind == "ratelimited":
        slack.fail_next(post, 1, status=200, error="ratelimited", headers={"Retry-After": "1"})
    elif kind in ("500", "502", "503"):
        slack.fail_next(post, 1, status=int(kind), error="internal_error")
    elif kind == "dropped":
        slack.drop_next(post)
    elif kind == "dropped_after_posting":
        slack.drop_next(post, after_processing=True)
    elif kind in ("timeout", "timeout_after_posting"):
        slack.slow_next(post, seconds=timeout * 2)  # the client gives up; the post lands
    else:  # pragma: no cover - a typo in STORM
        raise ValueError(kind)


def run_slack_storm(
    deps: Deps, slack: FakeSlack, clock: Any, channels: int = 3, per_channel: int = 6
) -> StormReport:
    """Queue alerts, deliver through every Slack failure interleaved, then bad tokens; drain.

    `slack` must stamp messages with `clock` (history lookups compare times). Faults are
    consumed in STORM order by whichever posts come; a history lookup fails in between.
    """
    timeout = 0.25
    good = SlackSender(make_web_client(slack.bot_token, slack.url, timeout=timeout), pace=0)
    deps = dataclasses.replace(deps, sender=good)
    names = [f"CSTORM{n}" for n in range(channels)]
    for n in range(per_channel):
        queue_alert(deps, names if n % 2 else names[:2], f"Trump and Xi talk, part {n}")
    for kind in STORM:
        _inject(slack, kind, timeout)
    slack.fail_next("conversations.history", 1, status=500, error="internal_error")
    slack.slow_next("conversations.history", seconds=timeout * 2)
    runs = _drain(deps, slack, clock)
    injected = Counter(k for k in STORM if k != "ok")
    injected["history_500"] += 1
    injected["history_timeout"] += 1
    left = slack.pending_faults("chat.postMessage") + slack.pending_faults("conversations.history")
    assert left == 0, f"{left} scripted faults never reached: queue more alerts"

    # the token is revoked, then fixed; then a wrong token, then the right one again
    auth_stops = []
    for n in range(2):
        queue_alert(deps, names, f"Trump and Xi meet again, part {n}")
    slack.set_token_revoked(True)
    auth_stops.append(str(deliver_pending(deps).stopped_reason))
    slack.set_token_revoked(False)
    injected["token_revoked"] += 1
    wrong = SlackSender(make_web_client("xoxb-wrong-token", slack.url, timeout=timeout), pace=0)
    auth_stops.append(str(deliver_pending(dataclasses.replace(deps, sender=wrong)).stopped_reason))
    injected["invalid_auth"] += 1
    runs += _drain(deps, slack, clock)

    with deps.sessions() as s:
        rows = s.execute(select(Alert.id, Alert.channel_id).order_by(Alert.id)).all()
    queued = [r.id for r in rows if r.channel_id in names]
    posted = Counter[int]()
    out_of_order = []
    for name in names:
        ids = [m["metadata"]["event_payload"]["alert_id"] for m in slack.messages(name)]
        posted.update(ids)
        expected = [r.id for r in rows if r.channel_id == name]
        if list(dict.fromkeys(ids)) != expected:
            out_of_order.append(name)
    return StormReport(
        injected=injected,
        queued=len(queued),
        delivered=len(set(posted) & set(queued)),
        duplicated=sum(n - 1 for n in posted.values()),
        out_of_order=out_of_order,
        runs=runs,
        auth_stops=auth_stops,
    )


def _drain(deps: Deps, slack: FakeSlack, clock: Any, limit: int = 60) -> int:
    """Deliver until nothing waits, letting slow posts land and moving the clock past waits."""
    for run in range(1, limit + 1):
        deliver_pending(deps)
        slack.wait_idle()
        with deps.sessions() as s:
            if pending_count(s) == 0:
                return run
        clock.advance(seconds=MAX_BACKOFF.total_seconds())
    raise AssertionError(f"alerts still pending after {limit} delivery runs")


# --- the process: kill -9 loop --------------------------------------------------------------


def story(n: int) -> Story:
    """The n-th relevant story the kill loop publishes."""
    return Story(
        f"Trump and Xi speak by phone about trade, #{n}",
        link=f"https://kill.example/{n}",
        guid=f"kill-{n}",
        published=datetime(2026, 11, 30, 8, 0, tzinfo=UTC) + timedelta(minutes=n),
    )


class Publisher:
    """The kill loop's feed: old stories, then one more relevant story per `publish()`."""

    def __init__(self, server: FeedServer, path: str = "/kill.xml") -> None:
        self.server, self.path = server, path
        self.count = 0
        self.url = self._serve()

    def _serve(self) -> str:
        stories = [story(n) for n in range(self.count, 0, -1)] + wire(3, prefix="Old")
        return self.server.serve(self.path, rss(stories), etag=f'"v{self.count}"')

    def publish(self) -> None:
        """Add the next relevant story at the top of the feed."""
        self.count += 1
        self._serve()

    @property
    def titles(self) -> list[str]:
        """Every relevant title published so far."""
        return [story(n).title for n in range(1, self.count + 1)]


def bot_env(
    database_url: str, feeds: Sequence[str], slack: FakeSlack, **extra: str
) -> dict[str, str]:
    """The environment of a `python bot.py` in HTTP mode against the fakes."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "DIPLO_", "DATABASE_", "LOG_LEVEL", "PORT"))
    }
    env.update(
        {
            "DATABASE_URL": database_url,
            "DIPLO_FEEDS": ",".join(feeds),
            "DIPLO_ALLOW_HOSTS": "127.0.0.1",
            "DIPLO_POLL_SECONDS": "1",
            "DIPLO_DELIVER_SECONDS": "0.2",
            "DIPLO_FETCH_TIMEOUT": "5",
            "SLACK_BOT_TOKEN": slack.bot_token,
            "SLACK_SIGNING_SECRET": "kill-loop-signing-secret",
            "SLACK_API_URL": slack.url,
            "PORT": str(free_port()),
            "DIPLO_HTTP_HOST": "127.0.0.1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


@contextlib.contextmanager
def bot_process(env: dict[str, str], log: Path, *args: str) -> Iterator[subprocess.Popen[bytes]]:
    """`python bot.py ARGS` with its output appended to `log`; killed if still running after."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "bot.py"), *args],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)


def bot_can_start() -> str | None:
    """Why `python bot.py --help` fails here (None when it works)."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "bot.py"), "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    return None if result.returncode == 0 else (result.stderr.strip().splitlines() or ["?"])[-1]


@dataclass
class KillLoopReport:
    """What the kill loop did, and what the alerts came to."""

    kills: int = 0
    mid_post: int = 0  # kills while the fake Slack was answering a chat.postMessage
    published: int = 0
    stored: int = 0  # relevant items stored (each title once)
    stored_twice: int = 0
    queued: int = 0
    delivered: int = 0
    duplicated: int = 0
    stuck: int = 0  # alerts not `sent` at the end
    lost: int = 0  # published relevant items with no delivered alert
    out_of_order: bool = False
    seconds: float = 0.0
    final_run: float = 0.0  # seconds the clean run took to deliver the rest
    statuses: dict[str, int] = field(default_factory=dict)
    story_messages: int = 0  # top-level messages (the items are one story: a reply each)
    replies: int = 0  # thread replies posted
    edits: int = 0  # chat.update calls that took effect
    mid_edit: int = 0  # kills while the fake Slack was answering a chat.update


CHANNEL = "CKILL"


def prime(database_url: str, url: str) -> None:
    """Migrate, add the feed, subscribe the channel and prime the feed, in this process."""
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        sessions = make_sessionmaker(engine)
        now = datetime.now(UTC)
        with sessions.begin() as s:
            add_feed(s, url, now)
            subscribe(s, CHANNEL, ["all"], "U1", now)
        from handlers.sender import ConsoleSender
        from news.relevance import default_classifier
        from settings import Settings

        with Fetcher(FetchConfig(allow_hosts=LOCAL)) as fetcher:
            deps = Deps(
                settings=Settings(database_url=database_url, poll_seconds=1, allow_hosts=LOCAL),
                sessions=sessions,
                fetcher=fetcher,
                classifier=default_classifier(),
                sender=ConsoleSender(),
            )
            summary = poll_due_feeds(deps)
        assert summary.ok == 1 and summary.alerts == 0, summary
    finally:
        engine.dispose()


def kill_loop(
    database_url: str,
    server: FeedServer,
    slack: FakeSlack,
    workdir: Path,
    kills: int = 20,
    seed: int = 20261130,
    deadline: float = 40.0,
) -> KillLoopReport:
    """Run `python bot.py`, SIGKILL it at random moments `kills` times, then a clean run.

    Every other run finds a new relevant story; most kills land in the second after the bot
    says it runs (its first poll and posts), some during start-up. The fake Slack is slow
    (posts take 0.6 s) and now and then drops a connection after posting. Returns figures.
    """
    rng = random.Random(seed)
    started = time.monotonic()
    publisher = Publisher(server)
    prime(database_url, publisher.url)
    env = bot_env(database_url, [publisher.url], slack)
    log = workdir / "bot.log"
    slack.delay("chat.postMessage", 0.6)
    slack.delay("chat.update", 0.3)
    report = KillLoopReport()
    for n in range(kills):
        if n % 5 == 2 and n <= max(2, kills - 7):  # its retry waits out before the end
            slack.drop_next("chat.postMessage", after_processing=True)
        if n % 2 == 0:
            publisher.publish()  # every other run finds a new story on its first poll
        offset = log.stat().st_size if log.exists() else 0
        with bot_process(env, log) as proc:
            if n % 5 == 4:  # now and then during start-up (migrations, seeding, auth.test)
                time.sleep(rng.uniform(0.2, 1.2))
            else:  # else while it polls and posts: shortly after it says it runs
                _wait_for_line(log, offset, "diplo running", proc)
                time.sleep(rng.uniform(0.0, 1.0))
            report.mid_post += slack.in_flight("chat.postMessage") > 0
            report.mid_edit += slack.in_flight("chat.update") > 0
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
            report.kills += 1
    publisher.publish()
    slack.delay("chat.postMessage", 0)
    slack.delay("chat.update", 0)
    report.final_run = time.monotonic()
    with bot_process(env, log) as proc:
        done_by = time.monotonic() + deadline
        while time.monotonic() < done_by and not _all_delivered(database_url, publisher.titles):
            if proc.poll() is not None:
                break
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
    report.seconds = time.monotonic() - started
    report.final_run = time.monotonic() - report.final_run
    _tally(report, database_url, publisher.titles, slack)
    return report


def _wait_for_line(log: Path, offset: int, text: str, proc: subprocess.Popen[bytes]) -> None:
    """Wait (up to 10 s) until `text` appears in `log` after `offset`, or the process ends."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and proc.poll() is None:
        with log.open("rb") as f:
            f.seek(offset)
            if text.encode() in f.read():
                return
        time.sleep(0.02)


def _all_delivered(database_url: str, titles: Sequence[str]) -> bool:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            stored = conn.scalar(select(func.count(Item.id)).where(Item.title.in_(titles)))
            unsent = conn.scalar(select(func.count(Alert.id)).where(Alert.status != SENT))
            sent = conn.scalar(
                select(func.count(Alert.id)).where(Alert.status == SENT, Alert.op != UPDATE)
            )
        return stored == len(titles) and unsent == 0 and sent == len(titles)
    finally:
        engine.dispose()


def _tally(
    report: KillLoopReport, database_url: str, titles: Sequence[str], slack: FakeSlack
) -> None:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            items = conn.execute(select(Item.id, Item.title).where(Item.title.in_(titles))).all()
            alerts = conn.execute(
                select(Alert.id, Alert.item_id, Alert.status, Alert.channel_id)
                .where(Alert.op != UPDATE)  # edits are not messages
                .order_by(Alert.id)
            ).all()
            edits = conn.execute(select(Alert.status).where(Alert.op == UPDATE)).scalars().all()
    finally:
        engine.dispose()
    by_title = Counter(title for _, title in items)
    report.published = len(titles)
    report.stored = len(by_title)
    report.stored_twice = sum(1 for n in by_title.values() if n > 1)
    report.queued = len(alerts)
    report.statuses = dict(Counter(a.status for a in alerts))
    report.stuck = sum(1 for a in alerts if a.status != SENT) + sum(1 for e in edits if e != SENT)
    posted, in_order = posted_ops(slack, CHANNEL)
    report.story_messages = len(slack.top_level(CHANNEL))
    report.replies = sum(len(r) for r in slack.all_replies(CHANNEL).values())
    report.edits = sum(len(slack.edits(CHANNEL, m["ts"])) for m in slack.top_level(CHANNEL))
    counts = Counter(posted)
    report.delivered = len(set(counts) & {a.id for a in alerts})
    report.duplicated = sum(n - 1 for n in counts.values())
    report.out_of_order = not in_order
    delivered_items = {a.item_id for a in alerts if a.id in counts}
    report.lost = sum(1 for item_id, _ in items if item_id not in delivered_items) + (
        len(titles) - len(by_title)
    )


def all_messages(slack: FakeSlack, channel: str) -> list[dict[str, Any]]:
    """Every message of the channel: top-level ones, then each thread's replies."""
    messages = slack.top_level(channel)
    for replies in slack.all_replies(channel).values():
        messages += replies
    return messages


def delivered_titles(deps: Deps, slack: FakeSlack, channel: str) -> list[str]:
    """The titles of the items delivered to the channel (story messages, then each thread)."""
    ids, _ = posted_ops(slack, channel)
    with deps.sessions() as s:
        query = select(Alert.id, Item.title).join(Item, Item.id == Alert.item_id)
        titles = dict(s.execute(query.where(Alert.id.in_(ids))).tuples().all())
    return [titles[i] for i in ids if i in titles]


def posted_ops(slack: FakeSlack, channel: str) -> tuple[list[int], bool]:
    """The outbox ids every message of the channel carries (item alerts and story ops,
    thread replies included), and whether each sequence is in queue order: the top-level
    messages, and the replies of each thread."""

    def ids(message: dict[str, Any]) -> list[int]:
        payload = (message.get("metadata") or {}).get("event_payload") or {}
        return [payload["alert_id"]] if "alert_id" in payload else list(payload.get("op_ids", []))

    sequences = [[i for m in slack.top_level(channel) for i in ids(m)]]
    for replies in slack.all_replies(channel).values():
        sequences.append([i for m in replies for i in ids(m)])
    posted = [i for seq in sequences for i in seq]
    in_order = all(list(dict.fromkeys(seq)) == sorted(set(seq)) for seq in sequences)
    return posted, in_order


# --- the database ---------------------------------------------------------------------------


def postgres_bin() -> Path | None:
    """The newest /usr/lib/postgresql/*/bin with initdb and pg_ctl, if any."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: p.parent.parent.name
    )
    for pg_ctl in reversed(found):
        if (pg_ctl.parent / "initdb").exists():
            return pg_ctl.parent
    return None


class PrivateCluster:
    """A throwaway PostgreSQL cluster (fsync off, trust auth) that can be restarted.

    initdb and pg_ctl refuse to run as root, so they run as the `postgres` user through
    runuser, in a temporary directory that user owns. Never touches the shared server.
    """

    def __init__(self) -> None:
        reason = self.unavailable()
        if reason:
            raise RuntimeError(reason)
        self.bin = postgres_bin()
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="diplo-pg-"))
        shutil.chown(self.dir, "postgres", "postgres")
        self.data = self.dir / "data"
        self._pg("initdb", "-D", str(self.data), "--auth=trust", "-U", "postgres", "--no-sync")

    @staticmethod
    def unavailable() -> str | None:
        """Why no private cluster can be started here (None when it can)."""
        if postgres_bin() is None:
            return "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin"
        if os.geteuid() != 0:
            return "starting a private PostgreSQL cluster needs root (runuser -u postgres)"
        if shutil.which("runuser") is None:
            return "runuser is missing"
        try:
            import pwd

            pwd.getpwnam("postgres")
        except KeyError:
            return "there is no postgres user"
        return None

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of its `postgres` database."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _pg(self, tool: str, *args: str) -> None:
        assert self.bin is not None
        subprocess.run(
            ["runuser", "-u", "postgres", "--", str(self.bin / tool), *args],
            check=True,
            capture_output=True,
            timeout=60,
        )

    def _ctl(self, action: str, *args: str) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 "
            f"-c unix_socket_directories={self.dir} -c fsync=off"
        )
        self._pg(
            "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.dir / "log"),
            "-w",
            *args,
            action,
        )

    def start(self) -> None:
        """Start it and wait until it accepts connections."""
        self._ctl("start")

    def restart(self) -> None:
        """Restart it (fast shutdown: open connections are cut)."""
        self._ctl("restart", "-m", "fast")

    def stop(self) -> None:
        """Stop it at once."""
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            self._ctl("stop", "-m", "immediate")

    def remove(self) -> None:
        """Stop it and delete its files."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def hold_sqlite_lock(path: Path, seconds: float) -> threading.Thread:
    """A thread whose own sqlite3 connection holds BEGIN IMMEDIATE on `path` for `seconds`.

    Returns once the lock is held; join the thread to wait for its release.
    """
    import sqlite3

    held = threading.Event()

    def hold() -> None:
        conn = sqlite3.connect(path, isolation_level=None, timeout=30)
        try:
            conn.execute("BEGIN IMMEDIATE")
            held.set()
            time.sleep(seconds)
            conn.execute("COMMIT")
        finally:
            conn.close()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    if not held.wait(10):
        raise TimeoutError("could not take the SQLite write lock")
    return thread


# --- a network path that goes silent --------------------------------------------------------


class StallProxy:
    """A TCP proxy on 127.0.0.1 in front of `port`; `stall()` silences the open connections.

    Stalled connections stay open but nothing passes either way (a NAT or load balancer
    that forgot them): pings go unanswered instead of failing. New connections pass.
    """

    def __init__(self, port: int) -> None:
        self.target = port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._pairs: list[dict[str, Any]] = []
        self._closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            pair = {"sockets": (client, upstream), "stalled": False}
            with self._lock:
                self._pairs.append(pair)
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(pair, src, dst), daemon=True).start()

    def _pump(self, pair: dict[str, Any], src: socket.socket, dst: socket.socket) -> None:
        import select as select_module

        while not self._closed.is_set():
            if pair["stalled"]:
                time.sleep(0.05)
                continue
            try:
                ready, _, _ = select_module.select([src], [], [], 0.05)
                if not ready:
                    continue
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
            except OSError:
                break
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def stall(self) -> int:
        """Stop forwarding on every open connection; returns how many."""
        with self._lock:
            for pair in self._pairs:
                pair["stalled"] = True
            return len(self._pairs)

    def close(self) -> None:
        """Close the listener and every connection."""
        self._closed.set()
        self._listener.close()
        with self._lock:
            sockets = [s for pair in self._pairs for s in pair["sockets"]]
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.close()


@dataclass
class DrillReport:
    """What the bot did while PostgreSQL was restarted, then down, then back."""

    published: list[str]
    posted: list[str]
    errors_while_down: list[str]
    errors_after: list[str]
    relevant_stored: int
    alerts: int
    pending: int


def database_drill(
    deps: Deps, cluster: PrivateCluster, server: FeedServer, slack: FakeSlack, clock: Any
) -> DrillReport:
    """Poll and deliver (through the scheduler's guarded jobs) around a restart and an outage.

    Story 1 is delivered, then the cluster restarts (pooled connections cut); story 2 is
    delivered, then the cluster stops: a poll and a delivery fail, logged; it starts
    again, and story 3 must be delivered within a few ticks.
    """
    from jobs.scheduler import guarded, poll_job

    poll, deliver = guarded("poll", poll_job, deps), guarded("deliver", deliver_pending, deps)
    stories = [story(n) for n in range(1, 4)]

    def serve(n: int) -> str:
        return server.serve("/drill.xml", rss([*reversed(stories[:n]), *wire(2, prefix="Drill")]))

    with deps.sessions.begin() as s:
        add_feed(s, serve(0), clock())
        subscribe(s, "CDRILL", ["all"], "U1", clock())
    poll()  # primes
    errors = _Lines()
    errors.setLevel(logging.ERROR)
    root = logging.getLogger()
    level = root.level
    root.addHandler(errors)
    root.setLevel(min(level, logging.ERROR))
    try:
        for n, fault in enumerate(["restart", "down"], start=1):
            serve(n)
            clock.advance(seconds=deps.settings.poll_seconds + 1)
            poll()
            if fault == "restart":
                cluster.restart()
            else:
                cluster.stop()
                poll()
                deliver()
                cluster.start()
        down = [r.getMessage() for r in errors.records]
        errors.records.clear()
        serve(3)
        clock.advance(seconds=deps.settings.poll_seconds + 1)
        for _ in range(3):
            poll()
            deliver()
            if len(delivered_titles(deps, slack, "CDRILL")) >= 3:
                break
            clock.advance(seconds=deps.settings.poll_seconds + 1)
        after = [r.getMessage() for r in errors.records]
    finally:
        root.removeHandler(errors)
        root.setLevel(level)
    with deps.sessions() as s:
        relevant = s.scalar(select(func.count(Item.id)).where(Item.label == "relevant")) or 0
        alerts = s.scalar(select(func.count(Alert.id)).where(Alert.op != UPDATE)) or 0
        pending = pending_count(s)
    return DrillReport(
        published=[s.title for s in stories],
        posted=delivered_titles(deps, slack, "CDRILL"),
        errors_while_down=down,
        errors_after=after,
        relevant_stored=relevant,
        alerts=alerts,
        pending=pending,
    )


# --- hostile HTML inside a feed (5 MB) ------------------------------------------------------

HOSTILE_HTML_SHAPES: dict[str, str] = {
    "comments_escaped": "&lt;!--" * 3000,
    "comments_cdata": "<![CDATA[" + "<!--" * 5000 + "]]>",
    "unclosed_script_cdata": "<![CDATA[" + "<script " * 2500 + "]]>",
    "script_with_lt_cdata": "<![CDATA[<script>" + "x<" * 10000 + "]]>",
    "nested_raw": "<div>" * 4000 + "deep" + "</div>" * 4000,
    "nested_cdata": "<![CDATA[" + "<div>" * 4000 + "]]>",
    "flat_raw": "<b>x</b>" * 2500,
    "huge_attribute": '<![CDATA[<a href="' + "x" * 20000 + '">hi</a>]]>',
}


def hostile_html_feed(size: int = 5 * 1024 * 1024 - 4096) -> bytes:
    """An RSS document of about `size` bytes whose summaries are hostile HTML, shape by shape."""
    items: list[str] = []
    total, n = 0, 0
    shapes = list(HOSTILE_HTML_SHAPES.items())
    while True:
        name, html = shapes[n % len(shapes)]
        item = _item(f"Hostile HTML {n} {name}", extra=f"<description>{html}</description>")
        if total + len(item) > size - 300:
            break
        items.append(item)
        total += len(item)
        n += 1
    return _doc("".join(items), title="Hostile HTML")


@dataclass(frozen=True)
class HtmlReport:
    """One poll of the hostile-HTML feed beside a good feed."""

    body_bytes: int
    entries: int
    stored: int
    cycle_seconds: float
    parse_seconds: float  # parse_feed alone on the same bytes
    good_stored: bool
    problems: list[str]


def run_hostile_html(deps: Deps, server: FeedServer) -> HtmlReport:
    """Serve the 5 MB hostile-HTML feed and a good one over HTTP, poll once, time the parse."""
    from news.parse import parse_feed

    body = hostile_html_feed()
    url = server.serve("/hostile-html.xml", body)
    good = server.serve("/good-html.xml", rss(list(GOOD_FEED)))
    with deps.sessions.begin() as s:
        feed_id = add_feed(s, url, deps.clock())[0].id
        good_id = add_feed(s, good, deps.clock())[0].id
    started = time.monotonic()
    poll_due_feeds(deps)
    cycle = time.monotonic() - started
    started = time.monotonic()
    parsed = parse_feed(body, {"content-type": "application/rss+xml"}, url)
    parse_seconds = time.monotonic() - started
    with deps.sessions() as s:
        stored = s.scalar(select(func.count(Item.id)).where(Item.feed_id == feed_id)) or 0
        good_stored = (
            s.scalar(select(func.count(Item.id)).where(Item.feed_id == good_id)) or 0
        ) == 4
        items = s.scalars(select(Item).where(Item.feed_id == feed_id)).all()
        problems = [p for i in items for p in _unsafe_item(i, deps.clock())]
    return HtmlReport(
        len(body), len(parsed.entries), stored, cycle, parse_seconds, good_stored, problems
    )
