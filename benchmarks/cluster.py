"""Benchmark story clustering: relevant items per second on one core against open stories.

Run: `.venv/bin/python benchmarks/cluster.py` (options: --stories, --items, --rounds).
Opens `--stories` synthetic stories (random pairs from 2,000 people a side, kinds, venues,
days over 60 days, headline trigrams), then assigns `--items` items (two in three about an
open story, the rest new) with `StoryIndex.add`, which looks candidates up in the index,
scores them and updates the story. Prints the best round's items/s by CPU time (this
process alone: what "one core" means on a shared machine) and by wall time; the target is
5,000 items/s. A second line times the whole per-item path on the dev headlines (contact
record + features + assignment), for comparison.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from news.cluster import Features, StoryIndex, features, trigrams  # noqa: E402
from news.contact import KINDS, extract_contact  # noqa: E402
from news.relevance import default_classifier  # noqa: E402
from news.sources import default_sources  # noqa: E402

DEV_SET = ROOT.parent / "shared" / "data" / "stories-dev.jsonl"
OWN_SET = ROOT / "tests" / "data" / "stories" / "heldout.jsonl"
TARGET = 5_000
START = date(2025, 1, 1)
REGIONS = [f"region-{n}" for n in range(60)]
WORDS = [
    "talks",
    "trade",
    "summit",
    "tariffs",
    "call",
    "leaders",
    "meet",
    "visit",
    "deal",
    "truce",
    "chips",
    "envoy",
]


def synthetic(rng: random.Random, people: int, stage: str = "held") -> Features:
    """A random item's features."""
    title = " ".join(rng.choice(WORDS) for _ in range(8))
    region = rng.choice(REGIONS) if rng.random() < 0.6 else None
    return Features(
        frozenset({f"us-{rng.randrange(people)}"}),
        frozenset({f"cn-{rng.randrange(people)}"}),
        rng.choice(KINDS),
        stage,  # type: ignore[arg-type]
        region,
        region,
        None,
        None,
        START + timedelta(days=rng.randrange(60)),
        trigrams(title),
    )


def like(rng: random.Random, f: Features) -> Features:
    """Another item about the same contact as `f`, a day or two later."""
    title = " ".join(rng.choice(WORDS) for _ in range(8))
    return Features(
        f.us,
        f.china,
        f.kind,
        rng.choice(("held", "readout", "outcome")),  # type: ignore[arg-type]
        f.place,
        f.region,
        None,
        None,
        f.day + timedelta(days=rng.randrange(3)),
        trigrams(title),
    )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the results; exit 1 below the target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stories", type=int, default=10_000, help="open stories to start with")
    parser.add_argument("--items", type=int, default=50_000, help="items to assign")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the best one counts")
    parser.add_argument("--people", type=int, default=2_000, help="people per side")
    args = parser.parse_args(argv)
    rng = random.Random(7)
    seeds = [synthetic(rng, args.people) for _ in range(args.stories)]
    items = [
        like(rng, rng.choice(seeds)) if rng.random() < 2 / 3 else synthetic(rng, args.people)
        for _ in range(args.items)
    ]
    rounds = []
    for _ in range(max(args.rounds, 1)):
        index = StoryIndex()
        for f in seeds:
            index.add(f)
        opened = len(index)
        cpu, wall = time.process_time(), time.perf_counter()
        for f in items:
            index.add(f)
        rounds.append((time.process_time() - cpu, time.perf_counter() - wall, opened, len(index)))
    cpu, wall, opened, final = min(rounds)
    rate = args.items / cpu if cpu else float("inf")
    print(
        f"cluster: {rate:,.0f} items/s by CPU time ({args.items / wall:,.0f} by wall time), "
        f"{args.items:,} items against {opened:,} open stories ({final:,} after), "
        f"best of {len(rounds)}; target {TARGET:,}"
    )
    _full_path()
    return 0 if rate >= TARGET else 1


def _full_path() -> None:
    """Items/s of contact record + features + assignment on real headlines (relevant only)."""
    path = DEV_SET if DEV_SET.exists() else OWN_SET
    with path.open(encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines if line.strip()]
    classifier, sources = default_classifier(), default_sources()
    relevant = [r for r in rows if classifier.classify(r["title"], r.get("summary", "")).relevant]
    prepared = []
    for r in relevant:
        day = date.fromisoformat(r["published"][:10])
        verdict = classifier.classify(r["title"], r.get("summary", ""))
        prepared.append(
            (r["title"], r.get("summary", ""), day, verdict, sources.recognise(r["source"]))
        )
    repeat = max(1, 20_000 // max(len(prepared), 1))
    cpu = time.process_time()
    count = 0
    for _ in range(repeat):
        index = StoryIndex()
        for title, summary, day, verdict, source in prepared:
            contact = extract_contact(title, summary, day, verdict, source)
            index.add(features(contact, title, day))
            count += 1
    cpu = time.process_time() - cpu
    print(
        f"full path (contact + features + assign, no relevance): {count / cpu:,.0f} items/s "
        f"by CPU time on {len(prepared)} relevant headlines of {path.name} x{repeat}"
    )


if __name__ == "__main__":
    raise SystemExit(main())
