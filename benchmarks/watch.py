"""Benchmark watch-word matching: microseconds per item with 100 channels × 50 phrases.

Run: `./dev bench watch` (or `.venv/bin/python benchmarks/watch.py --channels 100`).
Builds `--channels` × `--phrases` watch-words (English words and two-word phrases, and
Chinese two- to four-character strings, taken from the headlines themselves so that many
match, plus made-up ones that never do), compiles them into one `news.watch.WatchIndex`
and matches the title and summary of every labelled headline (shared/data/relevance-dev.jsonl,
or the project's holdout set when that file is absent), `--rounds` times; prints the best
round's CPU time per item, the compile time and the cost of the longest possible item.
The target is well under 1 ms per item.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from news.watch import InvalidPhrase, Watch, WatchIndex, item_text, validate  # noqa: E402

DEV_SET = ROOT.parent / "shared" / "data" / "relevance-dev.jsonl"
HOLDOUT = ROOT / "tests" / "data" / "relevance" / "holdout.jsonl"
TARGET_US = 1000.0


def load_texts(path: Path) -> list[str]:
    """Title and summary of each headline in a JSON-lines file."""
    with path.open(encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines if line.strip()]
    return [item_text(row["title"], row.get("summary", "")) for row in rows]


def make_phrases(texts: list[str], n: int, rng: random.Random) -> list[str]:
    """`n` plausible watch-words: a third from the texts, the rest made up (no match)."""
    words = sorted({w for t in texts for w in re.findall(r"[A-Za-z][A-Za-z'-]{3,}", t)})
    han = [run for t in texts for run in re.findall(r"[\u4e00-\u9fff]{4,}", t)]
    phrases: list[str] = []
    while len(phrases) < n:
        pick = rng.random()
        if pick < 0.15 and words:
            phrases.append(rng.choice(words))
        elif pick < 0.25 and words:
            phrases.append(f"{rng.choice(words)} {rng.choice(words)}")
        elif pick < 0.33 and han:
            run = rng.choice(han)
            start = rng.randrange(len(run) - 1)
            phrases.append(run[start : start + rng.randint(2, 4)])
        elif pick < 0.8:
            phrases.append("".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(7)))
        else:
            phrases.append("".join(chr(rng.randint(0x4E00, 0x9FFF)) for _ in range(3)))
    return phrases


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print one line of results; exit 1 above the target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=100)
    parser.add_argument("--phrases", type=int, default=50, help="watch-words per channel")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=20, help="passes over the set per round")
    args = parser.parse_args(argv)
    texts = load_texts(DEV_SET if DEV_SET.exists() else HOLDOUT)
    rng = random.Random(13)
    watches: list[Watch] = []
    for c in range(args.channels):
        for phrase in make_phrases(texts, args.phrases, rng):
            try:
                topic = "trade" if rng.random() < 0.1 else None
                watches.append(Watch(f"C{c:04d}", phrase, validate(phrase), topic))
            except InvalidPhrase:
                continue
    start = time.process_time()
    index = WatchIndex(watches)
    compile_ms = (time.process_time() - start) * 1000
    best = float("inf")
    hits = 0
    for _ in range(args.rounds):
        hits = 0
        start = time.process_time()
        for _ in range(args.repeat):
            for text in texts:
                hits += len(index.match(text, ("trade",)))
        best = min(best, time.process_time() - start)
    per_item_us = best / (args.repeat * len(texts)) * 1e6
    # The worst case: a 200-character title and a long summary (searched up to its cap).
    longest = item_text("x" * 200, " ".join(texts) * 3)
    start = time.process_time()
    for _ in range(args.repeat):
        index.match(longest, ("trade",))
    worst_us = (time.process_time() - start) / args.repeat * 1e6
    chars = sum(len(t) for t in texts) / len(texts)
    print(
        f"{len(watches)} watch-words ({args.channels} channels), {len(texts)} items "
        f"(avg {chars:.0f} chars): {per_item_us:.1f} µs/item (CPU, best of {args.rounds}), "
        f"{hits / (args.repeat * len(texts)):.1f} channels matched/item, "
        f"compile {compile_ms:.1f} ms; longest item ({len(longest)} chars): {worst_us:.0f} µs"
    )
    return 0 if max(per_item_us, worst_us) < TARGET_US else 1


if __name__ == "__main__":
    raise SystemExit(main())
