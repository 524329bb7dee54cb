"""cli.stories: `bot.py stories` and `--eval`, in process and through a subprocess."""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from cli import stories
from cli.stories import bcubed
from tests.conftest import SHARED_DATA

ROOT = Path(__file__).resolve().parents[1]
OWN = ROOT / "tests" / "data" / "stories"
DEV = SHARED_DATA / "stories-dev.jsonl"


def run(argv: list[str], stdin: str = "") -> tuple[int, str, str]:
    root = argparse.ArgumentParser(prog="bot.py")
    stories.register(root.add_subparsers(dest="command"))
    args = root.parse_args(["stories", *argv])
    out, err = io.StringIO(), io.StringIO()
    status = args.func(args, stdin=io.StringIO(stdin), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


ITEMS = [
    {
        "id": "a",
        "title": "Trump and Xi speak by phone about trade",
        "summary": "",
        "source": "Reuters",
        "published": "2025-11-24T15:00:00Z",
    },
    {
        "id": "b",
        "title": "习近平同美国总统特朗普通电话",
        "summary": "",
        "source": "新华社",
        "published": "2025-11-24T14:00:00Z",
        "lang": "zh",
    },
    {
        "id": "c",
        "title": "China's economy slows",
        "summary": "",
        "source": "AP",
        "published": "2025-11-24T10:00:00Z",
    },
    {
        "id": "d",
        "title": "Trump and Xi to meet in Beijing on April 2",
        "summary": "",
        "source": "AP",
        "published": "2026-01-10",
    },
]


def test_one_line_per_item_in_input_order() -> None:
    status, out, err = run([], "\n".join(json.dumps(i, ensure_ascii=False) for i in ITEMS))
    assert (status, err) == (0, "")
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["id"] for r in rows] == ["a", "b", "c", "d"]
    assert set(rows[0]) == {"id", "label", "story", "stage", "when", "where", "parties"}
    assert rows[0]["story"] == rows[1]["story"] is not None
    assert (rows[1]["stage"], rows[0]["stage"]) == ("readout", "held")
    assert rows[1]["parties"] == {"us": ["trump"], "china": ["xi"]}
    assert rows[2]["story"] is None and rows[2]["label"] != "relevant"
    assert (rows[3]["stage"], rows[3]["when"], rows[3]["where"]) == (
        "planned",
        "2026-04-02",
        "Beijing",
    )
    assert rows[3]["story"] != rows[0]["story"]


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("{not json", "line 1: invalid JSON"),
        ("[1, 2]", "line 1: expected a JSON object"),
        ('{"title": "x"}', 'line 1: "published" must be a non-empty string'),
        ('{"title": "x", "published": "yesterday"}', 'line 1: "published" is not an ISO date'),
        ('{"title": 5, "published": "2025-01-01"}', 'line 1: "title" must be a non-empty string'),
    ],
)
def test_bad_input_is_one_line_and_exit_2(line: str, words: str) -> None:
    status, _, err = run([], line)
    assert status == 2
    assert err.startswith(f"stories: {words}") and err.count("\n") == 1


def test_bcubed() -> None:
    assert bcubed(["x", "x", "y"], ["a", "a", "b"]) == (1.0, 1.0, 1.0)
    p, r, f = bcubed(["x", "x", "x"], ["a", "a", "b"])
    assert round(p, 3) == 0.556 and r == 1.0 and 0.7 < f < 0.72


REPORT_ROWS = (
    "B-cubed precision",
    "B-cubed recall",
    "B-cubed F1",
    "planned F1",
    "five-stage accuracy",
)


def report_rows(out: str) -> dict[str, tuple[float, float]]:
    """The report's five rows: label -> (engine, naive); every one must be there."""
    rows = {}
    for line in out.splitlines():
        parts = line.rsplit(None, 2)
        if len(parts) == 3 and parts[0].strip() in REPORT_ROWS:
            rows[parts[0].strip()] = (float(parts[1]), float(parts[2]))
    assert sorted(rows) == sorted(REPORT_ROWS), out
    return rows


@pytest.mark.parametrize("name", ["heldout.jsonl", "blind.jsonl"])
def test_targets_on_our_labelled_sets(name: str) -> None:
    status, out, _ = run(["--eval", str(OWN / name)])
    assert status == 0
    figures = report_rows(out)
    engine = {k: v[0] for k, v in figures.items()}
    naive = {k: v[1] for k, v in figures.items()}
    assert engine["B-cubed F1"] >= 0.90 > naive["B-cubed F1"]
    assert engine["planned F1"] >= 0.80
    assert engine["five-stage accuracy"] >= 0.70


@pytest.mark.skipif(not DEV.exists(), reason=f"dev set not found at {DEV}")
def test_targets_on_the_dev_set() -> None:
    status, out, _ = run(["--eval", str(DEV)])
    assert status == 0 and "105 relevant in 53 stories" in out
    engine = {k: v[0] for k, v in report_rows(out).items()}
    assert engine["B-cubed F1"] >= 0.90
    assert engine["planned F1"] >= 0.80
    assert engine["five-stage accuracy"] >= 0.70


def test_subprocess_reads_a_file_and_fails_cleanly(tmp_path: Path) -> None:
    good = tmp_path / "items.jsonl"
    good.write_text("\n".join(json.dumps(i, ensure_ascii=False) for i in ITEMS), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "bot.py", "stories", str(good)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 4
    missing = subprocess.run(
        [sys.executable, "bot.py", "stories", str(tmp_path / "none.jsonl")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1
    assert "cannot read" in missing.stderr
