"""Give new items their relevance verdict and queue alerts for the channels that want them."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from jobs.stories import StoryChange, assign_stories
from models.attribution import backfill_items
from models.channel import alerts_off_among
from models.db import serialize
from models.fold import FoldPolicy, before_story_ops
from models.item import Item
from models.outbox import enqueue, enqueue_story
from models.subscription import channels_for
from models.watch import watch_index
from news.relevance import Classifier, Verdict
from news.sources import SourceBook, default_sources
from news.watch import Watch, WatchIndex, item_text

logger = logging.getLogger(__name__)

DUPLICATE_WINDOW = timedelta(days=3)
# Held from the duplicate check to the commit (PostgreSQL): two replicas classifying the same
# headline, or items of one story, at once take turns, so the second sees the first's rows.
CLASSIFY_LOCK = "diplo:classify"
ALERTED_LABELS = ("relevant",)
NO_BUDGET = FoldPolicy(flood_budget=0)  # no `folding` given: only a channel's own budget
WATCHED_LABELS = ("relevant", "related")  # a watch-word alerts these even without a subscription


def apply_verdict(item: Item, verdict: Verdict) -> None:
    """Store the verdict on the item."""
    item.label = verdict.label
    item.score = round(verdict.score, 4)
    item.topics = ",".join(verdict.topics)
    item.reasons = json.dumps(list(verdict.reasons), ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class Classified:
    """What classifying one poll's new items came to."""

    alerts: int  # alert rows queued
    relevant: int  # new relevant items that are not duplicates (alerted or held)
    held: int  # relevant items past `alert_limit`: stored, not alerted


def classify_new_items(
    s: Session,
    items: Sequence[Item],
    classifier: Classifier,
    now: datetime,
    *,
    alert: bool,
    also_to: Sequence[str] = (),
    story_changes: list[StoryChange] | None = None,
    sources: SourceBook | None = None,
) -> int:
    """Classify freshly stored items; when `alert`, queue relevant ones; returns alerts queued."""
    return classify_and_alert(
        s,
        items,
        classifier,
        now,
        alert=alert,
        also_to=also_to,
        story_changes=story_changes,
        sources=sources,
    ).alerts


def classify_and_alert(
    s: Session,
    items: Sequence[Item],
    classifier: Classifier,
    now: datetime,
    *,
    alert: bool,
    also_to: Sequence[str] = (),
    alert_limit: int | None = None,
    story_changes: list[StoryChange] | None = None,
    sources: SourceBook | None = None,
    folding: FoldPolicy | None = None,
) -> Classified:
    """Classify freshly stored items; when `alert`, queue the first `alert_limit` relevant ones.

    Relevant items go into stories (jobs.stories, same transaction; the changes are
    appended to `story_changes` when given) and, as story ops, to the subscribed channels
    and `also_to` (console mode's channel): the story message where the story has none
    yet, else a thread reply (broadcast when the item advanced the stage) and an edit of
    the story message. Relevant and related items go as item alerts to the channels
    watching a phrase they contain (the alert records the phrase), unless a subscription
    already sends them there.

    The same headline already alerted from another feed in the last days is marked a
    duplicate of it and not alerted again. With `folding`, story posts past a channel's
    flood budget are folded into its "more stories" message (models.fold).
    """
    queued = fresh = held = 0
    policy = folding or NO_BUDGET
    index = watch_index(s) if alert and items else None
    locked = False
    relevant: list[tuple[Item, Verdict]] = []
    to_alert: dict[int, list[str]] = {}  # relevant item -> subscribed channels
    for item in items:
        verdict = classifier.classify(item.title, item.summary)
        apply_verdict(item, verdict)
        if verdict.relevant:
            relevant.append((item, verdict))
        watchers = watchers_of(index, item, verdict)
        if not (alert and (verdict.relevant or watchers)):
            continue
        if not locked:  # another replica's same headline: wait for its commit, then read
            serialize(s, CLASSIFY_LOCK)
            locked = True
        s.flush()  # the labels just set must be visible to the duplicate check
        earlier = s.scalar(
            select(Item.id)
            .where(
                Item.title_key == item.title_key,
                Item.id != item.id,
                Item.label.in_(ALERTED_LABELS if verdict.relevant else WATCHED_LABELS),
                Item.fetched_at >= now - DUPLICATE_WINDOW,
            )
            .order_by(Item.id)
            .limit(1)
        )
        if earlier is not None:
            item.duplicate_of = earlier
            logger.info("item %s repeats item %s; no second alert", item.id, earlier)
            continue
        fresh += 1
        if alert_limit is not None and fresh > alert_limit:
            held += 1
            continue
        channels = [*channels_for(s, verdict.topics), *also_to] if verdict.relevant else []
        if channels:
            to_alert[item.id] = channels
        extra = {c: w.phrase for c, w in watchers.items() if c not in channels}
        if extra:  # a channel with live alerts off gets its watch-words in the digest only
            off = alerts_off_among(s, extra)
            extra = {c: phrase for c, phrase in extra.items() if c not in off}
        queued += enqueue(s, item.id, extra, now, watch_phrases=extra)
    if relevant and not locked:
        serialize(s, CLASSIFY_LOCK)  # stories too: two replicas never open one story twice
    s.flush()
    changes = assign_stories(s, relevant, now, sources)
    if story_changes is not None:
        story_changes.extend(changes)
    for change in changes:
        wanted = to_alert.pop(change.item_id, None)
        if wanted:
            advanced = change.advanced and not change.new
            # the flood budget, and a folded story's next item (re-opens its message)
            wanted = before_story_ops(
                s, change.story_id, change.item_id, wanted, now, policy, urgent=change.urgent
            )
            queued += enqueue_story(
                s,
                change.story_id,
                change.item_id,
                wanted,
                now,
                advanced=advanced,
                urgent=change.urgent,
            )
    for item_id, wanted in to_alert.items():  # in no story (not expected): an item alert
        queued += enqueue(s, item_id, wanted, now)
    return Classified(queued, fresh, held)


def watchers_of(index: WatchIndex | None, item: Item, verdict: Verdict) -> dict[str, Watch]:
    """The channels whose watch-words a relevant or related item contains (and which word)."""
    if not index or verdict.label not in WATCHED_LABELS:
        return {}
    return index.match(item_text(item.title, item.summary), verdict.topics)


def recredit(item: Item, book: SourceBook) -> bool:
    """Credit a stored item again by the current sources file; True if its outlet changed.

    Only an outlet the book knows by the item's link or stored name replaces the stored one
    (the entry's <source> element is not kept, so an unknown outlet stays as it is).
    """
    found = book.reattribute(item.source, item.url)
    if found is None:
        return False
    values = (found.name[:300], found.kind, found.country or None, found.domain or None)
    if values == (item.source, item.source_kind, item.source_country, item.source_domain):
        return False
    item.source, item.source_kind, item.source_country, item.source_domain = values
    return True


def reclassify_all(
    sessions: sessionmaker[Session],
    classifier: Classifier,
    batch: int = 2000,
    sources: SourceBook | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Re-run the classifier over every stored item (no alerts); returns counts per label.

    `progress(n)` is called after each batch with the number of items it held.

    Relevant items not yet in a story are assigned to one ("stories": stories opened).
    Outlets are credited again with `sources` first ("sources": items whose outlet changed),
    so a sources file that learnt an outlet applies to stored items too.
    """
    book = sources or default_sources()
    counts: dict[str, int] = {
        "relevant": 0,
        "related": 0,
        "irrelevant": 0,
        "changed": 0,
        "stories": 0,
        "sources": 0,
    }
    with sessions.begin() as s:  # items stored without a source (an older replica's)
        counts["sources"] += backfill_items(s.connection(), book).items
    last_id = 0
    while True:
        with sessions.begin() as s:
            items = s.scalars(
                select(Item).where(Item.id > last_id).order_by(Item.id).limit(batch)
            ).all()
            if not items:
                return counts
            relevant: list[tuple[Item, Verdict]] = []
            for item in items:
                counts["sources"] += recredit(item, book)
                before = (item.label, item.topics)
                verdict = classifier.classify(item.title, item.summary)
                apply_verdict(item, verdict)
                counts[item.label or "irrelevant"] += 1
                counts["changed"] += (item.label, item.topics) != before
                if verdict.relevant:
                    relevant.append((item, verdict))
            s.flush()
            relevant.sort(key=lambda pair: (pair[0].published_at, pair[0].id))
            counts["stories"] = counts.get("stories", 0) + sum(
                change.new for change in assign_stories(s, relevant, datetime.now(UTC), book)
            )
            last_id = items[-1].id
        if progress is not None:
            progress(len(items))
