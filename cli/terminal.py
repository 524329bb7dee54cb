"""Terminal output for the CLI (rich): tables and colour on a TTY, plain text elsewhere, JSON.

Text from feeds or users is shown through `safe()`: control characters (an ESC could
drive the terminal, a bidi override could disguise a line) are removed, and it is wrapped
in `rich.text.Text`, so rich never reads `[bold]`-style markup in it.
"""

from __future__ import annotations

import io
import json
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any, TextIO

from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from news.text import truncate

PLAIN_WIDTH = 1000  # plain (non-TTY) output: a row stays on one line, for grep and cut
# C0 and C1 controls (tab and newline are turned into spaces first), zero-width and bidi marks
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_SPACE = re.compile(r"\s+")
_ESCAPE_SEQUENCE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|.)?")


def is_tty(stream: TextIO) -> bool:
    """Whether `stream` is an interactive terminal (a closed or odd stream is not)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def make_console(stream: TextIO | None = None) -> Console:
    """A console on `stream` (stdout): styled on a TTY; elsewhere plain, without one ANSI code.

    The TTY check is explicit, so FORCE_COLOR or TTY_COMPATIBLE in the environment cannot
    put escape codes into a pipe or a file; NO_COLOR is honoured by rich on a TTY.
    """
    stream = stream or sys.stdout
    tty = is_tty(stream)
    return Console(
        file=stream,
        force_terminal=tty,
        force_interactive=tty,
        color_system="auto" if tty else None,
        width=None if tty else PLAIN_WIDTH,
        highlight=False,
        emoji=False,
        markup=True,  # our own strings only; feed text goes in as Text
    )


def show(draw: Callable[[Console], object], stream: TextIO | None = None) -> None:
    """Run `draw(console)` for `stream` (stdout); plain output loses the cells' trailing padding."""
    stream = stream or sys.stdout
    if is_tty(stream):
        draw(make_console(stream))
        return
    buffer = io.StringIO()
    draw(make_console(buffer))
    stream.write("\n".join(line.rstrip() for line in buffer.getvalue().split("\n")))
    stream.flush()


def safe(text: str | None, limit: int = 300) -> str:
    """Feed or user text on one line, without control or invisible characters, cut to `limit`."""
    one_line = _SPACE.sub(" ", _ESCAPE_SEQUENCE.sub("", text or ""))
    return truncate(_UNSAFE.sub("", one_line).strip(), limit)


def plain(text: str | None, limit: int = 300, style: str = "") -> Text:
    """`safe(text)` as a rich Text: shown literally, never parsed as markup."""
    return Text(safe(text, limit), style=style)


def table(*columns: str, title: str | None = None) -> Table:
    """A table with a header row under a light rule; a column named `name:right` aligns right."""
    t = Table(
        title=title, box=box.SIMPLE_HEAD, title_justify="left", show_edge=False, pad_edge=False
    )
    for name in columns:
        heading, _, how = name.partition(":")
        t.add_column(heading, justify="right" if how == "right" else "left", overflow="fold")
    return t


def iso(when: datetime | date | None) -> str | None:
    """ISO-8601 in UTC (`2026-11-30T09:00:00Z`); a date stays a date; None stays None."""
    if when is None:
        return None
    if isinstance(when, datetime):
        stamp = when if when.tzinfo else when.replace(tzinfo=UTC)
        return stamp.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return when.isoformat()


def short_time(when: datetime | None) -> str:
    """`2026-11-30 09:00` (UTC) for tables; `never` for None."""
    if when is None:
        return "never"
    stamp = when if when.tzinfo else when.replace(tzinfo=UTC)
    return stamp.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def write_json(data: Any, stream: TextIO | None = None) -> None:
    """One JSON document, UTF-8 characters as they are, keys in the order given."""
    (stream or sys.stdout).write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


@contextmanager
def progress_bar(total: int, label: str, enabled: bool = True) -> Iterator[Progress]:
    """A progress bar on stderr while the block runs, when stderr is a terminal; else silent.

    Advance it with `bar.advance(bar.task_ids[0])` (or `advance(bar)`).
    """
    stream = sys.stderr
    console = make_console(stream)
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[last]}"),
        TimeElapsedColumn(),
        console=console,
        disable=not (enabled and is_tty(stream)),
        transient=False,
    )
    bar.add_task(label, total=max(total, 1), last="")
    with bar:
        yield bar


def advance(bar: Progress, last: str = "") -> None:
    """One step of the bar's only task; `last` is shown after the count."""
    bar.update(bar.task_ids[0], advance=1, last=last)
