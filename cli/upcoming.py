"""`bot.py upcoming [--json]`: the planned contacts still ahead, as `/diplo upcoming` lists them."""

from __future__ import annotations

import argparse
import json
from typing import Any

from cli.context import StartupError, open_deps, settings_or_exit
from handlers.blocks import MAX_UPCOMING, contact_name, local_day
from models.upcoming import UpcomingContact, upcoming
from news.zones import zone, zone_name


def register(sub: argparse._SubParsersAction) -> None:
    """Add `upcoming`."""
    parser = sub.add_parser(
        "upcoming",
        help="planned contacts whose date has not passed, soonest first (undated last)",
        description="Print the planned US–China contacts still ahead, as /diplo upcoming "
        "lists them: date, what (parties, kind, place), sources, who confirmed it, the link. "
        "A contact whose place is unknown counts its day in --tz (default DIPLO_DEFAULT_TZ).",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("--tz", metavar="ZONE", help="IANA zone (default: DIPLO_DEFAULT_TZ)")
    parser.add_argument(
        "--limit",
        type=int,
        default=MAX_UPCOMING,
        help=f"at most N (default {MAX_UPCOMING})",
    )
    parser.set_defaults(func=run)


def _date(contact: UpcomingContact) -> str:
    when = contact.when
    if when is None:
        return "date not announced"
    if contact.exact_day is not None and when.start == when.end:
        return local_day(when.start)
    return when.display()


def as_json(contact: UpcomingContact) -> dict[str, Any]:
    """One contact as a JSON object (dates ISO 8601, null when not announced)."""
    return {
        "story": contact.story_id,
        "kind": contact.kind,
        "parties": list(contact.parties),
        "place": contact.place,
        "forum": contact.forum,
        "start": contact.start.isoformat() if contact.start else None,
        "end": contact.end.isoformat() if contact.end else None,
        "precision": contact.precision,
        "said": contact.said,
        "exact": contact.exact_day is not None,
        "sources": contact.source_count,
        "confirmed_by": contact.confirmed_by,
        "title": contact.title,
        "url": contact.url,
    }


def as_line(contact: UpcomingContact) -> str:
    """One contact on one line (plus its link on the next)."""
    line = f"{_date(contact):<24} {contact_name(contact)} · {contact.source_count} sources"
    if contact.confirmed_by:
        line += f" · confirmed by {contact.confirmed_by}"
    return line + f"\n{'':<24} #{contact.story_id} {contact.title} {contact.url or ''}".rstrip()


def run(args: argparse.Namespace) -> int:
    """Print the list."""
    settings = settings_or_exit()
    name = settings.default_tz if args.tz is None else zone_name(args.tz)
    if name is None:
        raise StartupError(f"--tz: {args.tz!r} is not an IANA time zone (e.g. Europe/London)")
    if not 1 <= args.limit <= 1000:
        raise StartupError("--limit must be between 1 and 1000")
    with open_deps(settings) as deps, deps.sessions() as s:
        contacts = upcoming(s, deps.clock(), zone(name, "UTC"), None, args.limit)
    if args.json:
        for contact in contacts:
            print(json.dumps(as_json(contact), ensure_ascii=False))
        return 0
    if not contacts:
        print("no planned contact ahead")
    for contact in contacts:
        print(as_line(contact))
    return 0
