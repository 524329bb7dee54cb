"""The command line: `python bot.py [run|demo|poll|feeds|db|classify|reclassify|stories|doctor]`,
and the read-only `/diplo` sub-commands (`latest`, `search`, `status`, `story`, `upcoming`, …)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import NoReturn


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line and exit with status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


Command = Callable[[argparse.Namespace], int]


def build_parser(run_bot: Command) -> argparse.ArgumentParser:
    """The whole command tree; `run_bot` (from bot.py) is `run` and the default."""
    parser = OneLineParser(
        prog="bot.py",
        description="diplo: US–China leader-level diplomacy news, polled, classified and "
        "posted to Slack (console mode without Slack tokens).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    run = sub.add_parser("run", help="run the bot (the default): scheduler + Slack or console")
    run.set_defaults(func=run_bot)
    from cli import classify, db, demo, doctor, feeds, poll, reads, reclassify, stories, upcoming

    for module in (demo, poll, feeds, db, classify, reclassify, stories, reads, upcoming, doctor):
        module.register(sub)
    parser.set_defaults(func=run_bot)
    return parser


def main(run_bot: Command, argv: list[str] | None = None) -> int:
    """Parse arguments and run the chosen command; returns the exit status."""
    from cli.context import StartupError

    args = build_parser(run_bot).parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return int(args.func(args))
    except StartupError as exc:
        print(f"diplo: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return closed_pipe()


def closed_pipe() -> int:
    """The reader of our output went away (`bot.py latest | head -1`): exit 141 quietly.

    What a shell reports for a process killed by SIGPIPE (128 + 13), without a traceback;
    stdout is pointed at /dev/null so the flush at exit cannot fail again.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return 141
