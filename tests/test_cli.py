"""The command line, run as a user runs it: `python bot.py …` in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakes.feed_server import FeedServer
from tests.feedgen import TRUMP_XI_CALL, rss, wire

ROOT = Path(__file__).resolve().parents[1]


def bot(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 60
):
    environ = {
        k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DIPLO_", "DATABASE_"))
    }
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, str(ROOT / "bot.py"), *args],
        capture_output=True,
        text=True,
        env=environ,
        cwd=cwd or ROOT,
        timeout=timeout,
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "DIPLO_ALLOW_HOSTS": "127.0.0.1"}


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["poll", "--help"],
        ["feeds", "--help"],
        ["feeds", "add", "--help"],
        ["db", "upgrade", "--help"],
        ["classify", "--help"],
        ["reclassify", "--help"],
    ],
)
def test_help(args: list[str]) -> None:
    result = bot(*args)
    assert result.returncode == 0
    assert "usage:" in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["frobnicate"],
        ["poll"],
        ["feeds", "add"],
        ["feeds", "zap"],
        ["db"],
        ["poll", "--once", "--nope"],
    ],
)
def test_bad_arguments_give_one_line_and_exit_2(args: list[str], env: dict[str, str]) -> None:
    result = bot(*args, env=env)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "error" in result.stderr


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DIPLO_POLL_SECONDS", "soon"),
        ("DATABASE_URL", "mongodb://x/y"),
        ("DIPLO_FEEDS", "not a url"),
    ],
)
def test_bad_configuration_stops_with_one_line(
    variable: str, value: str, env: dict[str, str]
) -> None:
    result = bot("feeds", "list", env={**env, variable: value})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and variable in lines[0] and "Traceback" not in result.stderr


def test_unreachable_database_is_one_line(tmp_path: Path) -> None:
    result = bot("db", "upgrade", env={"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"})
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "DATABASE_URL" in result.stderr


def test_db_upgrade_then_poll_once_prints_a_summary(
    env: dict[str, str], feed_server: FeedServer
) -> None:
    a = feed_server.serve("/a.xml", rss(wire(3)))
    b = feed_server.serve("/b.xml", b"<html>no feed</html>", content_type="text/html")
    env = {**env, "DIPLO_FEEDS": f"{a},{b}"}
    assert bot("db", "upgrade", env=env).returncode == 0
    result = bot("poll", "--once", env=env)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "feeds polled" in out and "new items" in out
    assert "failed feeds:" in out and "/b.xml" in out
    listed = bot("feeds", "list", env=env).stdout
    assert "ok" in listed and "failing" in listed


def test_feeds_add_remove_import_export(
    env: dict[str, str], feed_server: FeedServer, tmp_path: Path
) -> None:
    url = feed_server.serve("/wire.xml", rss(wire(4), title="The Wire"))
    added = bot("feeds", "add", url, env=env)
    assert added.returncode == 0, added.stderr
    assert "4 items marked seen" in added.stdout
    page = feed_server.serve(
        "/page.html",
        f'<html><head><link rel="alternate" type="application/rss+xml" href="{url}">'
        "</head></html>".encode(),
        content_type="text/html",
    )
    again = bot("feeds", "add", page, env=env)
    assert again.returncode == 0 and "already present" in again.stdout
    not_feed = feed_server.serve(
        "/nope.html", b"<html><body>hi</body></html>", content_type="text/html"
    )
    refused = bot("feeds", "add", not_feed, env=env)
    assert refused.returncode == 1 and "links to no RSS or Atom feed" in refused.stderr

    exported = bot("feeds", "export", env=env).stdout
    assert url in exported and "<opml" in exported
    opml = tmp_path / "list.opml"
    opml.write_text(exported.replace(url, "https://other.example/rss"))
    imported = bot("feeds", "import", str(opml), env=env)
    assert "1 feeds added" in imported.stdout
    assert bot("feeds", "remove", url, env=env).returncode == 0
    assert bot("feeds", "remove", url, env=env).returncode == 1
    bad = tmp_path / "bad.opml"
    bad.write_text("<opml><body>")
    result = bot("feeds", "import", str(bad), env=env)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1


def test_private_address_is_refused_without_the_allow_list(
    env: dict[str, str], feed_server: FeedServer
) -> None:
    url = feed_server.serve("/wire.xml", rss(wire(1)))
    result = bot("feeds", "add", url, env={**env, "DIPLO_ALLOW_HOSTS": ""})
    assert result.returncode == 1 and "blocked" in result.stderr


def test_console_mode_prints_new_relevant_items(
    env: dict[str, str], feed_server: FeedServer
) -> None:
    url = feed_server.serve("/wire.xml", rss(wire(2)))
    env = {**env, "DIPLO_FEEDS": url}
    first = bot("poll", "--once", env=env)
    assert first.returncode == 0 and "for console" not in first.stdout  # the first poll primes
    feed_server.serve("/wire.xml", rss([TRUMP_XI_CALL, *wire(2)]))
    second = bot("poll", "--once", env=env)  # every feed is polled, due or not
    assert second.returncode == 0, second.stderr
    assert "alert 1 for console" in second.stdout
    assert TRUMP_XI_CALL.title in second.stdout
    assert "https://wire.example/world/trump-xi-call" in second.stdout


@pytest.mark.parametrize("command", ["stories", "classify"])
def test_a_closed_pipe_exits_141_without_a_traceback(command: str, tmp_path: Path) -> None:
    """`bot.py stories big.jsonl | head -1`: the reader goes away, diplo stops quietly."""
    line = (
        '{"id": "x%d", "title": "Trump and Xi speak by phone about trade", "summary": "", '
        '"source": "Reuters", "published": "2026-11-30T09:00:00Z"}\n'
    )
    big = tmp_path / "big.jsonl"
    big.write_text("".join(line % n for n in range(3000)), encoding="utf-8")  # > a pipe's 64 KiB
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DIPLO_"))}
    with subprocess.Popen(
        [sys.executable, str(ROOT / "bot.py"), command, str(big)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environ,
        cwd=ROOT,
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.readline().startswith(b'{"id": "x0"')
        proc.stdout.close()  # what `head -1` does after its line
        err = proc.stderr.read().decode()
        assert proc.wait(timeout=60) == 141
    assert err == ""
