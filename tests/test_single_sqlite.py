"""SQLite serves one bot process: a second `bot.py` on the same file is refused in one line."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from cli.single import AlreadyRunning, single_bot, sqlite_path
from tests.fakes.slack_server import FakeSlack
from tests.faults import ROOT, bot_env, bot_process

pytestmark = pytest.mark.usefixtures("bot_runs")


def _wait_for(log: Path, text: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and text.encode() in log.read_bytes():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.05)
    return False


def test_sqlite_path_only_for_sqlite_files(tmp_path: Path) -> None:
    assert sqlite_path(f"sqlite:///{tmp_path}/a.db") == (tmp_path / "a.db").resolve()
    assert sqlite_path("sqlite://") is None
    assert sqlite_path("sqlite:///:memory:") is None
    assert sqlite_path("postgresql+psycopg://u@127.0.0.1/db") is None


def test_the_lock_is_held_for_the_block_and_released_after(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/diplo.db"
    with single_bot(url), pytest.raises(AlreadyRunning, match="another diplo bot"), single_bot(url):
        pass
    with single_bot(url):  # released: a new bot may start
        pass
    with single_bot("postgresql+psycopg://u@127.0.0.1/db"), single_bot("sqlite://"):
        pass  # no lock for PostgreSQL or memory


@pytest.mark.slow
def test_a_second_bot_on_the_same_sqlite_file_is_refused_but_one_shot_commands_run(
    tmp_path: Path, slack: FakeSlack
) -> None:
    url = f"sqlite:///{tmp_path}/diplo.db"
    env = bot_env(url, [], slack)
    for key in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"):
        env.pop(key)  # console mode
    env["DIPLO_FEEDS"] = "http://127.0.0.1:9/none.xml"
    log = tmp_path / "first.log"
    with bot_process(env, log) as first:
        assert _wait_for(log, "diplo running", first), log.read_text()
        second = subprocess.run(
            [sys.executable, str(ROOT / "bot.py")],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 2, second.stderr
        lines = second.stderr.strip().splitlines()
        assert lines[-1].startswith("diplo: another diplo bot (pid "), lines
        assert str(first.pid) in lines[-1] and "PostgreSQL" in lines[-1]
        assert "Traceback" not in second.stderr
        once = subprocess.run(
            [sys.executable, str(ROOT / "bot.py"), "feeds", "list"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert once.returncode == 0, once.stderr
        assert first.poll() is None  # the first bot runs on
