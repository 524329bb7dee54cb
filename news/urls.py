"""Pure URL helpers: http(s) checks, canonical form for dedup keys, the public-address rule."""

from __future__ import annotations

import functools
import ipaddress
import re
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

_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052 well-known prefix
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215 local use, any RFC 6052 length
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated ::a.b.c.d (not :: or ::1)
_IPV4_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")  # SIIT ::ffff:0:a.b.c.d

# Query parameter names whose value is a secret (compared lower-case, without - _ .), and
# name endings that mark one (`client_secret`, `X-Amz-Signature`, `private_token`, ...).
SECRET_PARAMS = frozenset(
    {"key", "token", "secret", "sig", "signature", "password", "passwd", "pass", "pwd", "auth"}
    | {"authorization", "credential", "credentials", "session", "sessionid", "sid", "jwt"}
)
SECRET_PARAM_ENDINGS = ("key", "token", "secret", "signature", "password", "passwd", "credential")
REDACTED = "***"
_USERINFO = re.compile(r"^(\s*[A-Za-z][A-Za-z0-9+.-]*://)([^/?#]*)@")
_PARAM = re.compile(r"([?&;#])([^=&;#]*)=([^&;#]*)")
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s<>\"'`|]+")


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


def is_secret_param(name: str) -> bool:
    """True for a query parameter whose value looks like a credential (token, key, sig, ...)."""
    key = re.sub(r"[-_.\s]", "", unquote_plus(name)).lower()
    return key in SECRET_PARAMS or key.endswith(SECRET_PARAM_ENDINGS)


def redact_url(url: str) -> str:
    """The URL as shown to people and logs: user:password@ and secret parameters as ***.

    `https://u:p@host/f?token=abc&x=1` becomes `https://***@host/f?token=***&x=1`; anything
    else is kept byte for byte (no normalisation), so a URL without secrets is unchanged.
    """
    shown = _USERINFO.sub(rf"\1{REDACTED}@", url, count=1)
    cut = min((i for i in (shown.find("?"), shown.find("#")) if i >= 0), default=-1)
    if cut < 0:
        return shown

    def hide(match: re.Match[str]) -> str:
        sep, name, value = match.groups()
        return f"{sep}{name}={REDACTED}" if value and is_secret_param(name) else match.group(0)

    return shown[:cut] + _PARAM.sub(hide, shown[cut:])


def without_userinfo(url: str) -> str:
    """The URL without its `user:password@` (kept byte for byte otherwise)."""
    return _USERINFO.sub(r"\1", url, count=1)


def redact_text(text: str) -> str:
    """Free text (an error message, a log line) with every URL in it passed through redact_url."""

    def one(match: re.Match[str]) -> str:
        url = match.group(0)
        core = url.rstrip(".,:;)]}!")
        return redact_url(core) + url[len(core) :]

    return _URL_IN_TEXT.sub(one, text)


def _nat64_candidates(addr: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """Every IPv4 address an RFC 6052 local-use prefix (/48 ... /96) could embed in addr."""
    bits = int(addr)
    found = []
    for prefix in (48, 56, 64, 96):
        if prefix == 96:
            value = bits & 0xFFFFFFFF
        else:  # bits 64-71 (the "u" octet) are skipped
            octets = [(bits >> (120 - 8 * i)) & 0xFF for i in range(16)]
            start = prefix // 8
            v4 = [o for i, o in enumerate(octets[start:], start) if i != 8][:4]
            value = int.from_bytes(bytes(v4), "big")
        found.append(ipaddress.IPv4Address(value))
    return found


def _embedded_ipv4(addr: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address] | None:
    """The IPv4 address(es) an IPv6 address carries (mapped, compatible, 6to4, NAT64, Teredo)."""
    if addr.ipv4_mapped is not None:
        return [addr.ipv4_mapped]
    if addr.sixtofour is not None:
        return [addr.sixtofour]
    if addr.teredo is not None:
        return list(addr.teredo)  # server and client; 2001::/32 is not global anyway
    low = ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    if addr in _NAT64 or addr in _IPV4_TRANSLATED:
        return [low]
    if addr in _NAT64_LOCAL:
        return _nat64_candidates(addr)
    if addr in _IPV4_COMPATIBLE and int(addr) > 1:  # :: and ::1 are judged as themselves
        return [low]
    return None


def is_public_address(ip: str) -> bool:
    """True if ip is a global unicast address: not private, loopback, link-local, etc.

    IPv6 forms that carry an IPv4 address (::ffff:10.0.0.1, ::10.0.0.1, 6to4, NAT64 in
    64:ff9b::/96 and 64:ff9b:1::/48, Teredo) are judged by it: public only if every IPv4
    address they may carry is, and the IPv6 address itself is not otherwise special.
    """
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(addr)
        if embedded is not None:
            return all(is_public_address(str(v4)) for v4 in embedded) and (
                addr.teredo is None  # Teredo (2001::/32) relays: never a feed's own address
            )
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
