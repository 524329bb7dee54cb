"""`bot.py demo` end to end: what it prints (or posts) follows from its data files in news/demo/.

Every expectation is read from items.jsonl (labels, events, stages, dates): the number of story
messages, which thread each report lands in, which replies announce a stage, what stays quiet,
the planned contact's date. None of the demo's headlines is written here.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cli import main
from cli.context import StartupError
from cli.demo import DemoOptions, run_demo
from handlers.blocks import STAGE_BADGES
from handlers.sender import SlackSender, make_web_client
from models.db import make_engine, make_sessionmaker
from models.feed import add_feed
from models.migrate import upgrade
from news.demo import CONTENT_TYPES, DemoDataError, DemoItem, Scenario, load_scenario, render_feed
from settings import Settings
from tests.fakes.slack_server import FakeSlack

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = load_scenario()
# planned < postponed < held < readout = outcome (README, Stories): a reply announcing a
# higher rank is broadcast to the channel
RANK = {"planned": 0, "postponed": 1, "held": 2, "readout": 3, "outcome": 3}
HEADING = re.compile(r"^── (.+) ──$", re.MULTILINE)
CHANNEL = "C0DEMO0001"


@dataclass(frozen=True)
class Printed:
    """One message the ConsoleSender printed: a post, a thread reply or an edit."""

    kind: str  # post | reply | update
    ts: str  # its own ts (an edit: the ts it edits)
    body: str
    parent: str | None = None  # a reply's thread
    broadcast: bool = False


def parse(out: str) -> list[Printed]:
    """The ConsoleSender's messages in what the demo printed, in order."""
    parts = HEADING.split(out)
    printed = []
    for head, text in zip(parts[1::2], parts[2::2], strict=True):
        body = text.strip("\n").split("\n\n", 1)[0]
        if m := re.fullmatch(r"alert (\d+) for \S+", head):
            printed.append(Printed("post", f"console-{m[1]}", body))
        elif m := re.fullmatch(r"reply (\d+) to (\S+) in \S+(, also sent to the channel)?", head):
            printed.append(Printed("reply", f"console-{m[1]}", body, m[2], bool(m[3])))
        elif m := re.fullmatch(r"(\S+) in \S+ now reads", head):
            printed.append(Printed("update", m[1], body))
        else:
            raise AssertionError(f"unknown heading {head!r}")
    return printed


def stories(scenario: Scenario) -> dict[str, list[DemoItem]]:
    """The relevant items that appear while the demo runs, by event, in published order."""
    by_event: dict[str, list[DemoItem]] = {}
    for item in sorted(scenario.items, key=lambda i: i.published):
        if item.relevant and item.published > scenario.start:
            assert item.event is not None
            by_event.setdefault(item.event, []).append(item)
    return by_event


def quiet(scenario: Scenario) -> list[DemoItem]:
    """Items the bot must never show: not relevant, or already on the feeds at the start."""
    return [i for i in scenario.items if not i.relevant or i.published <= scenario.start]


def advances(items: list[DemoItem]) -> list[tuple[DemoItem, bool]]:
    """Each item after the first, and whether it takes its story to a higher stage."""
    assert items[0].stage is not None
    rank, out = RANK[items[0].stage], []
    for item in items[1:]:
        assert item.stage is not None
        out.append((item, RANK[item.stage] > rank))
        rank = max(rank, RANK[item.stage])
    return out


def final_stage(items: list[DemoItem]) -> str:
    """The furthest stage the story's items reach (the first to reach it names it)."""
    best = items[0]
    for item in items:
        assert item.stage is not None and best.stage is not None
        if RANK[item.stage] > RANK[best.stage]:
            best = item
    assert best.stage is not None
    return best.stage


def plain(badge: str) -> str:
    return badge.replace("*", "")


def upcoming_section(out: str) -> str:
    """The demo's closing list of planned contacts."""
    return out[out.rindex("\nUpcoming") :]


def check_console_demo(out: str, live: bool = False) -> None:
    """Assert everything the data says about a console run's output."""
    printed = parse(out)
    posts = [p for p in printed if p.kind == "post"]
    by_event = stories(SCENARIO)
    assert len(posts) == len(by_event), "one story message per story"
    upcoming = upcoming_section(out)
    for event, items in by_event.items():
        first = items[0]
        mine = [p for p in posts if p.body.splitlines()[0].endswith(f"({first.url})")]
        assert len(mine) == 1, f"{event}: its story message is headed by its first report"
        story_ts = mine[0].ts
        for item, advanced in advances(items):
            replies = [p for p in printed if p.kind == "reply" and item.url in p.body]
            assert replies, f"{item.id}: printed as a reply"
            assert all(r.parent == story_ts for r in replies), f"{item.id}: in {event}'s thread"
            if not live:  # in real time, two steps may share a poll: order is not the data's
                assert replies[0].broadcast == advanced, f"{item.id}: stage change broadcast"
        edits = [p for p in printed if p.kind == "update" and p.ts == story_ts]
        latest = (edits[-1] if edits else mine[0]).body
        stage = final_stage(items)
        assert plain(STAGE_BADGES[stage]) in latest.splitlines()[1], f"{event}: ends {stage}"
        dates = {i.when for i in items if i.when}
        if stage == "planned" and dates:
            (when,) = dates
            assert f"{when:%d %b %Y}" in latest.splitlines()[1], f"{event}: shows its date"
            listed = f"{when:%a} {when.day} {when:%b %Y}"  # as `bot.py upcoming` prints it
            assert listed in upcoming and first.title in upcoming, f"{event}: upcoming"
        else:
            assert first.title not in upcoming, f"{event}: not upcoming any more"
    for item in quiet(SCENARIO):
        assert item.url not in out and item.title not in out, f"{item.id} must stay quiet"


def demo(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`python bot.py demo ARGS` as a user runs it (no Slack, no DIPLO_ settings)."""
    environ = {
        k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DIPLO_", "DATABASE_"))
    }
    return subprocess.run(
        [sys.executable, str(ROOT / "bot.py"), "demo", *args],
        capture_output=True,
        text=True,
        env=environ,
        cwd=ROOT,
        timeout=timeout,
    )


def test_console_demo_prints_stories_threads_stages_and_upcoming() -> None:
    result = demo("--fast")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # nothing went wrong enough to log a warning
    check_console_demo(result.stdout)


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_demo_on_postgresql(database_url: str) -> None:
    out = io.StringIO()
    assert run_demo(Settings(), DemoOptions(fast=True, database_url=database_url), out=out) == 0
    check_console_demo(out.getvalue())


def test_live_demo_runs_the_delivery_loop() -> None:
    out = io.StringIO()
    assert run_demo(Settings(), DemoOptions(speed=20), out=out) == 0
    check_console_demo(out.getvalue(), live=True)


def test_demo_posts_to_a_slack_channel(slack: FakeSlack) -> None:
    settings = Settings(slack_bot_token=slack.bot_token, slack_api_url=slack.url)
    sender = SlackSender(make_web_client(slack.bot_token, slack.url), pace=0.0)
    out = io.StringIO()
    options = DemoOptions(fast=True, channel=CHANNEL)
    assert run_demo(settings, options, out=out, sender=sender) == 0
    by_event = stories(SCENARIO)
    top = slack.top_level(CHANNEL)
    assert len(top) == len(by_event), "one story message per story"
    for items in by_event.values():
        head = f"*<{items[0].url}|"
        (message,) = [m for m in top if m["blocks"][0]["text"]["text"].startswith(head)]
        thread = slack.replies(CHANNEL, message["ts"])
        for item, advanced in advances(items):
            (reply,) = [r for r in thread if item.url in json.dumps(r["blocks"])]
            assert (reply.get("subtype") == "thread_broadcast") == advanced, item.id
    posted = json.dumps(slack.calls("chat.postMessage") + slack.calls("chat.update"))
    for item in quiet(SCENARIO):
        assert item.url not in posted, f"{item.id} must stay quiet"
    assert "── alert" not in out.getvalue()  # nothing printed as the console sender prints


def test_channel_needs_a_bot_token(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    assert main(lambda _: 0, ["demo", "--fast", "--channel", CHANNEL]) == 2
    err = capsys.readouterr().err
    assert err == "diplo: demo --channel needs SLACK_BOT_TOKEN (see README → Slack)\n"


def test_a_database_with_feeds_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'used.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with make_sessionmaker(engine).begin() as s:
        add_feed(s, "https://example.com/feed.xml", datetime.now(UTC))
    engine.dispose()
    out = io.StringIO()
    with pytest.raises(StartupError, match="already has feeds"):
        run_demo(Settings(), DemoOptions(fast=True, database_url=url), out=out)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("{", "line 2: not JSON"),
        ('{"id": "x"}', "line 2: missing"),
        (
            '{"id": "x", "feed": "nowhere", "title": "t", "summary": "", "source": "s", '
            '"url": "https://a.example/", "published": "2025-09-15T10:00:00Z", "lang": "en", '
            '"label": "irrelevant"}',
            "line 2: feed 'nowhere' is not in feeds.toml",
        ),
        (
            '{"id": "x", "feed": "wire", "title": "t", "summary": "", "source": "s", '
            '"url": "https://a.example/", "published": "2025-09-15T10:00:00", "lang": "en", '
            '"label": "irrelevant"}',
            "line 2: published needs its zone",
        ),
        (
            '{"id": "x", "feed": "wire", "title": "t", "summary": "", "source": "s", '
            '"url": "https://a.example/", "published": "2025-09-15T10:00:00Z", "lang": "en", '
            '"label": "relevant"}',
            "line 2: a relevant item needs event and stage",
        ),
    ],
)
def test_bad_demo_data_names_the_line(tmp_path: Path, line: str, problem: str) -> None:
    (tmp_path / "sources.toml").write_text("")
    (tmp_path / "feeds.toml").write_text(
        'title = "t"\nstart = 2025-09-15T06:00:00Z\n[[feed]]\nid = "wire"\ntitle = "Wire"\n'
        'format = "rss"\nlang = "en"\nsite = "https://wire.example/"\n'
    )
    good = (
        '{"id": "a", "feed": "wire", "title": "t", "summary": "", "source": "s", "url": '
        '"https://a.example/", "published": "2025-09-15T10:00:00Z", "lang": "en", '
        '"label": "irrelevant"}'
    )
    (tmp_path / "items.jsonl").write_text(f"{good}\n{line}\n")
    with pytest.raises(DemoDataError, match=re.escape(problem)):
        load_scenario(tmp_path)


def test_feeds_parse_as_the_bot_parses_them() -> None:
    from news.parse import parse_feed
    from news.sources import load_sources

    book = load_sources(SCENARIO.sources_file)
    end = SCENARIO.steps()[-1]
    for feed in SCENARIO.feeds:
        items = SCENARIO.on_feed(feed.id, end)
        body = render_feed(feed, items, SCENARIO.start)
        headers = {"content-type": CONTENT_TYPES[feed.format]}
        parsed = parse_feed(body, headers, f"http://127.0.0.1:1{feed.path}", end, book)
        assert [(e.title, e.url, e.published) for e in parsed.entries] == [
            (i.title, i.url, i.published) for i in items
        ]
        assert not parsed.problems
        assert render_feed(feed, items, SCENARIO.start) == body  # same items, same bytes: 304
