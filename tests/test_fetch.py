"""jobs.fetch against a real HTTP server on 127.0.0.1 (tests.fakes.feed_server); no mocks."""

from __future__ import annotations

import email.utils
import logging
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator

import pytest

from jobs.fetch import (
    BlockedAddress,
    FetchConfig,
    Fetched,
    Fetcher,
    FetchFailed,
    FetchRequest,
    NotModified,
    _GuardedBackend,
    check_url,
    parse_retry_after,
)
from tests.fakes import feed_server as fakes
from tests.fakes.feed_server import FeedServer, Reply, gzip_bomb
from tests.faults import free_port

feed_server = fakes.feed_server  # the fixture (imported this way so ruff sees no shadowing)

LOCAL = frozenset({"127.0.0.1", "localhost"})
RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'

MakeFetcher = Callable[..., Fetcher]


@pytest.fixture
def make_fetcher() -> Iterator[MakeFetcher]:
    """Fetchers allowed to reach 127.0.0.1, with short timeouts; closed at teardown."""
    made: list[Fetcher] = []

    def make(**overrides: object) -> Fetcher:
        options: dict[str, object] = {
            "allow_hosts": LOCAL,
            "connect_timeout": 0.5,
            "total_timeout": 1.0,
            "max_bytes": 64 * 1024,
        }
        options.update(overrides)
        fetcher = Fetcher(FetchConfig(**options))  # type: ignore[arg-type]
        made.append(fetcher)
        return fetcher

    yield make
    for fetcher in made:
        fetcher.close()


@pytest.fixture
def fetcher(make_fetcher: MakeFetcher) -> Fetcher:
    return make_fetcher()


def get(fetcher: Fetcher, url: str, **validators: str) -> Fetched | NotModified | FetchFailed:
    return fetcher.fetch(FetchRequest(1, url, **validators))


def failed(result: object) -> FetchFailed:
    assert isinstance(result, FetchFailed), result
    return result


# --- success and conditional GET ----------------------------------------------------------


def test_200_with_etag_then_304(feed_server: FeedServer, fetcher: Fetcher) -> None:
    url = feed_server.serve("/wire.xml", RSS, etag='"v1"')

    first = get(fetcher, url)
    assert isinstance(first, Fetched)
    assert first.body == RSS
    assert first.etag == '"v1"'
    assert first.final_url == url and first.moved_to is None
    assert first.headers["content-type"] == "application/rss+xml"
    assert first.headers["content-location"] == url
    assert first.elapsed < 1.0

    second = get(fetcher, url, etag='"v1"')
    assert second == NotModified(moved_to=None, etag='"v1"', last_modified=None)
    assert feed_server.requests[-1].headers["if-none-match"] == '"v1"'


def test_last_modified_then_304(feed_server: FeedServer, fetcher: Fetcher) -> None:
    stamp = "Mon, 02 Mar 2026 10:00:00 GMT"
    url = feed_server.serve("/lm.xml", RSS, last_modified=stamp)

    first = get(fetcher, url)
    assert isinstance(first, Fetched) and first.last_modified == stamp and first.etag is None
    assert "if-modified-since" not in feed_server.requests[0].headers

    second = get(fetcher, url, last_modified=stamp)
    assert second == NotModified(moved_to=None, etag=None, last_modified=stamp)
    assert feed_server.requests[-1].headers["if-modified-since"] == stamp


def test_304_without_validators_keeps_the_requests(
    feed_server: FeedServer, fetcher: Fetcher
) -> None:
    url = feed_server.script("/bare304", [Reply(304, content_type=None)])
    result = get(fetcher, url, etag='"old"', last_modified="Sun, 01 Mar 2026 00:00:00 GMT")
    assert result == NotModified(None, '"old"', "Sun, 01 Mar 2026 00:00:00 GMT")


def test_sends_honest_user_agent_and_no_cookies(feed_server: FeedServer, fetcher: Fetcher) -> None:
    url = feed_server.serve("/c.xml", RSS, headers={"Set-Cookie": "session=abc; Path=/"})
    get(fetcher, url)
    get(fetcher, url)
    headers = feed_server.requests[-1].headers
    assert headers["user-agent"].startswith("diplo/")
    assert "application/rss+xml" in headers["accept"]
    assert headers["accept-encoding"] == "gzip, deflate"
    assert "cookie" not in headers


def test_gzip_body_is_decoded(feed_server: FeedServer, fetcher: Fetcher) -> None:
    url = feed_server.serve("/z.xml", RSS * 50, gzip=True)
    result = get(fetcher, url)
    assert isinstance(result, Fetched) and result.body == RSS * 50
    assert "content-encoding" not in result.headers and "content-length" not in result.headers


@pytest.mark.parametrize(
    "encoded",
    [zlib.compress(RSS), zlib.compress(RSS)[2:-4]],  # zlib-wrapped, and raw deflate
    ids=["zlib", "raw"],
)
def test_deflate_body_is_decoded(feed_server: FeedServer, fetcher: Fetcher, encoded: bytes) -> None:
    url = feed_server.script(
        "/d.xml", [Reply(body=encoded, headers={"Content-Encoding": "deflate"})]
    )
    result = get(fetcher, url)
    assert isinstance(result, Fetched) and result.body == RSS


def test_unrequested_encoding_fails(feed_server: FeedServer, fetcher: Fetcher) -> None:
    url = feed_server.script(
        "/br.xml", [Reply(body=b"\x1b\x00", headers={"Content-Encoding": "br"})]
    )
    assert failed(get(fetcher, url)).reason == "unsupported_encoding: br"


@pytest.mark.parametrize("reply", [Reply(200, b""), Reply(200, b" \n\t"), Reply(204)])
def test_empty_body(feed_server: FeedServer, fetcher: Fetcher, reply: Reply) -> None:
    url = feed_server.script("/empty.xml", [reply])
    assert failed(get(fetcher, url)) == FetchFailed("empty_body")


# --- HTTP errors and Retry-After ----------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "reason", "permanent"),
    [
        (404, "http_404", False),
        (410, "http_410_gone", True),
        (500, "http_500", False),
        (403, "http_403", False),
        (300, "http_300", False),
        (302, "http_302", False),  # a redirect without Location is not followed
    ],
)
def test_http_errors(
    feed_server: FeedServer, fetcher: Fetcher, status: int, reason: str, permanent: bool
) -> None:
    url = feed_server.script("/x.xml", [Reply(status, b"oops")])
    assert failed(get(fetcher, url)) == FetchFailed(reason, None, permanent)


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_seconds(feed_server: FeedServer, fetcher: Fetcher, status: int) -> None:
    url = feed_server.script("/busy.xml", [Reply(status, headers={"Retry-After": "120"})])
    assert failed(get(fetcher, url)) == FetchFailed(f"http_{status}", retry_after=120.0)


def test_retry_after_http_date(feed_server: FeedServer, fetcher: Fetcher) -> None:
    when = email.utils.formatdate(time.time() + 600, usegmt=True)
    url = feed_server.script("/busy.xml", [Reply(429, headers={"Retry-After": when})])
    result = failed(get(fetcher, url))
    assert result.reason == "http_429"
    assert result.retry_after is not None and 590 <= result.retry_after <= 600


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", 0.0),
        ("30", 30.0),
        (" 30 ", 30.0),
        ("99999999", 86400.0),  # capped at a day
        ("Thu, 01 Jan 1970 00:10:00 GMT", 600.0),  # relative to now=0
        ("Thu, 01 Jan 1970 00:00:00 GMT", 0.0),
        ("Wed, 31 Dec 1969 23:00:00 GMT", 0.0),  # in the past: retry now
        ("-5", None),
        ("1.5", None),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=0.0) == expected


# --- redirects ----------------------------------------------------------------------------


def test_permanent_redirect_chain_sets_moved_to(feed_server: FeedServer, fetcher: Fetcher) -> None:
    new = feed_server.serve("/new.xml", RSS, etag='"n"')
    feed_server.redirect("/old.xml", "/mid.xml", 301)
    feed_server.redirect("/mid.xml", new, 308)  # absolute Location

    result = get(fetcher, feed_server.url("/old.xml"))
    assert isinstance(result, Fetched)
    assert result.final_url == new and result.moved_to == new
    assert result.headers["content-location"] == new

    again = get(fetcher, feed_server.url("/old.xml"), etag='"n"')
    assert again == NotModified(moved_to=new, etag='"n"', last_modified=None)


@pytest.mark.parametrize("temporary", [302, 303, 307])
def test_any_temporary_hop_means_not_moved(
    feed_server: FeedServer, fetcher: Fetcher, temporary: int
) -> None:
    new = feed_server.serve("/new.xml", RSS)
    feed_server.redirect("/old.xml", "/mid.xml", 301)
    feed_server.redirect("/mid.xml", "new.xml", temporary)  # relative Location

    result = get(fetcher, feed_server.url("/old.xml"))
    assert isinstance(result, Fetched)
    assert result.final_url == new and result.moved_to is None


def test_redirect_loop(feed_server: FeedServer, fetcher: Fetcher) -> None:
    feed_server.redirect("/a", "/b", 301)
    feed_server.redirect("/b", "/a#again", 302)
    assert failed(get(fetcher, feed_server.url("/a"))) == FetchFailed("redirect_loop")
    assert feed_server.hits("/a") == 1 and feed_server.hits("/b") == 1


@pytest.mark.parametrize(("hops", "ok"), [(5, True), (6, False)])
def test_redirect_limit(feed_server: FeedServer, fetcher: Fetcher, hops: int, ok: bool) -> None:
    feed_server.serve("/end.xml", RSS)
    for i in range(hops):
        feed_server.redirect(f"/r{i}", f"/r{i + 1}" if i + 1 < hops else "/end.xml", 301)
    result = get(fetcher, feed_server.url("/r0"))
    if ok:
        assert isinstance(result, Fetched) and result.moved_to == feed_server.url("/end.xml")
    else:
        assert result == FetchFailed("too_many_redirects")
        assert feed_server.hits("/end.xml") == 0


@pytest.mark.parametrize(
    ("location", "address"),
    [
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254"),
        ("http://10.1.2.3/feed.xml", "10.1.2.3"),
        ("http://[::ffff:169.254.169.254]/", "::ffff:a9fe:a9fe"),
    ],
)
def test_redirect_to_private_address_is_refused_before_connecting(
    feed_server: FeedServer, make_fetcher: MakeFetcher, location: str, address: str
) -> None:
    fetcher = make_fetcher(connect_timeout=5.0, total_timeout=10.0)  # a connect would be slow
    url = feed_server.redirect("/evil.xml", location, 302)
    started = time.monotonic()
    assert failed(get(fetcher, url)) == FetchFailed(f"blocked_address: {address}", permanent=True)
    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize(
    "location",
    [
        "ftp://example.com/feed",
        "file:///etc/passwd",
        "mailto:a@b",
        "https://[::1",
        "http://h:99999/",
    ],
)
def test_redirect_to_bad_url(feed_server: FeedServer, fetcher: Fetcher, location: str) -> None:
    url = feed_server.redirect("/odd.xml", location, 301)
    result = failed(get(fetcher, url))
    assert result.reason == f"bad_redirect: {location}" and not result.permanent


# --- time limits and broken connections ---------------------------------------------------


def test_slow_server_times_out(feed_server: FeedServer, make_fetcher: MakeFetcher) -> None:
    fetcher = make_fetcher(total_timeout=0.5)
    url = feed_server.script("/slow.xml", [Reply(body=RSS, delay=3.0)])
    started = time.monotonic()
    assert failed(get(fetcher, url)) == FetchFailed("timeout")
    assert 0.45 <= time.monotonic() - started < 1.0


@pytest.mark.parametrize(
    "reply",
    [Reply(body=b"x" * 1000, trickle=0.1), Reply(slow_headers=0.1)],
    ids=["body", "headers"],
)
def test_trickle_is_cut_at_total_timeout(
    feed_server: FeedServer, make_fetcher: MakeFetcher, reply: Reply
) -> None:
    # each byte arrives well within the per-read timeout; only the total deadline stops it
    fetcher = make_fetcher(total_timeout=0.6)
    url = feed_server.script("/trickle.xml", [reply])
    started = time.monotonic()
    assert failed(get(fetcher, url)) == FetchFailed("timeout")
    assert 0.55 <= time.monotonic() - started < 1.0


def test_connection_reset(feed_server: FeedServer, fetcher: Fetcher) -> None:
    url = feed_server.script("/reset.xml", [Reply(reset=True)])
    result = failed(get(fetcher, url))
    assert result.reason.startswith("network_error") and not result.permanent


def test_connection_refused(fetcher: Fetcher) -> None:
    result = failed(get(fetcher, f"http://127.0.0.1:{free_port()}/feed.xml"))
    assert result.reason.startswith("connect_error: ") and not result.permanent


def test_tls_failure(feed_server: FeedServer, fetcher: Fetcher) -> None:
    url = feed_server.serve("/wire.xml", RSS).replace("http://", "https://")  # plain-HTTP port
    result = failed(get(fetcher, url))
    assert result.reason.startswith("tls_error: ") and not result.permanent


def test_recovers_after_failures(feed_server: FeedServer, fetcher: Fetcher) -> None:
    url = feed_server.script("/flaky.xml", [Reply(reset=True), Reply(503), Reply(body=RSS)])
    assert [type(get(fetcher, url)).__name__ for _ in range(3)] == [
        "FetchFailed",
        "FetchFailed",
        "Fetched",
    ]


# --- size limits --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reply",
    [
        Reply(body=b"x" * 200_000),
        Reply(body=b"x" * 200_000, omit_length=True),
        Reply(endless=True),
        Reply(body=b"x" * 200_000, gzip=True),  # small on the wire, large decoded
    ],
    ids=["content-length", "no-length", "endless", "gzip"],
)
def test_oversized_body(feed_server: FeedServer, fetcher: Fetcher, reply: Reply) -> None:
    url = feed_server.script("/big.xml", [reply])
    started = time.monotonic()
    assert failed(get(fetcher, url)) == FetchFailed("too_large")
    assert time.monotonic() - started < 0.5


def test_body_of_exactly_max_bytes_is_accepted(feed_server: FeedServer, fetcher: Fetcher) -> None:
    url = feed_server.script("/edge.xml", [Reply(body=b"y" * (64 * 1024), omit_length=True)])
    result = get(fetcher, url)
    assert isinstance(result, Fetched) and len(result.body) == 64 * 1024


def test_gzip_bomb_is_rejected_quickly_with_bounded_memory(
    feed_server: FeedServer, make_fetcher: MakeFetcher
) -> None:
    bomb = gzip_bomb()  # 50 MB of zeros, about 50 KB on the wire
    assert len(bomb) < 200_000
    fetcher = make_fetcher(max_bytes=1024 * 1024)
    url = feed_server.script("/bomb.xml", [Reply(body=bomb, headers={"Content-Encoding": "gzip"})])
    tracemalloc.start()
    try:
        started = time.monotonic()
        result = get(fetcher, url)
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result == FetchFailed("too_large")
    assert elapsed < 1.0
    assert peak < 5 * 1024 * 1024, f"peak {peak} bytes"


# --- the address guard --------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "255.255.255.255",
        "[::1]",
        "[fc00::1]",
        "[fe80::1]",
        "[::ffff:127.0.0.1]",
        "[::ffff:10.0.0.1]",
        "[64:ff9b::a9fe:a9fe]",  # NAT64 of 169.254.169.254
        "[2002:7f00:1::]",  # 6to4 of 127.0.0.1
        "[::]",
        "[64:ff9b:1::a9fe:a9fe]",  # local-use NAT64 of 169.254.169.254
        "[64:ff9b:1::7f00:1]",  # local-use NAT64 of 127.0.0.1
        "[::127.0.0.1]",  # IPv4-compatible
        "[::a9fe:a9fe]",  # IPv4-compatible 169.254.169.254
        "[::ffff:0:7f00:1]",  # IPv4-translated 127.0.0.1
        "[2001:0:4136:e378:8000:63bf:80ff:fffe]",  # Teredo, client 127.0.0.1
    ],
)
def test_check_url_blocks_non_public_addresses(address: str) -> None:
    with pytest.raises(BlockedAddress):
        check_url(f"http://{address}/feed.xml")


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/feed",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "http://",
        "feed.xml",
        "",
    ],
)
def test_check_url_rejects_other_schemes(url: str) -> None:
    with pytest.raises(ValueError):
        check_url(url)


@pytest.mark.parametrize(
    "url", ["http://8.8.8.8/feed.xml", "https://[2001:4860:4860::8888]:8443/x"]
)
def test_check_url_allows_public_literals_without_dns(url: str) -> None:
    check_url(url)  # literals: no lookup, no connection


@pytest.mark.parametrize(
    ("url", "allow"),
    [
        ("http://127.0.0.1/", {"127.0.0.1"}),
        ("http://127.9.9.9/", {"127.0.0.0/8"}),
        ("http://10.20.30.40/", {"10.0.0.0/8"}),
        ("http://[::1]/", {"::1"}),
        ("http://LOCALHOST./", {"localhost"}),  # by name: every address of it is allowed
    ],
)
def test_check_url_allow_list(url: str, allow: set[str]) -> None:
    check_url(url, frozenset(allow))
    with pytest.raises(BlockedAddress):
        check_url(url)


def test_allow_list_cidr_does_not_cover_other_ranges() -> None:
    with pytest.raises(BlockedAddress, match=r"10\.0\.0\.1"):
        check_url("http://10.0.0.1/", frozenset({"192.168.0.0/16"}))


def test_loopback_is_refused_without_allow_list(feed_server: FeedServer) -> None:
    url = feed_server.serve("/wire.xml", RSS)
    with Fetcher(FetchConfig(total_timeout=1.0)) as fetcher:
        result = fetcher.fetch(FetchRequest(7, url))
    assert result == FetchFailed("blocked_address: 127.0.0.1", permanent=True)
    assert feed_server.requests == []


@pytest.mark.parametrize("allow", [{"127.0.0.0/8"}, {"127.0.0.1"}])
def test_allow_list_by_cidr_or_ip_reaches_the_server(
    feed_server: FeedServer, make_fetcher: MakeFetcher, allow: set[str]
) -> None:
    url = feed_server.serve("/wire.xml", RSS)
    assert isinstance(get(make_fetcher(allow_hosts=frozenset(allow)), url), Fetched)


def test_peer_address_is_checked_after_connecting(feed_server: FeedServer) -> None:
    # check_url passed a moment ago but DNS now answers 127.0.0.1 (rebinding): the
    # backend looks at the socket's peer before sending anything.
    with pytest.raises(BlockedAddress, match=r"127\.0\.0\.1"):
        _GuardedBackend(frozenset()).connect_tcp("127.0.0.1", feed_server.port, timeout=1.0)
    stream = _GuardedBackend(frozenset({"127.0.0.1"})).connect_tcp("127.0.0.1", feed_server.port)
    stream.close()
    assert feed_server.requests == []


@pytest.mark.parametrize(
    "url", ["ftp://example.com/feed", "javascript:alert(1)", "not a url", "http://", "http://a b/"]
)
def test_bad_url_is_permanent_failure(fetcher: Fetcher, url: str) -> None:
    assert failed(get(fetcher, url)) == FetchFailed("bad_url", permanent=True)


def test_unresolvable_host(fetcher: Fetcher) -> None:
    result = failed(get(fetcher, "http://no-such-host.invalid/feed.xml"))
    assert result.reason.startswith("dns_error") and not result.permanent


# --- logging ------------------------------------------------------------------------------


def test_failure_logs_one_warning_without_body(
    feed_server: FeedServer, fetcher: Fetcher, caplog: pytest.LogCaptureFixture
) -> None:
    url = feed_server.script("/gone.xml", [Reply(410, b"SECRET BODY")])
    with caplog.at_level(logging.DEBUG, logger="jobs.fetch"):
        fetcher.fetch(FetchRequest(42, url))
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("WARNING", f"feed 42: GET {url} failed: http_410_gone")
    ]


# --- fetch_many ---------------------------------------------------------------------------


def test_fetch_many_returns_every_result_and_respects_per_host(
    feed_server: FeedServer, make_fetcher: MakeFetcher
) -> None:
    feed_server.latency = 0.02
    requests = [FetchRequest(i, feed_server.serve(f"/f{i}.xml", RSS)) for i in range(50)]
    fetcher = make_fetcher(concurrency=16, per_host=2)

    results = dict(fetcher.fetch_many(requests))

    assert set(results) == set(requests)
    assert all(isinstance(r, Fetched) for r in results.values())
    assert feed_server.max_active == 2


def test_fetch_many_limits_each_host_separately(
    feed_server: FeedServer, make_fetcher: MakeFetcher
) -> None:
    feed_server.latency = 0.05
    requests = [
        FetchRequest(i, feed_server.serve(f"/f{i}.xml", RSS).replace("127.0.0.1", host))
        for i, host in enumerate(["127.0.0.1", "localhost"] * 10)
    ]
    results = list(make_fetcher(per_host=2).fetch_many(requests))
    assert len(results) == 20 and all(isinstance(r, Fetched) for _, r in results)
    assert 2 < feed_server.max_active <= 4


def test_fetch_many_respects_concurrency(
    feed_server: FeedServer, make_fetcher: MakeFetcher
) -> None:
    feed_server.latency = 0.02
    requests = [FetchRequest(i, feed_server.serve(f"/f{i}.xml", RSS)) for i in range(12)]
    assert len(list(make_fetcher(concurrency=3, per_host=10).fetch_many(requests))) == 12
    assert feed_server.max_active == 3


def test_fetch_many_mixes_outcomes(feed_server: FeedServer, make_fetcher: MakeFetcher) -> None:
    ok = feed_server.serve("/ok.xml", RSS, etag='"e"')
    requests = [
        FetchRequest(1, ok),
        FetchRequest(2, ok, etag='"e"'),
        FetchRequest(3, feed_server.url("/missing.xml")),
        FetchRequest(4, "http://10.0.0.1/feed.xml"),
        FetchRequest(5, "gopher://example.com/"),
    ]
    results = {r.feed_id: result for r, result in make_fetcher().fetch_many(requests)}
    assert isinstance(results[1], Fetched)
    assert isinstance(results[2], NotModified)
    assert results[3] == FetchFailed("http_404")
    assert results[4] == FetchFailed("blocked_address: 10.0.0.1", permanent=True)
    assert results[5] == FetchFailed("bad_url", permanent=True)


def test_fetch_many_of_nothing(fetcher: Fetcher) -> None:
    assert list(fetcher.fetch_many([])) == []
