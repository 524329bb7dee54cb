"""news.urls: canonical URLs for dedup keys and the public-address rule (pure, table-driven)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from news.urls import (
    canonical_url,
    is_allowed_address,
    is_allowed_host,
    is_http_url,
    is_public_address,
    is_tracking_param,
    redact_text,
    redact_url,
)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.com/a", "https://example.com/a"),
        ("HTTPS://Example.COM/Path/To", "https://example.com/Path/To"),  # path keeps its case
        ("http://example.com", "http://example.com/"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("http://example.com:443/a", "http://example.com:443/a"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("https://example.com./a", "https://example.com/a"),
        ("https://example.com/a#section-2", "https://example.com/a"),
        ("  https://example.com/a \n", "https://example.com/a"),
        (
            "https://www.reuters.com/world/china/xi-biden-call/?utm_source=twitter&utm_medium=social",
            "https://www.reuters.com/world/china/xi-biden-call/",
        ),
        ("https://e.com/a?id=7&utm_campaign=x&page=2", "https://e.com/a?id=7&page=2"),
        ("https://e.com/a?UTM_Source=x&q=1", "https://e.com/a?q=1"),
        ("https://e.com/a?fbclid=abc&gclid=def&msclkid=1", "https://e.com/a"),
        ("https://e.com/a?mc_cid=1&mc_eid=2&ocid=3&cmpid=4", "https://e.com/a"),
        (
            "https://www.nytimes.com/2026/03/02/world/asia/x.html?smid=tw-share",
            "https://www.nytimes.com/2026/03/02/world/asia/x.html",
        ),
        ("https://e.com/a?ref=rss&__twitter_impression=true", "https://e.com/a"),
        ("https://e.com/a?b=2&a=1", "https://e.com/a?b=2&a=1"),  # order kept
        ("https://e.com/a?q=a%20b&x=y+z", "https://e.com/a?q=a%20b&x=y+z"),  # encoding kept
        ("https://e.com/a?flag&utm_x=1", "https://e.com/a?flag"),  # valueless kept
        ("https://e.com/a?&&q=1&", "https://e.com/a?q=1"),
        ("https://e.com/a?referrer=x&preference=y", "https://e.com/a?referrer=x&preference=y"),
        ("https://user:Pw@Example.com/a", "https://user:Pw@example.com/a"),
        ("http://[2001:DB8::1]:80/a", "http://[2001:db8::1]/a"),
        ("http://[2001:db8::1]:8080/a", "http://[2001:db8::1]:8080/a"),
        # not http(s): returned stripped, untouched
        ("tag:example.com,2026:item-1", "tag:example.com,2026:item-1"),
        ("urn:uuid:1234#x", "urn:uuid:1234#x"),
        ("/relative/path?utm_source=x", "/relative/path?utm_source=x"),
        ("http://example.com:99999/", "http://example.com:99999/"),
        ("", ""),
    ],
)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://example.com", True),
        ("https://example.com/feed.xml?x=1", True),
        ("HTTPS://EXAMPLE.COM/", True),
        ("http://127.0.0.1:8080/x", True),
        ("http://[::1]/", True),
        ("ftp://example.com/feed", False),
        ("file:///etc/passwd", False),
        ("javascript:alert(1)", False),
        ("mailto:a@b.c", False),
        ("http://", False),
        ("http:///path", False),
        ("example.com/feed", False),
        ("/feed.xml", False),
        ("http://exa mple.com/", False),
        ("http://example.com:99999/", False),
        ("http://example.com:port/", False),
        ("", False),
    ],
)
def test_is_http_url(url: str, expected: bool) -> None:
    assert is_http_url(url) is expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("utm_source", True),
        ("utm_anything_new", True),
        ("FBCLID", True),
        ("ref", True),
        ("id", False),
        ("page", False),
        ("reference", False),
        ("", False),
    ],
)
def test_is_tracking_param(name: str, expected: bool) -> None:
    assert is_tracking_param(name) is expected


@pytest.mark.parametrize(
    ("ip", "public"),
    [
        ("8.8.8.8", True),
        ("1.1.1.1", True),
        ("2001:4860:4860::8888", True),
        ("::ffff:8.8.8.8", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("172.31.255.255", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("255.255.255.255", False),
        ("::1", False),
        ("::", False),
        ("fc00::1", False),
        ("fd12:3456::1", False),
        ("fe80::1", False),
        ("fe80::1%eth0", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:169.254.169.254", False),
        ("64:ff9b::a00:1", False),  # NAT64 of 10.0.0.1
        ("2002:c0a8:101::", False),  # 6to4 of 192.168.1.1
        ("not-an-ip", False),
    ],
)
def test_is_public_address(ip: str, public: bool) -> None:
    assert is_public_address(ip) is public


@pytest.mark.parametrize(
    ("ip", "public"),
    [
        # IPv6 forms that carry an IPv4 address are judged by it (Python calls most global)
        ("64:ff9b::808:808", True),  # NAT64 well-known prefix, 8.8.8.8
        ("64:ff9b::7f00:1", False),  # ... of 127.0.0.1
        ("64:ff9b:1::a00:1", False),  # local-use NAT64 (RFC 8215), /96 reading 10.0.0.1
        ("64:ff9b:1::a9fe:a9fe", False),  # ... 169.254.169.254
        ("64:ff9b:1:a00:1::", False),  # ... /48 reading 10.0.0.1
        ("64:ff9b:1:a:0:100::", False),  # ... /56 reading 10.0.0.1
        ("64:ff9b:1:0:a:0:1:0", False),  # ... /64 reading 10.0.0.1
        ("64:ff9b:1::808:808", False),  # ... /48 reading 0.0.8.8: every reading must be public
        ("::10.0.0.1", False),  # IPv4-compatible (deprecated) ::a.b.c.d
        ("::127.0.0.1", False),
        ("::169.254.169.254", False),
        ("::8.8.8.8", True),
        ("::ffff:0:a00:1", False),  # IPv4-translated (SIIT) of 10.0.0.1
        ("::ffff:0:808:808", True),
        ("::ffff:10.0.0.1", False),  # IPv4-mapped
        ("::ffff:8.8.8.8", True),
        ("2002:a00:1::", False),  # 6to4 of 10.0.0.1
        ("2002:808:808::1", True),  # 6to4 of 8.8.8.8
        ("2001:0:4136:e378:8000:63bf:f5ff:fffe", False),  # Teredo (client 10.0.0.1)
        ("2001:0:808:808:8000:63bf:f7f7:f7f7", False),  # Teredo of public ones: still a relay
    ],
)
def test_ipv6_with_an_embedded_ipv4_is_judged_by_it(ip: str, public: bool) -> None:
    assert is_public_address(ip) is public


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://user:pass@example.com/feed", "https://***@example.com/feed"),
        ("https://ghp_token@example.com/feed", "https://***@example.com/feed"),
        ("HTTP://u:p@h:8080/f?x=1", "HTTP://***@h:8080/f?x=1"),
        ("https://h/f?token=abc&x=1", "https://h/f?token=***&x=1"),
        ("https://h/f?x=1&API_KEY=abc", "https://h/f?x=1&API_KEY=***"),
        ("https://h/f?apikey=1&api-key=2&Key=3", "https://h/f?apikey=***&api-key=***&Key=***"),
        ("https://h/f?access_token=a&secret=b", "https://h/f?access_token=***&secret=***"),
        ("https://h/f?sig=a&signature=b&auth=c", "https://h/f?sig=***&signature=***&auth=***"),
        ("https://h/f?password=a&passwd=b", "https://h/f?password=***&passwd=***"),
        (
            "https://h/f?X-Amz-Signature=a&client_secret=b",
            "https://h/f?X-Amz-Signature=***&client_secret=***",
        ),
        ("https://h/f#access_token=abc", "https://h/f#access_token=***"),
        ("https://a:b@h/f?t%6Fken=abc", "https://***@h/f?t%6Fken=***"),
        # left alone, byte for byte
        (
            "https://example.com/feed.xml?author=xi&page=2",
            "https://example.com/feed.xml?author=xi&page=2",
        ),
        ("https://h/path@with-at?x=1", "https://h/path@with-at?x=1"),
        ("https://h/f?token=", "https://h/f?token="),
        ("https://EXAMPLE.com:443/a/../b?q=1#frag", "https://EXAMPLE.com:443/a/../b?q=1#frag"),
        ("not a url", "not a url"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_redact_text_finds_every_url_and_keeps_the_punctuation() -> None:
    text = "could not fetch https://a:b@h/x?key=1: failed (see http://h/?token=z)."
    assert redact_text(text) == (
        "could not fetch https://***@h/x?key=***: failed (see http://h/?token=***)."
    )


@given(st.text())
def test_redact_url_never_raises_and_is_idempotent(url: str) -> None:
    once = redact_url(url)
    assert redact_url(once) == once


@pytest.mark.parametrize(
    ("ip", "allow", "allowed"),
    [
        ("127.0.0.1", set(), False),
        ("127.0.0.1", {"127.0.0.1"}, True),
        ("127.0.0.2", {"127.0.0.1"}, False),
        ("127.0.0.2", {"127.0.0.0/8"}, True),
        ("10.9.8.7", {"10.0.0.0/8"}, True),
        ("10.9.8.7", {"10.0.0.0/24"}, False),
        ("192.168.1.5", {" 192.168.1.0/24 "}, True),
        ("::1", {"::1/128"}, True),
        ("::1", {"127.0.0.1"}, False),
        ("127.0.0.1", {"localhost"}, False),  # a name allows a host, not an address
        ("8.8.8.8", set(), True),
    ],
)
def test_is_allowed_address(ip: str, allow: set[str], allowed: bool) -> None:
    assert is_allowed_address(ip, frozenset(allow)) is allowed


@pytest.mark.parametrize(
    ("host", "allowed"),
    [("localhost", True), ("LOCALHOST.", True), ("[::1]", False), ("feeds.local", False)],
)
def test_is_allowed_host(host: str, allowed: bool) -> None:
    assert is_allowed_host(host, frozenset({"localhost", "10.0.0.0/8"})) is allowed


_hosts = st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,10}(\.[A-Za-z]{2,5}){1,2}", fullmatch=True)
_params = st.lists(
    st.tuples(
        st.sampled_from(["id", "page", "utm_source", "UTM_medium", "fbclid", "ref", "q", "x"]),
        st.from_regex(r"[A-Za-z0-9%+._-]{0,6}", fullmatch=True),
    ),
    max_size=6,
)


@given(
    scheme=st.sampled_from(["http", "HTTP", "https"]),
    host=_hosts,
    port=st.sampled_from(["", ":80", ":443", ":8080"]),
    path=st.from_regex(r"(/[A-Za-z0-9._~-]{0,8}){0,3}", fullmatch=True),
    params=_params,
    fragment=st.sampled_from(["", "#top", "#"]),
)
def test_canonical_url_is_idempotent_and_drops_only_trackers(
    scheme: str, host: str, port: str, path: str, params: list[tuple[str, str]], fragment: str
) -> None:
    query = "&".join(f"{k}={v}" for k, v in params)
    url = f"{scheme}://{host}{port}{path}{'?' + query if query else ''}{fragment}"
    once = canonical_url(url)
    assert canonical_url(once) == once
    assert is_http_url(once)
    assert "#" not in once
    kept = [f"{k}={v}" for k, v in params if not is_tracking_param(k)]
    assert once.partition("?")[2] == "&".join(kept)
