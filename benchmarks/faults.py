"""Fault injection, with figures: what was thrown at diplo and what it came to.

Run: `./dev bench faults` (about a minute; `--kills N`, `--fuzz SECONDS`). Prints a
Markdown report for the README:

1. feeds that fight back, by kind: tried and handled, in ONE poll cycle beside a good feed;
   the bounded-memory peak for the 50 MB bodies, gzip bombs and the 5,000-entry feed;
   the parse time of a 5 MB feed of hostile HTML;
2. Slack markup in feed text, polled and posted: live markup that reached Slack;
3. Slack that fails: faults injected by kind, alerts queued / delivered / duplicated;
4. the process: `kill -9` of a real `python bot.py` at random moments, then a clean run;
5. the database: PostgreSQL restarted and down under the jobs (private cluster, as root),
   SQLite locked by another writer;
6. a bounded fuzz run over the feed parser, normaliser, classifier and alert renderer.

Everything comes from tests/faults.py, the machinery the tests use.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import logging
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from deps import Deps
from handlers.sender import ConsoleSender, SlackSender, make_web_client
from jobs.fetch import FetchConfig, Fetcher
from jobs.poll import poll_due_feeds
from models.db import make_engine, make_sessionmaker
from models.feed import add_feed
from models.migrate import upgrade
from news.relevance import default_classifier
from settings import Settings
from tests.conftest import Clock
from tests.fakes.feed_server import FeedServer
from tests.fakes.slack_server import FakeSlack
from tests.faults import (
    HOSTILE_FEEDS,
    LOCAL,
    STORM,
    PrivateCluster,
    bot_can_start,
    database_drill,
    hold_sqlite_lock,
    hostile_deps,
    kill_loop,
    markup_round_trip,
    run_hostile_cycle,
    run_hostile_html,
    run_slack_storm,
)
from tests.feedgen import rss, wire
from tests.fuzz_feeds import run as fuzz


@contextmanager
def sqlite_deps(workdir: Path, name: str, clock: Clock | None = None) -> Iterator[Deps]:
    """Deps on a fresh SQLite file: the real classifier, a console sender, local fetches."""
    url = f"sqlite:///{workdir / name}.db"
    engine = make_engine(url)
    upgrade(engine)
    with Fetcher(FetchConfig(total_timeout=5.0, allow_hosts=LOCAL)) as fetcher:
        yield Deps(
            settings=Settings(database_url=url, max_failures=3, allow_hosts=LOCAL),
            sessions=make_sessionmaker(engine),
            fetcher=fetcher,
            classifier=default_classifier(),
            sender=ConsoleSender(stream=io.StringIO()),
            clock=clock or Clock(),
            owner="bench",
        )
    engine.dispose()


def table(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def hostile(workdir: Path) -> tuple[int, int]:
    """Section 1; returns (tried, handled)."""
    with sqlite_deps(workdir, "hostile") as base, FeedServer() as server:
        deps = hostile_deps(base)
        report = run_hostile_cycle(deps, server)
        deps.fetcher.close()
    with sqlite_deps(workdir, "memory") as base, FeedServer() as server:
        deps = hostile_deps(base)
        big = run_hostile_cycle(deps, server, [h for h in HOSTILE_FEEDS if h.big], True)
        deps.fetcher.close()
    kinds: dict[str, list[str]] = {}
    for h in HOSTILE_FEEDS:
        kinds.setdefault(h.kind, []).append(h.name)
    rows = [
        (
            kind,
            str(len(names)),
            str(sum(report.handled(n) for n in names)),
            ", ".join(n.replace("_", " ") for n in names),
        )
        for kind, names in kinds.items()
    ]
    tried = len(HOSTILE_FEEDS)
    handled = sum(report.handled(h.name) for h in HOSTILE_FEEDS)
    failed = sum(1 for h in HOSTILE_FEEDS if h.error)
    print("## Feeds that fight back (one poll cycle, all at once)\n")
    print(table(rows, ("kind", "tried", "handled", "inputs")))
    print(
        f"\n{handled}/{tried} hostile feeds handled: {failed} failed with their error recorded "
        f"and one log line each, {tried - failed} parsed safely (capped, clean, nothing "
        f"expanded or fetched); the good feed's {len(report.good_items)} items stored; the "
        f"cycle took {report.seconds:.1f} s (1 s fetch deadline); "
        f"{len(report.errors_logged)} errors logged."
    )
    peak = (big.peak_bytes or 0) / 2**20
    print(
        f"Bounded memory (50 MB bodies with and without length, endless body, gzip bomb as "
        f"encoding and as body, 5,000 entries): {peak:.1f} MiB peak (tracemalloc), "
        f"{big.seconds:.1f} s."
    )
    for name, problems in {**report.problems, **big.problems}.items():
        print(f"- NOT HANDLED {name}: {problems}")
    return tried, handled


def hostile_html(workdir: Path) -> bool:
    """Section 1b: the 5 MB feed of hostile HTML; returns True when it parsed in under 1 s."""
    with sqlite_deps(workdir, "html") as base, FeedServer() as server:
        deps = hostile_deps(base, total_timeout=10.0, max_bytes=6 * 1024 * 1024)
        report = run_hostile_html(deps, server)
        deps.fetcher.close()
    print(
        f"\nHostile HTML ({report.body_bytes / 2**20:.1f} MiB: thousands of `<!--`, unclosed "
        f"`<script`, 4,000-deep nesting, 20 KB attributes): parsed in "
        f"{report.parse_seconds:.2f} s, {report.stored} items stored, the poll cycle "
        f"{report.cycle_seconds:.2f} s; {len(report.problems)} unclean items."
    )
    return report.parse_seconds < 1 and not report.problems and report.good_stored


def markup(workdir: Path) -> list[str]:
    """Section 2; returns the problems."""
    slack = FakeSlack()
    try:
        with sqlite_deps(workdir, "markup") as deps, FeedServer() as server:
            sender = SlackSender(make_web_client(slack.bot_token, slack.url), pace=0)
            problems = markup_round_trip(dataclasses.replace(deps, sender=sender), server, slack)
            posted = len(slack.messages("CMARKUP"))
    finally:
        slack.close()
    print("\n## Slack markup in feed text\n")
    print(
        f"{posted} alerts built from titles, summaries and links full of `<!channel>`, "
        f"`<!here>`, `<@U123>`, `<https://evil|https://good>` and `javascript:` links: "
        f"{len(problems)} live markup or non-http links reached Slack."
    )
    for problem in problems:
        print(f"- {problem}")
    return problems


def storm(workdir: Path) -> bool:
    """Section 3; returns True when every alert arrived once, in order."""
    clock = Clock()
    slack = FakeSlack(clock=lambda: clock().timestamp())
    try:
        with sqlite_deps(workdir, "storm", clock) as deps:
            report = run_slack_storm(deps, slack, clock)
    finally:
        slack.close()
    names = {
        "429": "HTTP 429 + Retry-After",
        "ratelimited": "`ratelimited` (HTTP 200)",
        "500": "HTTP 500",
        "502": "HTTP 502",
        "503": "HTTP 503",
        "timeout": "timeout (the post landed later)",
        "timeout_after_posting": "timeout (the post landed later)",
        "dropped": "connection dropped before posting",
        "dropped_after_posting": "connection dropped after posting",
        "history_500": "history lookup: HTTP 500",
        "history_timeout": "history lookup: timeout",
        "token_revoked": "`token_revoked` (then fixed)",
        "invalid_auth": "`invalid_auth` (then fixed)",
    }
    counts = Counter[str]()
    for kind, n in report.injected.items():
        counts[names.get(kind, kind)] += n
    ok = (report.delivered, report.duplicated, report.out_of_order) == (report.queued, 0, [])
    print("\n## Slack that fails (chat.postMessage, interleaved, then recovery)\n")
    print(table([(k, str(n)) for k, n in counts.items()], ("fault injected", "times")))
    print(
        f"\n{sum(counts.values())} faults over {len(STORM)} scripted posts and 2 bad tokens: "
        f"{report.queued} alerts queued, {report.delivered} delivered, {report.duplicated} "
        f"duplicated, {len(report.out_of_order)} channels out of order; delivery stopped "
        f"on {', '.join(report.auth_stops)} and resumed once the token was good."
    )
    return ok


def kills(workdir: Path, count: int) -> bool:
    """Section 4; returns True when nothing was lost, repeated or stuck."""
    print(f"\n## The process: kill -9, {count} times\n")
    reason = bot_can_start()
    if reason:
        print(f"skipped: `python bot.py --help` fails here ({reason})")
        return True
    slack = FakeSlack()
    try:
        with FeedServer() as server:
            report = kill_loop(f"sqlite:///{workdir / 'kill.db'}", server, slack, workdir, count)
    finally:
        slack.close()
    rows = [
        ("SIGKILLs (while a post was in flight)", f"{report.kills} ({report.mid_post})"),
        ("relevant stories published", str(report.published)),
        ("stored (twice)", f"{report.stored} ({report.stored_twice})"),
        ("alerts queued", str(report.queued)),
        ("alerts delivered", str(report.delivered)),
        ("alerts duplicated", str(report.duplicated)),
        ("alerts lost", str(report.lost)),
        ("alerts stuck (not sent)", str(report.stuck)),
        ("posted out of order", "yes" if report.out_of_order else "no"),
        (
            "story messages / thread replies / edits",
            f"{report.story_messages} / {report.replies} / {report.edits}",
        ),
        ("SIGKILLs while an edit was in flight", str(report.mid_edit)),
        ("wall time", f"{report.seconds:.0f} s"),
    ]
    print(table(rows, ("SQLite, real `python bot.py` in HTTP mode", "")))
    return (report.duplicated, report.lost, report.stuck) == (0, 0, 0)


def database(workdir: Path) -> bool:
    """Section 5; returns True when the bot carried on."""
    print("\n## The database\n")
    ok = True
    reason = PrivateCluster.unavailable()
    if reason:
        print(f"- PostgreSQL restart: skipped ({reason})")
    else:
        cluster = PrivateCluster()
        clock = Clock()
        slack = FakeSlack(clock=lambda: clock().timestamp())
        try:
            cluster.start()
            engine = make_engine(cluster.url)
            upgrade(engine)
            with Fetcher(FetchConfig(allow_hosts=LOCAL)) as fetcher, FeedServer() as server:
                deps = Deps(
                    settings=Settings(database_url=cluster.url, allow_hosts=LOCAL),
                    sessions=make_sessionmaker(engine),
                    fetcher=fetcher,
                    classifier=default_classifier(),
                    sender=SlackSender(make_web_client(slack.bot_token, slack.url), pace=0),
                    clock=clock,
                    owner="bench",
                )
                drill = database_drill(deps, cluster, server, slack, clock)
            engine.dispose()
        finally:
            slack.close()
            cluster.remove()
        ok = drill.posted == drill.published and not drill.errors_after and not drill.pending
        print(
            f"- PostgreSQL restarted (`pg_ctl restart -m fast`), then down for one poll and "
            f"one delivery, then back: {len(drill.published)} stories published, "
            f"{len(drill.posted)} alerts posted once each, in order; "
            f"{len(drill.errors_while_down)} failed jobs logged while it was down (the "
            f"scheduler lived on), {len(drill.errors_after)} after it came back."
        )
    with FeedServer() as server, sqlite_deps(workdir, "locked") as deps:
        with deps.sessions.begin() as s:
            add_feed(s, server.serve("/wire.xml", rss(wire(3))), deps.clock())
        engine_url = deps.sessions.kw["bind"].url.database
        holder = hold_sqlite_lock(Path(engine_url), 2.0)
        started = time.monotonic()
        summary = poll_due_feeds(deps)
        waited = time.monotonic() - started
        holder.join()
    print(
        f"- SQLite write-locked by another connection (BEGIN IMMEDIATE) for 2 s: the poll "
        f"waited {waited:.1f} s, then stored {summary.new_items} items."
    )
    return ok and summary.new_items == 3


def fuzzing(seconds: float) -> bool:
    """Section 6; returns True without findings."""
    report = fuzz(seconds, seed=1)
    print(f"\n## Fuzzing ({seconds:.0f} s)\n")
    print(
        f"{report.inputs} mutated feeds: {report.outcomes['parsed']} parsed, "
        f"{report.outcomes['failed']} rejected as broken, {report.outcomes['crashed']} crashed "
        f"feedparser itself (caught: that feed fails, nothing else); {report.entries} entries "
        f"classified and rendered as alerts; {len(report.findings)} findings."
    )
    return not report.findings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20, help="SIGKILLs in the kill loop")
    parser.add_argument("--fuzz", type=float, default=10.0, help="seconds of fuzzing")
    args = parser.parse_args()
    logging.getLogger().addHandler(logging.NullHandler())  # quiet: the report says it all
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="diplo-faults-") as tmp:
        workdir = Path(tmp)
        tried, handled = hostile(workdir)
        ok = handled == tried
        ok &= hostile_html(workdir)
        ok &= not markup(workdir)
        ok &= storm(workdir)
        ok &= kills(workdir, args.kills)
        ok &= database(workdir)
        ok &= fuzzing(args.fuzz)
    print(f"\n({time.monotonic() - started:.0f} s in all; {'all survived' if ok else 'FAILURES'})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
