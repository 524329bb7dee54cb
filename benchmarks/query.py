"""Benchmark the read commands at a million stored items, on SQLite and PostgreSQL.

Run: `./dev bench query` (or `.venv/bin/python benchmarks/query.py --items 1000000`).
Seeds `--items` items (10% relevant, about 5% Chinese, spread over 3 years, 40 feeds and
sources, every topic) through the project's own tables (`models.Item.__table__`, executemany
in batches, the migrations' FTS triggers firing). The relevant items are the reports of
stories (about 4 each, some official readouts; a few hundred contacts still planned ahead of
NOW, dated or not): the `stories` rows are the real clustering fold's (news.cluster, then
`Story.take`), with their `story_people` and `story_topics`, one `contacts` row per item, and
the delivered story ops of one channel subscribed to every topic (story message, thread
replies, edits), as jobs.stories and models.outbox.enqueue_story would have left them.
Then it sends each read command `--rounds` times as a signed slash-command request through
the real Bolt App (`app.dispatch`, the same path as HTTP mode; Socket Mode hands the same
request to the same dispatch) and times it from the request to the reply arriving at the
fake Slack's response_url. `story <id>` asks for the latest story with 5+ items. Prints
p50/p95 per command and database, what was seeded, the seeding time and the database size
per million items. PostgreSQL runs on a fresh database of DIPLO_TEST_POSTGRES_URL's server
(skipped, saying why, when none answers). Target: p95 <= 100 ms for every command.
"""

from __future__ import annotations

import argparse
import calendar
import json
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Engine, create_engine, func, insert, select, text, true

from deps import Deps
from handlers.sender import ConsoleSender
from jobs.fetch import FetchConfig, Fetcher
from jobs.stories import TOOK_PLACE
from models.db import make_engine, make_sessionmaker
from models.feed import Feed
from models.item import Item
from models.migrate import upgrade
from models.outbox import POST, REPLY, SENT, UPDATE, Alert
from models.story import Contact, Story, StoryPerson, StoryTopic
from models.subscription import Subscription
from news.cluster import WHEN_SLACK, Features, StoryState, add_item, open_story, story_key, trigrams
from news.contact import Kind, Stage
from news.dates import When, local_day
from news.relevance import default_classifier
from news.sources import default_sources
from settings import Settings
from tests.fakes.slack_server import FakeSlack
from tests.slackbot import Bot, make_bot, slash_form

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
YEARS = 3
TARGET_MS = 100.0
POSTGRES_URL = os.environ.get(
    "DIPLO_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)

# name -> command text; `story <id>` is added with a seeded story's id (story_case)
CASES: list[tuple[str, str]] = [
    ("latest", "latest"),
    ("latest 5 <topic>", "latest 5 fentanyl"),
    ("search <word>", "search tariffs"),
    ('search "phrase" topic:trade', 'search "trade deal" topic:trade'),
    ("search 习近平 釜山", "search 习近平 釜山"),
    ("status", "status"),
    ("upcoming", "upcoming"),
]

# --- realistic items ------------------------------------------------------------------------

US = ["Trump", "Biden", "Rubio", "Bessent", "Greer", "US President", "Washington", "Blinken"]
CN = ["Xi Jinping", "Xi", "Li Qiang", "Wang Yi", "He Lifeng", "Beijing", "Chinese leader"]
MEET = ["hold talks", "speak by phone", "meet", "agree to meet", "discuss", "hold a call"]
PLACES = ["Busan", "Gyeongju", "Lima", "Geneva", "Kuala Lumpur", "Madrid", "Stockholm", "London"]
TOPIC_PHRASES = {
    "trade": ["a trade deal", "tariffs", "soybean purchases", "a tariff truce"],
    "tech": ["chip export controls", "rare earths", "AI chips"],
    "fentanyl": ["fentanyl", "precursor chemicals"],
    "taiwan": ["Taiwan", "arms sales to Taiwan"],
    "security": ["military channels", "the South China Sea"],
    "climate": ["climate cooperation"],
    "ukraine": ["the war in Ukraine"],
}
EVENT_TOPICS = ["summit", "call", "visit"]
CITIES = ["Leeds", "Denver", "Osaka", "Lyon", "Perth", "Austin", "Porto", "Graz", "Malmo", "Cork"]
THINGS = ["budget", "stadium", "bridge", "school plan", "bus fares", "housing scheme", "park"]
SPORTS = ["football", "rugby", "cricket", "tennis", "basketball", "cycling"]
MARKET = ["Stocks rise", "Oil slips", "Bonds rally", "Gold steadies", "The yen weakens"]
CN_PLACES = ["釜山", "北京", "华盛顿", "吉隆坡", "日内瓦", "庆州"]
CN_TOPICS = ["经贸", "关税", "芬太尼", "出口管制", "台湾问题"]
CN_CITIES = ["杭州", "成都", "武汉", "西安", "南京", "重庆"]
CN_THINGS = ["地铁新线", "文化节", "高温预警", "楼市新政", "马拉松", "春运"]
FEEDS = 40
_SYLLABLES = ["ka", "ro", "mi", "ten", "vor", "lis", "dan", "pe", "qua", "zur", "bel", "ost"]


def _rare(rng: random.Random) -> str:
    """A made-up word, so the text has a realistic spread of rare trigrams."""
    return "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4)))


def make_item(rng: random.Random) -> tuple[str, str, str, str]:
    """(title, summary, label, topics) of one plausible item: 10% relevant, ~5% Chinese."""
    chinese = rng.random() < 0.05
    roll = rng.random()
    if roll < 0.10:
        event = rng.choice(EVENT_TOPICS)
        topic = rng.choice(list(TOPIC_PHRASES))
        if chinese:
            place = rng.choice(CN_PLACES)
            title = f"习近平与特朗普在{place}举行会晤 讨论{rng.choice(CN_TOPICS)}"
            summary = (
                f"国家主席习近平{place}会见美国总统特朗普，"
                f"双方就中美关系和{rng.choice(CN_TOPICS)}交换意见。"
            )
        else:
            phrase = rng.choice(TOPIC_PHRASES[topic])
            title = (
                f"{rng.choice(US)} and {rng.choice(CN)} {rng.choice(MEET)} on {phrase} "
                f"in {rng.choice(PLACES)}"
            )
            summary = (
                f"The leaders were expected to {rng.choice(MEET)} about {phrase} and "
                f"{rng.choice(TOPIC_PHRASES[rng.choice(list(TOPIC_PHRASES))])}, officials said; "
                f"{_rare(rng)} {_rare(rng)}."
            )
        return title, summary, "relevant", f"{event},{topic}"
    if roll < 0.20:
        topic = rng.choice(list(TOPIC_PHRASES))
        phrase = rng.choice(TOPIC_PHRASES[topic])
        if chinese:
            title = f"美方宣布{rng.choice(CN_TOPICS)}新措施 中方回应"
            summary = f"外交部发言人表示，中方将采取必要措施维护自身权益。{rng.choice(CN_CITIES)}"
        else:
            reply = rng.choice(["responds", "objects", "warns"])
            title = f"US weighs new steps on {phrase} as China {reply}"
            city = rng.choice(CITIES)
            summary = f"Analysts in {city} said {phrase} would weigh on {_rare(rng)} exporters."
        return title, summary, "related", topic
    if chinese:
        city, thing = rng.choice(CN_CITIES), rng.choice(CN_THINGS)
        title = f"{city}{thing}{rng.choice(['启动', '发布', '迎来高峰'])}"
        summary = f"记者从{rng.choice(CN_CITIES)}获悉，{rng.choice(CN_THINGS)}相关工作进展顺利。"
    else:
        kind = rng.randrange(3)
        if kind == 0:
            title = f"{rng.choice(CITIES)} council approves {rng.choice(THINGS)} after long debate"
        elif kind == 1:
            home, sport = rng.choice(CITIES), rng.choice(SPORTS)
            title = f"{home} win the {sport} final against {rng.choice(CITIES)}"
        else:
            market, name = rng.choice(MARKET), _rare(rng)
            title = f"{market} as {name} shares {rng.choice(['jump', 'fall', 'drift'])}"
        summary = (
            f"Residents of {rng.choice(CITIES)} and {_rare(rng)} reacted to the news on "
            f"{_rare(rng)} {_rare(rng)}, the {rng.choice(THINGS)} and the weather."
        )
    return title, summary, "irrelevant", ""


# --- stories, contacts and story ops ----------------------------------------------------------

# (shown, people key) per side; venues: (shown, place key, region, Chinese name)
US_PEOPLE = [("Trump", "trump"), ("Biden", "biden"), ("Rubio", "rubio"), ("Bessent", "bessent")]
US_PEOPLE += [("Greer", "greer"), ("Blinken", "blinken")]
CN_PEOPLE = [("Xi Jinping", "xi"), ("Li Qiang", "li-qiang"), ("Wang Yi", "wang-yi")]
CN_PEOPLE += [("He Lifeng", "he-lifeng")]
VENUES = [
    ("Busan", "busan", "korea", "釜山"),
    ("Gyeongju", "gyeongju", "korea", "庆州"),
    ("Lima", "lima", "peru", "利马"),
    ("Geneva", "geneva", "switzerland", "日内瓦"),
    ("Kuala Lumpur", "kuala-lumpur", "malaysia", "吉隆坡"),
    ("Madrid", "madrid", "spain", "马德里"),
    ("Stockholm", "stockholm", "sweden", "斯德哥尔摩"),
    ("London", "london", "uk", "伦敦"),
]
CAPITALS = [
    ("Beijing", "beijing", "beijing", "北京"),
    ("Washington", "washington", "washington", "华盛顿"),
]
KIND_WEIGHTS = {"call": 0.3, "meeting": 0.35, "talks": 0.2, "visit": 0.15}
KIND_EVENT = {"call": "call", "meeting": "summit", "talks": "summit", "visit": "visit"}
KIND_NOUN = {"call": "phone call", "meeting": "summit", "talks": "talks", "visit": "visit"}
KIND_VERB = {"call": "speak by phone", "meeting": "meet", "talks": "hold talks", "visit": "meet"}
NEW_STORY = 0.25  # a relevant item opens a story (else joins an open one): ~4 items per story
DATED = 0.6  # stories whose first report names the day
PLANNED_ONLY = 0.3  # undated stories that never get past "planned" (talks floated, not held)
POSTPONED = 0.03
JOIN_AMONG = 8  # an item joins one of the most recently opened stories still open …
HAPPENING = 0.5  # … or, this often, one whose scheduled day is today (or just past)
OFFICIAL_READOUT = 0.3  # readout items that come from a side's own office
OFFICIAL = {"us": ("White House", "official-us"), "china": ("MFA", "official-china")}
CHANNEL = "C1"


@dataclass
class StoryPlan:
    """One story as the seed builds it: who, where, when, and its clustering state so far."""

    kind: Kind
    us: tuple[str, str]
    china: tuple[str, str]
    venue: tuple[str, str, str, str] | None
    topic: str
    when: When | None
    planned_only: bool
    postponed: bool
    closes: date  # items after this day open a new story
    state: StoryState | None = None
    first_seen: datetime = NOW
    last_seen: datetime = NOW
    outlets: set[str] = field(default_factory=set)
    readout: set[str] = field(default_factory=set)  # sides whose office gave a readout


@dataclass
class StoryItem:
    """A relevant item's place in its story: its contact record and its story op."""

    key: str  # the item's dedup_key (its id once stored)
    story: int  # index into StoryBook.plans
    stage: Stage
    features: Features
    side: str | None
    source: str
    source_kind: str
    created_at: datetime
    new: bool
    advanced: bool
    urgent: str | None
    item_id: int = 0


class StoryBook:
    """Assigns relevant items to stories while items are made, as jobs.stories would.

    The story rows come from the real clustering fold (news.cluster.open_story/add_item and
    models.story.Story.take); which story an item joins is drawn, so stories have ~4 items.
    """

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.plans: list[StoryPlan] = []
        self.items: list[StoryItem] = []
        self.open: list[int] = []  # plans still taking items, oldest first
        self.keys: set[str] = set()
        self.book = default_sources()
        self._kinds: dict[str, str] = {}

    def _new_plan(self, day: date) -> StoryPlan:
        rng = self.rng
        kind: Kind = rng.choices(list(KIND_WEIGHTS), list(KIND_WEIGHTS.values()))[0]  # type: ignore[assignment]
        venue = None if kind == "call" else rng.choice(CAPITALS if kind == "visit" else VENUES)
        when = None
        dated = rng.random() < DATED
        if dated:
            start = day + timedelta(days=rng.randint(2, 30))
            when = When(start, start, "day", f"{calendar.month_abbr[start.month]} {start.day}")
        planned_only = not dated and rng.random() < PLANNED_ONLY
        closes = (when.end if when else day) + timedelta(days=30 if planned_only else 10)
        return StoryPlan(
            kind,
            rng.choice(US_PEOPLE),
            rng.choice(CN_PEOPLE),
            venue,
            rng.choice(list(TOPIC_PHRASES)),
            when,
            planned_only,
            rng.random() < POSTPONED,
            closes,
        )

    def _plan_for(self, day: date) -> int:
        """The story the next relevant item (published on `day`) goes to."""
        self.open = [i for i in self.open if self.plans[i].closes >= day]
        if not self.open or self.rng.random() < NEW_STORY:
            self.plans.append(self._new_plan(day))
            self.open.append(len(self.plans) - 1)
            return len(self.plans) - 1
        happening = [i for i in self.open if _happening(self.plans[i].when, day)]
        if happening and self.rng.random() < HAPPENING:
            return self.rng.choice(happening)  # the burst of reports on the day itself
        return self.rng.choice(self.open[-JOIN_AMONG:])

    def _stage(self, plan: StoryPlan, day: date) -> Stage:
        rng, state = self.rng, plan.state
        if plan.postponed and state is not None and state.size >= 2 and rng.random() < 0.5:
            return "postponed"
        if plan.planned_only or (plan.when is not None and day < plan.when.start):
            return "planned"
        if state is None:
            return "planned" if plan.when is None and rng.random() < 0.4 else "held"
        if state.held_first is None:
            return "held"
        return rng.choice(["held", "readout", "readout", "outcome"])

    def _source_kind(self, name: str) -> str:
        if name not in self._kinds:
            self._kinds[name] = self.book.recognise(name, None).kind
        return self._kinds[name]

    def add(self, row: dict[str, Any]) -> None:
        """Rewrite a relevant item row as a report of its story, and record its contact."""
        rng = self.rng
        published: datetime = row["published_at"]
        day = local_day(published)
        index = self._plan_for(day)
        plan = self.plans[index]
        stage = self._stage(plan, day)
        side = None
        if stage == "readout" and rng.random() < OFFICIAL_READOUT:
            side = rng.choice(["us", "china"])
            row["source"], row["source_kind"] = OFFICIAL[side]
        chinese = not row["title"].isascii()
        row["title"], row["summary"] = story_text(rng, plan, stage, chinese, side)
        row["topics"] = f"{KIND_EVENT[plan.kind]},{plan.topic}"
        says_when = plan.when if stage in ("planned", "postponed") else None
        venue = plan.venue
        f = Features(
            frozenset({plan.us[1]}),
            frozenset({plan.china[1]}),
            plan.kind,
            stage,
            venue[1] if venue else None,
            venue[2] if venue else None,
            None,
            says_when,
            day,
            trigrams(row["title"]),
        )
        created = row["fetched_at"]
        before = plan.state.stage if plan.state is not None else None
        if plan.state is None:
            key = base = story_key(f)[:150]
            n = 1
            while key in self.keys:
                n += 1
                key = f"{base}-{n}"
            self.keys.add(key)
            plan.state = open_story(key, f, stage)
            plan.first_seen = plan.last_seen = created
        else:
            add_item(plan.state, f, stage)
            plan.last_seen = max(plan.last_seen, created)
        source = row["source"]
        plan.outlets.add(source)
        if side is not None:
            plan.readout.add(side)
        after = plan.state.stage
        urgent = "held" if before in ("planned", "postponed") and after in TOOK_PLACE else None
        self.items.append(
            StoryItem(
                key=row["dedup_key"],
                story=index,
                stage=stage,
                features=f,
                side=side,
                source=source,
                source_kind=row.get("source_kind") or self._source_kind(source),
                created_at=created,
                new=before is None,
                advanced=before is not None and after != before,
                urgent=urgent,
            )
        )


def _happening(when: When | None, day: date) -> bool:
    return when is not None and when.start <= day <= when.end + timedelta(days=WHEN_SLACK)


def story_text(
    rng: random.Random, plan: StoryPlan, stage: Stage, chinese: bool, side: str | None
) -> tuple[str, str]:
    """(title, summary) of one report of the story at `stage`."""
    phrase = rng.choice(TOPIC_PHRASES[plan.topic])
    other = rng.choice(TOPIC_PHRASES[rng.choice(list(TOPIC_PHRASES))])
    us, cn = plan.us[0], plan.china[0]
    if chinese:
        place = plan.venue[3] if plan.venue else "北京"
        verb = "将" if stage == "planned" else ""
        title = f"习近平{verb}与特朗普在{place}举行会晤 讨论{rng.choice(CN_TOPICS)}"
        topic = rng.choice(CN_TOPICS)
        summary = f"国家主席习近平{place}会见美国总统特朗普，双方就中美关系和{topic}交换意见。"
        return title, summary
    where = f" in {plan.venue[0]}" if plan.venue else ""
    noun = KIND_NOUN[plan.kind]
    if stage == "planned":
        when = f" on {plan.when.text}" if plan.when else ""
        title = f"{us} and {cn} to {KIND_VERB[plan.kind]} on {phrase}{where}{when}"
    elif stage == "postponed":
        title = f"{us}-{cn} {noun}{where} on {phrase} postponed"
    elif stage == "held":
        title = f"{us} and {cn} {rng.choice(MEET)} on {phrase}{where}"
    elif stage == "readout" and side == "us":
        title = f"Readout of {us}'s {noun} with {cn} on {phrase}"
    elif stage == "readout" and side == "china":
        title = f"{cn} and {us} hold {noun} on {phrase}, foreign ministry says"
    elif stage == "readout":
        title = f"{us} and {cn} discussed {phrase}{where}, readouts say"
    else:
        title = f"{us} and {cn} agree on {phrase} after {noun}{where}"
    summary = (
        f"The leaders were expected to {rng.choice(MEET)} about {phrase} and {other}, "
        f"officials said; {_rare(rng)} {_rare(rng)}."
    )
    return title, summary


@dataclass(frozen=True)
class Seeded:
    """What `seed` stored and how long it took (seconds 0: a kept database, reused)."""

    items: int
    relevant: int
    stories: int
    contacts: int
    ops: int  # story messages, replies and edits in the outbox
    planned_ahead: int  # planned stories dated after NOW
    planned_undated: int  # planned stories without a date, still open
    seconds: float


def _rows(
    n: int, rng: random.Random, feed_ids: Sequence[int], stories: StoryBook
) -> Iterator[dict[str, Any]]:
    """Item rows in published order (as the bot stores them), over the last YEARS years.

    Relevant items are reports of their story (StoryBook.add rewrites their text).
    """
    span = YEARS * 365 * 86400
    offsets = sorted((rng.random() * span for _ in range(n)), reverse=True)
    for i, offset in enumerate(offsets):
        title, summary, label, topics = make_item(rng)
        published = NOW - timedelta(seconds=offset)
        feed = feed_ids[i % len(feed_ids)]
        row = {
            "feed_id": feed,
            "dedup_key": f"{i:064x}",
            "title_key": f"{rng.getrandbits(128):032x}",
            "url": f"https://news{feed}.example/{published:%Y/%m/%d}/{i}",
            "title": title,
            "summary": summary,
            "source": f"Source {feed}" if feed % 4 else "Reuters",
            "source_kind": None,
            "published_at": published,
            "fetched_at": published + timedelta(minutes=rng.randint(1, 30)),
            "label": label,
            "score": 1.0 if label == "relevant" else 0.0,
            "topics": topics,
            "reasons": "[]",
            "duplicate_of": None,
        }
        if label == "relevant":
            stories.add(row)
        yield row


def seed(engine: Engine, n: int, *, batch: int = 20_000, seed_: int = 7) -> Seeded:
    """Store `n` items, their stories and contacts, and the story ops of one channel."""
    rng = random.Random(seed_)
    started = time.perf_counter()
    with engine.begin() as conn:
        feed_rows = [
            {
                "url": f"https://news{f}.example/rss",
                "title": f"News {f}",
                "primed": True,
                "created_at": NOW - timedelta(days=YEARS * 365),
                "next_poll_at": NOW,
                "last_polled_at": NOW - timedelta(minutes=f),
            }
            for f in range(FEEDS)
        ]
        conn.execute(insert(Feed.__table__), feed_rows)
        feed_ids = list(conn.execute(text("SELECT id FROM feeds ORDER BY id")).scalars())
        conn.execute(
            insert(Subscription.__table__),
            [{"channel_id": CHANNEL, "topic": "all", "created_at": NOW}],
        )
    stories = StoryBook(rng)
    ids: dict[str, int] = {}
    chunk: list[dict[str, Any]] = []
    for row in _rows(n, rng, feed_ids, stories):
        chunk.append(row)
        if len(chunk) >= batch:
            ids.update(_store(engine, chunk))
            chunk = []
    if chunk:
        ids.update(_store(engine, chunk))
    for entry in stories.items:
        entry.item_id = ids[entry.key]
    _store_stories(engine, stories, batch)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        # what autovacuum would have done to a database that old (visibility map, statistics)
        conn.execute(text("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"))
    return stored(engine, time.perf_counter() - started)


def _store(engine: Engine, rows: list[dict[str, Any]]) -> dict[str, int]:
    """One batch of items; returns the relevant ones' ids by dedup_key."""
    with engine.begin() as conn:
        conn.execute(insert(Item.__table__), rows)
        if not any(r["label"] == "relevant" for r in rows):
            return {}
        found = conn.execute(
            text("SELECT dedup_key, id FROM items WHERE label = 'relevant' AND id > :low"),
            {"low": _low_id(conn, rows[0]["dedup_key"])},
        )
        return {key: item_id for key, item_id in found}


def _low_id(conn: Any, first_key: str) -> int:
    found = conn.execute(text("SELECT id FROM items WHERE dedup_key = :k"), {"k": first_key})
    return int(found.scalar_one()) - 1


def _story_row(plan: StoryPlan) -> dict[str, Any]:
    """The `stories` row jobs.stories would have left: Story.take of the folded state."""
    assert plan.state is not None
    story = Story(key=plan.state.key, first_seen=plan.first_seen, last_seen=plan.last_seen)
    story.take(plan.state)
    story.source_count = len(plan.outlets)
    story.readout_us, story.readout_china = "us" in plan.readout, "china" in plan.readout
    story.confirmed_by_official = bool(plan.readout)
    story.place_name = plan.venue[0] if plan.venue else None
    return {c.key: getattr(story, c.key) for c in Story.__table__.columns if c.key != "id"}


def _batches(rows: Sequence[dict[str, Any]], size: int) -> Iterator[Sequence[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _store_stories(engine: Engine, book: StoryBook, batch: int) -> None:
    """The stories, their people and topics, one contact per item, and the channel's ops.

    Story ops as models.outbox.enqueue_story queues them for a channel subscribed to every
    topic, all delivered: the story message for a story's first item, then a thread reply
    (broadcast when the stage advanced; urgent when a planned contact took place) and an
    edit of the story message for each later one.
    """
    story_rows = [_story_row(plan) for plan in book.plans]
    with engine.begin() as conn:
        for rows in _batches(story_rows, batch):
            conn.execute(insert(Story.__table__), rows)
        story_ids = {key: sid for key, sid in conn.execute(select(Story.key, Story.id))}
    ids = [story_ids[row["key"]] for row in story_rows]
    people = [
        {"story_id": ids[i], "person": person}
        for i, plan in enumerate(book.plans)
        for person in sorted(
            {f"us:{p}" for p in plan.state.us} | {f"china:{p}" for p in plan.state.china}  # type: ignore[union-attr]
        )
    ]
    topics = [
        {"story_id": ids[i], "topic": topic}
        for i, plan in enumerate(book.plans)
        for topic in (KIND_EVENT[plan.kind], plan.topic)
    ]
    contacts = [_contact(entry, ids[entry.story]) for entry in book.items]
    ops = _ops(book, ids)
    with engine.begin() as conn:
        for table, rows in (
            (StoryPerson.__table__, people),
            (StoryTopic.__table__, topics),
            (Contact.__table__, contacts),
            (Alert.__table__, ops),
        ):
            for chunk in _batches(rows, batch):
                conn.execute(insert(table), chunk)


def _contact(entry: StoryItem, story_id: int) -> dict[str, Any]:
    """The `contacts` row of one item, as jobs.stories._assign_one writes it."""
    f, when = entry.features, entry.features.when
    return {
        "item_id": entry.item_id,
        "story_id": story_id,
        "stage": entry.stage,
        "kind": f.kind or "",
        "parties_us": ",".join(sorted(f.us)),
        "parties_china": ",".join(sorted(f.china)),
        "place": f.place,
        "when_start": when.start if when else None,
        "when_end": when.end if when else None,
        "when_precision": when.precision if when else None,
        "when_text": when.text if when else None,
        "side": entry.side,
        "source_name": entry.source,
        "source_kind": entry.source_kind,
        "created_at": entry.created_at,
    }


def _ts(moment: datetime) -> str:
    return f"{moment.timestamp():.6f}"


def _ops(book: StoryBook, ids: Sequence[int]) -> list[dict[str, Any]]:
    """The channel's delivered story ops, in the order they were queued."""
    posted: dict[int, str] = {}  # story id -> its story message's ts
    ops: list[dict[str, Any]] = []
    for entry in book.items:
        story_id, queued = ids[entry.story], entry.created_at
        sent = queued + timedelta(seconds=2)
        base = {
            "story_id": story_id,
            "item_id": entry.item_id,
            "channel_id": CHANNEL,
            "op": POST,
            "broadcast": False,
            "status": SENT,
            "attempts": 1,
            "next_attempt_at": queued,
            "created_at": queued,
            "sent_at": sent,
            "slack_ts": _ts(sent),
            "urgent": False,
            "payload": None,
        }
        if entry.new:
            posted[story_id] = base["slack_ts"]
            ops.append(base)
            continue
        marks = {"urgent": True, "payload": json.dumps({"urgent": entry.urgent})}
        reply = {**base, "op": REPLY, "broadcast": entry.advanced}
        ops.append({**reply, **marks} if entry.urgent else reply)
        edited = sent + timedelta(seconds=1)
        ops.append(
            {**base, "item_id": None, "op": UPDATE, "sent_at": edited, "slack_ts": posted[story_id]}
        )
    return ops


def stored(engine: Engine, seconds: float = 0.0) -> Seeded:
    """What the database holds (of what `seed` stores)."""
    floor = NOW.date() - timedelta(days=1)
    planned = Story.stage == "planned"
    wheres: dict[str, tuple[Any, Any]] = {
        "items": (Item.id, true()),
        "relevant": (Item.id, Item.label == "relevant"),
        "stories": (Story.id, true()),
        "contacts": (Contact.id, true()),
        "ops": (Alert.id, Alert.story_id.is_not(None)),
        "planned_ahead": (Story.id, planned & (Story.scheduled_start > NOW.date())),
        "planned_undated": (
            Story.id,
            planned & Story.scheduled_start.is_(None) & (Story.open_until >= floor),
        ),
    }
    with engine.connect() as conn:
        counts = {
            name: int(conn.execute(select(func.count(col)).where(where)).scalar_one())
            for name, (col, where) in wheres.items()
        }
    return Seeded(**counts, seconds=seconds)


# --- measuring -------------------------------------------------------------------------------


def build_deps(engine: Engine) -> Deps:
    """Deps like bot.py's (console sender; nothing is fetched), on `engine`, clock at NOW."""
    settings = Settings(database_url="unused://", poll_seconds=300)
    return Deps(
        settings=settings,
        sessions=make_sessionmaker(engine),
        fetcher=Fetcher(FetchConfig()),
        classifier=default_classifier(),
        sender=ConsoleSender(),
        clock=lambda: NOW,
        owner="bench",
    )


def story_case(engine: Engine) -> tuple[str, str]:
    """`story <id>` of the most recently active story with at least 5 items (else the largest)."""
    query = select(Story.id).order_by(
        (Story.item_count >= 5).desc(), Story.last_seen.desc(), Story.id.desc()
    )
    with engine.connect() as conn:
        story_id = conn.execute(query.limit(1)).scalar_one()
    return "story <id>", f"story {story_id}"


def posted_stories(engine: Engine) -> list[tuple[str, str]]:
    """(ts, headline) of the story messages of stories still open: the fake Slack's history.

    `upcoming` links to these (chat.getPermalink), so the fake must know them.
    """
    floor = NOW.date() - timedelta(days=1)
    query = (
        select(Alert.slack_ts, Item.title)
        .join(Item, Item.id == Alert.item_id)
        .join(Story, Story.id == Alert.story_id)
        .where(Alert.op == POST, Alert.channel_id == CHANNEL, Story.open_until >= floor)
        .order_by(Alert.id)
    )
    with engine.connect() as conn:
        return [(str(ts), title) for ts, title in conn.execute(query)]


def _send(bot: Bot, command: str) -> tuple[float, str]:
    """Seconds from the signed request to the reply at the response_url, and the reply's key."""
    key = uuid.uuid4().hex
    body = urlencode(slash_form(command, CHANNEL, "U1", bot.slack.response_url(key)))
    started = time.perf_counter()
    ack = bot.dispatch(body)
    if ack.status != 200:
        raise RuntimeError(f"{command!r}: HTTP {ack.status} {ack.body}")
    while not bot.slack.responses(key):
        if time.perf_counter() - started > 30:
            raise TimeoutError(f"{command!r}: no reply in 30 s")
        time.sleep(0.0005)
    return time.perf_counter() - started, key


def timed_command(bot: Bot, command: str) -> float:
    """Seconds from the signed request to the reply at the response_url."""
    return _send(bot, command)[0]


def reply_text(bot: Bot, command: str) -> str:
    """The reply's text and its blocks' text, as one string."""
    reply = bot.slack.responses(_send(bot, command)[1])[0]
    parts = [str(reply.get("text") or "")]
    for block in reply.get("blocks") or []:
        inner = block.get("text")
        if isinstance(inner, dict):
            parts.append(str(inner.get("text") or ""))
        for element in block.get("elements") or block.get("fields") or []:
            if isinstance(element, dict) and isinstance(element.get("text"), str):
                parts.append(element["text"])
    return "\n".join(p for p in parts if p)


def measure(
    bot: Bot, cases: Sequence[tuple[str, str]], rounds: int, warmup: int = 2
) -> dict[str, list[float]]:
    """Every case `rounds` times (interleaved, after `warmup` rounds); seconds per case."""
    timings: dict[str, list[float]] = {name: [] for name, _ in cases}
    for r in range(warmup + rounds):
        for name, command in cases:
            seconds = timed_command(bot, command)
            if r >= warmup:
                timings[name].append(seconds)
    return timings


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))]


def database_bytes(engine: Engine) -> int:
    """The database's size (SQLite: pages in use, WAL included)."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            return int(
                conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
            )
        pages = conn.execute(text("PRAGMA page_count")).scalar_one()
        size = conn.execute(text("PRAGMA page_size")).scalar_one()
        return int(pages) * int(size)


@dataclass
class Run:
    """One database's results."""

    name: str
    seeded: Seeded
    size: int
    timings: dict[str, list[float]]


def run_one(
    name: str,
    engine: Engine,
    items: int,
    rounds: int,
    log: Callable[[str], None],
    show: bool = False,
) -> Run:
    """Migrate, seed (unless a kept database holds the items already), time every command."""
    upgrade(engine)
    seeded = stored(engine)
    if seeded.items == items and seeded.stories:
        log(f"{name}: reusing the {items:,} items stored; measuring {rounds} rounds…")
    elif seeded.items:
        raise SystemExit(f"{name}: the kept database holds another seed; drop it first")
    else:
        log(f"{name}: seeding {items:,} items…")
        seeded = seed(engine, items)
        log(f"{name}: seeded in {seeded.seconds:.0f} s; measuring {rounds} rounds…")
    cases = [*CASES, story_case(engine)]
    slack = FakeSlack()
    slack.add_history(CHANNEL, posted_stories(engine))
    try:
        deps = build_deps(engine)
        bot = make_bot(deps, slack)
        if show:
            for _, command in cases:
                log(f"--- {name} /diplo {command}\n{reply_text(bot, command)[:1500]}")
        timings = measure(bot, cases, rounds)
        deps.fetcher.close()
    finally:
        slack.close()
    return Run(name, seeded, database_bytes(engine), timings)


def _postgres_engine(keep: str | None) -> tuple[Engine, Callable[[], None]] | str:
    """A fresh PostgreSQL database (or the kept one) and its dropper, or why there is none."""
    try:
        admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        name = keep or f"diplo_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
            if exists.first() is None:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # any failure to connect means: no server here
        return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    engine = make_engine(f"{POSTGRES_URL.rpartition('/')[0]}/{name}")

    def drop() -> None:
        engine.dispose()
        if not keep:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()

    return engine, drop


def report(runs: Sequence[Run]) -> str:
    """The results as a Markdown table, then seeding time and size per million items."""
    lines = ["| command | " + " | ".join(f"{r.name} p50 / p95 (ms)" for r in runs) + " |"]
    lines.append("|---|" + "---|" * len(runs))
    names = list(runs[0].timings) if runs else []
    worst = 0.0
    for name in names:
        cells = []
        for r in runs:
            p50, p95 = (percentile(r.timings[name], p) * 1000 for p in (50, 95))
            worst = max(worst, p95)
            cells.append(
                f"{p50:.1f} / **{p95:.1f}**" if p95 > TARGET_MS else f"{p50:.1f} / {p95:.1f}"
            )
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    lines.append("")
    for r in runs:
        per_million = r.size / r.seeded.items * 1_000_000 / 2**20
        lines.append(
            f"{r.name}: {r.seeded.items:,} items ({r.seeded.relevant:,} relevant), "
            f"{r.seeded.stories:,} stories ({r.seeded.planned_ahead:,} planned ahead, "
            f"{r.seeded.planned_undated:,} planned undated), {r.seeded.contacts:,} contacts, "
            f"{r.seeded.ops:,} story ops; "
            + (f"seeded in {r.seeded.seconds:.0f} s" if r.seeded.seconds else "reused (--keep)")
            + f"; database {r.size / 2**20:,.0f} MiB "
            f"= {per_million:,.0f} MiB per million items"
        )
    verdict = "met" if worst <= TARGET_MS else "MISSED"
    lines.append(f"target p95 <= {TARGET_MS:.0f} ms for every command: {verdict}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run on SQLite, then PostgreSQL (if reachable); print the table; exit 1 if missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=50, help="timed requests per command")
    parser.add_argument("--only", choices=["sqlite", "postgresql"], default=None)
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the databases (SQLite in the temp folder, PostgreSQL diplo_bench_keep_N) "
        "and reuse them on the next run with the same --items",
    )
    parser.add_argument(
        "--show", action="store_true", help="print each command's reply once before timing"
    )
    args = parser.parse_args(argv)
    keep_name = f"diplo_bench_keep_{args.items}" if args.keep else None

    def log(message: str) -> None:
        sys.stderr.write(message + "\n")

    runs: list[Run] = []
    if args.only in (None, "sqlite"):
        with tempfile.TemporaryDirectory() as tmp:
            folder = tempfile.gettempdir() if keep_name else tmp
            engine = make_engine(f"sqlite:///{folder}/{keep_name or 'bench'}.db")
            runs.append(run_one("SQLite", engine, args.items, args.rounds, log, args.show))
            engine.dispose()
    if args.only in (None, "postgresql"):
        got = _postgres_engine(keep_name)
        if isinstance(got, str):
            log(f"PostgreSQL skipped: not reachable at {POSTGRES_URL} ({got})")
        else:
            engine, drop = got
            try:
                runs.append(run_one("PostgreSQL", engine, args.items, args.rounds, log, args.show))
            finally:
                drop()
    print(report(runs))
    return 0 if "MISSED" not in report(runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
