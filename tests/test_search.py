"""Search on both databases: words, phrases, filters, Chinese, literal wildcards, index use."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, delete, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from deps import Deps
from handlers.blocks import highlight
from models.feed import add_feed
from models.item import Item, save_new
from models.migrate import upgrade
from models.search import search, search_query
from news.entry import Entry
from news.query import Term, parse_query
from tests.fakes.slack_server import FakeSlack
from tests.slackbot import make_bot

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
TOPICS = {"trade", "summit", "call", "tech"}

ITEMS: list[dict[str, Any]] = [
    # newest first
    {"title": "Trump and Xi reach a trade deal", "topics": "trade,summit", "source": "Reuters"},
    {"title": "Deal on trade delayed, Xi says", "topics": "trade", "source": "AP"},
    {
        "title": "习近平在釜山会见特朗普",
        "summary": "中美元首会晤",
        "topics": "summit",
        "source": "新华社",
    },
    {"title": "Tariffs rise 10% overnight", "topics": "trade", "source": "Reuters"},
    {
        "title": "Plan_B (draft) for chips",
        "summary": 'a "quoted" AND NEAR(x) -y ^z',
        "topics": "tech",
    },
    {"title": "Xi meets Biden in Lima", "summary": "APEC", "topics": "summit", "source": "AP"},
    {"title": "釜山港口吞吐量创新高", "topics": "", "source": "人民网"},
    {"title": "Old trade deal from 2024", "topics": "trade", "source": "Reuters", "days": 700},
]


def store(sessions: sessionmaker[Session], specs: Sequence[dict[str, Any]]) -> None:
    """Store the items through the models, the first one newest."""
    with sessions.begin() as s:
        feed, _ = add_feed(s, f"https://wire.example/{uuid.uuid4().hex}.xml", NOW)
        for n, spec in enumerate(specs):
            entry = Entry(
                dedup_key=uuid.uuid4().hex,
                title=spec["title"],
                url=f"https://wire.example/{n}",
                summary=spec.get("summary", ""),
                published=NOW - timedelta(hours=n, days=spec.get("days", 0)),
            )
            (item,) = save_new(s, feed.id, spec.get("source", "Wire"), [entry], NOW)
            item.label = "relevant"
            item.topics = spec.get("topics", "")


def titles(sessions: sessionmaker[Session], text_: str) -> list[str]:
    with sessions() as s:
        return [i.title for i in search(s, parse_query(text_, TOPICS), 10).items]


@pytest.fixture
def stored(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    store(sessions, ITEMS)
    return sessions


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("xi trade", ["Trump and Xi reach a trade deal", "Deal on trade delayed, Xi says"]),
        ("XI DEAL TRUMP", ["Trump and Xi reach a trade deal"]),
        ('"trade deal"', ["Trump and Xi reach a trade deal", "Old trade deal from 2024"]),
        ('"deal on trade"', ["Deal on trade delayed, Xi says"]),
        ("deal topic:summit", ["Trump and Xi reach a trade deal"]),
        ("deal source:reut", ["Trump and Xi reach a trade deal", "Old trade deal from 2024"]),
        (
            "deal since:2026-01-01",
            ["Trump and Xi reach a trade deal", "Deal on trade delayed, Xi says"],
        ),
        ("习近平 釜山", ["习近平在釜山会见特朗普"]),
        ("中美元首", ["习近平在釜山会见特朗普"]),
        ("釜山", ["习近平在釜山会见特朗普", "釜山港口吞吐量创新高"]),  # 2 characters: recent window
        ("zebra", []),
    ],
)
def test_search_finds_every_term_newest_first(
    stored: sessionmaker[Session], query: str, expected: list[str]
) -> None:
    assert titles(stored, query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("10%", ["Tariffs rise 10% overnight"]),
        ("1_%", []),
        ("%", ["Tariffs rise 10% overnight"]),
        ("_", ["Plan_B (draft) for chips"]),
        ("*", []),
        ("(draft)", ["Plan_B (draft) for chips"]),
        ('"quoted"', ["Plan_B (draft) for chips"]),
        ('a "quoted" AND', ["Plan_B (draft) for chips"]),
        ("NEAR(x)", ["Plan_B (draft) for chips"]),
        ("NEAR(x", ["Plan_B (draft) for chips"]),
        ("-y ^z", ["Plan_B (draft) for chips"]),
        ("chips OR zebra", []),
        ("NOT trade", []),
        ("'; DROP TABLE items; --", []),
        ('a"b', []),
        ("chips:", []),
        ("\\", []),
    ],
)
def test_typed_wildcards_and_syntax_are_literal(
    stored: sessionmaker[Session], query: str, expected: list[str]
) -> None:
    try:
        assert titles(stored, query) == expected
    except Exception as exc:  # a syntax error reaching the user would land here
        pytest.fail(f"{query!r} raised {exc!r}")
    with stored() as s:
        assert s.scalar(select(Item.id).limit(1)) is not None  # the table is still there


def test_short_terms_alone_search_only_the_recent_window(stored: sessionmaker[Session]) -> None:
    with stored() as s:
        assert search(s, parse_query("釜山", TOPICS), 10).recent_only
        assert not search(s, parse_query("釜山 习近平", TOPICS), 10).recent_only
        dialect = s.get_bind().dialect.name
        # "xi" is a word: PostgreSQL looks it up in the tsvector index, SQLite cannot (2 chars)
        assert search(s, parse_query("xi", TOPICS), 10).recent_only is (dialect == "sqlite")


def test_index_stays_in_sync_on_update_and_delete(stored: sessionmaker[Session]) -> None:
    with stored.begin() as s:
        s.execute(
            update(Item).where(Item.title == "Xi meets Biden in Lima").values(title="Renamed kiwi")
        )
        s.execute(delete(Item).where(Item.title == "Tariffs rise 10% overnight"))
        s.execute(update(Item).values(label="related"))  # not title/summary: FTS untouched
    assert titles(stored, "kiwi") == ["Renamed kiwi"]
    assert titles(stored, "Lima") == []
    assert titles(stored, "10%") == []


def test_migration_backfills_existing_items(database_url: str) -> None:
    from models.db import make_engine, make_sessionmaker

    engine = make_engine(database_url)
    try:
        upgrade(engine, "0006")  # the revision before the search indexes
        sessions = make_sessionmaker(engine)
        store(sessions, ITEMS[:3])
        upgrade(engine)
        assert titles(sessions, "习近平 釜山") == ["习近平在釜山会见特朗普"]
        assert titles(sessions, "reach trade") == ["Trump and Xi reach a trade deal"]
    finally:
        engine.dispose()


test_migration_backfills_existing_items = pytest.mark.parametrize(
    "database_url",
    ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
    indirect=True,
)(test_migration_backfills_existing_items)


def plan(engine: Engine, query: str) -> str:
    """The query plan of a search, with sequential and plain index scans ruled out on PG."""
    stmt = search_query(engine.dialect.name, parse_query(query, TOPICS), 10)
    compiled = stmt.compile(engine, compile_kwargs={"literal_binds": True})
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.execute(text(f"EXPLAIN QUERY PLAN {compiled}")).all()
            return "\n".join(str(r[-1]) for r in rows)
        conn.execute(text("SET enable_seqscan = off"))
        conn.execute(text("SET enable_indexscan = off"))  # only bitmap scans on a condition left
        rows = conn.execute(text(f"EXPLAIN {compiled}")).all()
        conn.rollback()
        return "\n".join(r[0] for r in rows)


@pytest.mark.parametrize(
    ("query", "sqlite_index", "pg_index"),
    [
        ("tariffs", "items_fts", "ix_items_fts"),
        ('"trade deal" topic:trade', "items_fts", "ix_items_title_trgm"),
        ("习近平 釜山", "items_fts", "ix_items_title_trgm"),
        ("10%", "items_fts", "ix_items_summary_trgm"),
    ],
)
def test_search_uses_the_full_text_indexes(
    stored: sessionmaker[Session], engine: Engine, query: str, sqlite_index: str, pg_index: str
) -> None:
    shown = plan(engine, query)
    if engine.dialect.name == "sqlite":
        assert f"SCAN {sqlite_index} VIRTUAL TABLE INDEX" in shown, shown
        assert "SCAN items\n" not in shown + "\n", shown
    else:
        assert f"Bitmap Index Scan on {pg_index}" in shown, shown
        assert "Seq Scan" not in shown, shown


def test_highlight_escapes_every_piece_and_bolds_whole_words() -> None:
    terms = [Term("at&t"), Term("tariff"), Term("<b>")]
    assert highlight("AT&T warns: tariffs <b>", terms) == "*AT&amp;T* warns: *tariffs* *&lt;b&gt;*"
    assert highlight("a *star* tariff", [Term("*star*"), Term("tariff")]) == "a *star* *tariff*"
    assert highlight("<@U1> <!channel>", [Term("U1")]) == "&lt;@*U1*&gt; &lt;!channel&gt;"


def test_search_through_the_app(deps: Deps, slack: FakeSlack) -> None:
    bot = make_bot(deps, slack)
    store(deps.sessions, ITEMS)
    reply = bot.command("search 习近平 釜山 topic:summit")
    body = json.dumps(reply["blocks"], ensure_ascii=False)
    assert "*习近平*在*釜山*会见特朗普" in body
    assert reply["response_type"] == "ephemeral"
    reply = bot.command('search "trade deal" since:2026-13-01')
    assert "since:2026-13-01 is not a real date." in reply["text"]
    reply = bot.command("search deal topic:frogs")
    assert "Unknown topic" in reply["text"] and "frogs" in reply["text"]
    reply = bot.command("search xi <https://evil.example|click>")
    assert "<https://evil" not in json.dumps(reply, ensure_ascii=False)


@pytest.mark.parametrize(
    "query", ["xi trade", '"trade deal"', "习近平 釜山", "deal topic:trade", "10%"]
)
def test_probing_newest_first_finds_the_same_items(
    stored: sessionmaker[Session], query: str
) -> None:
    parsed = parse_query(query, TOPICS)
    with stored() as s:
        listed = [i.id for i in search(s, parsed, 10).items]
        probed = [i.id for i in search(s, parsed, 10, probe_above=1).items]
    assert probed == listed and listed


def test_probe_plan_walks_the_date_index(engine: Engine, stored: sessionmaker[Session]) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL's planner picks between the walk and the index itself")
    stmt = search_query("sqlite", parse_query("trade", TOPICS), 10, probe=True)
    compiled = stmt.compile(engine, compile_kwargs={"literal_binds": True})
    with engine.connect() as conn:
        shown = "\n".join(str(r[-1]) for r in conn.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))
    assert "USING INDEX ix_items_published_at" in shown and "items_fts VIRTUAL TABLE" in shown, (
        shown
    )
