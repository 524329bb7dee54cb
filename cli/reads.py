"""The read-only `/diplo` sub-commands in the terminal: `bot.py latest|search|status|story|…`.

Each command is one entry of `READ_COMMANDS`: its arguments, the function of
`handlers.reads` that gathers the data (the one `/diplo` calls), its JSON form and its
terminal rendering. Output is a rich table on a TTY, plain aligned text in a pipe, or a
JSON document with `--json` (stable keys, times in ISO-8601 UTC).

To add a command: write its gather, JSON and render functions here and add one
`ReadCommand` to the table; `register` does the rest. (`upcoming` has its own module,
cli/upcoming.py, for its `--tz` and `--limit`.)
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

from rich.console import Console
from rich.text import Text

from cli.context import configure_logging, open_deps, settings_or_exit
from cli.terminal import iso, plain, safe, short_time, show, table, write_json
from deps import Deps
from handlers.blocks import SOURCE_KIND_TITLES, FeedView, StatusReport, queue_text, source_label
from handlers.reads import (
    DEFAULT_LATEST,
    MAX_LATEST,
    MAX_SEARCH_RESULTS,
    Latest,
    SearchRefused,
    SearchResults,
    SourcesReport,
    UnknownTopic,
    latest_news,
    search_news,
    sources_report,
    status_report,
    story,
    topics,
)
from models.item import ItemView
from models.story_view import StoryEntry, StoryView
from models.subscription import ALL_TOPICS
from news.query import match_spans
from news.urls import is_http_url, redact_text, redact_url

MAX_SEARCH_LIMIT = 100
STATUS_STYLES = {"ok": "green", "failing": "red", "disabled": "yellow"}


class Refused(Exception):
    """Input the command cannot use (exit 2), or nothing to show (exit 1); one line."""

    def __init__(self, message: str, status: int = 2) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class ReadCommand:
    """One terminal command: help, arguments, data (handlers.reads), JSON and rendering."""

    summary: str
    arguments: Callable[[argparse.ArgumentParser], None]
    gather: Callable[[Deps, argparse.Namespace], Any]  # raises Refused for unusable input
    as_json: Callable[[Any], Any]
    render: Callable[[Console, Any], None]


# --- JSON forms (stable keys) ---------------------------------------------------------------


def item_json(item: ItemView) -> dict[str, Any]:
    """A stored item."""
    return {
        "id": item.id,
        "title": item.title,
        "url": item.url,
        "source": item.source,
        "source_kind": item.source_kind,
        "published_at": iso(item.published_at),
        "label": item.label,
        "score": item.score,
        "topics": list(item.topics),
        "reasons": list(item.reasons),
        "summary": item.summary,
    }


def entry_json(entry: StoryEntry) -> dict[str, Any]:
    """One report of a story."""
    return {"outlet": entry.outlet, "stage": entry.stage, "side": entry.side} | {
        "item": item_json(entry.item)
    }


def story_json(found: StoryView, entries: bool = False) -> dict[str, Any]:
    """A story: its contact record, headline and outlets; every report with `entries`."""
    out: dict[str, Any] = {
        "id": found.id,
        "stage": found.stage,
        "kind": found.kind,
        "parties": list(found.parties),
        "where": found.where,
        "when": iso(found.when),
        "last_seen": iso(found.last_seen),
        "sources": found.outlets,
        "reports": len(found.entries),
        "headline": item_json(found.headline.item),
    }
    if entries:
        out["entries"] = [entry_json(e) for e in found.entries]
    return out


def feed_json(feed: FeedView) -> dict[str, Any]:
    """A feed's health; URL secrets redacted."""
    return {
        "url": redact_url(feed.url),
        "title": feed.title,
        "status": feed.status,
        "consecutive_failures": feed.consecutive_failures,
        "last_error": redact_text(feed.last_error) if feed.last_error else None,
        "last_polled_at": iso(feed.last_polled_at),
        "too_active_count": feed.too_active_count,
    }


# --- shared rendering -----------------------------------------------------------------------


def _title_cell(title: str, url: str | None, terms: Any = ()) -> Text:
    """The title (matched words in bold), then its link on a second, dim line."""
    text = plain(title or "Untitled", 200)
    for start, end in match_spans(text.plain, terms) if terms else ():
        text.stylize("bold yellow", start, end)
    if url and is_http_url(url):
        text.append("\n" + safe(url, 300), style="dim")
    return text


def _outlet(name: str | None, kind: str | None) -> Text:
    return plain(source_label(name, kind), 60, style="cyan")


def _items_table(items: list[ItemView], terms: Any = ()) -> Any:
    t = table("published (UTC)", "source", "title", "topics")
    for i in items:
        label = "" if i.label in (None, "relevant") else f" ({i.label})"
        t.add_row(
            short_time(i.published_at),
            _outlet(i.source, i.source_kind),
            _title_cell(i.title, i.url, terms),
            plain(", ".join(i.topics) + label, 60),
        )
    return t


def _stage(stage: str | None) -> Text:
    return Text(stage or "—", style="bold magenta" if stage else "dim")


def _contact_line(found: StoryView) -> Text:
    parts = [found.stage]
    if found.kind:
        parts.append(found.kind)
    if found.parties:
        parts.append(" – ".join(found.parties[:6]))
    if found.where:
        parts.append(found.where)
    if found.when:
        parts.append(found.when.strftime("%d %b %Y"))
    return plain(" · ".join(parts), 300, style="magenta")


# --- latest ---------------------------------------------------------------------------------


def _latest_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "words",
        nargs="*",
        metavar="[N] [topic]",
        help=f"how many (1–{MAX_LATEST}, default {DEFAULT_LATEST}) and a topic (`topics`)",
    )


def _gather_latest(deps: Deps, args: argparse.Namespace) -> Latest:
    count: int | None = None
    topic: str | None = None
    for word in args.words:
        if word.lstrip("+-").isdigit():
            if count is not None:
                raise Refused("give at most one number")
            if not word.isdigit() or not 1 <= int(word) <= MAX_LATEST:
                raise Refused(f"{safe(word, 20)!r} is not a number from 1 to {MAX_LATEST}")
            count = int(word)
        elif topic is not None:
            raise Refused("give at most one topic")
        else:
            topic = word.lower()
    found = latest_news(deps, count or DEFAULT_LATEST, topic)
    if isinstance(found, UnknownTopic):
        raise Refused(_unknown_topic(found))
    return found


def _unknown_topic(found: UnknownTopic) -> str:
    return f"unknown topic {safe(found.topic, 40)!r}; topics are: " + ", ".join(
        [*found.known, ALL_TOPICS]
    )


def _latest_json(found: Latest) -> dict[str, Any]:
    return {
        "topic": found.topic,
        "stories": [story_json(s) for s in found.stories],
        "items": [item_json(i) for i in found.items],
    }


def _render_latest(console: Console, found: Latest) -> None:
    on = f" on {found.topic}" if found.topic else ""
    if found.stories:
        t = table("#:right", "stage", "headline", "sources:right", "latest (UTC)")
        for s in found.stories:
            head = s.headline.item
            t.add_row(
                str(s.id),
                _stage(s.stage),
                _title_cell(head.title, head.url),
                str(len(s.outlets)),
                short_time(s.last_seen),
            )
        console.print(f"[bold]Latest stories{on}[/bold]")
        console.print(t)
        console.print("[dim]bot.py story N shows a story's timeline[/dim]")
    elif found.items:
        console.print(f"[bold]Latest relevant items{on}[/bold]")
        console.print(_items_table(found.items))
    else:
        console.print(f"No relevant items stored yet{on}.")


# --- search ---------------------------------------------------------------------------------


def _search_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "words",
        nargs="+",
        metavar="WORDS",
        help='words (all must match), "a phrase", topic:…, source:…, since:YYYY-MM-DD',
    )
    parser.add_argument(
        "-n",
        "--limit",
        type=int,
        default=MAX_SEARCH_RESULTS,
        metavar="N",
        help=f"at most N results, newest first (default {MAX_SEARCH_RESULTS})",
    )


def _gather_search(deps: Deps, args: argparse.Namespace) -> SearchResults:
    if not 1 <= args.limit <= MAX_SEARCH_LIMIT:
        raise Refused(f"--limit must be from 1 to {MAX_SEARCH_LIMIT}")
    found = search_news(deps, " ".join(args.words), args.limit)
    if isinstance(found, SearchRefused):
        raise Refused(found.reason)
    return found


def _search_json(found: SearchResults) -> dict[str, Any]:
    return {
        "query": found.query.shown,
        "recent_only": found.recent_window,
        "items": [item_json(i) for i in found.items],
    }


def _render_search(console: Console, found: SearchResults) -> None:
    shown = safe(found.query.shown, 200)
    if not found.items:
        console.print(Text(f"Nothing stored matches {shown}."))
    else:
        console.print(Text(f"Stored items matching {shown}", style="bold"))
        console.print(_items_table(found.items, found.query.terms))
    if found.recent_window:
        console.print(
            f"[dim]Every word is shorter than 3 characters, so only the newest "
            f"{found.recent_window:,} items were searched.[/dim]"
        )


# --- story ----------------------------------------------------------------------------------


def _story_number(raw: str) -> int:
    number = raw.removeprefix("#")
    if not number.isdigit():
        raise argparse.ArgumentTypeError(f"{safe(raw, 20)!r} is not a story number")
    return int(number)


def _story_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("number", type=_story_number, metavar="N", help="the story's number")


def _gather_story(deps: Deps, args: argparse.Namespace) -> StoryView:
    found = story(deps, args.number)
    if found is None:
        raise Refused(f"no story {args.number} (`bot.py latest` lists the current ones)", 1)
    return found


def _render_story(console: Console, found: StoryView) -> None:
    head = found.headline.item
    console.print(Text(f"Story #{found.id}: ", style="bold").append(plain(head.title, 250)))
    console.print(_contact_line(found))
    t = table("published (UTC)", "stage", "outlet", "report")
    for e in found.entries:
        t.add_row(
            short_time(e.item.published_at),
            _stage(e.stage),
            _outlet(e.outlet, e.item.source_kind),
            _title_cell(e.item.title, e.item.url),
        )
    console.print(t)
    console.print(f"{len(found.outlets)} sources, {len(found.entries)} reports")


# --- status ---------------------------------------------------------------------------------


def _health(feeds: Any) -> str:
    counts = {s: sum(1 for f in feeds if f.status == s) for s in ("ok", "failing", "disabled")}
    return f"{counts['ok']} ok, {counts['failing']} failing, {counts['disabled']} disabled"


def _status_json(report: StatusReport) -> dict[str, Any]:
    return {
        "feeds": [feed_json(f) for f in report.feeds],
        "last_poll": iso(report.last_poll),
        "items_today": report.items_today,
        "alerts": {k: report.alerts.get(k, 0) for k in ("pending", "sending", "sent", "failed")}
        | dict(report.alerts),
        "paused": [
            {"channel": p.channel_id, "topic": p.topic, "reason": p.paused_reason}
            for p in report.paused
        ],
        "queue": dict(sorted(report.queue.items())),
        "failed_alerts": [
            {"channel": f.channel_id, "title": f.title, "error": f.error, "op": f.op}
            for f in report.failed
        ],
    }


def _render_status(console: Console, report: StatusReport) -> None:
    overview = table("", "")
    overview.show_header = False
    overview.add_row("feeds", f"{len(report.feeds)} — {_health(report.feeds)}")
    overview.add_row("last poll (UTC)", short_time(report.last_poll))
    overview.add_row("items stored today (UTC)", str(report.items_today))
    overview.add_row("messages", queue_text(report.alerts, report.queue))
    console.print("[bold]diplo status[/bold]")
    console.print(overview)
    troubled = [f for f in report.feeds if f.needs_attention]
    if troubled:
        t = table("status", "fails:right", "last poll (UTC)", "feed", "problem")
        for f in troubled:
            problem = redact_text(f.last_error or "") if f.status != "ok" else ""
            if f.too_active_count:
                problem = f"too active: {f.too_active_count} new relevant items in one poll"
            t.add_row(
                Text(f.status, style=STATUS_STYLES.get(f.status, "")),
                str(f.consecutive_failures),
                short_time(f.last_polled_at),
                plain(redact_url(f.url), 200),
                plain(problem, 200),
            )
        console.print("[bold]Feeds that need attention[/bold]")
        console.print(t)
    if report.paused:
        t = table("channel", "topic", "why paused")
        for p in report.paused:
            t.add_row(plain(p.channel_id, 30), plain(p.topic, 40), plain(p.paused_reason, 200))
        console.print(f"[bold]Paused subscriptions ({len(report.paused)})[/bold]")
        console.print(t)
    if report.failed:
        t = table("channel", "alert", "error")
        for a in report.failed:
            t.add_row(plain(a.channel_id, 30), plain(a.title, 120), plain(a.error or "failed", 200))
        console.print("[bold]Messages that failed for good (most recent)[/bold]")
        console.print(t)


# --- topics and sources ---------------------------------------------------------------------


def _no_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def _topics_json(known: dict[str, str]) -> dict[str, Any]:
    return {"topics": [{"name": k, "description": v} for k, v in known.items()]}


def _render_topics(console: Console, known: dict[str, str]) -> None:
    t = table("topic", "description")
    for name, description in known.items():
        t.add_row(Text(name, style="bold"), plain(description, 300))
    t.add_row(Text(ALL_TOPICS, style="bold"), "every topic above")
    console.print(t)


def _sources_origin(report: SourcesReport) -> str:
    return "DIPLO_SOURCES" if report.custom else "news/sources.toml"


def _sources_json(report: SourcesReport) -> dict[str, Any]:
    return {
        "from": _sources_origin(report),
        "kinds": [
            {
                "kind": kind,
                "title": SOURCE_KIND_TITLES.get(kind, kind),
                "feeds": report.feeds.get(kind, 0),
                "items": report.items.get(kind, 0),
                "outlets": names,
            }
            for kind, names in report.outlets.items()
        ],
    }


def _render_sources(console: Console, report: SourcesReport) -> None:
    total = sum(len(n) for n in report.outlets.values())
    console.print(f"[bold]Known sources[/bold] ({total} outlets, from {_sources_origin(report)})")
    t = table("kind", "feeds:right", "items:right", "outlets")
    for kind, names in report.outlets.items():
        t.add_row(
            SOURCE_KIND_TITLES.get(kind, kind),
            str(report.feeds.get(kind, 0)),
            str(report.items.get(kind, 0)),
            plain(", ".join(names) or "—", 2000),
        )
    console.print(t)


# --- the table ------------------------------------------------------------------------------

READ_COMMANDS: dict[str, ReadCommand] = {
    "latest": ReadCommand(
        "the latest stories (or relevant items), optionally on one topic",
        _latest_arguments,
        _gather_latest,
        _latest_json,
        _render_latest,
    ),
    "search": ReadCommand(
        "stored items containing all the words, newest first",
        _search_arguments,
        _gather_search,
        _search_json,
        _render_search,
    ),
    "story": ReadCommand(
        "one story's timeline: every report, in order",
        _story_arguments,
        _gather_story,
        lambda found: story_json(found, entries=True),
        _render_story,
    ),
    "status": ReadCommand(
        "feed health, last poll, alert queue, paused subscriptions",
        _no_arguments,
        lambda deps, args: status_report(deps),
        _status_json,
        _render_status,
    ),
    "topics": ReadCommand(
        "the topics channels can subscribe to",
        _no_arguments,
        lambda deps, args: topics(deps),
        _topics_json,
        _render_topics,
    ),
    "sources": ReadCommand(
        "the news outlets diplo recognises, by kind, with feeds and items per kind",
        _no_arguments,
        lambda deps, args: sources_report(deps),
        _sources_json,
        _render_sources,
    ),
}


def register(sub: argparse._SubParsersAction) -> None:
    """Add one sub-command per entry of READ_COMMANDS, each with `--json`."""
    for name, command in READ_COMMANDS.items():
        parser = sub.add_parser(name, help=command.summary, description=command.summary + ".")
        parser.prog = f"bot.py {name}"
        command.arguments(parser)
        parser.add_argument(
            "--json", action="store_true", help="one JSON document (times in ISO-8601 UTC)"
        )
        parser.set_defaults(func=run, read_command=name)


def run(args: argparse.Namespace) -> int:
    """Open the configured database and answer one read command."""
    settings = settings_or_exit()
    configure_logging("WARNING", settings.log_format)
    with open_deps(settings) as deps:
        return answer(deps, args)


def answer(
    deps: Deps, args: argparse.Namespace, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """Gather the command's data and write it (table, plain text or JSON); the exit status."""
    command = READ_COMMANDS[args.read_command]
    try:
        data = command.gather(deps, args)
    except Refused as exc:
        print(f"{args.read_command}: {exc}", file=stderr or sys.stderr)
        return exc.status
    if args.json:
        write_json(command.as_json(data), stdout)
    else:
        show(lambda console: command.render(console, data), stdout)
    return 0
