"""One poll cycle: claim due feeds, fetch them concurrently, store what is new, queue alerts."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from deps import Deps
from jobs.classify import classify_new_items
from jobs.fetch import Fetched, FetchFailed, FetchRequest, FetchResult, NotModified
from models.feed import Feed, claim_due_feeds, get_by_url
from models.item import save_new
from models.outbox import CONSOLE_CHANNEL
from news.parse import parse_feed

logger = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(hours=24)
CLAIM_BATCH = 1000
LIGHT_BATCH = 100


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


def poll_due_feeds(deps: Deps, progress: Progress | None = None) -> PollSummary:
    """Poll every feed that is due, until none is; `progress(outcome, claimed)` after each."""
    summary = PollSummary()
    started = time.perf_counter()
    seen: set[int] = set()
    while not deps.stopping.is_set():  # a stopping process claims no more feeds
        now = deps.clock()
        with deps.sessions.begin() as s:
            feeds = claim_due_feeds(s, now, deps.owner, CLAIM_BATCH)
            requests = [
                FetchRequest(f.id, f.url, f.etag, f.last_modified)
                for f in feeds
                if f.id not in seen
            ]
        if not requests:
            break
        seen.update(r.feed_id for r in requests)
        light: list[tuple[FetchRequest, FetchResult]] = []
        for request, result in _until_stopping(deps, deps.fetcher.fetch_many(requests)):
            if isinstance(result, Fetched):
                outcomes = _store(deps, [(request, result)])
            else:
                light.append((request, result))
                if len(light) < LIGHT_BATCH:
                    continue
                outcomes, light = _store(deps, light), []
            _report(summary, outcomes, progress, len(seen))
        if light:
            _report(summary, _store(deps, light), progress, len(seen))
    summary.seconds = time.perf_counter() - started
    return summary


def _until_stopping(deps: Deps, results: Iterator[Fetch]) -> Iterator[Fetch]:
    """The results, until the process is stopping: fetches in flight finish, no new ones start.

    The feeds left unfetched keep their lease until bot.py releases them at exit.
    """
    try:
        for pair in results:
            yield pair
            if deps.stopping.is_set():
                return
    finally:
        if isinstance(results, Generator):
            results.close()  # fetch_many waits for its fetches in flight


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
            logger.exception("storing the poll of feed %s failed", request.url)
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
    feed.lease_owner = None
    feed.lease_until = None
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
    parsed = parse_feed(result.body, result.headers, result.final_url, now)
    if parsed.failed:
        reason = "not a feed: " + "; ".join(parsed.problems)[:300]
        return _record_failure(feed, FetchFailed(reason=reason), now, interval, max_failures)
    if parsed.problems:
        logger.info("feed %s parsed with problems: %s", feed.url, "; ".join(parsed.problems))
    if parsed.title and not feed.title:
        feed.title = parsed.title[:300]
    items = save_new(s, feed.id, feed.title or parsed.title or None, parsed.entries, now)
    first = not feed.primed
    also_to = (CONSOLE_CHANNEL,) if deps.console_alerts else ()
    alerts = classify_new_items(s, items, deps.classifier, now, alert=not first, also_to=also_to)
    feed.primed = True
    feed.body_hash = digest
    if first and items:
        logger.info("feed %s primed: %d existing items marked seen", feed.url, len(items))
    outcome = _record_ok(feed, now, interval, "primed" if first else "ok")
    return replace(outcome, new_items=len(items), alerts=alerts)


def _record_ok(feed: Feed, now: datetime, interval: int, status: str) -> FeedOutcome:
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
            feed.url,
            feed.consecutive_failures,
            failure.reason,
            extra={"feed_id": feed.id},
        )
    else:
        logger.warning(
            "feed %s failed (%d in a row, next try in %s): %s",
            feed.url,
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
        logger.warning("feed %s moved to %s, which is already a feed", feed.url, moved_to)
        return
    logger.info("feed %s moved permanently to %s", feed.url, moved_to)
    feed.url = moved_to
