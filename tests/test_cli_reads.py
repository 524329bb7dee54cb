"""`bot.py latest|search|status|story|topics|sources` on real databases: JSON, plain text, TTY."""

from __future__ import annotations

import argparse
import io
import json
import os
import pty
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from cli import build_parser
from cli.reads import READ_COMMANDS, answer
from deps import Deps
from handlers.reads import UnknownTopic, latest_news
from models.feed import add_feed
from tests.conftest import Clock
from tests.stories import add_story

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = "Xi \x1b[31mred\x1b[0m [bold]markup[/bold] \u202eevil"


def parse(*argv: str) -> argparse.Namespace:
    return build_parser(lambda args: 0).parse_args(list(argv))


def run(deps: Deps, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = answer(deps, parse(*argv), out, err)
    return status, out.getvalue(), err.getvalue()


def as_json(deps: Deps, *argv: str) -> Any:
    status, out, err = run(deps, *argv, "--json")
    assert (status, err) == (0, ""), err
    return json.loads(out)


def utc(stamp: str) -> datetime:
    assert stamp.endswith("Z"), stamp  # ISO-8601 in UTC
    return datetime.fromisoformat(stamp)


@pytest.fixture
def stories(deps: Deps, clock: Clock) -> Deps:
    add_story(deps, 1, [("Reuters", "Trump and Xi to talk"), ("新华网", "习近平同特朗普通电话")])
    clock.advance(hours=1)
    add_story(deps, 2, [("AP", HOSTILE)], topics="visit")
    return deps


def test_every_read_command_is_in_the_table_and_has_json() -> None:
    assert set(READ_COMMANDS) == {"latest", "search", "status", "story", "topics", "sources"}
    for name in READ_COMMANDS:
        args = parse(name, "--json", *{"story": ["1"], "search": ["x"]}.get(name, []))
        assert args.json and args.read_command == name


def test_latest_json_lists_stories_newest_first(stories: Deps, clock: Clock) -> None:
    data = as_json(stories, "latest")
    assert [s["id"] for s in data["stories"]] == [2, 1] and data["items"] == []
    first = data["stories"][1]
    assert first["sources"] == ["Reuters", "新华网"] and first["reports"] == 2
    assert first["headline"]["title"] == "Trump and Xi to talk"
    assert utc(first["last_seen"]) == utc(first["headline"]["published_at"]).replace(minute=1)
    assert set(first) >= {"stage", "kind", "parties", "where", "when", "headline"}
    assert [s["id"] for s in as_json(stories, "latest", "1")["stories"]] == [2]
    assert [s["id"] for s in as_json(stories, "latest", "call")["stories"]] == [1]
    shared = latest_news(stories, 5, None)  # what /diplo latest renders
    assert not isinstance(shared, UnknownTopic)
    assert [s.id for s in shared.stories] == [2, 1]


def test_latest_refuses_bad_arguments_in_one_line(stories: Deps) -> None:
    for argv, words in (
        (["latest", "nope"], "unknown topic 'nope'"),
        (["latest", "99"], "not a number from 1 to 20"),
        (["latest", "1", "2"], "at most one number"),
    ):
        status, out, err = run(stories, *argv)
        assert (status, out) == (2, "") and err.count("\n") == 1 and words in err, err


def test_story_json_and_plain_text(stories: Deps) -> None:
    data = as_json(stories, "story", "#1")
    assert [e["outlet"] for e in data["entries"]] == ["Reuters", "新华网"]
    assert data["entries"][1]["item"]["title"] == "习近平同特朗普通电话"
    status, out, _ = run(stories, "story", "1")
    assert status == 0 and "Story #1: Trump and Xi to talk" in out
    assert out.index("Reuters") < out.index("新华网") and "2 sources, 2 reports" in out
    status, out, err = run(stories, "story", "99")
    assert (status, out) == (1, "") and "no story 99" in err


def test_plain_output_has_no_escape_codes_and_no_markup(stories: Deps) -> None:
    for argv in (["latest"], ["story", "2"], ["search", "markup"], ["status"], ["sources"]):
        status, out, _ = run(stories, *argv)
        assert status == 0 and "\x1b" not in out and "\u202e" not in out, argv
    _, out, _ = run(stories, "story", "2")
    assert "Story #2: Xi red [bold]markup[/bold] evil" in out  # shown literally, control codes gone
    assert all(line == line.rstrip() for line in out.splitlines())


def test_search_json_and_refusal(stories: Deps) -> None:
    data = as_json(stories, "search", "Trump", "talk")
    assert [i["title"] for i in data["items"]] == ["Trump and Xi to talk"]
    assert data["query"] and utc(data["items"][0]["published_at"])
    status, _, err = run(stories, "search", "since:yesterday")
    assert status == 2 and err.startswith("search: ")


def test_status_topics_and_sources_json(stories: Deps, clock: Clock) -> None:
    with stories.sessions.begin() as s:
        add_feed(s, "https://user:pw@feeds.example/rss?key=secret", clock())
    status = as_json(stories, "status")
    assert status["feeds"][0]["url"] == "https://***@feeds.example/rss?key=***"
    assert status["items_today"] == 3 and status["last_poll"] is None
    assert status["alerts"]["pending"] >= 1 and set(status) == {
        "feeds",
        "last_poll",
        "items_today",
        "alerts",
        "queue",
        "paused",
        "failed_alerts",
    }
    queued = status["alerts"]["pending"] + status["alerts"]["sending"]
    assert sum(status["queue"].values()) == queued and set(status["queue"]) <= {
        "post",
        "reply",
        "update",
        "remind",
        "digest",
        "catchup",
        "more",
    }
    assert {"folded", "skipped"} <= set(status["alerts"])
    topics = as_json(stories, "topics")["topics"]
    assert {"name": "call", "description": topics[1]["description"]} in topics
    sources = as_json(stories, "sources")
    assert sources["from"] == "news/sources.toml"
    wire = next(k for k in sources["kinds"] if k["kind"] == "wire")
    assert "Reuters" in wire["outlets"] and (wire["feeds"], wire["items"]) == (0, 0)


def bot(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    environ = {
        k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DIPLO_", "DATABASE_"))
    }
    return subprocess.run(
        [sys.executable, str(ROOT / "bot.py"), *args],
        capture_output=True,
        text=True,
        env=environ | env,
        cwd=ROOT,
        timeout=60,
    )


def test_bot_py_in_a_pipe_and_on_a_terminal(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "FORCE_COLOR": "1"}
    piped = bot("topics", env=env)
    assert piped.returncode == 0 and "\x1b" not in piped.stdout
    assert piped.stdout.splitlines()[0].split() == ["topic", "description"]
    assert json.loads(bot("status", "--json", env=env).stdout)["feeds"] == []
    # on a terminal: the same table, with colour
    leader, follower = pty.openpty()
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("DIPLO_", "DATABASE_"))}
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "bot.py"), "topics"],
        stdout=follower,
        stderr=subprocess.PIPE,
        env=environ | env | {"TERM": "xterm-256color", "COLUMNS": "100"},
        cwd=ROOT,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    assert proc.wait(timeout=60) == 0
    os.close(leader)
    shown = b"".join(chunks).decode()
    assert "\x1b[" in shown and "call" in shown
