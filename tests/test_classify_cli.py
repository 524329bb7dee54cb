"""cli.classify: `bot.py classify` and `bot.py classify --eval`, driven through argparse with
string streams (no subprocess)."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest

from cli import classify
from news.relevance import default_classifier

HOLDOUT = Path(__file__).resolve().parent / "data" / "relevance" / "holdout.jsonl"


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="bot.py")
    classify.register(root.add_subparsers(dest="command"))
    return root


def run(argv: list[str], stdin: str = "") -> tuple[int, str, str]:
    args = parser().parse_args(["classify", *argv])
    out, err = io.StringIO(), io.StringIO()
    status = args.func(args, stdin=io.StringIO(stdin), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines()]


def test_register_adds_classify_with_run() -> None:
    args = parser().parse_args(["classify", "--rules", "r.toml", "items.jsonl"])
    assert args.func is classify.run
    assert args.rules == Path("r.toml")
    assert args.file == Path("items.jsonl")
    assert args.eval is None


def test_classifies_each_line_and_keeps_the_id() -> None:
    stdin = (
        '{"id": "a1", "title": "Trump, Xi hold phone call", "summary": "They discussed trade."}\n'
        "\n"
        '{"title": "Fed cuts rates"}\n'
        '{"id": 3, "title": "习近平同美国总统拜登通电话", "summary": null}\n'
    )
    status, out, err = run([], stdin)
    assert status == 0
    assert err == ""
    first, second, third = lines(out)
    assert first["id"] == "a1"
    assert first["label"] == "relevant"
    assert first["topics"] == ["call", "trade"]
    assert "us:Trump" in first["reasons"]  # type: ignore[operator]
    assert 0.0 <= first["score"] <= 1.0  # type: ignore[operator]
    assert "id" not in second
    assert second["label"] == "irrelevant"
    assert third == {**third, "id": 3, "label": "relevant"}
    assert "习近平" in out  # written as UTF-8, not \\u escapes


def test_bad_lines_give_error_lines_not_a_crash() -> None:
    stdin = (
        "not json\n"
        "[1, 2]\n"
        '{"summary": "no title"}\n'
        '{"title": 7}\n'
        '{"title": "ok", "summary": 3}\n'
        '{"title": "Biden and Xi meet in Woodside"}\n'
    )
    status, out, _ = run([], stdin)
    assert status == 1
    results = lines(out)
    assert [r.get("line") for r in results[:5]] == [1, 2, 3, 4, 5]
    assert results[0]["error"].startswith("invalid JSON")  # type: ignore[union-attr]
    assert "expected a JSON object" in results[1]["error"]  # type: ignore[operator]
    assert "title" in results[2]["error"]  # type: ignore[operator]
    assert results[5]["label"] == "relevant"


def test_reads_a_file_argument(tmp_path: Path) -> None:
    path = tmp_path / "items.jsonl"
    path.write_text('{"title": "Rubio meets Wang Yi"}\n', encoding="utf-8")
    status, out, _ = run([str(path)])
    assert status == 0
    assert lines(out)[0]["label"] == "relevant"


def test_a_missing_input_file_is_one_line_and_status_2(tmp_path: Path) -> None:
    status, out, err = run([str(tmp_path / "nope.jsonl")])
    assert (status, out) == (2, "")
    assert err.count("\n") == 1
    assert "nope.jsonl" in err


def test_eval_prints_both_systems(tmp_path: Path) -> None:
    path = tmp_path / "labelled.jsonl"
    rows = [
        {"title": "Trump and Xi speak by phone", "label": "relevant"},
        {"title": "US and China hold talks in Geneva", "label": "relevant"},
        {"title": "China calls on US to stop tariffs", "label": "related"},
        {"title": "Fed cuts rates", "label": "irrelevant"},
        {"title": "no label here"},
    ]
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n", encoding="utf-8")
    status, out, _ = run(["--eval", str(path)])
    assert status == 0
    assert "4 items (2 relevant, 1 related, 1 irrelevant)" in out
    assert "skipped 1 lines" in out
    assert "precision" in out and "recall" in out and "F1" in out
    engine_block = out[out.index("engine  ") : out.index("naive  ")]
    assert "relevant" in engine_block and "irrelevant" in engine_block
    # The engine gets all four; the naive rule misses the call (no country names) and
    # takes "calls on" for a call.
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.strip()}
    assert rows["precision"] == ["1.000", "0.500"]
    assert rows["recall"] == ["1.000", "0.500"]


def test_eval_on_the_holdout_file_reports_the_engine_ahead() -> None:
    status, out, _ = run(["--eval", str(HOLDOUT)])
    assert status == 0
    f1 = next(line for line in out.splitlines() if line.startswith("F1"))
    engine, naive = (float(x) for x in f1.split()[1:])
    assert engine > naive


def test_eval_missing_file_is_one_line_and_status_2(tmp_path: Path) -> None:
    status, out, err = run(["--eval", str(tmp_path / "missing.jsonl")])
    assert (status, out) == (2, "")
    assert err.strip().endswith("No such file or directory")
    assert err.count("\n") == 1


def test_bad_rules_file_is_one_line_and_status_2(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text('[topics.trade]\ndescription = "Trade"\nterms = ["tariff"\n', encoding="utf-8")
    status, out, err = run(["--rules", str(path)], "")
    assert (status, out) == (2, "")
    assert "line 3" in err or "line 4" in err
    assert err.count("\n") == 1


def test_custom_rules_are_used(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(
        '[topics.trade]\ndescription = "Trade"\nterms = ["tariff"]\n'
        '[actors.us]\nside = "us"\nrank = "leader"\nterms = ["Lincoln"]\n'
        '[actors.cn]\nside = "china"\nrank = "leader"\nterms = ["Kangxi"]\n'
        '[events.meet]\nterms = ["meets"]\n',
        encoding="utf-8",
    )
    status, out, _ = run(["--rules", str(path)], '{"title": "Lincoln meets Kangxi on tariff"}\n')
    assert status == 0
    assert lines(out)[0]["label"] == "relevant"
    assert lines(out)[0]["topics"] == ["trade"]


@pytest.mark.parametrize("title", ["Trump, Xi to meet in Busan", "Fed cuts rates"])
def test_output_matches_the_engine(title: str) -> None:
    _, out, _ = run([], json.dumps({"title": title}) + "\n")
    verdict = default_classifier().classify(title)
    assert lines(out)[0] == {
        "label": verdict.label,
        "score": verdict.score,
        "topics": list(verdict.topics),
        "reasons": list(verdict.reasons),
    }
