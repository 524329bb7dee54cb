"""Benchmark the relevance engine: items per second on one core.

Run: `./dev bench classify` (or `.venv/bin/python benchmarks/classify.py --items 100000`).
Classifies the labelled dev headlines (shared/data/relevance-dev.jsonl, or the project's
holdout set when that file is absent) repeated to `--items` items, in this one process,
after compiling the rules once, `--rounds` times; prints the best round's items/s by CPU
time (this process alone: what "one core" means on a shared machine; the best round is
the one least disturbed by other work) and by wall time. The target is 20,000 items/s.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from news.relevance import Classifier  # noqa: E402
from news.rules import load_rules  # noqa: E402

DEV_SET = ROOT.parent / "shared" / "data" / "relevance-dev.jsonl"
HOLDOUT = ROOT / "tests" / "data" / "relevance" / "holdout.jsonl"
TARGET = 20_000


def load_items(path: Path) -> list[tuple[str, str]]:
    """(title, summary) pairs from a JSON-lines file."""
    with path.open(encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines if line.strip()]
    return [(row["title"], row.get("summary", "")) for row in rows]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print one line of results; exit 1 below the target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000, help="items to classify")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the best one counts")
    parser.add_argument("--data", type=Path, default=None, help="JSON lines with title, summary")
    args = parser.parse_args(argv)
    path = args.data or (DEV_SET if DEV_SET.exists() else HOLDOUT)
    sample = load_items(path)
    items = (sample * (args.items // len(sample) + 1))[: args.items]

    started = time.perf_counter()
    classifier = Classifier(load_rules())
    compile_seconds = time.perf_counter() - started
    for title, summary in sample:  # warm up
        classifier.classify(title, summary)

    rounds = []
    for _ in range(max(args.rounds, 1)):
        cpu, wall = time.process_time(), time.perf_counter()
        relevant = sum(classifier.classify(title, summary).relevant for title, summary in items)
        rounds.append((time.process_time() - cpu, time.perf_counter() - wall))
    cpu, wall = min(rounds)

    per_cpu = len(items) / cpu
    print(
        f"classify: {len(items):,} items from {path.name} ({relevant:,} relevant), best of "
        f"{len(rounds)}: {per_cpu:,.0f} items/s (CPU), {len(items) / wall:,.0f} items/s (wall), "
        f"{cpu / len(items) * 1e6:.1f} µs/item; rules compiled in {compile_seconds:.2f}s; "
        f"target {TARGET:,} items/s: {'met' if per_cpu >= TARGET else 'NOT met'}"
    )
    return 0 if per_cpu >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
