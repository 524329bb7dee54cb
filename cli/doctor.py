"""`bot.py doctor`: check everything a deployment needs, one line per check; exit 0 or 1.

The checks live in `ops.doctor` (configuration, rules files, database, feeds) and
`handlers.doctor` (Slack); this module runs them in order and prints the report. The
database is only read (never created, migrated or seeded), and no token is ever shown.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any, TextIO

from rich.console import Console
from rich.text import Text
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from cli.context import configure_logging, fetch_config
from cli.terminal import show, write_json
from handlers.doctor import check_app_token, check_bot_token, check_scopes
from jobs.feeds import configured_feeds
from jobs.fetch import Fetcher
from models.db import make_sessionmaker
from models.feed import all_feeds
from news.opml import OpmlError
from ops.doctor import (
    Check,
    check_database,
    check_feeds,
    check_rules_files,
    check_settings,
    worst,
)
from settings import Settings, SettingsError, load_settings

STYLES = {"ok": "green", "warn": "yellow", "fail": "bold red"}
NAME_WIDTH = 24


def register(sub: argparse._SubParsersAction) -> None:
    """Add `doctor`."""
    parser = sub.add_parser(
        "doctor",
        help="check configuration, database, Slack tokens and scopes, feeds and rules files",
        description="Check what a deployment needs and print one line per check (ok, warn "
        "or fail, and how to fix it). Exit status 0 when nothing fails, 1 otherwise.",
    )
    parser.prog = "bot.py doctor"
    parser.add_argument("--json", action="store_true", help="the checks as one JSON document")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, stdout: TextIO | None = None) -> int:
    """Run every check, print the report; 1 if any check failed."""
    checks = run_checks()
    if args.json:
        write_json({"status": worst(checks), "checks": [check_json(c) for c in checks]}, stdout)
    else:
        show(lambda console: report(console, checks), stdout)
    return 1 if worst(checks) == "fail" else 0


def run_checks(
    environ: Mapping[str, str] | None = None, env_file: str | None = ".env"
) -> list[Check]:
    """Configuration first (nothing else can run without it), then the rest in order."""
    try:
        settings = load_settings(environ, env_file)
    except SettingsError as exc:
        return [Check("configuration", "fail", str(exc), "fix that variable (environment or .env)")]
    configure_logging("ERROR", settings.log_format)
    checks = [check_settings(settings)]
    rules, sources = check_rules_files(settings)
    checks += rules
    database, engine = check_database(settings)
    checks.append(database)
    bot, scopes = check_bot_token(settings)
    checks.append(bot)
    if bot.status == "ok":
        checks.append(check_scopes(scopes))
    checks.append(check_app_token(settings))
    urls = feed_urls(settings, engine)
    if engine is not None:
        engine.dispose()
    with Fetcher(fetch_config(settings)) as fetcher:
        checks += check_feeds(urls, fetcher, sources)
    return checks


def feed_urls(settings: Settings, engine: Engine | None) -> list[str]:
    """The configured feeds, then the enabled ones stored in the database, without repeats."""
    try:
        urls = [f.url for f in configured_feeds(settings)]
    except (OSError, OpmlError):
        urls = []
    if engine is not None:
        try:
            with make_sessionmaker(engine)() as s:
                urls += [f.url for f in all_feeds(s) if f.enabled]
        except SQLAlchemyError:
            pass  # not migrated yet: the database check says so
    return list(dict.fromkeys(urls))


def check_json(check: Check) -> dict[str, Any]:
    """A check as JSON (stable keys)."""
    seconds = round(check.seconds, 3) if check.seconds is not None else None
    return {
        "name": check.name,
        "status": check.status,
        "detail": check.detail,
        "fix": check.fix or None,
        "seconds": seconds,
    }


def report(console: Console, checks: list[Check]) -> None:
    """One line per check: status, name, detail, and `→ fix` when there is one; a tally."""
    width = min(NAME_WIDTH, max(len(c.name) for c in checks))
    for check in checks:
        line = Text(f"{check.status:<4}", style=STYLES[check.status])
        line.append(f"  {check.name:<{width}}  ", style="bold")
        line.append(check.detail)
        if check.fix and check.status != "ok":
            line.append(f"  → {check.fix}", style="cyan")
        console.print(line, soft_wrap=True)
    tally = {s: sum(1 for c in checks if c.status == s) for s in ("ok", "warn", "fail")}
    verdict = "problems found" if tally["fail"] else "ready"
    console.print(
        Text(
            f"doctor: {tally['ok']} ok, {tally['warn']} warnings, {tally['fail']} failed — "
            + verdict,
            style=STYLES[worst(checks)],
        ),
        soft_wrap=True,
    )
