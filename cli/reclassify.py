"""`bot.py reclassify`: re-run the relevance engine over every stored item."""

from __future__ import annotations

import argparse
import time

from rich.console import Console

from cli.context import open_deps, settings_or_exit
from cli.terminal import progress_bar, show, table
from jobs.classify import reclassify_all
from models.item import count_all


def register(sub: argparse._SubParsersAction) -> None:
    """Add `reclassify`."""
    parser = sub.add_parser(
        "reclassify", help="re-run the relevance rules over stored items (no alerts are sent)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Reclassify everything (a progress bar on a terminal) and print the counts."""
    started = time.perf_counter()
    with open_deps(settings_or_exit()) as deps:
        with deps.sessions() as s:
            stored = count_all(s)
        with progress_bar(stored, "reclassifying", enabled=not args.quiet) as bar:
            task = bar.task_ids[0]
            counts = reclassify_all(
                deps.sessions,
                deps.classifier,
                sources=deps.sources,
                progress=lambda n: bar.update(task, advance=n),
            )
    seconds = time.perf_counter() - started
    show(lambda console: _counts(console, counts, seconds))
    return 0


def _counts(console: Console, counts: dict[str, int], seconds: float) -> None:
    total = counts["relevant"] + counts["related"] + counts["irrelevant"]
    t = table("", ":right")
    t.show_header = False
    for label, key in (
        ("relevant", "relevant"),
        ("related", "related"),
        ("irrelevant", "irrelevant"),
        ("label or topics changed", "changed"),
        ("stories opened", "stories"),
        ("credited to another outlet", "sources"),
    ):
        t.add_row(label, str(counts.get(key, 0)))
    console.print(f"reclassified {total} items in {seconds:.1f}s")
    console.print(t)
