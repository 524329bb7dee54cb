"""Benchmark one poll cycle: 1,000 feeds on 127.0.0.1 with 50 ms latency, 5% changed.

Run: `./dev bench poll` (or `.venv/bin/python benchmarks/poll.py --feeds 1000`).
Prints the wall time of one full poll cycle (after a priming cycle), of a naive loop of
`feedparser.parse(url)` over the same feeds, how many feed bodies were parsed, and peak
memory. The feed servers run in a separate process, bound to 50 loopback addresses
(127.0.0.2–127.0.0.51) so that the fetcher's per-host politeness applies as it would
across real publishers.
"""

from __future__ import annotations

import argparse
import io
import multiprocessing as mp
import resource
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import feedparser

from deps import Deps
from handlers.sender import ConsoleSender
from jobs.fetch import FetchConfig, Fetcher
from jobs.poll import poll_due_feeds
from models.db import make_engine, make_sessionmaker
from models.feed import add_feed
from models.migrate import upgrade
from news.relevance import default_classifier
from settings import Settings

HOSTS = [f"127.0.0.{i}" for i in range(2, 52)]
BASE = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def feed_body(feed: int, version: int, entries: int) -> bytes:
    items = []
    for i in range(entries + version):
        when = format_datetime(BASE - timedelta(minutes=i * 7 - version * 60))
        items.append(
            f"<item><title>Feed {feed} story {i} v{version}: markets, weather and more</title>"
            f"<link>https://pub{feed}.example/story/{feed}-{i}</link>"
            f"<guid isPermaLink='false'>f{feed}-{i}</guid><pubDate>{when}</pubDate>"
            f"<description>&lt;p&gt;Summary of story {i} in feed {feed}, with a few words "
            f"of &lt;b&gt;HTML&lt;/b&gt; as publishers send it.&lt;/p&gt;</description></item>"
        )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>Feed {feed}</title><link>https://pub{feed}.example/</link>{''.join(items)}"
        "</channel></rss>"
    ).encode()


def serve(conn: mp.connection.Connection, feeds: int, entries: int, latency: float) -> None:
    """Child process: serve /f<N>.xml on every host; 'bump' messages change 5% of feeds."""
    versions = dict.fromkeys(range(feeds), 0)
    bodies = {n: feed_body(n, 0, entries) for n in range(feeds)}
    counts = {"200": 0, "304": 0}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            time.sleep(latency)
            n = int(self.path.strip("/f.xml") or 0)
            etag = f'"{n}-{versions[n]}"'
            if self.headers.get("If-None-Match") == etag:
                with lock:
                    counts["304"] += 1
                self.send_response(304)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = bodies[n]
            with lock:
                counts["200"] += 1
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    servers = []
    for host in HOSTS:
        server = ThreadingHTTPServer((host, 0), Handler)
        server.daemon_threads = True
        server.request_queue_size = 1024
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    conn.send([s.server_address[1] for s in servers])
    while True:
        message = conn.recv()
        if message == "bump":
            changed = list(range(0, feeds, 20))  # 5%
            for n in changed:
                versions[n] += 1
                bodies[n] = feed_body(n, versions[n], entries)
            conn.send(len(changed))
        elif message == "counts":
            with lock:
                conn.send(dict(counts))
                counts.update({"200": 0, "304": 0})
        else:
            break


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--entries", type=int, default=20, help="entries per feed")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per response")
    parser.add_argument("--naive", type=int, default=None, help="feeds in the naive loop")
    args = parser.parse_args()

    parent, child = mp.Pipe()
    server = mp.Process(
        target=serve, args=(child, args.feeds, args.entries, args.latency), daemon=True
    )
    server.start()
    ports = parent.recv()
    urls = [
        f"http://{HOSTS[n % len(HOSTS)]}:{ports[n % len(HOSTS)]}/f{n}.xml"
        for n in range(args.feeds)
    ]

    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/bench.db")
        upgrade(engine)
        clock_now = [datetime.now(UTC)]
        settings = Settings(allow_hosts=frozenset({"127.0.0.0/8"}))
        fetcher = Fetcher(FetchConfig(allow_hosts=settings.allow_hosts))
        deps = Deps(
            settings=settings,
            sessions=make_sessionmaker(engine),
            fetcher=fetcher,
            classifier=default_classifier(),
            sender=ConsoleSender(stream=io.StringIO()),
            clock=lambda: clock_now[0],
        )
        with deps.sessions.begin() as s:
            for url in urls:
                add_feed(s, url, clock_now[0])
        started = time.perf_counter()
        prime = poll_due_feeds(deps)
        prime_s = time.perf_counter() - started
        parent.send("counts")
        parent.recv()
        parent.send("bump")
        changed = parent.recv()
        clock_now[0] += timedelta(seconds=settings.poll_seconds + 1)
        started = time.perf_counter()
        cycle = poll_due_feeds(deps)
        cycle_s = time.perf_counter() - started
        parent.send("counts")
        counts = parent.recv()
        cycle_peak = peak_mib()
        fetcher.close()
        engine.dispose()

    naive_n = args.naive or args.feeds
    started = time.perf_counter()
    for url in urls[:naive_n]:
        feedparser.parse(url)
    naive_s = (time.perf_counter() - started) * (args.feeds / naive_n)
    parent.send("stop")
    server.join(timeout=5)

    parsed = cycle.ok  # bodies parsed in the measured cycle (304s and unchanged bodies are not)
    print(
        f"feeds: {args.feeds} on {len(HOSTS)} loopback hosts, {args.entries} entries each, "
        f"{args.latency * 1000:.0f} ms latency; {changed} changed since the last poll"
    )
    print(f"priming cycle (every feed new):     {prime_s:7.2f} s  ({prime.new_items} items stored)")
    print(
        f"poll cycle (5% changed):            {cycle_s:7.2f} s  "
        f"(ok {cycle.ok}, not modified {cycle.not_modified}, failed {cycle.failed}, "
        f"new items {cycle.new_items})"
    )
    print(
        f"  server answers: {counts['200']} × 200, {counts['304']} × 304; "
        f"feed bodies parsed: {parsed}; "
        f"unchanged feeds parsed: {cycle.feeds - cycle.not_modified - changed}"
    )
    label = (
        "naive feedparser.parse(url) loop:"
        if naive_n == args.feeds
        else f"naive loop ({naive_n} feeds, scaled):"
    )
    print(f"{label:<36}{naive_s:7.2f} s")
    print(f"speed-up: {naive_s / cycle_s:5.1f}x")
    print(f"peak RSS during the poll cycles:    {cycle_peak:7.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
