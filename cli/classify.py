"""`bot.py classify`: label news items given as JSON lines, or score the engine on labelled ones."""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from rich.console import Console
from rich.text import Text

from cli.context import settings_or_exit
from cli.terminal import show, table
from news.relevance import Classifier, Label, default_classifier, naive_classify
from news.rules import RulesError, load_rules

LABELS: tuple[Label, ...] = ("relevant", "related", "irrelevant")


def register(sub: argparse._SubParsersAction) -> None:
    """Add `classify`."""
    parser = sub.add_parser(
        "classify",
        help="label news items (JSON lines) with the relevance engine",
        description='Read JSON lines {"title": …, "summary": …} from FILE or standard input '
        "and write one JSON line per item with label, score, topics and reasons (an input "
        '"id" is kept). A line that cannot be read gives {"line": N, "error": …} and '
        "exit status 1. With --eval, score the engine and the naive baseline on a labelled file.",
    )
    parser.add_argument(
        "file", nargs="?", type=Path, help="JSON lines to classify (default: standard input)"
    )
    parser.add_argument(
        "--rules",
        type=Path,
        metavar="PATH",
        help="rules file (default: DIPLO_RULES, else news/topics.toml)",
    )
    parser.add_argument(
        "--eval",
        type=Path,
        metavar="FILE",
        help="labelled JSON lines (title, summary, label): print precision, recall, F1 and "
        "confusion matrices for the engine and the naive baseline",
    )
    parser.set_defaults(func=run)


def run(
    args: argparse.Namespace,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Classify or evaluate; returns the exit status (2 for unusable input or rules)."""
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    rules_path = args.rules or settings_or_exit().rules_file
    try:
        classifier = Classifier(load_rules(rules_path)) if rules_path else default_classifier()
    except RulesError as exc:
        print(f"classify: {exc}", file=stderr)
        return 2
    if args.eval is not None:
        return evaluate_file(args.eval, classifier, stdout, stderr)
    if args.file is None:
        return classify_lines(stdin, classifier, stdout)
    try:
        with args.file.open(encoding="utf-8") as lines:
            return classify_lines(lines, classifier, stdout)
    except BrokenPipeError:
        raise  # the reader went away (`| head`): cli.main exits 141
    except (OSError, UnicodeDecodeError) as exc:
        print(f"classify: cannot read {args.file}: {_reason(exc)}", file=stderr)
        return 2


def classify_lines(lines: Iterable[str], classifier: Classifier, stdout: TextIO) -> int:
    """Write one verdict (or error) line per non-empty input line; 1 if any line was bad."""
    status = 0
    for number, item in _items(lines):
        if isinstance(item, str):
            out: dict[str, Any] = {"line": number, "error": item}
            status = 1
        else:
            verdict = classifier.classify(item["title"], item.get("summary") or "")
            out = {"id": item["id"]} if "id" in item else {}
            out |= {
                "label": verdict.label,
                "score": verdict.score,
                "topics": list(verdict.topics),
                "reasons": list(verdict.reasons),
            }
        stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
    return status


def _items(lines: Iterable[str]) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(line number, item or error message) for each non-empty line."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, f"invalid JSON: {exc.msg} (column {exc.colno})"
            continue
        if not isinstance(item, dict):
            yield number, f"expected a JSON object, got {type(item).__name__}"
        elif not isinstance(item.get("title"), str):
            yield number, '"title" must be a string'
        elif not isinstance(item.get("summary") or "", str):
            yield number, '"summary" must be a string'
        else:
            yield number, item


@dataclass(slots=True)
class Scores:
    """Counts for one system: a 3×3 confusion matrix of gold × predicted labels."""

    matrix: dict[tuple[str, str], int] = field(default_factory=dict)

    def add(self, gold: str, predicted: str) -> None:
        """Count one item."""
        self.matrix[gold, predicted] = self.matrix.get((gold, predicted), 0) + 1

    def count(self, gold: str, predicted: str) -> int:
        """Items with this gold label and this prediction."""
        return self.matrix.get((gold, predicted), 0)

    def relevant_vs_rest(self) -> tuple[float, float, float]:
        """Precision, recall and F1 for the label "relevant" against the other two."""
        tp = self.count("relevant", "relevant")
        fp = sum(self.count(gold, "relevant") for gold in LABELS if gold != "relevant")
        fn = sum(self.count("relevant", p) for p in LABELS if p != "relevant")
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return precision, recall, f1


@dataclass(slots=True)
class Evaluation:
    """The engine and the naive baseline scored on one labelled set."""

    engine: Scores = field(default_factory=Scores)
    naive: Scores = field(default_factory=Scores)
    gold: dict[str, int] = field(default_factory=dict)
    skipped: int = 0


def evaluate(rows: Iterable[dict[str, Any]], classifier: Classifier) -> Evaluation:
    """Score the engine and the naive rule on labelled rows (title, summary, label)."""
    result = Evaluation()
    for row in rows:
        gold = row.get("label")
        title, summary = row.get("title"), row.get("summary") or ""
        if gold not in LABELS or not isinstance(title, str) or not isinstance(summary, str):
            result.skipped += 1
            continue
        result.gold[gold] = result.gold.get(gold, 0) + 1
        result.engine.add(gold, classifier.classify(title, summary).label)
        result.naive.add(gold, "relevant" if naive_classify(title, summary) else "irrelevant")
    return result


def evaluate_file(path: Path, classifier: Classifier, stdout: TextIO, stderr: TextIO) -> int:
    """Print the evaluation of a labelled JSON-lines file; 2 if it cannot be read."""
    try:
        with path.open(encoding="utf-8") as lines:
            rows = [item for _, item in _items(lines) if isinstance(item, dict)]
    except (OSError, UnicodeDecodeError) as exc:
        print(f"classify: cannot read {path}: {_reason(exc)}", file=stderr)
        return 2
    result = evaluate(rows, classifier)
    stdout.write(report(result, path.name))
    return 0


def report(result: Evaluation, name: str) -> str:
    """The evaluation as plain text: the scores, then both confusion matrices (rich tables)."""
    out = io.StringIO()
    show(lambda console: draw_report(console, result, name), out)
    return out.getvalue()


def draw_report(console: Console, result: Evaluation, name: str) -> None:
    """Print the evaluation: counts, precision/recall/F1 of both systems, confusion matrices."""
    total = sum(result.gold.values())
    counts = ", ".join(f"{result.gold.get(label, 0)} {label}" for label in LABELS)
    console.print(Text(f"{name}: {total} items ({counts})"))
    if result.skipped:
        console.print(f"skipped {result.skipped} lines without a title or a known label")
    console.print()
    engine, naive = result.engine.relevant_vs_rest(), result.naive.relevant_vs_rest()
    scores = table("relevant vs rest", "engine:right", "naive:right")
    for i, metric in enumerate(("precision", "recall", "F1")):
        scores.add_row(metric, f"{engine[i]:.3f}", f"{naive[i]:.3f}")
    console.print(scores)
    console.print()
    console.print("confusion (rows: gold label, columns: predicted)")
    for system, matrix in (("engine", result.engine), ("naive", result.naive)):
        confusion = table(system, *(f"{label}:right" for label in LABELS))
        for gold in LABELS:
            confusion.add_row(f"  {gold}", *(str(matrix.count(gold, p)) for p in LABELS))
        console.print(confusion)
    console.print('(the naive rule says only relevant or not: "not" is counted as irrelevant)')


def _reason(exc: BaseException) -> str:
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
