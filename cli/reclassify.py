"""`bot.py reclassify`: re-run the relevance engine over every stored item."""

from __future__ import annotations

import argparse
import time

from cli.context import open_deps, settings_or_exit
from jobs.classify import reclassify_all


def register(sub: argparse._SubParsersAction) -> None:
    """Add `reclassify`."""
    parser = sub.add_parser(
        "reclassify", help="re-run the relevance rules over stored items (no alerts are sent)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Reclassify everything and print the counts."""
    started = time.perf_counter()
    with open_deps(settings_or_exit()) as deps:
        counts = reclassify_all(deps.sessions, deps.classifier, sources=deps.sources)
    total = counts["relevant"] + counts["related"] + counts["irrelevant"]
    print(
        f"reclassified {total} items in {time.perf_counter() - started:.1f}s: "
        f"{counts['relevant']} relevant, {counts['related']} related, "
        f"{counts['irrelevant']} irrelevant; {counts['changed']} changed; "
        f"{counts['sources']} credited to another outlet"
    )
    return 0
