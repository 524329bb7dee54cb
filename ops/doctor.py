"""`bot.py doctor`'s checks that need no Slack: configuration, rules files, database, feeds.

Each check returns `Check(name, status, detail, fix)`; nothing here prints, writes to the
database or migrates it. Details never hold a secret: URLs go through `redact_url`, errors
through `redact_text`, and tokens are never part of any message.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from jobs.fetch import Fetched, Fetcher, FetchFailed, FetchRequest
from models.db import make_engine
from models.migrate import UnknownRevision, pending_migrations
from news.contact import ContactRulesError, load_contact_rules
from news.parse import parse_feed
from news.rules import DEFAULT_RULES_PATH, RulesError, load_rules
from news.sources import DEFAULT_SOURCES_PATH, SourceBook, SourcesError, load_sources
from news.urls import redact_text, redact_url
from settings import Settings

Status = Literal["ok", "warn", "fail"]
FEED_WORKERS = 16  # feeds checked at once


@dataclass(frozen=True, slots=True)
class Check:
    """One line of the doctor's report: what was checked, how it went, how to fix it."""

    name: str
    status: Status
    detail: str
    fix: str = ""
    seconds: float | None = None


def safe_database_url(url: str) -> str:
    """DATABASE_URL without its password."""
    return make_url(url).render_as_string(hide_password=True)


def check_settings(settings: Settings) -> Check:
    """The configuration loaded; say which mode and database it picks."""
    mode = {
        "socket": "Socket Mode",
        "http": "HTTP mode",
        "console": "console mode (no Slack)",
    }[settings.slack_mode]
    return Check(
        "configuration", "ok", f"valid: {mode}, database {safe_database_url(settings.database_url)}"
    )


def check_rules_files(settings: Settings) -> tuple[list[Check], SourceBook | None]:
    """The relevance rules, the sources file and the contact cues compile; the sources book."""
    checks: list[Check] = []
    rules_path = settings.rules_file or DEFAULT_RULES_PATH
    try:
        load_rules(rules_path)
        checks.append(Check("relevance rules", "ok", f"{_shown(rules_path)}: valid"))
    except RulesError as exc:
        checks.append(
            Check(
                "relevance rules", "fail", str(exc), _file_fix("DIPLO_RULES", settings.rules_file)
            )
        )
    sources_path = settings.sources_file or DEFAULT_SOURCES_PATH
    book: SourceBook | None = None
    try:
        book = load_sources(sources_path)
        count = len(book.sources)
        checks.append(Check("sources", "ok", f"{_shown(sources_path)}: {count} outlets"))
    except SourcesError as exc:
        checks.append(
            Check("sources", "fail", str(exc), _file_fix("DIPLO_SOURCES", settings.sources_file))
        )
    try:
        load_contact_rules()
        checks.append(Check("contact cues", "ok", "news/contact.toml: valid"))
    except ContactRulesError as exc:
        checks.append(
            Check("contact cues", "fail", str(exc), "fix news/contact.toml at the line named")
        )
    return checks, book


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _file_fix(variable: str, configured: Path | None) -> str:
    where = f"the file {variable} names" if configured else f"the bundled file (or set {variable})"
    return f"fix {where} at the line named; `git diff` shows recent edits"


def check_database(settings: Settings) -> tuple[Check, Engine | None]:
    """The database answers and is migrated; the engine when it answers (dispose it)."""
    url = make_url(settings.database_url)
    shown = safe_database_url(settings.database_url)
    local = url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")
    if local and not Path(str(url.database)).exists():  # connecting would create an empty file
        return Check(
            "database",
            "warn",
            f"{shown}: the file does not exist yet",
            "it is created at the first start, or run `python bot.py db upgrade`",
        ), None
    engine = make_engine(settings.database_url)
    started = time.monotonic()
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        pending = pending_migrations(engine)
    except UnknownRevision as exc:
        return Check(
            "database",
            "fail",
            f"{shown} is at revision {exc}, which this diplo does not know",
            "run the diplo version that migrated it, or restore a matching backup",
        ), engine
    except SQLAlchemyError as exc:
        engine.dispose()
        first = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        return Check(
            "database",
            "fail",
            f"cannot open {shown}: {redact_text(first)[:300]}",
            "check DATABASE_URL (host, port, user, password) and that the server is up",
        ), None
    seconds = time.monotonic() - started
    if pending:
        return Check(
            "database",
            "warn",
            f"{shown}: reachable; {len(pending)} pending migrations: {', '.join(pending)}",
            "run `python bot.py db upgrade` (the bot also migrates at start)",
            seconds,
        ), engine
    return Check("database", "ok", f"{shown}: reachable, migrated", seconds=seconds), engine


def check_feeds(
    urls: Sequence[str], fetcher: Fetcher, sources: SourceBook | None = None
) -> list[Check]:
    """Fetch and parse every feed, in parallel; one check per feed, in the order given."""
    if not urls:
        return [
            Check(
                "feeds", "warn", "no feeds configured", "set DIPLO_FEEDS or `bot.py feeds add URL`"
            )
        ]
    with ThreadPoolExecutor(min(FEED_WORKERS, len(urls))) as pool:
        return list(
            pool.map(lambda n: _check_feed(n + 1, urls[n], fetcher, sources), range(len(urls)))
        )


def _check_feed(number: int, url: str, fetcher: Fetcher, sources: SourceBook | None) -> Check:
    name = f"feed {redact_url(url)}"
    started = time.monotonic()
    result = fetcher.fetch(FetchRequest(feed_id=-number, url=url), log=False)
    seconds = time.monotonic() - started
    took = f"in {seconds:.2f} s"
    if isinstance(result, FetchFailed):
        reason = f"{redact_text(result.reason)} {took}"
        return Check(name, "fail", reason, _feed_fix(result), seconds)
    if not isinstance(result, Fetched):  # a 304 without validators: the server is odd, not down
        return Check(name, "warn", f"answered 304 Not Modified to a plain GET {took}", "", seconds)
    parsed = parse_feed(result.body, result.headers, result.final_url, sources=sources)
    if parsed.failed:
        problems = ", ".join(parsed.problems[:3]) or "not a feed"
        return Check(
            name,
            "fail",
            f"fetched {len(result.body):,} bytes {took}, but it is not a feed ({problems})",
            "use the RSS/Atom URL (`bot.py feeds add PAGE` finds it), then remove this one",
            seconds,
        )
    items = f"{len(parsed.entries)} items {took}"
    if result.moved_to:
        moved = redact_url(result.moved_to)
        return Check(
            name, "warn", f"{items}; moved permanently to {moved}", "use the new URL", seconds
        )
    if not parsed.entries:
        return Check(name, "warn", f"a valid feed with 0 items {took}", "", seconds)
    return Check(name, "ok", items, seconds=seconds)


def _feed_fix(failed: FetchFailed) -> str:
    reason = failed.reason
    if reason.startswith("blocked_address"):
        return "a private or local address: add its host to DIPLO_ALLOW_HOSTS if that is meant"
    if reason.startswith(("http_404", "http_410")):
        return "check the URL, or remove it: `python bot.py feeds remove URL`"
    if reason.startswith(("dns_error", "connect_error", "timeout", "tls")):
        return "check the host from this machine (DNS, firewall, proxy), then retry"
    return "open the URL in a browser; remove the feed if it is gone"


def worst(checks: Iterable[Check]) -> Status:
    """`fail` if any check failed, else `warn` if any warned, else `ok`."""
    statuses = {c.status for c in checks}
    return "fail" if "fail" in statuses else "warn" if "warn" in statuses else "ok"
