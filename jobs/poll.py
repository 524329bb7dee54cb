"""One poll cycle: claim due feeds, fetch them concurrently, store what is new, queue alerts.

Results are recorded as they arrive. A cycle given a `wait` returns after that long even if
a slow host is still timing out: its feeds stay leased (so later cycles skip them) and are
recorded by a background thread when their fetches end, each on its own back-off.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from deps import Deps
from jobs.catchup import fold_policy
from jobs.classify import classify_and_alert
from jobs.fetch import Fetched, FetchFailed, FetchRequest, FetchResult, NotModified
from models.feed import Feed, claim_due_feeds, credit_feed, get_by_url
from models.item import save_new
from models.outbox import CONSOLE_CHANNEL
from news.parse import parse_feed
from news.urls import redact_text, redact_url

logger = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(hours=24)
CLAIM_BATCH = 1000
LIGHT_BATCH = 100
LIGHT_LINGER = 0.2  # seconds a batch of 304s/failures waits for more before it is written
STOP_CHECK = 0.25  # seconds between looks at deps.stopping while waiting for fetches
STOP_GRACE = 3.0  # seconds a stopping process still waits for (and records) fetches in flight


@dataclass(frozen=True, slots=True)
class FeedOutcome:
    """What one feed's poll came to."""

    feed_id: int
    url: str
    status: str  # ok | not_modified | unchanged | failed | primed | gone
    new_items: int = 0
    alerts: int = 0
    error: str | None = None


Fetch = tuple[FetchRequest, FetchResult]
Progress = Callable[[FeedOutcome, int], None]  # called after each feed: (outcome, claimed)


@dataclass
class PollSummary:
    """Totals of one poll cycle."""

    ok: int = 0
    not_modified: int = 0
    failed: int = 0
    new_items: int = 0
    alerts: int = 0
    seconds: float = 0.0
    in_flight: int = 0  # fetches still running when the cycle returned (recorded later)
    outcomes: list[FeedOutcome] = field(default_factory=list)

    def add(self, outcome: FeedOutcome) -> None:
        """Count one feed's outcome."""
        self.outcomes.append(outcome)
        if outcome.status in ("not_modified", "unchanged"):
            self.not_modified += 1
        elif outcome.status == "failed":
            self.failed += 1
        elif outcome.status != "gone":
            self.ok += 1
        self.new_items += outcome.new_items
        self.alerts += outcome.alerts

    @property
    def feeds(self) -> int:
        """Feeds polled in this cycle."""
        return len(self.outcomes)


def poll_due_feeds(
    deps: Deps, progress: Progress | None = None, *, wait: float | None = None
) -> PollSummary:
    """Poll every feed that is due, until none is; `progress(outcome, claimed)` after each.

    With `wait` (seconds), return by then: fetches still running are recorded in the
    background when they end (counted in `in_flight`, not in this summary).
    """
    summary = PollSummary()
    started = time.perf_counter()
    deadline = None if wait is None else time.monotonic() + wait
    cycle = _Cycle(deps)
    seen: set[int] = set()
    while not deps.stopping.is_set():  # a stopping process claims no more feeds
        now = deps.clock()
        with deps.sessions.begin() as s:
            feeds = claim_due_feeds(s, now, deps.owner, CLAIM_BATCH, deps.settings.lease)
            requests = [
                FetchRequest(f.id, f.url, f.etag, f.last_modified)
                for f in feeds
                if f.id not in seen
            ]
        if not requests:
            break
        seen.update(r.feed_id for r in requests)
        cycle.submit(requests)
        if not cycle.drain(summary, progress, len(seen), deadline):
            break
    summary.in_flight = cycle.pending
    if cycle.pending:
        cycle.finish_in_background()
    summary.seconds = time.perf_counter() - started
    return summary


class _Cycle:
    """The fetches one cycle started, and the recording of their results as they arrive."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.pending = 0
        self._results: queue.SimpleQueue[tuple[FetchRequest, FetchResult]] = queue.SimpleQueue()

    def submit(self, requests: list[FetchRequest]) -> None:
        """Start fetching; a feed already being fetched (an earlier cycle's) is left to it."""
        taken = self.deps.fetcher.submit(requests, lambda r, res: self._results.put((r, res)))
        self.pending += len(taken)

    def drain(
        self,
        summary: PollSummary,
        progress: Progress | None,
        claimed: int,
        deadline: float | None,
    ) -> bool:
        """Record results until none is pending (True) or the deadline passed (False).

        A new body is stored at once; 304s and failures are written in batches of up to
        LIGHT_BATCH, or after LIGHT_LINGER seconds without another result.
        """
        light: list[tuple[FetchRequest, FetchResult]] = []
        linger_until: float | None = None  # when the waiting 304s and failures are written
        stop_by: float | None = None  # a stopping process waits this long for fetches in flight
        while self.pending:
            now = time.monotonic()
            if self.deps.stopping.is_set():
                # the fetch in flight finishes and is recorded (STOP_GRACE at most); what was
                # never fetched keeps its lease, released at exit for whoever is next
                stop_by = stop_by or now + STOP_GRACE
                if now >= stop_by:
                    break
            if light and linger_until is not None and now >= linger_until:
                _report(summary, _store(self.deps, light), progress, claimed)
                light, linger_until = [], None
                continue
            if deadline is not None and now >= deadline:
                break
            wait = STOP_CHECK  # wake up this often to notice a stop
            if deadline is not None:
                wait = min(wait, deadline - now)
            if stop_by is not None:
                wait = min(wait, stop_by - now)
            if linger_until is not None:
                wait = min(wait, linger_until - now)
            try:
                request, result = self._results.get(timeout=max(wait, 0.0))
            except queue.Empty:
                continue
            self.pending -= 1
            if isinstance(result, Fetched):
                _report(summary, _store(self.deps, [(request, result)]), progress, claimed)
                if stop_by is not None:
                    break
                continue
            light.append((request, result))
            linger_until = time.monotonic() + LIGHT_LINGER
            if stop_by is not None:
                break
            if len(light) >= LIGHT_BATCH:
                _report(summary, _store(self.deps, light), progress, claimed)
                light, linger_until = [], None
        if light:
            _report(summary, _store(self.deps, light), progress, claimed)
        return not self.pending

    def finish_in_background(self) -> threading.Thread:
        """Record the remaining results on a daemon thread as they arrive."""

        def finish() -> None:
            late = PollSummary()
            try:
                self.drain(late, None, 0, None)
            except Exception:
                logger.exception("recording late poll results failed")
                return
            logger.info(
                "late poll results: %d feeds, %d failed, %d new items, %d alerts",
                late.feeds,
                late.failed,
                late.new_items,
                late.alerts,
            )

        thread = threading.Thread(target=finish, name="poll-late", daemon=True)
        thread.start()
        return thread


def _store(deps: Deps, results: list[tuple[FetchRequest, FetchResult]]) -> list[FeedOutcome]:
    """Record results in one transaction; if that fails, one transaction per feed.

    304s and failures only update the feed row, so they are written in batches: one
    commit per feed would cost more than the whole poll of a few hundred unchanged feeds.
    """
    try:
        with deps.sessions.begin() as s, s.no_autoflush:
            # One SELECT for the batch (kept referenced: the identity map is weak), so
            # record_result's s.get() hits the map; no autoflush, so the feed updates go
            # out together at commit instead of one UPDATE per feed.
            ids = [req.feed_id for req, _ in results]
            loaded = s.scalars(select(Feed).where(Feed.id.in_(ids))).all()
            outcomes = [record_result(s, deps, req, res, deps.clock()) for req, res in results]
            del loaded
            return outcomes
    except Exception:
        if len(results) == 1:
            request = results[0][0]
            logger.exception("storing the poll of feed %s failed", redact_url(request.url))
            return [FeedOutcome(request.feed_id, request.url, "failed", error="store_error")]
    return [outcome for pair in results for outcome in _store(deps, [pair])]


def _report(
    summary: PollSummary,
    outcomes: list[FeedOutcome],
    progress: Progress | None,
    claimed: int,
) -> None:
    for outcome in outcomes:
        summary.add(outcome)
        if progress:
            progress(outcome, claimed)


def record_result(
    s: Session, deps: Deps, request: FetchRequest, result: FetchResult, now: datetime
) -> FeedOutcome:
    """Write one fetch result back: items, cache validators, health, next poll.

    Runs in the caller's transaction: one per feed with a new body, one per batch otherwise.
    """
    feed = s.get(Feed, request.feed_id)
    if feed is None:
        return FeedOutcome(request.feed_id, request.url, "gone")
    settings = deps.settings
    feed.last_polled_at = now
    feed.end_lease()
    if isinstance(result, FetchFailed):
        return _record_failure(feed, result, now, settings.poll_seconds, settings.max_failures)
    _follow_move(s, feed, result.moved_to)
    feed.etag = result.etag
    feed.last_modified = result.last_modified
    if isinstance(result, NotModified):
        return _record_ok(feed, now, settings.poll_seconds, "not_modified")
    return _record_body(s, deps, feed, result, now)


def _record_body(s: Session, deps: Deps, feed: Feed, result: Fetched, now: datetime) -> FeedOutcome:
    interval, max_failures = deps.settings.poll_seconds, deps.settings.max_failures
    digest = hashlib.sha256(result.body).hexdigest()
    if digest == feed.body_hash and feed.primed:
        return _record_ok(feed, now, interval, "unchanged")
    parsed = parse_feed(result.body, result.headers, result.final_url, now, deps.sources)
    if parsed.failed:
        reason = "not a feed: " + "; ".join(parsed.problems)[:300]
        return _record_failure(feed, FetchFailed(reason=reason), now, interval, max_failures)
    if parsed.problems:
        logger.info(
            "feed %s parsed with problems: %s",
            redact_url(feed.url),
            redact_text("; ".join(parsed.problems)),
        )
    if parsed.title and not feed.title:
        feed.title = parsed.title[:300]
    credit_feed(feed, deps.sources.feed_source(feed.url, feed.title))
    items = save_new(s, feed.id, feed.title or parsed.title or None, parsed.entries, now)
    first = not feed.primed
    also_to = (CONSOLE_CHANNEL,) if deps.console_alerts else ()
    limit = deps.settings.flood_items
    classified = classify_and_alert(
        s,
        items,
        deps.classifier,
        now,
        alert=not first,
        also_to=also_to,
        alert_limit=limit,
        sources=deps.sources,
        folding=fold_policy(deps.settings),
    )
    feed.primed = True
    feed.body_hash = digest
    if first and items:
        logger.info(
            "feed %s primed: %d existing items marked seen", redact_url(feed.url), len(items)
        )
    flooding_since = feed.too_active_since or now
    outcome = _record_ok(feed, now, interval, "primed" if first else "ok")
    if classified.relevant > limit:
        _flag_too_active(feed, classified.relevant, classified.held, limit, flooding_since)
    return replace(outcome, new_items=len(items), alerts=classified.alerts)


def _flag_too_active(feed: Feed, relevant: int, held: int, limit: int, since: datetime) -> None:
    """Mark a feed that flooded one poll; _record_ok clears it at a poll under the limit."""
    feed.too_active_since = since
    feed.too_active_count = relevant
    logger.warning(
        "feed %s is too active: %d new relevant items in one poll (limit %d); "
        "%d stored without alerts",
        redact_url(feed.url),
        relevant,
        limit,
        held,
    )


def _record_ok(feed: Feed, now: datetime, interval: int, status: str) -> FeedOutcome:
    feed.too_active_since = None  # set again by _flag_too_active if this poll flooded too
    feed.too_active_count = 0
    feed.consecutive_failures = 0
    feed.last_error = None
    feed.last_ok_at = now
    feed.next_poll_at = now + timedelta(seconds=interval)
    return FeedOutcome(feed.id, feed.url, status)


def _record_failure(
    feed: Feed, failure: FetchFailed, now: datetime, interval: int, max_failures: int
) -> FeedOutcome:
    feed.consecutive_failures += 1
    feed.last_error = failure.reason[:1000]
    backoff = min(
        timedelta(seconds=interval * 2 ** min(feed.consecutive_failures - 1, 16)), MAX_BACKOFF
    )
    if failure.retry_after:
        backoff = max(
            backoff, timedelta(seconds=min(failure.retry_after, MAX_BACKOFF.total_seconds()))
        )
    feed.next_poll_at = now + backoff
    if feed.consecutive_failures >= max_failures:
        feed.enabled = False
        logger.warning(
            "feed %s disabled after %d consecutive failures: %s",
            redact_url(feed.url),
            feed.consecutive_failures,
            failure.reason,
            extra={"feed_id": feed.id},
        )
    else:
        logger.warning(
            "feed %s failed (%d in a row, next try in %s): %s",
            redact_url(feed.url),
            feed.consecutive_failures,
            backoff,
            failure.reason,
            extra={"feed_id": feed.id},
        )
    return FeedOutcome(feed.id, feed.url, "failed", error=failure.reason)


def _follow_move(s: Session, feed: Feed, moved_to: str | None) -> None:
    if not moved_to or moved_to == feed.url:
        return
    if get_by_url(s, moved_to) is not None:
        logger.warning(
            "feed %s moved to %s, which is already a feed",
            redact_url(feed.url),
            redact_url(moved_to),
        )
        return
    logger.info("feed %s moved permanently to %s", redact_url(feed.url), redact_url(moved_to))
    feed.url = moved_to
