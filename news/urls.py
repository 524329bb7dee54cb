"""Pure URL helpers: http(s) checks, canonical form for dedup keys, the public-address rule."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable
from urllib.parse import SplitResult, unquote_plus, urlsplit

HTTP_SCHEMES = frozenset({"http", "https"})
DEFAULT_PORTS = {"http": 80, "https": 443}

# Query parameters that only track the reader; compared lower-case. Any "utm_*" goes too.
TRACKING_PARAMS = frozenset(
    {
        "__twitter_impression",
        "_ga",
        "_gl",
        "cmp",
        "cmpid",
        "dclid",
        "fbclid",
        "gbraid",
        "gclid",
        "gclsrc",
        "igshid",
        "intcmp",
        "mc_cid",
        "mc_eid",
        "mkt_tok",
        "msclkid",
        "ns_campaign",
        "ns_linkname",
        "ns_mchannel",
        "ns_source",
        "ocid",
        "ref",
        "ref_src",
        "ref_url",
        "s_cid",
        "smid",
        "smtyp",
        "ttclid",
        "twclid",
        "wbraid",
        "wt.mc_id",
        "yclid",
    }
)

_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _split(url: str) -> SplitResult | None:
    """urlsplit plus the checks it skips (port range, blanks in the host); None if invalid."""
    url = url.strip()
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in url):
        return None  # a NUL or newline inside a link: no browser would go there as written
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return None
    host = parts.hostname or ""
    if any(c.isspace() or ord(c) < 0x20 for c in host):
        return None
    return parts


def _http_parts(url: str) -> SplitResult | None:
    """The parts of an absolute http(s) URL with a host; None for anything else."""
    parts = _split(url) if isinstance(url, str) else None
    if parts is None or parts.scheme.lower() not in HTTP_SCHEMES or not parts.hostname:
        return None
    return parts


def is_http_url(url: str) -> bool:
    """True for an absolute http:// or https:// URL with a host."""
    return _http_parts(url) is not None


def is_tracking_param(name: str) -> bool:
    """True for a query parameter name that only tracks the reader (utm_*, fbclid, ...)."""
    key = unquote_plus(name).strip().lower()
    return key.startswith("utm_") or key in TRACKING_PARAMS


def canonical_url(url: str) -> str:
    """The form of an http(s) URL used for dedup keys; anything else comes back stripped.

    Lower-cases scheme and host, drops the default port, the fragment and tracking
    parameters, and keeps every other parameter, in order and encoded as it was.
    """
    parts = _http_parts(url)
    if parts is None:
        return url.strip()
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if ":" in host:
        host = f"[{host}]"
    netloc = host
    if parts.port is not None and parts.port != DEFAULT_PORTS[scheme]:
        netloc = f"{host}:{parts.port}"
    if parts.username is not None or parts.password is not None:
        userinfo = parts.netloc.rpartition("@")[0]
        netloc = f"{userinfo}@{netloc}"
    query = "&".join(
        pair
        for pair in parts.query.split("&")
        if pair and not is_tracking_param(pair.split("=")[0])
    )
    return SplitResult(scheme, netloc, parts.path or "/", query, "").geturl()


def _embedded_ipv4(addr: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address carried inside an IPv4-mapped, 6to4 or NAT64 IPv6 address."""
    if addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    if addr.sixtofour is not None:
        return addr.sixtofour
    if addr in _NAT64:
        return ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    return None


def is_public_address(ip: str) -> bool:
    """True if ip is a global unicast address: not private, loopback, link-local, etc.

    IPv6 forms that carry an IPv4 address (::ffff:10.0.0.1, 6to4, NAT64) are judged by it.
    """
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(addr)
        if embedded is not None:
            return is_public_address(str(embedded))
    return addr.is_global and not addr.is_multicast


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.lru_cache(maxsize=32)
def parse_allow_list(allow_hosts: frozenset[str]) -> tuple[frozenset[str], tuple[Network, ...]]:
    """Split an allow-list into host names and networks ("127.0.0.1" is a /32)."""
    names: set[str] = set()
    networks: list[Network] = []
    for entry in allow_hosts:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            names.add(normal_host(entry))
    return frozenset(names), tuple(networks)


def normal_host(host: str) -> str:
    """A host name as compared with the allow-list: lower case, no brackets or final dot."""
    return host.strip().strip("[]").rstrip(".").lower()


def is_allowed_host(host: str, allow_hosts: Iterable[str]) -> bool:
    """True if the host name itself is on the allow-list (every address it has is allowed)."""
    names, _ = parse_allow_list(frozenset(allow_hosts))
    return normal_host(host) in names


def is_allowed_address(ip: str, allow_hosts: Iterable[str] = frozenset()) -> bool:
    """True if a feed may be fetched from ip: it is public or inside an allowed network."""
    if is_public_address(ip):
        return True
    _, networks = parse_allow_list(frozenset(allow_hosts))
    try:
        addr = ipaddress.ip_address(ip.split("%")[0])
    except ValueError:
        return False
    return any(addr in net for net in networks)
