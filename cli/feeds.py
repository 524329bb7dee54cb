"""`bot.py feeds list|add|remove|import|export`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.table import Table
from rich.text import Text

from cli.context import StartupError, configure_logging, open_deps, settings_or_exit
from cli.reads import STATUS_STYLES
from cli.terminal import plain, short_time, show, table
from jobs.feeds import FeedRejected, add_feed_checked, export_opml, import_opml
from models.feed import Feed, all_feeds, remove_feed
from news.opml import OpmlError
from news.urls import redact_text, redact_url


def register(sub: argparse._SubParsersAction) -> None:
    """Add `feeds` and its sub-commands."""
    parser = sub.add_parser("feeds", help="list, add, remove, import or export feeds")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("list", help="list feeds with their health").set_defaults(func=list_feeds)
    add = actions.add_parser("add", help="fetch URL, check it is a feed, and add it")
    add.add_argument("url")
    add.set_defaults(func=add_feed)
    drop = actions.add_parser("remove", help="remove the feed with this URL")
    drop.add_argument("url")
    drop.set_defaults(func=remove)
    imp = actions.add_parser("import", help="add every feed of an OPML file")
    imp.add_argument("file", type=Path)
    imp.set_defaults(func=import_file)
    actions.add_parser("export", help="print the feed list as OPML").set_defaults(func=export)
    for name, action in actions.choices.items():
        action.prog = f"bot.py feeds {name}"
    parser.set_defaults(func=list_feeds)


def list_feeds(args: argparse.Namespace) -> int:
    """A table of feeds: status, failures, last poll, URL, last error (or too active)."""
    with open_deps(settings_or_exit()) as deps, deps.sessions() as s:
        feeds = list(all_feeds(s))
        if not feeds:
            print("no feeds yet (they are seeded when the bot or `poll --once` first runs)")
            return 0
        shown = feeds_table(feeds)
    show(lambda console: console.print(shown))
    return 0


def feeds_table(feeds: list[Feed]) -> Table:
    """One row per feed; URL secrets and error details redacted."""
    t = table("status", "fails:right", "last poll (UTC)", "feed", "problem")
    for f in feeds:
        problem = f"last error: {redact_text(f.last_error)}" if f.last_error else ""
        if f.too_active_since:
            problem = (
                f"too active since {short_time(f.too_active_since)}: {f.too_active_count} new "
                "relevant items in its last poll (alerts beyond DIPLO_FLOOD_ITEMS held)"
            ) + (f"; {problem}" if problem else "")
        t.add_row(
            Text(f.status, style=STATUS_STYLES.get(f.status, "")),
            str(f.consecutive_failures),
            short_time(f.last_polled_at),
            plain(redact_url(f.url), 300),
            plain(problem, 400),
        )
    return t


def add_feed(args: argparse.Namespace) -> int:
    """Fetch, check and add one feed."""
    configure_logging("WARNING")
    with open_deps(settings_or_exit()) as deps:
        result = add_feed_checked(deps, args.url, added_by=None)
    if isinstance(result, FeedRejected):
        print(f"diplo: not added: {redact_text(result.reason)}", file=sys.stderr)
        return 1
    verb = "added" if result.created else "already present:"
    shown = redact_url(result.url)
    print(f"{verb} {shown} ({result.title}; {result.items} items marked seen)")
    return 0


def remove(args: argparse.Namespace) -> int:
    """Remove one feed by URL."""
    with open_deps(settings_or_exit()) as deps, deps.sessions.begin() as s:
        removed = remove_feed(s, args.url)
    if not removed:
        print(f"diplo: no feed with URL {redact_url(args.url)}", file=sys.stderr)
        return 1
    print(f"removed {redact_url(args.url)}")
    return 0


def import_file(args: argparse.Namespace) -> int:
    """Add the feeds of an OPML file."""
    try:
        data = args.file.read_bytes()
    except OSError as exc:
        raise StartupError(f"cannot read {args.file}: {exc.strerror}") from None
    with open_deps(settings_or_exit()) as deps:
        try:
            added, known = import_opml(deps, data)
        except OpmlError as exc:
            raise StartupError(f"{args.file}: {exc}") from None
    print(f"imported {args.file}: {added} feeds added, {known} already present")
    return 0


def export(args: argparse.Namespace) -> int:
    """Print all feeds as OPML."""
    with open_deps(settings_or_exit()) as deps, deps.sessions() as s:
        sys.stdout.write(export_opml(all_feeds(s)))
    return 0
