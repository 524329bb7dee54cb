"""`bot.py poll --once`: poll every feed now, with a progress bar and a summary table."""

from __future__ import annotations

import argparse

from rich.console import Console

from cli.context import configure_logging, open_deps, settings_or_exit
from cli.terminal import advance, plain, progress_bar, show, table
from jobs.deliver import deliver_pending
from jobs.poll import FeedOutcome, PollSummary, poll_due_feeds
from jobs.recover import start_up
from models.feed import all_feeds, make_all_due
from news.urls import redact_text, redact_url


def register(sub: argparse._SubParsersAction) -> None:
    """Add `poll`."""
    parser = sub.add_parser("poll", help="poll feeds once and print a summary")
    parser.add_argument(
        "--once", action="store_true", required=True, help="poll every enabled feed once, then exit"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def summary_table(console: Console, summary: PollSummary) -> None:
    """The summary of one cycle as a two-column table, then the failed feeds."""
    rows = [
        ("feeds polled", str(summary.feeds)),
        ("ok", str(summary.ok)),
        ("not modified", str(summary.not_modified)),
        ("failed", str(summary.failed)),
        ("new items", str(summary.new_items)),
        ("alerts queued", str(summary.alerts)),
        ("time", f"{summary.seconds:.2f}s"),
    ]
    t = table("", ":right")
    t.show_header = False
    for name, value in rows:
        t.add_row(name, value)
    console.print(t)
    failures = [o for o in summary.outcomes if o.status == "failed"]
    if failures:
        failed = table("feed", "error")
        for o in failures:
            failed.add_row(plain(redact_url(o.url), 300), plain(redact_text(o.error or ""), 300))
        console.print("failed feeds:")
        console.print(failed)


def run(args: argparse.Namespace) -> int:
    """Poll every enabled feed once, deliver what was queued, print the summary."""
    settings = settings_or_exit()
    configure_logging("ERROR" if args.quiet else "WARNING")
    with open_deps(settings) as deps:
        start_up(deps)
        with deps.sessions.begin() as s:
            make_all_due(s, deps.clock())
            total = sum(1 for f in all_feeds(s) if f.enabled)
        with progress_bar(total, "polling", enabled=not args.quiet) as bar:

            def step(outcome: FeedOutcome, _claimed: int) -> None:
                advance(bar, outcome.status)

            summary = poll_due_feeds(deps, progress=step)
        deliver_pending(deps)
    show(lambda console: summary_table(console, summary))
    return 0
