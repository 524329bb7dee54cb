"""Channel watch-words: validate a phrase, and find every channel's phrases in an item (pure).

Text and phrases are compared after `normalize` (NFKC, casefold, traditional Chinese as
simplified through OpenCC, runs of spaces and dashes as one space), so full-width ＡＢＣ
matches ABC, 關稅 matches 关税 and "rare-earth" matches "rare earth".
Latin (and any non-CJK) phrases match whole words, with an optional plural "s"/"es":
"tariff" matches "Tariffs" but not "tariffication"; Chinese, Japanese and Korean phrases
match anywhere, as those scripts do not separate words.

`WatchIndex` compiles the phrases of every channel into two dictionaries (Latin phrases by
their first word, CJK phrases by their first two characters), so one item costs a dictionary
lookup per word of its text, however many channels and phrases there are.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from news.chinese import to_simplified

MAX_PER_CHANNEL = 50
MIN_CHARS = 2
MAX_CHARS = 60
# Only the start of a long summary is searched: it keeps matching cheap (about 0.2 µs per
# character with 5,000 watch-words), and an alert shows no more of the summary than that.
SUMMARY_CHARS = 1000

_CJK_RANGES = (
    "\u1100-\u11ff\u2e80-\u2fdf\u3040-\u30ff\u3100-\u312f\u3130-\u318f\u31a0-\u31ff"
    "\u3400-\u4dbf\u4e00-\u9fff\ua960-\ua97f\uac00-\ud7ff\uf900-\ufaff\U00020000-\U0003134f"
)
_CJK = re.compile(f"[{_CJK_RANGES}]")
# A "word" character of a script that separates words: a letter or digit, not CJK.
_WORD = re.compile(f"[^\\W_{_CJK_RANGES}]+")
_CJK_RUN = re.compile(f"[{_CJK_RANGES}]+")
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212]+")
_PLURALS = ("", "s", "es")
# What is left of Slack's <@U1>, <#C1|x>, <!here> and links once the command is unwrapped.
_SLACK_ENTITY = re.compile(r"^(?:@[UWB][A-Z0-9]{2,}|#[CG][A-Z0-9]{2,}|![a-z^]+)", re.IGNORECASE)
_LINK = re.compile(r"(?:[a-z][a-z0-9+.-]*://|^www\.|^mailto:)", re.IGNORECASE)
# Quote pairs accepted around a phrase: ASCII, typographic, German, French, CJK corners.
QUOTES = {'"': '"', "“": "”", "”": "”", "„": "“", "«": "»", "「": "」", "『": "』", "＂": "＂"}


class InvalidPhrase(ValueError):
    """A watch-word that cannot be used; the message is the one-line reason (plain text)."""


def normalize(text: str) -> str:
    """NFKC, casefold, simplified Chinese, and every run of spaces or dashes as one space."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return _SEPARATORS.sub(" ", to_simplified(folded))


def normalize_phrase(phrase: str) -> str:
    """The stored, compared form of a phrase: `normalize`d, trimmed of punctuation at its ends."""
    norm = normalize(phrase).strip()
    start, end = 0, len(norm)
    while start < end and not norm[start].isalnum():
        start += 1
    while end > start and not norm[end - 1].isalnum():
        end -= 1
    return norm[start:end]


def validate(phrase: str) -> str:
    """The normalized form of a phrase a user typed; raises `InvalidPhrase` saying why not."""
    shown = " ".join(phrase.split())
    if not shown:
        raise InvalidPhrase("The watch-word is empty.")
    if _SLACK_ENTITY.match(shown) or _LINK.search(shown):
        raise InvalidPhrase("Watch-words are words, not mentions, channels or links.")
    norm = normalize_phrase(shown)
    if not norm:
        raise InvalidPhrase("A watch-word needs at least one letter or digit.")
    if len(norm) < MIN_CHARS:
        raise InvalidPhrase(f"A watch-word needs at least {MIN_CHARS} characters.")
    if len(shown) > MAX_CHARS:
        raise InvalidPhrase(f"A watch-word can have at most {MAX_CHARS} characters.")
    return norm


def is_cjk(char: str) -> bool:
    """Whether `char` belongs to a script written without spaces between words."""
    return bool(_CJK.match(char))


@dataclass(frozen=True, slots=True)
class Watch:
    """One channel's watch-word: the phrase as typed, and the topic it is limited to."""

    channel: str
    phrase: str
    normalized: str
    topic: str | None = None


@dataclass(frozen=True, slots=True, eq=False)
class _Pattern:
    """One distinct normalized phrase and every watch that has it (hashed by identity)."""

    text: str  # normalized
    whole_end: bool  # ends in a word character: the next one must not be a word character
    watches: tuple[Watch, ...]


def _is_word_char(char: str) -> bool:
    return char.isalnum() and not is_cjk(char)


class WatchIndex:
    """Every channel's watch-words, compiled once; `match` finds them in an item's text."""

    def __init__(self, watches: Iterable[Watch]) -> None:
        by_text: dict[str, list[Watch]] = {}
        for watch in watches:
            if watch.normalized:
                by_text.setdefault(watch.normalized, []).append(watch)
        self._latin: dict[str, list[_Pattern]] = {}
        self._cjk: dict[str, list[_Pattern]] = {}
        for text, group in by_text.items():
            pattern = _Pattern(text, _is_word_char(text[-1]), tuple(group))
            if is_cjk(text[0]):
                self._cjk.setdefault(text[:2], []).append(pattern)
            else:
                first = _WORD.match(text)
                key = first.group(0) if first else text[0]
                self._latin.setdefault(key, []).append(pattern)
        self.size = sum(len(g) for g in by_text.values())

    def __bool__(self) -> bool:
        return self.size > 0

    def find(self, text: str) -> list[Watch]:
        """Every watch whose phrase occurs in `text`, in order of first occurrence."""
        norm = normalize(text)
        found: dict[_Pattern, int] = {}  # each pattern once, at its first position
        latin, cjk, matches_at = self._latin, self._cjk, self._matches_at
        if latin:
            for word in _WORD.finditer(norm):
                start, w = word.start(), word.group(0)
                keys = (w, w[:-1], w[:-2]) if w.endswith("es") else (w, w[:-1])
                for key in keys if w.endswith("s") else (w,):
                    for pattern in latin.get(key, ()):
                        if pattern not in found and matches_at(norm, start, pattern):
                            found[pattern] = start
        if cjk:
            for run in _CJK_RUN.finditer(norm):
                for i in range(run.start(), run.end()):
                    for pattern in cjk.get(norm[i : i + 2], ()):
                        if pattern not in found and matches_at(norm, i, pattern):
                            found[pattern] = i
        ordered = sorted(found, key=found.__getitem__)
        return [watch for pattern in ordered for watch in pattern.watches]

    @staticmethod
    def _matches_at(norm: str, start: int, pattern: _Pattern) -> bool:
        if not norm.startswith(pattern.text, start):
            return False
        if not pattern.whole_end:
            return True
        end = start + len(pattern.text)
        for suffix in _PLURALS:
            after = end + len(suffix)
            if norm.startswith(suffix, end) and (
                after >= len(norm) or not _is_word_char(norm[after])
            ):
                return True
        return False

    def match(self, text: str, topics: Collection[str]) -> dict[str, Watch]:
        """Per channel, its first watch found in `text` that applies to an item on `topics`."""
        channels: dict[str, Watch] = {}
        for watch in self.find(text):
            if watch.topic is None or watch.topic in topics:
                channels.setdefault(watch.channel, watch)
        return channels


def item_text(title: str, summary: str) -> str:
    """The text of an item that watch-words are looked for in: the title, the summary's start."""
    return f"{title}\n{summary[:SUMMARY_CHARS]}"


def parse_phrases(text: str) -> tuple[list[str], str | None, int]:
    """Split `watch` arguments into phrases and an optional `in <topic>`: (phrases, topic, bare).

    A quoted part is one phrase; every other word is a phrase of its own (`bare` counts
    them). A trailing unquoted `in <topic>` limits the phrases to that topic.
    """
    phrases: list[tuple[str, bool]] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char.isspace():
            i += 1
            continue
        if char in QUOTES:
            close = text.find(QUOTES[char], i + 1)
            if close < 0:  # the end of the text closes an unterminated quote
                close = n
            phrases.append((text[i + 1 : close], True))
            i = close + 1
            continue
        end = i
        while end < n and not text[end].isspace() and text[end] not in QUOTES:
            end += 1
        phrases.append((text[i:end], False))
        i = end
    topic = None
    if len(phrases) >= 3 and not phrases[-2][1] and not phrases[-1][1]:
        if phrases[-2][0].lower() == "in":
            topic = phrases[-1][0].lower()
            phrases = phrases[:-2]
    elif len(phrases) == 2 and phrases[0][0].lower() == "in" and not phrases[0][1]:
        topic, phrases = phrases[1][0].lower(), []
    words = [p for p, _ in phrases]
    bare = sum(1 for _, quoted in phrases if not quoted)
    return words, topic, bare
