"""`/diplo search` queries: parse the text a user typed, and find the matched spans (pure).

Syntax: words (every one must match), "quoted phrases", `topic:trade`, `source:reuters`,
`since:2025-10-01`. Everything else is literal text: `%`, `_`, `*`, `-`, `^`, `:`,
parentheses, NEAR/AND/OR/NOT mean nothing special, so nothing a user types reaches the
database as syntax (models/search.py binds every term as a parameter).

A term matches case-insensitively inside the title or the summary. How each term can be
looked up in an index depends on its shape (`Term.kind`):
- "word": letters and digits of a script that separates words (Latin, Cyrillic, …);
  on PostgreSQL it matches the words that *start* with it (`tariff` finds "tariffs"),
  through the tsvector index;
- "text": anything else (Chinese, phrases, `10%`, `U.S.`): a substring, through the
  trigram indexes (SQLite FTS5 trigram, PostgreSQL pg_trgm).
Trigram indexes cannot look up fewer than 3 characters (`釜山`, `xi`): such a term only
filters the rows that the other terms found (`Term.indexable`). A query with no indexable
term at all searches only the newest `models.search.RECENT_WINDOW` items, and says so.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Literal

MAX_TERMS = 8
MAX_TERM_CHARS = 100
MIN_INDEXED_CHARS = 3  # what a trigram index can look up

_CJK_RANGES = (
    "\u1100-\u11ff\u2e80-\u2fdf\u3040-\u30ff\u3100-\u312f\u3130-\u318f\u31a0-\u31ff"
    "\u3400-\u4dbf\u4e00-\u9fff\ua960-\ua97f\uac00-\ud7ff\uf900-\ufaff\U00020000-\U0003134f"
)
_WORD = re.compile(f"[^\\W_{_CJK_RANGES}]+")  # letters/digits of scripts with spaces
_LATIN_WORD_CHAR = re.compile(f"[^\\W_{_CJK_RANGES}]")
_FILTER = re.compile(r"(topic|source|since):(.*)", re.IGNORECASE | re.DOTALL)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# Quote pairs accepted around a phrase: ASCII, typographic, CJK corners, full-width.
QUOTES = {'"': '"', "“": "”", "”": "”", "„": "“", "«": "»", "「": "」", "『": "』", "＂": "＂"}

Kind = Literal["word", "text"]


class QueryError(ValueError):
    """A query that cannot run; the message is the one-line reason (plain text)."""


@dataclass(frozen=True, slots=True)
class Term:
    """One thing every result must contain: a word, or a phrase/other text."""

    text: str
    phrase: bool = False

    @property
    def kind(self) -> Kind:
        """ "word" for one word of a space-separated script, else "text"."""
        return "word" if not self.phrase and _WORD.fullmatch(self.text) else "text"

    @property
    def indexable(self) -> bool:
        """Whether a trigram index can look this term up (3 characters or more)."""
        return len(self.text) >= MIN_INDEXED_CHARS


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed search: terms (all must match) and filters."""

    terms: tuple[Term, ...] = ()
    topic: str | None = None
    source: str | None = None
    since: datetime | None = None  # UTC midnight of the day given
    shown: str = field(default="", compare=False)  # the query as typed, for the heading


def _tokens(text: str) -> list[tuple[str, bool]]:
    """Split into (token, quoted): quoted phrases (an unclosed quote runs to the end), words."""
    tokens: list[tuple[str, bool]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch in QUOTES:
            close = text.find(QUOTES[ch], i + 1)
            end = n if close < 0 else close
            tokens.append((text[i + 1 : end], True))
            i = end + 1
            continue
        j = i
        while j < n and not text[j].isspace():
            j += 1
        tokens.append((text[i:j], False))
        i = j
    return tokens


def _since(value: str) -> datetime:
    if not _DATE.fullmatch(value):
        raise QueryError(f"since: wants a date like 2025-10-01, not {value[:30]!r}.")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise QueryError(f"since:{value} is not a real date.") from None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def parse_query(text: str, topics: Collection[str]) -> Query:
    """Parse search text; raises `QueryError` (one line, plain text) for a bad filter.

    `topics` are the known topic names (lower case); `all` means no topic filter.
    """
    terms: list[Term] = []
    topic = source = None
    since = None
    for token, quoted in _tokens(text):
        match = None if quoted else _FILTER.fullmatch(token)
        if match:
            key, value = match.group(1).lower(), match.group(2).strip()
            if not value:
                raise QueryError(f"{key}: needs a value, e.g. {_EXAMPLES[key]}.")
            if key == "topic":
                value = value.lower()
                if value != "all" and value not in topics:
                    known = ", ".join(sorted(topics))
                    raise QueryError(f"Unknown topic {value[:30]!r}; topics: {known}.")
                topic = None if value == "all" else value
            elif key == "source":
                source = value[:MAX_TERM_CHARS]
            else:
                since = _since(value)
            continue
        cleaned = " ".join(token.split())[:MAX_TERM_CHARS]
        if not cleaned:
            continue
        term = Term(cleaned, phrase=quoted and " " in cleaned)
        if term not in terms:
            terms.append(term)
    if not terms and topic is None and source is None and since is None:
        raise QueryError("Give one or more words to look for.")
    if len(terms) > MAX_TERMS:
        raise QueryError(f"Use at most {MAX_TERMS} words or phrases.")
    if not terms:
        raise QueryError("Give at least one word besides the filters.")
    return Query(tuple(terms), topic, source, since, shown=" ".join(text.split()))


_EXAMPLES = {"topic": "topic:trade", "source": "source:reuters", "since": "since:2025-10-01"}


def match_spans(text: str, terms: Sequence[Term]) -> list[tuple[int, int]]:
    """The (start, end) spans of `text` where any term occurs, merged, in order.

    Case-insensitive. A match inside a word of a space-separated script grows to the whole
    word, so the bold Slack shows is never glued to letters (`*tariff*s` would not render).
    """
    folded = text.casefold()
    if len(folded) != len(text):  # casefold changed lengths (ß → ss): fall back to lower()
        folded = text.lower()
        if len(folded) != len(text):
            return []
    spans: list[tuple[int, int]] = []
    for term in terms:
        needle = term.text.casefold()
        if len(needle) != len(term.text):
            needle = term.text.lower()
        if not needle:
            continue
        start = folded.find(needle)
        while start >= 0:
            end = start + len(needle)
            spans.append(_grow(text, start, end))
            start = folded.find(needle, end)
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _grow(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen a span to the word around it when it starts or ends inside a Latin-like word."""
    if _LATIN_WORD_CHAR.match(text[start]):
        while start > 0 and _LATIN_WORD_CHAR.match(text[start - 1]):
            start -= 1
    if _LATIN_WORD_CHAR.match(text[end - 1]):
        while end < len(text) and _LATIN_WORD_CHAR.match(text[end]):
            end += 1
    return start, end
