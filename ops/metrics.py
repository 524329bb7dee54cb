"""`Events`: the one place that counts what diplo does, as Prometheus metrics.

Jobs and edges report through `deps.events` (`poll_finished`, `fetch_finished`,
`item_classified`, `slack_call`); nothing else touches prometheus_client. Every label has
a bounded set of values: poll outcomes, topics from the rules file, Slack method names and
error codes, outbox states. No channel, feed URL or title ever becomes a label.

Each `Events` has its own registry, so tests and CLI commands can build as many as they like.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

_CODE = re.compile(r"[a-z][a-z0-9_.]{0,59}")
_METHOD = re.compile(r"[a-z][A-Za-z0-9_.]{0,59}")  # Slack methods: chat.postMessage
FETCH_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 60.0)
CLASSIFY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25)
CYCLE_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)

# (state, count, oldest created_at or None), read from the database at scrape time
OutboxRows = list[tuple[str, int, datetime | None]]


def code(value: str | None, default: str = "none") -> str:
    """A label value from a machine code: lower-case word characters, else `other`."""
    if not value:
        return default
    value = value.split(":", 1)[0].strip().lower()
    return value if _CODE.fullmatch(value) else "other"


class Events:
    """Counters and histograms of one diplo process, in its own registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.feed_polls = Counter(
            "diplo_feed_polls", "Feed polls by outcome.", ["outcome"], registry=r
        )
        self.fetch_seconds = Histogram(
            "diplo_feed_fetch_duration_seconds",
            "Time to fetch one feed (all redirects), failures included.",
            buckets=FETCH_BUCKETS,
            registry=r,
        )
        self.items_stored = Counter("diplo_items_stored", "New items stored.", registry=r)
        self.relevant = Counter(
            "diplo_relevant_items", "Items classified relevant, by topic.", ["topic"], registry=r
        )
        self.classify_seconds = Histogram(
            "diplo_classification_duration_seconds",
            "Time to classify one item.",
            buckets=CLASSIFY_BUCKETS,
            registry=r,
        )
        self.poll_cycle_seconds = Histogram(
            "diplo_poll_cycle_duration_seconds",
            "Time of one poll cycle that polled at least one feed.",
            buckets=CYCLE_BUCKETS,
            registry=r,
        )
        self.slack_calls = Counter(
            "diplo_slack_api_calls",
            "Slack Web API calls by method and error (none: ok).",
            ["method", "error"],
            registry=r,
        )
        self.slack_rate_limited = Counter(
            "diplo_slack_rate_limited",
            "Slack Web API answers 429 (rate limited), by method.",
            ["method"],
            registry=r,
        )

    def poll_finished(self, seconds: float, outcomes: Iterable[str], new_items: int) -> None:
        """One poll cycle: its duration, each feed's outcome, the items it stored."""
        polled = 0
        for outcome in outcomes:
            self.feed_polls.labels(code(outcome, "unknown")).inc()
            polled += 1
        if polled:
            self.poll_cycle_seconds.observe(seconds)
        if new_items:
            self.items_stored.inc(new_items)

    def fetch_finished(self, seconds: float) -> None:
        """One feed fetched (or failed to)."""
        self.fetch_seconds.observe(seconds)

    def item_classified(self, seconds: float, relevant: bool, topics: Iterable[str]) -> None:
        """One item classified; a relevant one counts once per topic (`none` without)."""
        self.classify_seconds.observe(seconds)
        if relevant:
            for topic in list(topics) or ["none"]:
                self.relevant.labels(code(topic)).inc()

    def slack_call(self, method: str, error: str | None, status: int | None = None) -> None:
        """One Slack Web API call; `error` is Slack's code (None when ok), 429s counted apart."""
        name = method if _METHOD.fullmatch(method) else "other"
        self.slack_calls.labels(name, code(error)).inc()
        if status == 429 or error == "ratelimited":
            self.slack_rate_limited.labels(name).inc()

    def watch_outbox(self, read: Callable[[], OutboxRows], ttl: float = 5.0) -> None:
        """Report outbox depth and oldest age by state, read by `read` at scrape time."""
        self.registry.register(OutboxCollector(read, ttl))


class OutboxCollector(Collector):
    """Outbox gauges from a cheap query, cached for `ttl` seconds; a slow read never blocks.

    The query runs on a worker thread; a scrape waits at most `wait` seconds for it and
    otherwise reports the last values it has (none at first).
    """

    def __init__(self, read: Callable[[], OutboxRows], ttl: float, wait: float = 1.0) -> None:
        self._read, self._ttl, self._wait = read, ttl, wait
        self._rows: OutboxRows = []
        self._read_at = float("-inf")
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None

    def _refresh(self) -> None:
        try:
            rows = self._read()
        except Exception:  # the database is down: keep the last values, /readyz says why
            return
        with self._lock:
            self._rows, self._read_at = rows, time.monotonic()

    def rows(self) -> OutboxRows:
        """The cached rows, refreshed when older than the ttl."""
        with self._lock:
            fresh = time.monotonic() - self._read_at < self._ttl
            worker = self._worker
            if not fresh and (worker is None or not worker.is_alive()):
                worker = self._worker = threading.Thread(
                    target=self._refresh, name="diplo-outbox-stats", daemon=True
                )
                worker.start()
        if not fresh and worker is not None:
            worker.join(self._wait)
        with self._lock:
            return list(self._rows)

    def collect(self) -> Iterator[Metric]:
        """The outbox gauges."""
        depth = GaugeMetricFamily(
            "diplo_outbox_alerts", "Alerts in the outbox by state.", labels=["state"]
        )
        age = GaugeMetricFamily(
            "diplo_outbox_oldest_age_seconds",
            "Age of the oldest alert in each unfinished state.",
            labels=["state"],
        )
        now = time.time()
        for state, count, oldest in self.rows():
            depth.add_metric([state], count)
            if oldest is not None:
                age.add_metric([state], max(now - oldest.timestamp(), 0.0))
        yield depth
        yield age

    def describe(self) -> Iterator[Metric]:
        """No description at registration (that would run the query)."""
        return iter(())
