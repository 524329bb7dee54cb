"""`/diplo why <url>`: what diplo stored about an item, and why it was (not) alerted here."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from models.channel import alerts_on, paused_reasons
from models.feed import Feed
from models.item import Item, ItemView
from models.outbox import Alert
from models.subscription import ALL_TOPICS, Subscription
from models.watch import WatchWord
from news.urls import canonical_url
from news.watch import Watch, WatchIndex, item_text

# Why an item was not alerted to the channel, most specific first (rendered by handlers.blocks).
NOT_CLASSIFIED = "not_classified"
IRRELEVANT = "irrelevant"
DUPLICATE = "duplicate"
RELATED_ONLY = "related_only"
NOT_SUBSCRIBED = "not_subscribed"
PAUSED = "paused"
SUBSCRIBED_LATER = "subscribed_later"
FIRST_POLL = "first_poll"
TOO_ACTIVE = "too_active"
ALERTS_OFF = "alerts_off"  # `/diplo alerts off`: the channel gets digests only
UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Why:
    """Everything `/diplo why` shows about one item for one channel."""

    item: ItemView
    feed_url: str | None
    feed_title: str | None
    fetched_at: datetime
    alert_status: str | None  # the outbox status of its alert to this channel, if any
    alert_sent_at: datetime | None
    alert_error: str | None
    watch_phrase: str | None  # the watch-word that brought it here, or that matches it now
    not_alerted: str | None  # one of the codes above when there is no alert for this channel
    duplicate_of: ItemView | None
    channel_topics: tuple[str, ...]  # the channel's subscriptions


def find_item(s: Session, url: str) -> Item | None:
    """The stored item with this link, compared in canonical form (as the dedup key does).

    An item keyed by its link (or by a guid that is its link) is found through the unique
    dedup key; one keyed by another guid through its stored (canonical) link.
    """
    canonical = canonical_url(url)
    key = hashlib.sha256(("url:" + canonical).encode("utf-8", "surrogatepass")).hexdigest()
    return s.scalars(
        select(Item)
        .where(or_(Item.dedup_key == key, Item.url == canonical))
        .order_by(Item.id)
        .limit(1)
    ).first()


def explain(s: Session, url: str, channel_id: str) -> Why | None:
    """What diplo knows about the item at `url`, for `channel_id`; None if never seen."""
    item = find_item(s, url)
    if item is None:
        return None
    feed = s.get(Feed, item.feed_id) if item.feed_id is not None else None
    alert = s.scalars(
        select(Alert).where(Alert.item_id == item.id, Alert.channel_id == channel_id)
    ).first()
    subs = list(s.scalars(select(Subscription).where(Subscription.channel_id == channel_id)))
    watch, watched_since = None, None
    if alert is None:
        rows = list(s.scalars(select(WatchWord).where(WatchWord.channel_id == channel_id)))
        index = WatchIndex(Watch(channel_id, r.phrase, r.normalized, r.topic or None) for r in rows)
        found = index.match(item_text(item.title, item.summary), item.topic_list)
        if channel_id in found:
            hit = found[channel_id]
            watch = hit.phrase
            watched_since = min(
                r.created_at
                for r in rows
                if (r.normalized, r.topic or None) == (hit.normalized, hit.topic)
            )
    earlier = s.get(Item, item.duplicate_of) if item.duplicate_of is not None else None
    return Why(
        item=ItemView.of(item),
        feed_url=feed.url if feed else None,
        feed_title=feed.title if feed else None,
        fetched_at=item.fetched_at,
        alert_status=alert.status if alert else None,
        alert_sent_at=alert.sent_at if alert else None,
        alert_error=alert.last_error if alert else None,
        watch_phrase=alert.watch_phrase if alert else watch,
        not_alerted=None
        if alert
        else _not_alerted(s, item, feed, subs, watch, watched_since, channel_id),
        duplicate_of=ItemView.of(earlier) if earlier else None,
        channel_topics=tuple(sub.topic for sub in subs),
    )


def _not_alerted(
    s: Session,
    item: Item,
    feed: Feed | None,
    subs: list[Subscription],
    watch: str | None,
    watched_since: datetime | None,
    channel_id: str,
) -> str:
    """The most likely reason the item has no alert for this channel."""
    if item.label is None:
        return NOT_CLASSIFIED
    if item.label not in ("relevant", "related"):
        return IRRELEVANT
    if item.duplicate_of is not None:
        return DUPLICATE
    covering = [s_ for s_ in subs if s_.topic == ALL_TOPICS or s_.topic in item.topic_list]
    if item.label == "related" and watch is None:
        return RELATED_ONLY
    if item.label == "relevant" and not covering and watch is None:
        return NOT_SUBSCRIBED
    if covering and watch is None and paused_reasons(s, [channel_id]):
        return PAUSED
    if channel_id and not alerts_on(s, channel_id):
        return ALERTS_OFF
    flooded = feed.too_active_since if feed is not None else None
    if flooded is not None and item.fetched_at >= flooded:
        return TOO_ACTIVE
    if item.feed_id is not None:
        first = s.scalar(select(func.min(Item.fetched_at)).where(Item.feed_id == item.feed_id))
        if first is not None and item.fetched_at <= first:
            return FIRST_POLL
    wanted_since = [sub.created_at for sub in covering if item.label == "relevant"]
    if watched_since is not None:
        wanted_since.append(watched_since)
    if wanted_since and min(wanted_since) > item.fetched_at:
        return SUBSCRIBED_LATER
    return UNKNOWN
