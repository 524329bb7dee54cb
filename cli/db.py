"""`bot.py db upgrade`: apply database migrations."""

from __future__ import annotations

import argparse

from cli.context import open_deps, settings_or_exit


def register(sub: argparse._SubParsersAction) -> None:
    """Add `db upgrade`."""
    parser = sub.add_parser("db", help="database maintenance")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    up = actions.add_parser("upgrade", help="apply migrations (the bot also does so at start)")
    up.prog = "bot.py db upgrade"
    up.set_defaults(func=run_upgrade)


def run_upgrade(args: argparse.Namespace) -> int:
    """Migrate the database named by DATABASE_URL to the newest schema."""
    settings = settings_or_exit()
    with open_deps(settings, migrate=True):
        pass
    print("database is up to date")
    return 0
