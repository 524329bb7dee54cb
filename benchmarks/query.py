"""Benchmark the read commands at a million stored items, on SQLite and PostgreSQL.

Run: `./dev bench query` (or `.venv/bin/python benchmarks/query.py --items 1000000`).
Seeds `--items` items (10% relevant, about 5% Chinese, spread over 3 years, 40 feeds and
sources, every topic) through the project's own tables (`models.Item.__table__`, executemany
in batches, the migrations' FTS triggers firing), then sends each read command `--rounds`
times as a signed slash-command request through the real Bolt App (`app.dispatch`, the
same path as HTTP mode; Socket Mode hands the same request to the same dispatch) and times
it from the request to the reply arriving at the fake Slack's response_url. Prints p50/p95
per command and database, the seeding time and the database size per million items.
PostgreSQL runs on a fresh database of DIPLO_TEST_POSTGRES_URL's server (skipped, saying
why, when none answers). Target: p95 <= 100 ms for every command.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Engine, create_engine, insert, text

from deps import Deps
from handlers.commands import COMMANDS
from handlers.sender import ConsoleSender
from jobs.fetch import FetchConfig, Fetcher
from models.db import make_engine, make_sessionmaker
from models.feed import Feed
from models.item import Item
from models.migrate import upgrade
from models.outbox import Alert
from models.subscription import Subscription
from news.relevance import default_classifier
from settings import Settings
from tests.fakes.slack_server import FakeSlack
from tests.slackbot import Bot, make_bot, slash_form

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
YEARS = 3
TARGET_MS = 100.0
POSTGRES_URL = os.environ.get(
    "DIPLO_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)

# name -> command text. `upcoming` and `story` join when those commands exist.
CASES: list[tuple[str, str]] = [
    ("latest", "latest"),
    ("latest 5 <topic>", "latest 5 fentanyl"),
    ("search <word>", "search tariffs"),
    ('search "phrase" topic:trade', 'search "trade deal" topic:trade'),
    ("search 习近平 釜山", "search 习近平 釜山"),
    ("status", "status"),
]
OPTIONAL_CASES = [("upcoming", "upcoming"), ("story <id>", "story 1")]

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


@dataclass(frozen=True)
class Seeded:
    """What `seed` stored and how long it took."""

    items: int
    relevant: int
    seconds: float


def _rows(n: int, rng: random.Random, feed_ids: Sequence[int]) -> Iterator[dict[str, Any]]:
    """Item rows in published order (as the bot stores them), over the last YEARS years."""
    span = YEARS * 365 * 86400
    offsets = sorted((rng.random() * span for _ in range(n)), reverse=True)
    for i, offset in enumerate(offsets):
        title, summary, label, topics = make_item(rng)
        published = NOW - timedelta(seconds=offset)
        feed = feed_ids[i % len(feed_ids)]
        yield {
            "feed_id": feed,
            "dedup_key": f"{i:064x}",
            "title_key": f"{rng.getrandbits(128):032x}",
            "url": f"https://news{feed}.example/{published:%Y/%m/%d}/{i}",
            "title": title,
            "summary": summary,
            "source": f"Source {feed}" if feed % 4 else "Reuters",
            "published_at": published,
            "fetched_at": published + timedelta(minutes=rng.randint(1, 30)),
            "label": label,
            "score": 1.0 if label == "relevant" else 0.0,
            "topics": topics,
            "reasons": "[]",
            "duplicate_of": None,
        }


def seed(engine: Engine, n: int, *, batch: int = 20_000, seed_: int = 7) -> Seeded:
    """Store `n` items (and their alerts to one channel) through the models' tables."""
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
            [{"channel_id": "C1", "topic": "all", "created_at": NOW}],
        )
    relevant = 0
    chunk: list[dict[str, Any]] = []
    for row in _rows(n, rng, feed_ids):
        chunk.append(row)
        if len(chunk) >= batch:
            relevant += _store(engine, chunk)
            chunk = []
    if chunk:
        relevant += _store(engine, chunk)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        # what autovacuum would have done to a database that old (visibility map, statistics)
        conn.execute(text("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"))
    return Seeded(n, relevant, time.perf_counter() - started)


def _store(engine: Engine, rows: list[dict[str, Any]]) -> int:
    """One batch of items, plus a sent alert for each relevant one; returns how many."""
    with engine.begin() as conn:
        conn.execute(insert(Item.__table__), rows)
        keys = [r["dedup_key"] for r in rows if r["label"] == "relevant"]
        if not keys:
            return 0
        ids = conn.execute(
            text("SELECT id FROM items WHERE label = 'relevant' AND id > :low"),
            {"low": _low_id(conn, rows[0]["dedup_key"])},
        ).all()
        conn.execute(insert(Alert.__table__), [_alert(item_id) for (item_id,) in ids])
    return len(keys)


def _low_id(conn: Any, first_key: str) -> int:
    found = conn.execute(text("SELECT id FROM items WHERE dedup_key = :k"), {"k": first_key})
    return int(found.scalar_one()) - 1


def _alert(item_id: int) -> dict[str, Any]:
    return {
        "item_id": item_id,
        "channel_id": "C1",
        "status": "sent",
        "attempts": 1,
        "next_attempt_at": NOW,
        "created_at": NOW,
        "sent_at": NOW,
        "slack_ts": f"{item_id}.000100",
    }


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


def cases() -> list[tuple[str, str]]:
    """The read commands to time: CASES, plus `upcoming` and `story` once they exist."""
    return CASES + [(name, cmd) for name, cmd in OPTIONAL_CASES if cmd.split()[0] in COMMANDS]


def timed_command(bot: Bot, command: str) -> float:
    """Seconds from the signed request to the reply at the response_url."""
    key = uuid.uuid4().hex
    body = urlencode(slash_form(command, "C1", "U1", bot.slack.response_url(key)))
    started = time.perf_counter()
    ack = bot.dispatch(body)
    if ack.status != 200:
        raise RuntimeError(f"{command!r}: HTTP {ack.status} {ack.body}")
    while not bot.slack.responses(key):
        if time.perf_counter() - started > 30:
            raise TimeoutError(f"{command!r}: no reply in 30 s")
        time.sleep(0.0005)
    return time.perf_counter() - started


def measure(bot: Bot, rounds: int, warmup: int = 2) -> dict[str, list[float]]:
    """Every case `rounds` times (interleaved, after `warmup` rounds); seconds per case."""
    timings: dict[str, list[float]] = {name: [] for name, _ in cases()}
    for r in range(warmup + rounds):
        for name, command in cases():
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


def _stored(engine: Engine) -> tuple[int, int]:
    """(items, relevant) already in the database."""
    with engine.connect() as conn:
        total = conn.execute(text("SELECT count(*) FROM items")).scalar_one()
        relevant = conn.execute(text("SELECT count(*) FROM alerts")).scalar_one()
    return int(total), int(relevant)


def run_one(name: str, engine: Engine, items: int, rounds: int, log: Callable[[str], None]) -> Run:
    """Migrate, seed (unless a kept database holds the items already), time every command."""
    upgrade(engine)
    total, relevant = _stored(engine)
    if total == items:
        seeded = Seeded(items, relevant, 0.0)
        log(f"{name}: reusing the {items:,} items stored; measuring {rounds} rounds…")
    else:
        log(f"{name}: seeding {items:,} items…")
        seeded = seed(engine, items)
        log(f"{name}: seeded in {seeded.seconds:.0f} s; measuring {rounds} rounds…")
    slack = FakeSlack()
    try:
        deps = build_deps(engine)
        bot = make_bot(deps, slack)
        timings = measure(bot, rounds)
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
            f"{r.name}: {r.seeded.items:,} items ({r.seeded.relevant:,} relevant) "
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
    args = parser.parse_args(argv)
    keep_name = f"diplo_bench_keep_{args.items}" if args.keep else None

    def log(message: str) -> None:
        sys.stderr.write(message + "\n")

    runs: list[Run] = []
    if args.only in (None, "sqlite"):
        with tempfile.TemporaryDirectory() as tmp:
            folder = tempfile.gettempdir() if keep_name else tmp
            engine = make_engine(f"sqlite:///{folder}/{keep_name or 'bench'}.db")
            runs.append(run_one("SQLite", engine, args.items, args.rounds, log))
            engine.dispose()
    if args.only in (None, "postgresql"):
        got = _postgres_engine(keep_name)
        if isinstance(got, str):
            log(f"PostgreSQL skipped: not reachable at {POSTGRES_URL} ({got})")
        else:
            engine, drop = got
            try:
                runs.append(run_one("PostgreSQL", engine, args.items, args.rounds, log))
            finally:
                drop()
    print(report(runs))
    return 0 if "MISSED" not in report(runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
