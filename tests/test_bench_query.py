"""benchmarks/query.py stays runnable: seed 2,000 items and time each command once."""

from __future__ import annotations

from sqlalchemy import Engine, func, select

from benchmarks.query import Run, cases, database_bytes, measure, report, seed
from deps import Deps
from models.item import Item
from tests.fakes.slack_server import FakeSlack
from tests.slackbot import make_bot


def test_query_benchmark_seeds_and_measures(engine: Engine, deps: Deps, slack: FakeSlack) -> None:
    seeded = seed(engine, 2000, batch=700)
    with deps.sessions() as s:
        assert s.scalar(select(func.count(Item.id))) == 2000
        labels = dict(s.execute(select(Item.label, func.count()).group_by(Item.label)).all())
    assert 100 < labels["relevant"] == seeded.relevant < 300
    bot = make_bot(deps, slack)
    timings = measure(bot, rounds=1, warmup=0)
    assert set(timings) == {name for name, _ in cases()}
    assert all(len(t) == 1 and t[0] > 0 for t in timings.values())
    for command in [c for _, c in cases() if c.startswith("search")]:
        assert "*" in str(bot.command(command)["blocks"][1]), f"{command} found nothing"
    table = report([Run(engine.dialect.name, seeded, database_bytes(engine), timings)])
    assert "| `search 习近平 釜山` |" in table and "MiB per million items" in table
