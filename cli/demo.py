"""`bot.py demo`: replay the bundled news (news/demo/) through the real bot, in about a minute.

What runs is what `bot.py run` runs: `open_deps` (a migrated database, the fetcher and its
address guard, the classifier, the sources), `start_up` (feeds seeded), the poll job (fetch,
parse, store, classify, stories, outbox), delivery (the delivery loop of jobs/wakeup.py, or
`deliver_pending` in turn with --fast) and a ConsoleSender, or a SlackSender with --channel.
Nothing about the outcome is written here: the stories, threads and stages printed are the
pipeline's own.

What is the demo's own:
- a feed server on 127.0.0.1 (ephemeral port: the only host the address guard lets through
  in this run) building each feed from news/demo/items.jsonl as the demo clock reads;
- the demo clock: it starts at the data's `start` and jumps from one news moment to the next,
  one step every ~3 s (60 s in all, `--speed N` N times faster, `--fast` no waiting); each
  step, every feed is due (DIPLO_POLL_SECONDS is 1 s of demo time), so each is polled once;
- a throwaway database (a temporary SQLite file, deleted at the end) unless `--db URL`;
- the narration lines, and the planned contacts at the end (as `bot.py upcoming` lists them).
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import TextIO

from cli.context import StartupError, configure_logging, open_deps, settings_or_exit
from cli.upcoming import as_line
from deps import Deps
from handlers.sender import ConsoleSender, Sender
from jobs.deliver import deliver_pending
from jobs.poll import poll_due_feeds
from jobs.recover import release_own_leases, start_up
from jobs.scheduler import guarded, poll_job
from jobs.wakeup import Delivery, start_delivery
from models.feed import all_feeds, lease_owners
from models.outbox import pending_count
from models.subscription import ALL_TOPICS, subscribe
from models.upcoming import UpcomingContact, upcoming
from news.demo import CONTENT_TYPES, DemoDataError, DemoFeed, Scenario, load_scenario, render_feed
from news.zones import zone
from settings import Settings, SettingsError, load_settings

DEMO_SECONDS = 60.0  # the whole replay at --speed 1
DEMO_HOST = "127.0.0.1"
DRAIN_SECONDS = {"console": 15.0, "slack": 180.0}  # at the end, waiting for the last messages
_CHANNEL_ID = re.compile(r"[CG][A-Z0-9]{6,}")


def register(sub: argparse._SubParsersAction) -> None:
    """Add `demo`."""
    parser = sub.add_parser(
        "demo",
        help="replay bundled news through the real bot in about a minute (start here)",
        description="Replay a bundled news sequence (news/demo/: the Trump–Xi call of "
        "19 Sep 2025 and the Busan meeting it led to) through the real pipeline: a local "
        "feed server on 127.0.0.1 serves six outlets whose items appear as the demo clock "
        "moves; the bot polls, classifies, builds stories and prints what it would post "
        "(or posts it to --channel). A temporary SQLite database is used and deleted.",
    )
    parser.add_argument(
        "--fast", action="store_true", help="no waiting between steps (tests, the impatient)"
    )
    parser.add_argument(
        "--speed",
        type=_positive,
        default=1.0,
        metavar="N",
        help="play N times faster (default 1: about a minute)",
    )
    parser.add_argument(
        "--db",
        metavar="URL",
        help="an empty database to use instead of a temporary SQLite file (it is kept)",
    )
    parser.add_argument(
        "--channel",
        type=_channel_id,
        metavar="C…",
        help="post to this Slack channel instead of the console (needs SLACK_BOT_TOKEN; the "
        "channel is subscribed to every topic in the demo's database only)",
    )
    parser.set_defaults(func=run)


def _positive(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {raw!r}") from None
    if not 0 < value <= 1000:
        raise argparse.ArgumentTypeError(f"must be above 0 and at most 1000, got {raw}")
    return value


def _channel_id(raw: str) -> str:
    if not _CHANNEL_ID.fullmatch(raw):
        raise argparse.ArgumentTypeError(f"not a Slack channel ID (C…): {raw!r}")
    return raw


@dataclass(frozen=True)
class DemoOptions:
    """How to play the demo."""

    fast: bool = False
    speed: float = 1.0
    channel: str | None = None  # post there (Slack) instead of the console
    database_url: str | None = None  # None: a temporary SQLite file


def run(args: argparse.Namespace) -> int:
    """Play the demo as the arguments say."""
    settings = settings_or_exit()
    configure_logging("WARNING", settings.log_format)
    url = None
    if args.db:
        try:
            url = load_settings({"DATABASE_URL": args.db}, env_file=None).database_url
        except SettingsError as exc:
            raise StartupError(f"--db: {exc}".replace("DATABASE_URL", "the URL")) from None
    if args.channel and not settings.slack_bot_token:
        raise StartupError("demo --channel needs SLACK_BOT_TOKEN (see README → Slack)")
    options = DemoOptions(args.fast, args.speed, args.channel, url)
    return run_demo(settings, options)


class DemoClock:
    """The demo's time: set by the run, read by the jobs and the feed server."""

    def __init__(self, start: datetime) -> None:
        self._now = start

    def __call__(self) -> datetime:
        return self._now

    def set(self, at: datetime) -> None:
        """Jump to `at`."""
        self._now = at


class DemoFeedServer:
    """Serves the demo's feeds on 127.0.0.1 as they read at the demo clock's time (ETag, 304)."""

    def __init__(self, scenario: Scenario, clock: Callable[[], datetime]) -> None:
        self.httpd = ThreadingHTTPServer((DEMO_HOST, 0), _handler(scenario, clock))
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, name="diplo-demo-feeds", daemon=True
        )
        self._thread.start()

    @property
    def base(self) -> str:
        """`http://127.0.0.1:<port>/`."""
        return f"http://{DEMO_HOST}:{self.httpd.server_address[1]}/"

    def url(self, feed: DemoFeed) -> str:
        """The URL of one feed."""
        return self.base.rstrip("/") + feed.path

    def close(self) -> None:
        """Stop serving."""
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> DemoFeedServer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _handler(scenario: Scenario, clock: Callable[[], datetime]) -> type[BaseHTTPRequestHandler]:
    feeds = {f.path: f for f in scenario.feeds}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            feed = feeds.get(self.path.split("?", 1)[0])
            if feed is None:
                self.send_error(404)
                return
            items = scenario.on_feed(feed.id, clock())
            body = render_feed(feed, items, scenario.start)
            etag = f'"{hashlib.sha256(body).hexdigest()[:20]}"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", f"{CONTENT_TYPES[feed.format]}; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("ETag", etag)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the demo's console is for the bot's output."""

    return Handler


def demo_settings(
    settings: Settings, database_url: str, feeds: tuple[str, ...], scenario: Scenario, slack: bool
) -> Settings:
    """The user's settings with the demo's database, feeds, sources and timing instead."""
    return replace(
        settings,
        database_url=database_url,
        feeds=feeds,
        feeds_file=None,
        allow_hosts=frozenset({DEMO_HOST}),  # the demo's server, for this run only
        sources_file=scenario.sources_file,
        poll_seconds=1,  # demo time: every feed is due again at each step of the clock
        retention_days=0,
        metrics_port=None,
        slack_bot_token=settings.slack_bot_token if slack else None,
        slack_app_token=None,
        slack_signing_secret=None,
    )


def _slack_sender(settings: Settings) -> Sender:
    from handlers.app import SlackAuthError, check_auth
    from handlers.sender import SlackSender, make_web_client

    assert settings.slack_bot_token is not None
    client = make_web_client(settings.slack_bot_token, settings.slack_api_url)
    try:
        check_auth(client)
    except SlackAuthError as exc:
        raise StartupError(str(exc)) from None
    return SlackSender(client)


def run_demo(
    settings: Settings,
    options: DemoOptions,
    out: TextIO | None = None,
    sender: Sender | None = None,
    scenario: Scenario | None = None,
) -> int:
    """Play the demo; `sender` replaces the console (or, with a channel, Slack) sender."""
    out = out or sys.stdout
    try:
        scenario = scenario or load_scenario()
    except DemoDataError as exc:
        raise StartupError(f"demo data: {exc}") from None
    with ExitStack() as stack:
        url = options.database_url
        if url is None:
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="diplo-demo-"))
            url = f"sqlite:///{folder}/demo.db"
        clock = DemoClock(scenario.start)
        server = stack.enter_context(DemoFeedServer(scenario, clock))
        feeds = tuple(server.url(f) for f in scenario.feeds)
        slack = options.channel is not None
        config = demo_settings(settings, url, feeds, scenario, slack)
        if sender is None:
            sender = _slack_sender(config) if slack else ConsoleSender(stream=out)
        steps = scenario.steps()
        beat = 0.0 if options.fast else DEMO_SECONDS / max(len(steps), 1) / options.speed
        narrator = Narrator(out, scenario)
        narrator.intro(server.base, len(steps), beat, options, bool(settings.slack_bot_token))
        deps = stack.enter_context(open_deps(config, sender=sender))
        deps.clock = clock
        deps.console_alerts = not slack  # every relevant item to the console channel
        stack.callback(deps.stopping.set)  # runs first at exit: in-flight work winds down
        with deps.sessions() as s:
            if all_feeds(s):
                raise StartupError("demo --db: that database already has feeds; give an empty one")
        start_up(deps)
        if options.channel:
            with deps.sessions.begin() as s:
                subscribe(s, options.channel, [ALL_TOPICS], None, clock())
        player: Player = FastPlayer(deps) if options.fast else LivePlayer(deps, beat)
        stack.callback(player.close)
        narrator.start()
        player.step()  # the first poll: what is already on the feeds is marked seen
        for at in steps:
            clock.set(at)
            narrator.step(at)
            player.step()
        left = player.finish(DRAIN_SECONDS["slack" if slack else "console"])
        with deps.sessions() as s:
            ahead = upcoming(s, clock(), zone(deps.settings.default_tz, "UTC"), None, 10)
        narrator.upcoming(clock(), ahead)
        narrator.outro(left, options)
    return 0


class Player:
    """Runs the bot's jobs at each step of the demo clock."""

    def step(self) -> None:
        """Poll every due feed; deliver what that queued."""
        raise NotImplementedError

    def finish(self, timeout: float) -> int:
        """Wait (up to `timeout` s) for the last messages; returns how many are still queued."""
        raise NotImplementedError

    def close(self) -> None:
        """Stop what runs in the background."""


class FastPlayer(Player):
    """No waiting: each step polls (waiting for every fetch), then delivers until done."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def step(self) -> None:
        """Poll as `bot.py poll --once` does, then run delivery until nothing is left."""
        poll_due_feeds(self.deps)
        for _ in range(50):  # a run takes up to 100 ops; more runs only for what it left
            done = deliver_pending(self.deps)
            if not (done.sent or done.recovered or done.failed):
                return

    def finish(self, timeout: float) -> int:
        """Everything was delivered at its step; returns what is left (a retry later)."""
        with self.deps.sessions() as s:
            return pending_count(s)

    def close(self) -> None:
        """Nothing runs in the background."""


class LivePlayer(Player):
    """In real time: the poll job at each step, the bot's delivery loop in the background."""

    def __init__(self, deps: Deps, beat: float) -> None:
        self.deps, self.beat = deps, beat
        self.poll = guarded("poll", poll_job, deps)  # as the scheduler runs it
        self.delivery: Delivery | None = start_delivery(deps)

    def step(self) -> None:
        """Poll now (the delivery loop is woken by the commit), then wait out the beat."""
        started = time.monotonic()
        self.poll()
        self.deps.stopping.wait(max(0.0, self.beat - (time.monotonic() - started)))

    def finish(self, timeout: float) -> int:
        """Wait until the delivery loop sent everything (or `timeout` s passed)."""
        deadline = time.monotonic() + timeout
        while True:
            with self.deps.sessions() as s:  # a leased feed: a fetch still to be recorded
                left = pending_count(s)
                fetching = bool(lease_owners(s))
            if (not left and not fetching) or time.monotonic() >= deadline:
                break
            self.deps.stopping.wait(0.1)
        self.close()
        release_own_leases(self.deps)
        return left

    def close(self) -> None:
        """Stop the delivery loop (its post in flight finishes)."""
        if self.delivery is not None:
            self.delivery.close()
            self.delivery = None


def _when(at: datetime) -> str:
    return at.strftime("%a %d %b %Y %H:%M UTC")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


class Narrator:
    """The demo's own lines: what happens in the world at each step (never a headline)."""

    def __init__(self, out: TextIO, scenario: Scenario) -> None:
        self.out, self.scenario = out, scenario

    def say(self, text: str = "") -> None:
        """Print one block of narration."""
        print(text, file=self.out, flush=True)

    def intro(
        self, base: str, steps: int, beat: float, options: DemoOptions, slack_ready: bool
    ) -> None:
        """What the demo is and where it runs."""
        sc = self.scenario
        pace = "no waiting" if options.fast else f"one every {beat:.1f} s"
        where = f"posted to Slack channel {options.channel}" if options.channel else "printed here"
        database = (
            "the database you gave (--db)"
            if options.database_url
            else "a temporary SQLite database"
        )
        self.say(f"diplo demo: {sc.title}")
        self.say(
            f"  {_plural(len(sc.items), 'news item')} from {_plural(len(sc.feeds), 'outlet')}, "
            f"served at {base}, appear in {_plural(steps, 'step')} ({pace})."
        )
        self.say(
            "  The bot is the real one: it polls those feeds, classifies every item, groups them "
            f"into stories, and what it would post to Slack is {where}. It uses {database}."
        )
        if slack_ready and not options.channel:
            self.say("  (SLACK_BOT_TOKEN is set: add --channel C… to post to a channel instead.)")
        self.say()

    def start(self) -> None:
        """The first poll."""
        seen = [i for i in self.scenario.items if i.published <= self.scenario.start]
        self.say(
            f"▸ {_when(self.scenario.start)}  diplo starts: {_plural(len(seen), 'item')} already "
            "on the feeds (a feed's first poll marks them seen, without alerts)"
        )

    def step(self, at: datetime) -> None:
        """Who publishes at `at`."""
        items = self.scenario.published_at(at)
        outlets = list(dict.fromkeys(self.scenario.feed(i.feed).title for i in items))
        verb = "publishes" if len(outlets) == 1 else "publish"
        self.say(f"▸ {_when(at)}  {', '.join(outlets)} {verb} {_plural(len(items), 'item')}")

    def upcoming(self, now: datetime, contacts: list[UpcomingContact]) -> None:
        """The planned contacts, as `bot.py upcoming` lists them."""
        self.say()
        self.say(f"Upcoming (planned contacts, as of {_when(now)}):")
        if not contacts:
            self.say("  none")
        for contact in contacts:
            self.say("  " + as_line(contact).replace("\n", "\n  "))

    def outro(self, left: int, options: DemoOptions) -> None:
        """How it ended, and what to try next."""
        self.say()
        if left:
            self.say(f"{_plural(left, 'message')} still queued when the demo ended (see the log).")
        kept = "kept" if options.database_url else "deleted"
        self.say(f"Demo over; its database was {kept}.")
        if not options.channel:
            self.say(
                "Next: ./dev run (your feeds, printed here until Slack tokens are set), or "
                "./dev run demo --channel C… with SLACK_BOT_TOKEN set, to see it in Slack."
            )
