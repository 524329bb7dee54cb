"""benchmarks/query.py stays runnable: seed 2,000 items with their stories, time each command."""

from __future__ import annotations

from sqlalchemy import Engine, func, select

from benchmarks.query import (
    CASES,
    CHANNEL,
    Run,
    database_bytes,
    measure,
    posted_stories,
    reply_text,
    report,
    seed,
    story_case,
)
from deps import Deps
from models.item import Item
from models.story import Story
from tests.fakes.slack_server import FakeSlack
from tests.slackbot import make_bot


def test_query_benchmark_seeds_and_measures(engine: Engine, deps: Deps, slack: FakeSlack) -> None:
    seeded = seed(engine, 2000, batch=700)
    with deps.sessions() as s:
        assert s.scalar(select(func.count(Item.id))) == 2000
        labels = dict(s.execute(select(Item.label, func.count()).group_by(Item.label)).all())
        assert s.scalar(select(func.count(Story.id))) == seeded.stories
    assert 100 < labels["relevant"] == seeded.relevant < 300
    # ~4 reports a story, one contact row each, the channel's story ops (contacts still ahead
    # only at scale: 2,000 items over 3 years leave few stories near NOW)
    assert seeded.relevant / 6 < seeded.stories < seeded.relevant / 2
    assert seeded.contacts == seeded.relevant and seeded.ops >= seeded.stories
    slack.add_history(CHANNEL, posted_stories(engine))
    bot = make_bot(deps, slack)
    cases = [*CASES, story_case(engine)]
    timings = measure(bot, cases, rounds=1, warmup=0)
    assert set(timings) == {name for name, _ in cases}
    assert all(len(t) == 1 and t[0] > 0 for t in timings.values())
    for command in [c for _, c in cases if c.startswith("search") and c.isascii()]:
        assert "*" in str(bot.command(command)["blocks"][1]), f"{command} found nothing"
    # (the Chinese search finds hundreds at 1M items; 2,000 items may hold none of its reports)
    assert "Stored items matching" in reply_text(bot, "search 习近平 釜山")
    assert "Latest stories" in reply_text(bot, "latest")
    assert "Upcoming contacts" in reply_text(bot, "upcoming")
    assert "source" in reply_text(bot, cases[-1][1])  # the story's timeline
    table = report([Run(engine.dialect.name, seeded, database_bytes(engine), timings)])
    assert "| `search 习近平 釜山` |" in table and "MiB per million items" in table
    assert "| `upcoming` |" in table and "| `story <id>` |" in table
