"""Give new items their relevance verdict and queue alerts for the channels that want them."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models.item import Item
from models.outbox import enqueue
from models.subscription import channels_for
from news.relevance import Classifier, Verdict

logger = logging.getLogger(__name__)

DUPLICATE_WINDOW = timedelta(days=3)


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
) -> int:
    """Classify freshly stored items; when `alert`, queue relevant ones; returns alerts queued."""
    return classify_and_alert(s, items, classifier, now, alert=alert, also_to=also_to).alerts


def classify_and_alert(
    s: Session,
    items: Sequence[Item],
    classifier: Classifier,
    now: datetime,
    *,
    alert: bool,
    also_to: Sequence[str] = (),
    alert_limit: int | None = None,
) -> Classified:
    """Classify freshly stored items; when `alert`, queue the first `alert_limit` relevant ones.

    Relevant items go to the subscribed channels and to `also_to` (console mode's channel).

    The same headline already alerted from another feed in the last days is marked a
    duplicate of it and not alerted again.
    """
    queued = relevant = held = 0
    for item in items:
        verdict = classifier.classify(item.title, item.summary)
        apply_verdict(item, verdict)
        if not (alert and verdict.relevant):
            continue
        s.flush()  # the labels just set must be visible to the duplicate check
        earlier = s.scalar(
            select(Item.id)
            .where(
                Item.title_key == item.title_key,
                Item.id != item.id,
                Item.label == "relevant",
                Item.fetched_at >= now - DUPLICATE_WINDOW,
            )
            .order_by(Item.id)
            .limit(1)
        )
        if earlier is not None:
            item.duplicate_of = earlier
            logger.info("item %s repeats item %s; no second alert", item.id, earlier)
            continue
        relevant += 1
        if alert_limit is not None and relevant > alert_limit:
            held += 1
            continue
        queued += enqueue(s, item.id, [*channels_for(s, verdict.topics), *also_to], now)
    s.flush()
    return Classified(queued, relevant, held)


def reclassify_all(
    sessions: sessionmaker[Session], classifier: Classifier, batch: int = 2000
) -> dict[str, int]:
    """Re-run the classifier over every stored item (no alerts); returns counts per label."""
    counts: dict[str, int] = {"relevant": 0, "related": 0, "irrelevant": 0, "changed": 0}
    last_id = 0
    while True:
        with sessions.begin() as s:
            items = s.scalars(
                select(Item).where(Item.id > last_id).order_by(Item.id).limit(batch)
            ).all()
            if not items:
                return counts
            for item in items:
                before = (item.label, item.topics)
                apply_verdict(item, classifier.classify(item.title, item.summary))
                counts[item.label or "irrelevant"] += 1
                counts["changed"] += (item.label, item.topics) != before
            last_id = items[-1].id
