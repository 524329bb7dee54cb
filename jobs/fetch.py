"""The only HTTP to feeds: conditional GET with time, size, redirect and address limits.

`Fetcher.fetch` turns one feed URL into `Fetched`, `NotModified` or `FetchFailed` and never
raises for network or HTTP trouble; `Fetcher.submit` queues fetches on one long-lived, bounded
thread pool with per-host queues shared by every caller (so a poll cycle need not wait for a
slow host), and `Fetcher.fetch_many` runs a batch on it and yields results as they come.
Every connection goes through `_GuardedBackend`, which enforces the total deadline on each
socket read and checks the peer address of each new connection before a byte is sent.
"""

from __future__ import annotations

import base64
import dataclasses
import email.utils
import functools
import ipaddress
import logging
import queue
import socket
import ssl
import threading
import time
import typing
import zlib
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC

import httpcore
import httpx

from news.urls import (
    is_allowed_address,
    is_allowed_host,
    is_http_url,
    normal_host,
    redact_text,
    redact_url,
)

logger = logging.getLogger(__name__)

MAX_RETRY_AFTER = 24 * 3600.0
PERMANENT_REDIRECTS = frozenset({301, 308})
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.8"
)
# We decode bodies ourselves (bounded, see _Decoder), so we only ask for what we decode.
ACCEPT_ENCODING = "gzip, deflate"
_DECODED_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


@dataclass(frozen=True, slots=True)
class FetchConfig:
    """Limits for fetching feeds; the defaults suit a few thousand public feeds."""

    user_agent: str = "diplo/0.1 (+https://github.com/diplo-bot/diplo)"
    connect_timeout: float = 5.0
    total_timeout: float = 20.0  # whole request incl. redirects and body
    max_bytes: int = 5 * 1024 * 1024  # after decompression
    max_redirects: int = 5
    concurrency: int = 64  # fetch threads, shared by every submit/fetch_many
    per_host: int = 2  # concurrent requests per host, across every submit/fetch_many
    allow_hosts: frozenset[str] = frozenset()  # names, IPs or CIDRs exempt from the address guard


DEFAULT_CONFIG = FetchConfig()


@dataclass(frozen=True, slots=True)
class FetchRequest:
    """One feed to fetch, with the validators from its last successful fetch."""

    feed_id: int
    url: str
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True, slots=True)
class Fetched:
    """A 2xx response with a non-empty body (decoded, at most max_bytes)."""

    body: bytes
    headers: dict[str, str]  # lower-case names; content-location is the final URL
    final_url: str
    moved_to: str | None  # set when every redirect hop was permanent (301/308)
    etag: str | None
    last_modified: str | None
    elapsed: float


@dataclass(frozen=True, slots=True)
class NotModified:
    """A 304: the validators matched; etag/last_modified fall back to the request's."""

    moved_to: str | None
    etag: str | None
    last_modified: str | None


@dataclass(frozen=True, slots=True)
class FetchFailed:
    """Anything else; reason is short, stable and shown to users by /diplo status."""

    reason: str
    retry_after: float | None = None  # seconds, from Retry-After, capped at 24 h
    # 410 Gone, bad_url, blocked_address: retrying will not help. Informational only: the
    # poll backs off and disables the feed after DIPLO_MAX_FAILURES like any other failure.
    permanent: bool = False


FetchResult = Fetched | NotModified | FetchFailed
Done = Callable[[FetchRequest, FetchResult], None]  # called on a fetch thread per result


class BlockedAddress(Exception):
    """A URL resolves to, or a connection reached, an address that is not public."""

    def __init__(self, address: str) -> None:
        super().__init__(address)
        self.address = address


class FeedTooLarge(Exception):
    """The body is longer than FetchConfig.max_bytes (declared or decoded)."""


class UnsupportedEncoding(Exception):
    """The server used a Content-Encoding we did not ask for."""


def check_url(url: str, allow_hosts: frozenset[str] = frozenset()) -> None:
    """Raise BlockedAddress/ValueError unless url is http(s) and all its addresses are allowed.

    Allowed means global (news.urls.is_public_address) or on allow_hosts. The host is
    resolved with getaddrinfo, an IP literal is not; socket.gaierror propagates.
    """
    if not is_http_url(url):
        raise ValueError(f"not an http(s) URL: {url!r}")
    try:
        parsed = httpx.URL(url.strip())  # parse as the client will, not as urllib does
    except httpx.InvalidURL as exc:
        raise ValueError(f"invalid URL: {url!r}") from exc
    host = normal_host(parsed.host)
    if not host:
        raise ValueError(f"URL without a host: {url!r}")
    if is_allowed_host(host, allow_hosts):
        return
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses = [str(info[4][0]) for info in infos]
    for address in addresses:
        if not is_allowed_address(address, allow_hosts):
            raise BlockedAddress(address)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), 0..24 h."""
    if not value or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - (time.time() if now is None else now)
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


# --- the network backend: total deadline and peer check below httpx ------------------------

_deadline = threading.local()  # .at: time.monotonic() by which the current fetch must end


def _clamp(timeout: float | None, expired: type[Exception]) -> float | None:
    """Shorten a socket timeout to what is left of this thread's deadline; raise once it passed."""
    at: float | None = getattr(_deadline, "at", None)
    if at is None:
        return timeout
    left = at - time.monotonic()
    if left <= 0:
        raise expired("total timeout exceeded")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose every read and write ends by the fetch's deadline.

    httpx's timeouts apply per socket operation, so a server that trickles one byte a
    second (headers or body) would otherwise never time out.
    """

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _clamp(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _clamp(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        tls = self._stream.start_tls(
            ssl_context, server_hostname, _clamp(timeout, httpcore.ConnectTimeout)
        )
        return _DeadlineStream(tls)

    def get_extra_info(self, info: str) -> typing.Any:
        return self._stream.get_extra_info(info)


class _GuardedBackend(httpcore.SyncBackend):
    """Connects, then refuses a peer whose address is not public (DNS rebinding).

    check_url resolved the name a moment earlier, but the answer may have changed; this
    checks the address actually connected to, before the request is sent.
    """

    def __init__(self, allow_hosts: frozenset[str]) -> None:
        self._allow_hosts = allow_hosts

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        timeout = _clamp(timeout, httpcore.ConnectTimeout)
        stream = super().connect_tcp(host, port, timeout, local_address, socket_options)
        if not is_allowed_host(host, self._allow_hosts):
            peer = str(stream.get_extra_info("server_addr")[0])
            if not is_allowed_address(peer, self._allow_hosts):
                stream.close()
                raise BlockedAddress(peer)
        return _DeadlineStream(stream)


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """httpx's default verifying context, built once: loading the CA bundle takes ~50 ms."""
    return httpx.create_ssl_context()


class _GuardedTransport(httpx.HTTPTransport):
    """httpx's own transport over _GuardedBackend (httpx 0.28 has no public hook for it)."""

    def __init__(self, config: FetchConfig) -> None:
        ssl_context = _ssl_context()
        super().__init__(verify=ssl_context)
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=max(64, 2 * config.concurrency),
            max_keepalive_connections=config.concurrency,
            keepalive_expiry=5.0,
            network_backend=_GuardedBackend(config.allow_hosts),
        )


# --- bodies -------------------------------------------------------------------------------


class _Decoder:
    """Bounded Content-Encoding decoding: never inflates more than it is asked for.

    httpx's own decoders inflate a whole 64 KiB network chunk at once, which a gzip bomb
    turns into 60+ MB before any size check can run.
    """

    def __init__(self, content_encoding: str | None) -> None:
        codings = [c.strip() for c in (content_encoding or "").lower().split(",")]
        codings = [c for c in codings if c and c != "identity"]
        self._deflate = codings == ["deflate"]
        self._zlib: typing.Any = None
        if codings in (["gzip"], ["x-gzip"]):
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS | 16)
        elif self._deflate:
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS)
        elif codings:
            raise UnsupportedEncoding(", ".join(codings))
        self._started = False

    def decode(self, data: bytes, max_length: int) -> bytes:
        """At most max_length (>= 1) decoded bytes from data; more input is then ignored."""
        if self._zlib is None:
            return data[:max_length]
        if self._deflate and not self._started:
            self._started = True
            try:
                return bytes(self._zlib.decompress(data, max_length))
            except zlib.error:  # "deflate" sent without the zlib wrapper
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
        return bytes(self._zlib.decompress(data, max_length))

    def flush(self) -> bytes:
        return b"" if self._zlib is None else bytes(self._zlib.flush())


def _read_body(response: httpx.Response, max_bytes: int) -> bytes:
    """The decoded body, or FeedTooLarge as soon as it passes max_bytes."""
    declared = response.headers.get("content-length", "").strip()
    if declared.isdigit() and int(declared) > max_bytes:
        raise FeedTooLarge(f"content-length {declared}")
    decoder = _Decoder(response.headers.get("content-encoding"))
    body = bytearray()
    for chunk in response.iter_raw():
        body += decoder.decode(chunk, max_bytes - len(body) + 1)
        if len(body) > max_bytes:
            raise FeedTooLarge(f"more than {max_bytes} bytes")
    body += decoder.flush()
    if len(body) > max_bytes:
        raise FeedTooLarge(f"more than {max_bytes} bytes")
    return bytes(body)


def _tls_reason(exc: BaseException) -> str | None:
    """'tls_error: …' if an ssl.SSLError is anywhere in the exception's chain."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return f"tls_error: {seen.reason or seen}"
        seen = seen.__cause__ or seen.__context__
    return None


def _host_key(url: str) -> str:
    try:
        return normal_host(httpx.URL(url.strip()).host)
    except httpx.InvalidURL:
        return ""


# --- the fetcher --------------------------------------------------------------------------


class Fetcher:
    """Fetches feeds over one shared connection pool; safe to use from many threads.

    Requests go straight to an httpx transport rather than through httpx.Client: the
    client keeps cookies across feeds and, even with follow_redirects=False, parses every
    Location header and raises on odd ones, while we follow redirects ourselves.
    """

    def __init__(self, config: FetchConfig = DEFAULT_CONFIG) -> None:
        self.config = config
        self._transport = _GuardedTransport(config)
        self._headers = {
            "User-Agent": config.user_agent,
            "Accept": ACCEPT,
            "Accept-Encoding": ACCEPT_ENCODING,
        }
        self._lock = threading.Lock()
        self._queues: dict[str, deque[tuple[FetchRequest, Done]]] = {}
        self._active: Counter[str] = Counter()
        self._running = 0
        self._in_flight: set[int] = set()  # feed ids queued or being fetched
        self._pool: ThreadPoolExecutor | None = None
        self._closed = False

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Drop queued fetches, then close the connections (running fetches end with them)."""
        with self._lock:
            self._closed = True
            self._queues.clear()
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        self._transport.close()

    @property
    def in_flight(self) -> int:
        """Fetches queued or running."""
        with self._lock:
            return len(self._in_flight)

    def fetch(self, request: FetchRequest, *, log: bool = True) -> FetchResult:
        """Fetch one feed; network and HTTP problems come back as FetchFailed.

        A failure is logged as one warning unless `log` is False (fetch_many's callers
        record and log it themselves, with the feed's back-off: one line per failing feed).
        """
        started = time.monotonic()
        _deadline.at = started + self.config.total_timeout
        try:
            result = self._follow(request, started)
        except BlockedAddress as exc:
            result = FetchFailed(f"blocked_address: {exc.address}", permanent=True)
        except httpx.TimeoutException:
            result = FetchFailed("timeout")
        except FeedTooLarge:
            result = FetchFailed("too_large")
        except UnsupportedEncoding as exc:
            result = FetchFailed(f"unsupported_encoding: {exc}")
        except zlib.error:
            result = FetchFailed("decoding_error")
        except httpx.ConnectError as exc:
            result = FetchFailed(_tls_reason(exc) or f"connect_error: {exc}")
        except httpx.TransportError as exc:  # reset, closed early, broken HTTP
            result = FetchFailed(_tls_reason(exc) or f"network_error: {exc}")
        except socket.gaierror as exc:
            result = FetchFailed(f"dns_error: {exc.strerror}")
        finally:
            _deadline.at = None
        if isinstance(result, FetchFailed):  # stored and shown to users: no URL secrets
            result = dataclasses.replace(result, reason=redact_text(result.reason))
        if log and isinstance(result, FetchFailed):
            logger.warning(
                "feed %s: GET %s failed: %s",
                request.feed_id,
                redact_url(request.url),
                result.reason,
            )
        return result

    def _follow(self, request: FetchRequest, started: float) -> FetchResult:
        """GET the URL and follow up to max_redirects redirects, checking each target."""
        try:
            check_url(request.url, self.config.allow_hosts)
            url = httpx.URL(request.url.strip())
        except (ValueError, httpx.InvalidURL):
            return FetchFailed("bad_url", permanent=True)
        seen = {url}
        permanent = True
        headers = dict(self._headers)
        if request.etag:
            headers["If-None-Match"] = request.etag
        if request.last_modified:
            headers["If-Modified-Since"] = request.last_modified
        for hop in range(self.config.max_redirects + 1):
            response = self._send(url, headers, started)
            try:
                if not response.has_redirect_location:
                    moved_to = str(url) if hop and permanent else None
                    return self._result(request, response, moved_to, started)
                location = response.headers["location"]
                permanent = permanent and response.status_code in PERMANENT_REDIRECTS
            finally:
                response.close()
            try:
                url = url.join(location.strip()).copy_with(fragment=None)
                check_url(str(url), self.config.allow_hosts)
            except (ValueError, httpx.InvalidURL):
                return FetchFailed(f"bad_redirect: {location[:200]}")
            if url in seen:
                return FetchFailed("redirect_loop")
            seen.add(url)
        return FetchFailed("too_many_redirects")

    def _send(self, url: httpx.URL, headers: dict[str, str], started: float) -> httpx.Response:
        """One GET through the transport; the caller must close the streaming response."""
        left = started + self.config.total_timeout - time.monotonic()
        timeout = httpx.Timeout(
            self.config.total_timeout, connect=self.config.connect_timeout, pool=max(left, 0.001)
        )
        if url.username or url.password:  # https://user:password@host/feed: HTTP Basic
            pair = f"{url.username}:{url.password}".encode()
            headers = {**headers, "Authorization": "Basic " + base64.b64encode(pair).decode()}
        request = httpx.Request(
            "GET", url, headers=headers, extensions={"timeout": timeout.as_dict()}
        )
        response = self._transport.handle_request(request)
        response.request = request
        return response

    def _result(
        self,
        request: FetchRequest,
        response: httpx.Response,
        moved_to: str | None,
        started: float,
    ) -> FetchResult:
        status = response.status_code
        if status == 304:
            return NotModified(
                moved_to=moved_to,
                etag=response.headers.get("etag") or request.etag,
                last_modified=response.headers.get("last-modified") or request.last_modified,
            )
        if status == 410:
            return FetchFailed("http_410_gone", permanent=True)
        if not 200 <= status < 300:
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            return FetchFailed(f"http_{status}", retry_after=retry_after)
        body = _read_body(response, self.config.max_bytes)
        if not body.strip():
            return FetchFailed("empty_body")
        headers = {
            name.lower(): value
            for name, value in response.headers.items()
            if name.lower() not in _DECODED_HEADERS
        }
        headers["content-location"] = str(response.url)
        return Fetched(
            body=body,
            headers=headers,
            final_url=str(response.url),
            moved_to=moved_to,
            etag=response.headers.get("etag"),
            last_modified=response.headers.get("last-modified"),
            elapsed=time.monotonic() - started,
        )

    def submit(self, requests: Sequence[FetchRequest], done: Done) -> list[FetchRequest]:
        """Queue fetches; `done(request, result)` runs on a fetch thread as each one ends.

        Returns the requests taken: one for a feed already queued or being fetched (by any
        caller) is skipped. At most `concurrency` fetches run at once, `per_host` per host;
        the rest wait in per-host queues rather than in blocked threads, so one slow host
        with many feeds cannot occupy the pool, and a caller need not wait for it.
        """
        taken: list[FetchRequest] = []
        with self._lock:
            if self._closed:
                return taken
            for request in requests:
                if request.feed_id in self._in_flight:
                    continue
                self._in_flight.add(request.feed_id)
                self._queues.setdefault(_host_key(request.url), deque()).append((request, done))
                taken.append(request)
            self._start_queued()
        return taken

    def fetch_many(
        self, requests: Sequence[FetchRequest]
    ) -> Iterator[tuple[FetchRequest, FetchResult]]:
        """Fetch concurrently (see submit); yield each result as it completes.

        Failures are not logged here: the caller stores and logs them (one line per feed).
        """
        results: queue.SimpleQueue[tuple[FetchRequest, FetchResult]] = queue.SimpleQueue()
        taken = self.submit(requests, lambda request, result: results.put((request, result)))
        for _ in taken:
            yield results.get()

    def _start_queued(self) -> None:
        """Start queued fetches while threads and per-host slots are free (lock held)."""
        limit, per_host = max(1, self.config.concurrency), max(1, self.config.per_host)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=limit, thread_name_prefix="fetch")
        for host in list(self._queues):
            waiting = self._queues[host]
            while waiting and self._active[host] < per_host and self._running < limit:
                request, done = waiting.popleft()
                self._active[host] += 1
                self._running += 1
                self._pool.submit(self._run, request, host, done)
            if not waiting:
                del self._queues[host]

    def _run(self, request: FetchRequest, host: str, done: Done) -> None:
        result = self._fetch_isolated(request)
        with self._lock:
            self._active[host] -= 1
            self._running -= 1
            self._in_flight.discard(request.feed_id)
            if not self._closed:
                self._start_queued()
        try:
            done(request, result)
        except Exception:
            logger.exception("feed %s: handling the fetch result failed", request.feed_id)

    def _fetch_isolated(self, request: FetchRequest) -> FetchResult:
        """fetch, but a bug on one feed becomes its FetchFailed instead of ending the batch."""
        try:
            return self.fetch(request, log=False)
        except Exception as exc:
            logger.exception(
                "feed %s: fetching %s crashed", request.feed_id, redact_url(request.url)
            )
            return FetchFailed(f"internal_error: {type(exc).__name__}")
