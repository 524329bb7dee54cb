"""Stories: which relevant items are about the same real-world contact (pure, incremental).

An item's `Features` (from its contact record) are scored against the open stories that share
a person, a place or, for items that name no one, the kind of contact, in the same weeks. The
contact record carries most of the signal (same-story wire headlines share only 0.2–0.3 of
their words): the same people on both sides, the same kind (a call is never a summit), the
same venue, a scheduled date that fits, closeness in time (a story stays open 10 days after
its last item, 30 while it is only planned, and until its date + 3 days) and, last, character
trigrams of the headlines (which work across spellings; English and Chinese items meet through
canonical people and place keys). The best story over a threshold wins; else a new one opens.

`StoryIndex` keeps open stories in memory with an inverted index of (key, week) buckets, so a
lookup touches only the stories near the item, never all of them. The storage layer loads the
candidates from the database and calls the same `assign`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Final

from news.contact import IN_PERSON, Contact, Kind, Stage
from news.dates import When, local_day
from news.relevance import normalize

NEW: Final = None  # what `assign` returns when no story fits: open a new one
OPEN_DAYS = 10  # a story takes items up to this many days from its first or last item
PLANNED_DAYS = 30  # … while it is only planned or postponed, or for a planned item
WHEN_SLACK = 3  # days either side of a scheduled date that still count as "on the date"
JOIN_SCORE = 2.0  # the lowest score that joins an item to a story
MAX_GRAMS = 800  # trigrams kept per story
MAX_WHEN_WEEKS = 20  # weeks of a scheduled span an item or story is indexed under
STAGE_RANK: dict[str, int] = {"planned": 0, "postponed": 1, "held": 2, "readout": 3, "outcome": 3}

_GRAM_DROP = re.compile(r"[\s\W_]+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class Features:
    """What clustering compares: a contact record plus the item's day and headline trigrams."""

    us: frozenset[str]
    china: frozenset[str]
    kind: Kind | None  # None: the item does not say
    stage: Stage
    place: str | None
    region: str | None
    forum: str | None
    when: When | None
    day: date
    grams: frozenset[str]

    @property
    def people(self) -> frozenset[str]:
        """Both sides' people keys, side-tagged ("us:trump", "china:xi")."""
        return frozenset({*(f"us:{p}" for p in self.us), *(f"china:{p}" for p in self.china)})


def features(contact: Contact, title: str, published: datetime | date) -> Features:
    """The clustering features of one relevant item."""
    return Features(
        frozenset(contact.parties_us),
        frozenset(contact.parties_china),
        contact.kind if contact.kind_said else None,
        contact.stage,
        contact.place,
        contact.region,
        contact.forum,
        contact.when,
        local_day(published, None, title if isinstance(title, str) else ""),
        trigrams(title),
    )


def trigrams(title: str) -> frozenset[str]:
    """Character trigrams of a headline, without spaces and punctuation."""
    text = _GRAM_DROP.sub("", normalize(title).lower()) if isinstance(title, str) else ""
    return frozenset(map("".join, zip(text, text[1:], text[2:], strict=False)))


@dataclass(slots=True)
class StoryState:
    """What clustering knows about one story (the storage layer keeps the same in rows)."""

    key: str
    us: set[str]
    china: set[str]
    kinds: dict[str, int]
    place: str | None
    region: str | None
    forum: str | None
    when: When | None
    first: date
    last: date
    stage: Stage
    held_first: date | None = None
    held_last: date | None = None
    when_day: date | None = None  # the day of the item that gave `when`
    grams: set[str] = field(default_factory=set)
    size: int = 0

    @property
    def kind(self) -> Kind:
        """The kind most of its items report."""
        best = max(self.kinds.items(), key=lambda kv: kv[1], default=("meeting", 0))[0]
        return best  # type: ignore[return-value]

    @property
    def pre(self) -> bool:
        """Whether no item yet says the contact happened (only planned or postponed)."""
        return self.held_first is None

    def horizon(self) -> tuple[date, date]:
        """The days an item can be on and still join (used to index and to expire)."""
        lo = self.first - timedelta(days=PLANNED_DAYS)
        hi = self.last + timedelta(days=PLANNED_DAYS if self.pre else OPEN_DAYS)
        if self.when is not None:
            lo = min(lo, self.when.start - timedelta(days=WHEN_SLACK))
            hi = max(hi, self.when.end + timedelta(days=WHEN_SLACK))
        return lo, hi


def _gap(f: Features, story: StoryState) -> int | None:
    """Days between the item and the story, or None when it is outside the story's time."""
    if story.when is not None and _near(f.day, f.day, story.when):
        return 0
    if f.when is not None and _near(story.first, story.last, f.when):
        return 0
    if (
        f.when is not None
        and story.when is not None
        and _near(f.when.start, f.when.end, story.when)
    ):
        return 0  # two announcements of one scheduled contact, however far apart
    if story.first <= f.day <= story.last:
        return 0
    gap = (story.first - f.day).days if f.day < story.first else (f.day - story.last).days
    limit = OPEN_DAYS
    if story.pre or f.stage in ("planned", "postponed"):
        limit = PLANNED_DAYS
    return gap if gap <= limit else None


def _near(first: date, last: date, when: When) -> bool:
    slack = timedelta(days=WHEN_SLACK)
    return first <= when.end + slack and last >= when.start - slack


def score(f: Features, story: StoryState) -> float | None:
    """How well item `f` fits `story`; None when it cannot belong to it at all."""
    gap = _gap(f, story)
    if gap is None:
        return None
    total = 0.0
    shared = disjoint = 0
    for mine, theirs in ((f.us, story.us), (f.china, story.china)):
        if mine and theirs:
            if mine & theirs:
                shared += 1
            else:
                disjoint += 1
    if (f.us or f.china) and (story.us or story.china) and not shared:
        return None
    same_venue = f.region is not None and f.region == story.region
    total += 2.0 * shared
    # a visitor meets several hosts: another counterpart at the same venue is the same visit
    total -= (0.5 if shared and same_venue and f.kind != "call" else 2.5) * disjoint
    if f.kind is None or not story.kinds:
        pass
    elif f.kind in story.kinds:
        total += 1.0
    elif (f.kind == "call") != (story.kind == "call"):
        total -= 3.0
    elif f.kind in IN_PERSON:
        total += 0.5
    if f.region and story.region:
        total += 1.5 if f.region == story.region else -2.5
    if f.forum and f.forum == story.forum:
        total += 0.5
    if f.when is not None and story.when is not None:
        if _near(f.when.start, f.when.end, story.when):
            total += 1.0
        elif story.pre:
            total -= 2.0  # two different scheduled dates: two planned contacts
    total -= 0.15 * gap
    if f.grams and story.grams:
        total += 2.0 * len(f.grams & story.grams) / len(f.grams)
    return total


def assign(f: Features, candidates: Iterable[StoryState]) -> str | None:
    """The key of the story item `f` belongs to, or NEW (None) to open a new story."""
    best_key, best = NEW, JOIN_SCORE
    for story in candidates:
        value = score(f, story)
        if value is not None and value >= best:
            best_key, best = story.key, value
    return best_key


def item_stage(f: Features, story: StoryState | None) -> Stage:
    """The item's stage within its story.

    A planned contact announced after the story's contact happened ("Trump says he will
    visit China in April", right after a summit) is an outcome of that contact.
    """
    if f.stage != "planned" or story is None:
        return f.stage
    happened = story.held_last
    if happened is None and story.when is not None and story.when.precision in ("day", "days"):
        happened = story.when.start if story.when.start <= f.day else None
    if happened is None:
        return f.stage
    if f.when is not None:
        if story.when is not None and _near(f.when.start, f.when.end, story.when):
            return f.stage
        if f.when.start > happened + timedelta(days=WHEN_SLACK):
            return "outcome"
        return f.stage
    return "outcome" if f.day > happened else f.stage


def furthest(current: Stage, new: Stage) -> Stage:
    """A story's stage after an item of stage `new`: the furthest reached.

    planned < postponed < held < readout = outcome (an equal rank keeps the current one), so
    postponed overrides planned only.
    """
    return new if STAGE_RANK[new] > STAGE_RANK[current] else current


def story_key(f: Features) -> str:
    """A readable key for a new story: first day, people, kind ("2025-10-30-trump-xi-meeting")."""
    people = "-".join([*(sorted(f.us)[:1] or ["us"]), *(sorted(f.china)[:1] or ["china"])])
    return f"{f.day.isoformat()}-{people}-{f.kind or 'contact'}"


def open_story(key: str, f: Features, stage: Stage) -> StoryState:
    """A new story made of item `f`."""
    story = StoryState(key, set(), set(), {}, f.place, f.region, f.forum, None, f.day, f.day, stage)
    add_item(story, f, stage)
    return story


def add_item(story: StoryState, f: Features, stage: Stage) -> None:
    """Fold item `f` (with its stage in the story) into `story`."""
    story.us |= f.us
    story.china |= f.china
    if f.kind is not None:
        story.kinds[f.kind] = story.kinds.get(f.kind, 0) + 1
    story.first = min(story.first, f.day)
    story.last = max(story.last, f.day)
    if story.region is None and f.region is not None:
        story.place, story.region = f.place, f.region
    story.forum = story.forum or f.forum
    latest = story.when_day is None or f.day >= story.when_day  # the latest word on the date
    if f.when is not None and stage in ("planned", "postponed") and latest:
        story.when, story.when_day = f.when, f.day
    if stage not in ("planned", "postponed"):
        story.held_first = f.day if story.held_first is None else min(story.held_first, f.day)
        story.held_last = f.day if story.held_last is None else max(story.held_last, f.day)
    story.stage = furthest(story.stage, stage) if story.size else stage
    if len(story.grams) < MAX_GRAMS:
        story.grams |= f.grams
    story.size += 1


def lookup_keys(f: Features) -> list[str]:
    """The index keys an item is looked up by: its people, else its place, else its kind."""
    if f.us or f.china:
        return sorted(f.people)
    if f.region:
        return [f"place:{f.region}"]
    return [f"kind:{f.kind}"] if f.kind else []


def story_keys(story: StoryState) -> list[str]:
    """The index keys a story is filed under."""
    keys = [*(f"us:{p}" for p in story.us), *(f"china:{p}" for p in story.china)]
    if story.region:
        keys.append(f"place:{story.region}")
    keys.extend(f"kind:{k}" for k in story.kinds)
    return keys


def week(day: date) -> int:
    """The index bucket of a day: days since 1970-01-05 (a Monday) // 7."""
    return (day.toordinal() - 719_167) // 7


@dataclass(frozen=True, slots=True)
class Placed:
    """Where `StoryIndex.add` put an item: the story, whether new, and the item's stage."""

    story: StoryState
    new: bool
    stage: Stage
    advanced: bool  # the story's stage moved on (or the story is new)


class StoryIndex:
    """Open stories in memory, indexed by (person | place | kind, week)."""

    def __init__(self) -> None:
        self._stories: dict[str, StoryState] = {}
        self._buckets: dict[tuple[str, int], set[str]] = {}
        self._filed: dict[str, _Filed] = {}

    def __len__(self) -> int:
        return len(self._stories)

    def __contains__(self, key: object) -> bool:
        return key in self._stories

    def get(self, key: str) -> StoryState | None:
        """The story with this key, if open."""
        return self._stories.get(key)

    def stories(self) -> list[StoryState]:
        """Every open story."""
        return list(self._stories.values())

    def candidates(self, f: Features) -> list[StoryState]:
        """The open stories that share a lookup key with `f` in its weeks."""
        weeks = {week(f.day)}
        if f.when is not None:
            first, last = week(f.when.start), week(f.when.end)
            weeks.update(range(first, min(last, first + MAX_WHEN_WEEKS) + 1))
        found: set[str] = set()
        buckets = self._buckets
        for key in lookup_keys(f):
            for w in weeks:
                bucket = buckets.get((key, w))
                if bucket:
                    found |= bucket
        return [self._stories[k] for k in found]

    def put(self, story: StoryState) -> None:
        """Add or re-file a story (after it changed, or when loaded from storage)."""
        self._stories[story.key] = story
        lo, hi = story.horizon()
        first = week(lo)
        last = min(week(hi), first + 2 * MAX_WHEN_WEEKS)
        filed = (frozenset(story_keys(story)), first, last)
        before = self._filed.get(story.key)
        if filed == before:
            return
        if before is None:
            self._file(story.key, _cells(filed))
        else:  # a story moves on by a day or a key at a time: only the cells that changed
            self._unfile(story.key, _cells(before, filed))
            self._file(story.key, _cells(filed, before))
        self._filed[story.key] = filed

    def _file(self, story_key: str, cells: list[tuple[str, range]]) -> None:
        buckets = self._buckets
        for key, weeks in cells:
            for w in weeks:
                bucket = buckets.get((key, w))
                if bucket is None:
                    buckets[key, w] = {story_key}
                else:
                    bucket.add(story_key)

    def _unfile(self, story_key: str, cells: list[tuple[str, range]]) -> None:
        buckets = self._buckets
        for key, weeks in cells:
            for w in weeks:
                bucket = buckets.get((key, w))
                if bucket is not None:
                    bucket.discard(story_key)
                    if not bucket:
                        del buckets[key, w]

    def add(self, f: Features) -> Placed:
        """Assign item `f` to a story (opening one if none fits) and update the index."""
        key = assign(f, self.candidates(f))
        if key is None:
            base = story_key(f)
            key, n = base, 1
            while key in self._stories:
                n += 1
                key = f"{base}-{n}"
            stage = f.stage
            story = open_story(key, f, stage)
            self.put(story)
            return Placed(story, True, stage, True)
        story = self._stories[key]
        stage = item_stage(f, story)
        before = story.stage
        add_item(story, f, stage)
        self.put(story)
        return Placed(story, False, stage, story.stage != before)

    def expire(self, today: date) -> int:
        """Drop the stories no item from `today` on can join; returns how many."""
        gone = [k for k, s in self._stories.items() if s.horizon()[1] < today]
        for key in gone:
            filed = self._filed.pop(key, None)
            if filed is not None:
                self._unfile(key, _cells(filed))
            del self._stories[key]
        return len(gone)


_Filed = tuple[frozenset[str], int, int]  # a story's index keys, first and last week
_NOWHERE: _Filed = (frozenset(), 0, -1)


def _cells(filed: _Filed, minus: _Filed = _NOWHERE) -> list[tuple[str, range]]:
    """The (key, week) buckets of `filed` that are not those of `minus`, as keys and weeks."""
    keys, first, last = filed
    old_keys, old_first, old_last = minus
    cells = []
    for key in keys:
        if key not in old_keys:
            cells.append((key, range(first, last + 1)))
        else:  # the weeks before and after the old ones
            cells.append((key, range(first, min(last, old_first - 1) + 1)))
            cells.append((key, range(max(first, old_last + 1), last + 1)))
    return cells
