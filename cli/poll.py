"""`bot.py poll --once`: poll every feed now, with a progress bar and a summary table."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from cli.context import configure_logging, open_deps, settings_or_exit
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


class ProgressBar:
    """A one-line progress bar on a terminal; silent elsewhere."""

    def __init__(self, total: int, stream: TextIO = sys.stderr, enabled: bool = True) -> None:
        self.total = max(total, 1)
        self.done = 0
        self.stream = stream
        self.enabled = enabled and stream.isatty()

    def __call__(self, outcome: FeedOutcome, _claimed: int) -> None:
        """Advance by one feed."""
        self.done += 1
        if not self.enabled:
            return
        width = 30
        filled = int(width * min(self.done, self.total) / self.total)
        self.stream.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} feeds"
            f"  {outcome.status:<12}"
        )
        self.stream.flush()

    def close(self) -> None:
        """End the bar's line."""
        if self.enabled:
            self.stream.write("\n")


def summary_table(summary: PollSummary) -> str:
    """The summary of one cycle as an aligned text table."""
    rows = [
        ("feeds polled", str(summary.feeds)),
        ("ok", str(summary.ok)),
        ("not modified", str(summary.not_modified)),
        ("failed", str(summary.failed)),
        ("new items", str(summary.new_items)),
        ("alerts queued", str(summary.alerts)),
        ("time", f"{summary.seconds:.2f}s"),
    ]
    width = max(len(k) for k, _ in rows)
    lines = [f"{k:<{width}}  {v:>8}" for k, v in rows]
    failures = [o for o in summary.outcomes if o.status == "failed"]
    if failures:
        lines.append("")
        lines.append("failed feeds:")
        lines += [f"  {redact_url(o.url)}: {redact_text(o.error or '')}" for o in failures]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Poll every enabled feed once, deliver what was queued, print the summary."""
    settings = settings_or_exit()
    configure_logging("ERROR" if args.quiet else "WARNING")
    with open_deps(settings) as deps:
        start_up(deps)
        with deps.sessions.begin() as s:
            make_all_due(s, deps.clock())
            total = sum(1 for f in all_feeds(s) if f.enabled)
        bar = ProgressBar(total, enabled=not args.quiet)
        try:
            summary = poll_due_feeds(deps, progress=bar)
        finally:
            bar.close()
        deliver_pending(deps)
    print(summary_table(summary))
    return 0
