"""What the read-only `/diplo` sub-commands show, as data: one function per sub-command.

`handlers.commands` renders these for Slack (`handlers.blocks`), `cli.reads` for a terminal
or as JSON, so `/diplo latest` and `python bot.py latest` answer from the same code. Each
function takes `deps` and plain, already-split arguments, opens its own read session, and
returns detached views (never ORM rows) or a typed refusal for input it cannot use.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC

from deps import Deps
from handlers.blocks import FailedAlertView, FeedView, StatusReport, SubscriptionView
from models.feed import Feed, all_feeds, last_poll
from models.feed import count_by_source_kind as feeds_by_kind
from models.item import ItemView, count_since, latest
from models.item import count_by_source_kind as items_by_kind
from models.outbox import failed_reasons, queue_by_op, status_counts
from models.search import RECENT_WINDOW, search
from models.story_view import StoryView, load_story, recent_stories
from models.subscription import ALL_TOPICS, Subscription, paused
from news.query import Query, QueryError, parse_query
from news.sources import KINDS

DEFAULT_LATEST = 5
MAX_LATEST = 20
MAX_SEARCH_RESULTS = 10
FAILED_SHOWN = 5  # alerts given up for good, listed by `status`


@dataclass(frozen=True, slots=True)
class UnknownTopic:
    """A topic that is not in the taxonomy, with the known ones."""

    topic: str
    known: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Latest:
    """`latest`: the newest stories, or, before any story exists, the newest relevant items."""

    topic: str | None
    stories: list[StoryView]
    items: list[ItemView]


@dataclass(frozen=True, slots=True)
class SearchRefused:
    """A search that cannot run; `reason` is one sentence for the user."""

    reason: str


@dataclass(frozen=True, slots=True)
class SearchResults:
    """`search`: the matches, newest first; `recent_window` set when only those were searched."""

    query: Query
    items: list[ItemView]
    recent_window: int | None


@dataclass(frozen=True, slots=True)
class SourcesReport:
    """`sources`: outlet names by kind (in display order), feeds and items per kind."""

    outlets: dict[str, list[str]]
    feeds: dict[str, int]
    items: dict[str, int]
    custom: bool  # read from DIPLO_SOURCES rather than news/sources.toml


def topics(deps: Deps) -> dict[str, str]:
    """The taxonomy: topic name → one-line description."""
    return dict(deps.classifier.topics)


def latest_news(deps: Deps, count: int, topic: str | None = None) -> Latest | UnknownTopic:
    """The `count` most recently active stories (optionally on `topic`; `all` means any)."""
    known = topics(deps)
    if topic is not None and topic != ALL_TOPICS and topic not in known:
        return UnknownTopic(topic, tuple(known))
    wanted = None if topic == ALL_TOPICS else topic
    with deps.sessions() as s:
        stories = recent_stories(s, count, wanted)
        items = [] if stories else [ItemView.of(i) for i in latest(s, count, wanted)]
    return Latest(wanted, stories, items)


def search_news(
    deps: Deps, text: str, limit: int = MAX_SEARCH_RESULTS
) -> SearchResults | SearchRefused:
    """Stored items matching the query text (`news.query` syntax), newest first."""
    try:
        query = parse_query(text, topics(deps))
    except QueryError as exc:
        return SearchRefused(str(exc))
    with deps.sessions() as s:
        result = search(s, query, limit)
        items = [ItemView.of(i) for i in result.items]
    return SearchResults(query, items, RECENT_WINDOW if result.recent_only else None)


def story(deps: Deps, number: int) -> StoryView | None:
    """Story `number` as it is now, or None when there is none."""
    with deps.sessions() as s:
        return load_story(s, number)


def subscription_view(sub: Subscription, paused_reason: str | None = None) -> SubscriptionView:
    """A subscription, detached from the session (`paused_reason`: its channel's pause)."""
    return SubscriptionView(sub.channel_id, sub.topic, paused_reason)


def feed_view(feed: Feed) -> FeedView:
    """A feed's health, detached from the session."""
    return FeedView(
        url=feed.url,
        title=feed.title,
        status=feed.status,
        last_error=feed.last_error,
        consecutive_failures=feed.consecutive_failures,
        last_polled_at=feed.last_polled_at,
        too_active_count=feed.too_active_count if feed.too_active_since else 0,
    )


def feed_views(deps: Deps) -> list[FeedView]:
    """Every feed and its health."""
    with deps.sessions() as s:
        return [feed_view(f) for f in all_feeds(s)]


def status_report(deps: Deps) -> StatusReport:
    """Feeds, last poll, items stored today (UTC), the alert queue, paused subscriptions."""
    midnight = deps.clock().astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    with deps.sessions() as s:
        return StatusReport(
            feeds=[feed_view(f) for f in all_feeds(s)],
            last_poll=last_poll(s),
            items_today=count_since(s, midnight),
            alerts=status_counts(s),
            paused=[subscription_view(sub, reason) for sub, reason in paused(s)],
            failed=[FailedAlertView(*row) for row in failed_reasons(s, FAILED_SHOWN)],
            queue=queue_by_op(s),
        )


def sources_report(deps: Deps) -> SourcesReport:
    """The outlets diplo recognises by kind, with the feeds and items of each kind.

    Kinds without outlets, feeds or items are left out.
    """
    outlets: dict[str, list[str]] = {kind: [] for kind in KINDS}
    for source in deps.sources.sources:
        outlets[source.kind].append(source.name)
    with deps.sessions() as s:
        feeds, items = feeds_by_kind(s), items_by_kind(s)
    shown = {k: v for k, v in outlets.items() if v or feeds.get(k) or items.get(k)}
    return SourcesReport(shown, feeds, items, deps.settings.sources_file is not None)
