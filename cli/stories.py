"""`bot.py stories`: group news items (JSON lines) into stories, or score the grouping."""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from rich.console import Console
from rich.text import Text

from cli.context import settings_or_exit
from cli.terminal import show, table
from news.cluster import StoryIndex, features
from news.contact import STAGES, ContactRulesError, extract_contact
from news.relevance import Classifier, default_classifier
from news.rules import RulesError, load_rules
from news.sources import SourceBook, SourcesError, default_sources, load_sources

NAIVE_WINDOW = timedelta(hours=24)
NAIVE_OVERLAP = 0.3  # word Jaccard of two titles for the baseline to call them one story
_WORD = re.compile(r"[a-z0-9]{3,}|[\u4e00-\u9fff]{2}")
_NAIVE_PLANNED = re.compile(
    r"\b(?:to|will|would|expected to|plans? to|set to)\s+(?:meet|visit|host|hold|speak|talk)\b|"
    r"\bahead of\b|将|拟|即将",
    re.IGNORECASE,
)


class BadInput(ValueError):
    """A line of input that is not a usable item; the message says which and why."""


def register(sub: argparse._SubParsersAction) -> None:
    """Add `stories`."""
    parser = sub.add_parser(
        "stories",
        help="group news items (JSON lines) into stories, as the bot does",
        description='Read JSON lines {"id", "title", "summary", "source", "url"?, "published", '
        '"lang"?} from FILE or standard input, in order, and write one JSON line per item: '
        '{"id", "label", "story", "stage", "when", "where", "parties"} ("story" is shared by '
        "the items of one story; null when the item is not relevant). A bad line stops with "
        "exit status 2. With --eval, score the grouping and the stages on a labelled file.",
    )
    parser.add_argument("file", nargs="?", type=Path, help="JSON lines (default: standard input)")
    parser.add_argument(
        "--rules", type=Path, metavar="PATH", help="relevance rules (default: DIPLO_RULES)"
    )
    parser.add_argument(
        "--sources", type=Path, metavar="PATH", help="sources file (default: DIPLO_SOURCES)"
    )
    parser.add_argument(
        "--given-order",
        action="store_true",
        help="cluster the items in the order given (default: in published order, as the bot "
        "meets them; the output keeps the input's order either way)",
    )
    parser.add_argument(
        "--eval",
        type=Path,
        metavar="FILE",
        help='labelled JSON lines (relevant items carry "event" and "stage"): print B-cubed '
        "precision/recall/F1, planned F1 and stage accuracy, beside a naive baseline",
    )
    parser.set_defaults(func=run)


@dataclass(frozen=True, slots=True)
class Item:
    """One input line."""

    id: str
    title: str
    summary: str
    source: str | None
    url: str | None
    published: datetime


@dataclass(frozen=True, slots=True)
class Placement:
    """The engine's answer for one item (what one output line says)."""

    id: str
    label: str
    story: str | None
    stage: str | None
    when: str | None
    where: str | None
    parties: dict[str, list[str]] | None

    def line(self) -> str:
        """The JSON line."""
        return json.dumps(
            {
                "id": self.id,
                "label": self.label,
                "story": self.story,
                "stage": self.stage,
                "when": self.when,
                "where": self.where,
                "parties": self.parties,
            },
            ensure_ascii=False,
        )


class Storyteller:
    """Relevance + contact record + clustering, as the bot runs them, over items in order."""

    def __init__(self, classifier: Classifier, sources: SourceBook) -> None:
        self.classifier = classifier
        self.sources = sources
        self.index = StoryIndex()

    def place_all(self, items: list[Item], given_order: bool = False) -> list[Placement]:
        """Place every item, in published order unless `given_order`; answers in input order."""
        order = list(range(len(items)))
        if not given_order:
            order.sort(key=lambda i: items[i].published)  # stable: ties keep the input order
        placed: dict[int, Placement] = {i: self.place(items[i]) for i in order}
        return [placed[i] for i in range(len(items))]

    def place(self, item: Item) -> Placement:
        """Classify one item and, when relevant, put it in a story."""
        verdict = self.classifier.classify(item.title, item.summary)
        if not verdict.relevant:
            return Placement(item.id, verdict.label, None, None, None, None, None)
        source = self.sources.recognise(item.source, item.url)
        contact = extract_contact(item.title, item.summary, item.published, verdict, source)
        placed = self.index.add(features(contact, item.title, item.published))
        when = contact.when.iso() if contact.when else None
        parties = {"us": list(contact.parties_us), "china": list(contact.parties_china)}
        return Placement(
            item.id, verdict.label, placed.story.key, placed.stage, when, contact.where, parties
        )


def run(
    args: argparse.Namespace,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Group or evaluate; returns the exit status (2 for unusable input, rules or sources)."""
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    rules_path = args.rules
    sources_path = args.sources
    if rules_path is None or sources_path is None:
        settings = settings_or_exit()
        rules_path = rules_path or settings.rules_file
        sources_path = sources_path or settings.sources_file
    try:
        classifier = Classifier(load_rules(rules_path)) if rules_path else default_classifier()
        sources = load_sources(sources_path) if sources_path else default_sources()
    except (RulesError, SourcesError, ContactRulesError) as exc:
        print(f"stories: {exc}", file=stderr)
        return 2
    try:
        if args.eval is not None:
            with args.eval.open(encoding="utf-8") as lines:
                rows = list(_rows(lines))
            result = evaluate(rows, classifier, sources, args.given_order)
            stdout.write(report(result, args.eval.name))
            return 0
        teller = Storyteller(classifier, sources)
        if args.file is None:
            return _write(teller, stdin, stdout, args.given_order)
        with args.file.open(encoding="utf-8") as lines:
            return _write(teller, lines, stdout, args.given_order)
    except BrokenPipeError:
        raise  # the reader went away (`| head`): cli.main exits 141
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        print(
            f"stories: cannot read {getattr(exc, 'filename', None) or 'input'}: {reason}",
            file=stderr,
        )
        return 2
    except BadInput as exc:
        print(f"stories: {exc}", file=stderr)
        return 2


def _write(teller: Storyteller, lines: Iterable[str], stdout: TextIO, given_order: bool) -> int:
    """Place the items and write one line each; in given order, each as soon as it is read."""
    if given_order:
        for _, row in _rows(lines):
            stdout.write(teller.place(parse_item(*row)).line() + "\n")
        return 0
    items = [parse_item(*row) for _, row in _rows(lines)]
    for placement in teller.place_all(items):
        stdout.write(placement.line() + "\n")
    return 0


def _rows(lines: Iterable[str]) -> Iterator[tuple[int, tuple[int, dict[str, Any]]]]:
    """(line number, (line number, object)) for each non-empty line; BadInput if not JSON."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BadInput(f"line {number}: invalid JSON: {exc.msg} (column {exc.colno})") from None
        if not isinstance(row, dict):
            raise BadInput(f"line {number}: expected a JSON object, got {type(row).__name__}")
        yield number, (number, row)


def parse_item(number: int, row: dict[str, Any]) -> Item:
    """The item of one input object; BadInput naming the line and the field if unusable."""
    for name in ("title", "published"):
        if not isinstance(row.get(name), str) or not row[name].strip():
            raise BadInput(f'line {number}: "{name}" must be a non-empty string')
    for name in ("summary", "source", "url"):
        if row.get(name) is not None and not isinstance(row[name], str):
            raise BadInput(f'line {number}: "{name}" must be a string')
    item_id = row.get("id", number)
    if not isinstance(item_id, str | int) or isinstance(item_id, bool):
        raise BadInput(f'line {number}: "id" must be a string or a number')
    return Item(
        str(item_id),
        row["title"],
        row.get("summary") or "",
        row.get("source"),
        row.get("url"),
        parse_published(number, row["published"]),
    )


def parse_published(number: int, text: str) -> datetime:
    """An ISO date or date-time ("2025-10-30", "2025-10-30T08:00:00Z"); naive means UTC."""
    raw = text.strip()
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            return datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise BadInput(f'line {number}: "published" is not an ISO date: {raw[:40]!r}') from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# ---- evaluation ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scores:
    """One system's figures on the relevant items of a labelled set."""

    precision: float
    recall: float
    f1: float
    planned_f1: float
    stage_accuracy: float


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The engine and the naive baseline on one labelled set."""

    items: int
    relevant: int
    events: int
    engine: Scores
    naive: Scores


def evaluate(
    rows: list[tuple[int, tuple[int, dict[str, Any]]]],
    classifier: Classifier,
    sources: SourceBook,
    given_order: bool = False,
) -> Evaluation:
    """Run the engine and the baseline over labelled rows and score both."""
    teller = Storyteller(classifier, sources)
    items = [parse_item(number, row) for _, (number, row) in rows]
    gold_rows = [row for _, (_, row) in rows]
    placed = teller.place_all(items, given_order)
    naive = naive_stories(items, given_order)
    gold = [(i, r["event"], r.get("stage")) for i, r in enumerate(gold_rows) if r.get("event")]
    events = {event for _, event, _ in gold}
    engine_clusters = [placed[i].story or f"none:{i}" for i, _, _ in gold]
    naive_clusters = [naive[i] for i, _, _ in gold]
    truth = [event for _, event, _ in gold]
    gold_stages = [stage for _, _, stage in gold]
    engine_stages = [placed[i].stage for i, _, _ in gold]
    naive_stages = [naive_stage(items[i].title) for i, _, _ in gold]
    return Evaluation(
        len(items),
        len(gold),
        len(events),
        Scores(*bcubed(engine_clusters, truth), *_stage_scores(gold_stages, engine_stages)),
        Scores(*bcubed(naive_clusters, truth), *_stage_scores(gold_stages, naive_stages)),
    )


def bcubed(predicted: list[str], gold: list[str]) -> tuple[float, float, float]:
    """B-cubed precision, recall and F1 of a clustering against gold labels (same order)."""
    if not gold:
        return 0.0, 0.0, 0.0
    by_pred: dict[str, list[int]] = {}
    by_gold: dict[str, list[int]] = {}
    for i, (p, g) in enumerate(zip(predicted, gold, strict=True)):
        by_pred.setdefault(p, []).append(i)
        by_gold.setdefault(g, []).append(i)
    precision = recall = 0.0
    for p, g in zip(predicted, gold, strict=True):
        same = sum(1 for j in by_pred[p] if gold[j] == g)
        precision += same / len(by_pred[p])
        recall += same / len(by_gold[g])
    precision /= len(gold)
    recall /= len(gold)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def _stage_scores(
    gold: Sequence[str | None], predicted: Sequence[str | None]
) -> tuple[float, float]:
    """(F1 of planned against every other stage, accuracy over the five stages)."""
    pairs = [(g, p) for g, p in zip(gold, predicted, strict=True) if g in STAGES]
    tp = sum(1 for g, p in pairs if g == p == "planned")
    fp = sum(1 for g, p in pairs if p == "planned" and g != "planned")
    fn = sum(1 for g, p in pairs if g == "planned" and p != "planned")
    f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    accuracy = sum(1 for g, p in pairs if g == p) / len(pairs) if pairs else 0.0
    return f1, accuracy


def naive_stories(items: list[Item], given_order: bool = False) -> list[str]:
    """The baseline: an item joins an earlier one whose title shares words, within 24 h."""
    keys: dict[int, str] = {}
    seen: list[tuple[Item, frozenset[str], str]] = []
    order = list(range(len(items)))
    if not given_order:
        order.sort(key=lambda i: items[i].published)
    for n in order:
        item = items[n]
        words = frozenset(_WORD.findall(item.title.lower()))
        key = f"naive:{n}"
        for other, other_words, other_key in seen:
            union = words | other_words
            close = abs(item.published - other.published) <= NAIVE_WINDOW
            if close and union and len(words & other_words) / len(union) >= NAIVE_OVERLAP:
                key = other_key
                break
        seen.append((item, words, key))
        keys[n] = key
    return [keys[n] for n in range(len(items))]


def naive_stage(title: str) -> str:
    """The baseline's stage: planned when the title says "to meet"/"will visit"/将, else held."""
    return "planned" if _NAIVE_PLANNED.search(title) else "held"


def report(result: Evaluation, name: str) -> str:
    """The evaluation as plain text: a table of both systems' scores (rich)."""
    out = io.StringIO()
    show(lambda console: draw_report(console, result, name), out)
    return out.getvalue()


def draw_report(console: Console, result: Evaluation, name: str) -> None:
    """Print the evaluation: counts, then B-cubed and stage scores of the engine and baseline."""
    console.print(
        Text(f"{name}: {result.items} items, {result.relevant} relevant in {result.events} stories")
    )
    console.print()
    t = table("", "engine:right", "naive:right")
    rows = (
        ("B-cubed precision", "precision"),
        ("B-cubed recall", "recall"),
        ("B-cubed F1", "f1"),
        ("planned F1", "planned_f1"),
        ("five-stage accuracy", "stage_accuracy"),
    )
    for label, attr in rows:
        engine, naive = getattr(result.engine, attr), getattr(result.naive, attr)
        t.add_row(label, f"{engine:.3f}", f"{naive:.3f}")
    console.print(t)
    console.print(
        "(naive: same title words (Jaccard >= 0.3) within 24 h; planned if the title says "
        '"to meet"/"will visit"/将, else held)'
    )
