"""The contact record of a relevant item: who met, what kind of contact, its stage, where, when.

Rules and word lists live in news/contact.toml. The relevance engine's Verdict says that an
item is about a US–China contact; this module says which one, in the terms stories are
clustered on: canonical people keys (习近平 and Xi Jinping are both `xi`), kind, stage, place
key and scheduled date. Everything here is pure and never raises on item text.
"""

from __future__ import annotations

import re
import re._constants as _const
import re._parser as _parser
import tomllib
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any, Literal

from news.dates import When, local_day, scheduled
from news.relevance import Verdict, normalize
from news.sources import Source

DEFAULT_CONTACT_PATH = Path(__file__).with_name("contact.toml")

Kind = Literal["call", "meeting", "visit", "talks"]
Stage = Literal["planned", "held", "readout", "outcome", "postponed"]
KINDS: tuple[Kind, ...] = ("call", "meeting", "visit", "talks")
STAGES: tuple[Stage, ...] = ("planned", "held", "readout", "outcome", "postponed")
IN_PERSON: frozenset[Kind] = frozenset({"meeting", "visit", "talks"})

_NOT_WORD = "(?<![A-Za-z0-9])"
_NOT_WORD_AFTER = "(?![A-Za-z0-9])"
_NOT_ROLE_AFTER = "(?![A-Za-z0-9-])"  # "U.S. President-elect" is not the president
_PREP_BEFORE = re.compile(
    r"(?:\b(?:in|to|at|from|into|near|outside|visits?|visiting|visited|arrives? in|arrived in|"
    r"lands? in|landed in)\s+(?:the\s+)?|[在到赴于抵]|访问|飞抵|抵达)$",
    re.IGNORECASE,
)
_PREP_AFTER = re.compile(
    r"^(?:\s+(?:talks|meeting|summit|visit|trip|dialogue|negotiations)\b|会谈|会晤|峰会|之行|举行)",
    re.IGNORECASE,
)
_CJK = re.compile(r"[\u4e00-\u9fff]")
_PLACE_FUTURE = re.compile(
    r"(?:\bto|\bwill|\bwould|\bplans? to|\bexpected to)\s+\w+\s+(?:\w+\s+)?(?:\w+\s+)?$|"
    r"(?:将|拟|即将|计划|准备)[^，。；]{0,8}$",
    re.IGNORECASE,
)
_SIDE_CLAUSE = re.compile(
    r"\b(?:as|amid|while|despite|over|before|ahead of|since)\s+(?:the\s+)?(?:[\w'-]+\s+){0,3}$",
    re.IGNORECASE,
)
_MASKS = frozenset({"mask", "mask_zh"})  # the groups of words that are not a name or place
_SENTENCE_MEETING = re.compile(r"(?:^|[.;]\s+)meeting\b", re.IGNORECASE)
_MAX_MASKS = 4096  # masks kept per cue book and cue list before they are forgotten
_MAX_WORDS = 1 << 16  # words a cue book remembers (the words of the news: most recur)
_KEY = re.compile(r"[a-z0-9]+")  # a run of letters and digits


class ContactRulesError(ValueError):
    """contact.toml cannot be read or compiled; the message names the file and the key."""


@dataclass(frozen=True, slots=True)
class Contact:
    """One item's account of a US–China contact.

    `parties_us`/`parties_china` are canonical people keys (sorted); `where` is the place as
    shown ("Busan"), `place` its key, `region` the group of places that are one venue, `forum`
    a summit series ("apec", "g20"); `when` is set for planned and postponed contacts that give
    a date; `side` is the side whose official source published the item.
    """

    parties_us: tuple[str, ...]
    parties_china: tuple[str, ...]
    kind: Kind
    stage: Stage
    where: str | None
    when: When | None
    side: Literal["us", "china"] | None
    place: str | None = None
    region: str | None = None
    forum: str | None = None
    kind_said: bool = True  # False: no word says what kind; `kind` is then a guess (meeting)


@dataclass(frozen=True, slots=True)
class _Office:
    side: str
    starts: tuple[date, ...]
    holders: tuple[str, ...]

    def holder(self, day: date) -> str | None:
        i = bisect_right(self.starts, day) - 1
        return self.holders[i] if i >= 0 else None


@dataclass(frozen=True, slots=True)
class _Place:
    key: str
    shown: str
    region: str
    prep: frozenset[str]


@dataclass(slots=True)
class ContactRules:
    """contact.toml compiled: one regex per job."""

    source: str
    entity: re.Pattern[str]
    entity_names: dict[str, tuple[str, str]]  # matched text (casefolded for Chinese) → side, key
    office_groups: dict[str, str]  # regex group → office key
    offices: dict[str, _Office]
    pair_names: frozenset[str]
    place: re.Pattern[str]
    place_names: dict[str, _Place]
    forum_names: dict[str, str]
    kind_strong: dict[Kind, Cues]
    call_weak: Cues
    postponed: Cues
    readout: Cues
    outcome: Cues
    held: Cues
    past: Cues
    planned: Cues
    context: Cues
    future_en: re.Pattern[str]
    future_zh: re.Pattern[str]
    future_zh_after: re.Pattern[str]
    _cache: dict[str, Any] = field(default_factory=dict)

    def begin(self, item: str) -> None:
        """Start on a new item (`item`: its whole text); forget what the last one's texts gave."""
        self._cache.clear()
        self.context.book.begin(item)


def load_contact_rules(path: Path | str | None = None) -> ContactRules:
    """Read and compile contact.toml (default: news/contact.toml); raise ContactRulesError."""
    path = Path(path) if path is not None else DEFAULT_CONTACT_PATH
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ContactRulesError(f"{path}: {exc}") from None
    try:
        return _compile(data, str(path))
    except (KeyError, TypeError, ValueError, re.error) as exc:
        raise ContactRulesError(f"{path}: {type(exc).__name__}: {exc}") from None


def _alternation(phrases: list[str]) -> str:
    """The longest-first alternation of `phrases` (the reference; slow for long lists)."""
    return "|".join(re.escape(p) for p in sorted(set(phrases), key=len, reverse=True))


def _trie(phrases: list[str]) -> str:
    """`_alternation(phrases)` as a trie of characters, each longer branch tried first.

    Matches the same (case-sensitive use only): the phrases that match at one place are
    prefixes of one another, and both try the longest of them first; the trie compares one
    character per branch point instead of every phrase at every place.
    """
    root: dict[str, Any] = {}
    for phrase in phrases:
        node = root
        for char in phrase:
            node = node.setdefault(char, {})
        node[""] = {}
    return _trie_regex(root)


def _trie_regex(node: dict[str, Any]) -> str:
    branches = [
        re.escape(char) + _trie_regex(child) for char, child in sorted(node.items()) if char
    ]
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"
    return f"(?:{body})?" if "" in node else body


class CueBook:
    """The cue lists of one rules file, and which of their cues can match a text.

    A cue whose needed words (`needed_words`) a text's `gate_text` lacks cannot match anywhere
    in it. The book numbers every cue of every list and finds, once per text, the cues that
    can match, word by word (the text split at white space). An ASCII needed word is looked
    for by its key, its longest run of letters and digits ("phone" for "by phone"), which lies
    inside one word; another (Chinese) one by itself, unless it holds white space (then its
    cues always run). What an ASCII word holds is found once, by a scan of the keys' trie, and
    kept: a text of English costs a dictionary look-up per word.
    """

    __slots__ = ("_always", "_by_word", "_keys", "_masks", "_scanners", "_size", "_wide")

    def __init__(self) -> None:
        self._size = 0
        self._always = 0  # bits of the cues with no needed words (or key): always run
        self._keys: dict[str, int] = {}  # key of an ASCII needed word → its cues' bits
        self._wide: dict[str, int] = {}  # other needed words → bits
        self._scanners: _Scanners | None = None  # compiled on first use, after the lists
        self._by_word: dict[str, int] = {}  # ASCII word of a text → the bits of its keys
        self._masks: dict[str, int] = {}  # the current item's texts' masks

    def cues(self, patterns: list[str]) -> Cues:
        """A new cue list in this book."""
        offset = self._size
        for i, pattern in enumerate(patterns):
            bit = 1 << (offset + i)
            for word in needed_words(pattern) or ("",):
                key = max(_KEY.findall(word), key=len, default="") if word.isascii() else word
                if not key or any(c.isspace() for c in key):
                    self._always |= bit
                else:
                    table = self._keys if key.isascii() else self._wide
                    table[key] = table.get(key, 0) | bit
        self._size += len(patterns)
        self._scanners = None
        self._by_word.clear()
        self._masks.clear()
        return Cues(self, patterns, offset)

    def mask(self, text: str) -> int:
        """The bits of the cues that can match somewhere in `text`."""
        try:
            return self._masks[text]
        except KeyError:
            pass
        if len(self._masks) >= _MAX_MASKS:
            self._masks.clear()
        mask = self._masks[text] = self._mask(text)  # one item's texts are read many times
        return mask

    def _mask(self, text: str) -> int:
        scanners = self._scanners or self._compile()
        by_word = self._by_word
        mask = self._always
        for word in gate_text(text).split():
            bits = by_word.get(word)
            if bits is None:
                bits = self._word_bits(word, scanners)
            mask |= bits
        return mask

    def _word_bits(self, word: str, scanners: _Scanners) -> int:
        """The bits of the needed words inside `word` (kept when it is ASCII)."""
        bits = 0
        for key in scanners.keys.findall(word):
            bits |= scanners.bits[key]
        if not word.isascii():
            for wide in scanners.wide.findall(word):
                bits |= scanners.bits[wide]
            return bits
        if len(self._by_word) >= _MAX_WORDS:
            self._by_word.clear()
        self._by_word[word] = bits
        return bits

    def _compile(self) -> _Scanners:
        bits: dict[str, int] = {}
        for words in (self._keys, self._wide):
            for word in words:  # the trie finds the longest word at a place: add its prefixes'
                bits[word] = 0
                for prefix, prefix_bits in words.items():
                    if word.startswith(prefix):
                        bits[word] |= prefix_bits
        self._scanners = _Scanners(_scanner(list(self._keys)), _scanner(list(self._wide)), bits)
        return self._scanners

    def begin(self, item: str) -> None:
        """Start on a new item; forget the last one's texts."""
        self._masks.clear()


@dataclass(frozen=True, slots=True)
class _Scanners:
    keys: re.Pattern[str]  # finds, at each place, the longest key there
    wide: re.Pattern[str]  # … the longest needed word that is not ASCII
    bits: dict[str, int]  # found key or word → the bits of the cues needing it or a prefix


def _scanner(words: list[str]) -> re.Pattern[str]:
    """A regex whose `findall` gives the longest of `words` starting at each place of a text
    (a place whose character starts none of them fails on one look at a set)."""
    if not words:
        return re.compile("(?!)")
    starts = "".join(sorted({re.escape(word[0]) for word in words}))
    return re.compile(f"(?=[{starts}])(?=({_trie(words)}))")


class Cues:
    """One cue list: the alternation `(?:p1)|(?:p2)|…` of its regexes, case-insensitive.

    Each search runs only the cues that can match the text (`CueBook.mask`), each cue its own
    compiled regex: the alternation's next match is the leftmost of the cues' next matches,
    the earlier cue winning a tie, which is what dropping the cues that cannot match and
    merging the rest gives. `full` is the whole alternation (the reference, and what runs when
    a cue can match the empty string, where the merge would not be the same).
    """

    __slots__ = ("_all", "_offset", "_picked", "_single", "book", "full")

    def __init__(self, book: CueBook, patterns: list[str], offset: int) -> None:
        self.full = re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)
        self.book = book
        self._offset = offset
        self._single = tuple(re.compile(f"(?:{p})", re.IGNORECASE) for p in patterns)
        empty = any(_parser.parse(p, re.IGNORECASE).getwidth()[0] == 0 for p in patterns)
        self._all = (1 << len(patterns)) - 1 if not empty else 0
        self._picked: dict[int, tuple[re.Pattern[str], ...]] = {}  # mask → its cues

    def _cues(self, text: str) -> tuple[re.Pattern[str], ...] | None:
        """The regexes of the cues that can match `text`, in order (None: run `full`)."""
        if not self._all:
            return None
        mask = (self.book.mask(text) >> self._offset) & self._all
        try:
            return self._picked[mask]
        except KeyError:
            pass
        if len(self._picked) >= _MAX_MASKS:
            self._picked.clear()
        picked = self._picked[mask] = tuple(p for i, p in enumerate(self._single) if mask >> i & 1)
        return picked

    def search(self, text: str) -> re.Match[str] | None:
        """Like `full.search(text)`."""
        cues = self._cues(text)
        if cues is None:
            return self.full.search(text)
        best = None
        for cue in cues:
            m = cue.search(text)
            if m is not None and (best is None or m.start() < best.start()):
                best = m
        return best

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        """Like `full.finditer(text)`."""
        cues = self._cues(text)
        if cues is None:
            return self.full.finditer(text)
        if len(cues) <= 1:
            return cues[0].finditer(text) if cues else iter(())
        return self._merged(cues, text)

    @staticmethod
    def _merged(cues: tuple[re.Pattern[str], ...], text: str) -> Iterator[re.Match[str]]:
        ahead = [cue.search(text) for cue in cues]  # each cue's next match from `pos` on
        pos = 0
        while True:
            best = None
            for i, m in enumerate(ahead):
                if m is not None and m.start() < pos:
                    m = ahead[i] = cues[i].search(text, pos)
                if m is not None and (best is None or m.start() < best.start()):
                    best = m
            if best is None:
                return
            yield best
            pos = best.end()  # never empty: no cue here matches the empty string

    def count(self, text: str) -> int:
        """Like `len(full.findall(text))`."""
        return sum(1 for _ in self.finditer(text))


def gate_text(text: str) -> str:
    """`text` in the case every needed word is in: a case-insensitive ASCII letter match of
    `text` is a plain substring of this ("ſ", "ı" and "İ" match "s" and "i"; "K" lowers to
    "k"; "İ" lowers to "i" and a combining dot, so it is replaced first)."""
    low = text.lower()
    if low.isascii():
        return low
    return text.replace("İ", "i").lower().replace("ſ", "s").replace("ı", "i")


def needed_words(pattern: str) -> frozenset[str] | None:
    """Words (lower-cased) one of which every match of `pattern` contains; None: unknown.

    Read from the parsed regex: a run of literal characters is needed; a group or a repeat of
    at least one is needed as its content is; an alternation needs one of its branches' words.
    Of a sequence's needed parts, the one with the longest shortest word is kept.
    """
    try:
        parsed = _parser.parse(pattern, re.IGNORECASE)
    except re.error:
        return None
    return _needed(list(parsed))


def _needed(items: list[tuple[Any, Any]]) -> frozenset[str] | None:
    options: list[frozenset[str] | None] = []
    run: list[str] = []
    for op, av in [*items, (None, None)]:
        if op is _const.LITERAL:
            run.append(chr(av))
            continue
        if run:
            word = "".join(run).lower()
            options.append(frozenset({word}) if _plain(word) else None)
            run = []
        if op is _const.SUBPATTERN:
            options.append(_needed(list(av[-1])))
        elif op is _const.ATOMIC_GROUP:
            options.append(_needed(list(av)))
        elif op is _const.BRANCH:
            branches = [_needed(list(b)) for b in av[1]]
            if all(b is not None for b in branches):
                options.append(frozenset().union(*(b for b in branches if b is not None)))
        elif op in (_const.MAX_REPEAT, _const.MIN_REPEAT, _const.POSSESSIVE_REPEAT) and av[0] >= 1:
            options.append(_needed(list(av[2])))
    found = [o for o in options if o]
    return max(found, key=lambda o: min(len(w) for w in o)) if found else None


def _plain(word: str) -> bool:
    """Whether a needed word is safe to look for in `gate_text`: ASCII or caseless characters."""
    return all(c.isascii() or c.lower() == c.upper() for c in word)


def _compile(data: dict[str, Any], source: str) -> ContactRules:
    names: dict[str, tuple[str, str]] = {}
    for side in ("us", "china"):
        for key, spelled in data["people"][side].items():
            for name in spelled:
                names[name] = (side, key)
    offices: dict[str, _Office] = {}
    office_patterns: list[str] = []
    office_groups: dict[str, str] = {}
    prefixes = data["prefixes"]
    for key, office in data["offices"].items():
        pairs = sorted(
            (date.fromisoformat(h.split(":")[1]), h.split(":")[0]) for h in office["holders"]
        )
        offices[key] = _Office(
            office["side"], tuple(p[0] for p in pairs), tuple(p[1] for p in pairs)
        )
        for name in office.get("names", []):
            names[name] = (office["side"], "@" + key)
        roles = office.get("roles", [])
        if roles:
            group = f"o{len(office_groups)}"
            office_groups[group] = key
            side_words = _trie(prefixes[office["side"]])
            office_patterns.append(
                rf"(?P<{group}>(?=[A-Z]){_NOT_WORD}(?:{side_words})\s+(?:[A-Za-z-]+\s+)?(?i:{_alternation(roles)}){_NOT_ROLE_AFTER})"
            )
    heads = frozenset(data["pairs"]["heads"])
    for name in heads:
        names[name] = ("pair", "@heads")
    masks = data["masks"]["terms"]
    english = [n for n in names if not _CJK.search(n)]
    chinese = [n for n in names if _CJK.search(n)]
    # Every alternative needs an A-Z, a-z or Chinese character where it starts; grouped by
    # that character (in their order), so that each place in a text tries only those that can
    # start there. "mask_zh" and "en_lc" repeat "mask" and "en" (a group name is used once).
    mask, en = _trie(masks), _trie(english)
    entity = re.compile(
        f"(?=[A-Z])(?:(?P<mask>{mask})|{'|'.join(office_patterns)}|{_NOT_WORD}(?P<en>{en})"
        f"{_NOT_WORD_AFTER})"
        f"|(?=[a-z]){_NOT_WORD}(?P<en_lc>{en}){_NOT_WORD_AFTER}"
        f"|(?=[\u4e00-\u9fff])(?:(?P<mask_zh>{mask})|(?P<zh>{_trie(chinese)}))"
    )
    places: dict[str, _Place] = {}
    for key, place in data["places"].items():
        shown = place.get("shown", place["names"][0])
        entry = _Place(key, shown, place.get("region", key), frozenset(place.get("needs_prep", [])))
        for name in place["names"]:
            places[name] = entry
    forums = {name: key for key, spelled in data["forums"].items() for name in spelled}
    loc = [*places, *forums]
    loc_en = _trie([n for n in loc if not _CJK.search(n)])
    loc_zh = _trie([n for n in loc if _CJK.search(n)])
    place = re.compile(
        rf"(?=[A-Z])(?:(?P<mask>{mask})|{_NOT_WORD}(?P<en>{loc_en}){_NOT_WORD_AFTER})"
        f"|(?=[\u4e00-\u9fff])(?:(?P<mask_zh>{mask})|(?P<zh>{loc_zh}))"
    )
    kinds = data["kinds"]
    stages = data["stages"]
    _cues = CueBook().cues
    return ContactRules(
        source=source,
        entity=entity,
        entity_names=names,
        office_groups=office_groups,
        offices=offices,
        pair_names=heads,
        place=place,
        place_names=places,
        forum_names=forums,
        kind_strong={
            "call": _cues(kinds["call"]["strong"]),
            **{kind: _cues(kinds[kind]["cues"]) for kind in ("meeting", "visit", "talks")},
        },
        call_weak=_cues(kinds["call"]["weak"]),
        postponed=_cues(stages["postponed"]["text"]),
        readout=_cues(stages["readout"]["title"]),
        outcome=_cues(stages["outcome"]["title"]),
        held=_cues(stages["held"]["text"]),
        past=_cues(stages["held"]["past"]),
        planned=_cues(stages["planned"]["text"]),
        context=_cues(data["context"]["patterns"]),
        future_en=re.compile(data["future"]["english"], re.IGNORECASE),
        future_zh=re.compile(data["future"]["chinese"]),
        future_zh_after=re.compile(data["future"]["chinese_after"]),
    )


@cache
def default_contact_rules() -> ContactRules:
    """The rules of news/contact.toml, compiled once per process."""
    return load_contact_rules()


def extract_contact(
    title: str,
    summary: str,
    published: datetime | date,
    verdict: Verdict | None = None,
    source: Source | None = None,
    rules: ContactRules | None = None,
) -> Contact:
    """The contact record of one item (meant for items the engine labels relevant)."""
    rules = rules or default_contact_rules()
    title = normalize(title) if isinstance(title, str) else ""
    summary = normalize(summary) if isinstance(summary, str) else ""
    rules.begin(f"{title}. {summary}")
    day = local_day(published, None, title)
    title_context = _spans(rules.context, title)
    summary_context = _spans(rules.context, summary)
    us, china = _parties(rules, title, summary, title_context, summary_context, day, verdict)
    kind, place, kind_said = _kind_and_place(rules, title, summary, title_context, summary_context)
    if not kind_said:
        kind = "meeting"
    side = source.side if source is not None else None
    stage = _stage(rules, title, summary, side)
    when = None
    if stage in ("planned", "postponed"):
        when = scheduled(f"{title}. {summary}" if summary else title, published)
    where = region = forum = place_key = None
    if place is not None and kind != "call":
        if isinstance(place, _Place):
            where, region, place_key = place.shown, place.region, place.key
        else:
            forum, where = place, place.upper() if place in ("apec", "g20", "asean") else place
    if kind != "call":
        forum = forum or _forum(rules, f"{title} {summary}")
    return Contact(us, china, kind, stage, where, when, side, place_key, region, forum, kind_said)


_BEFORE_CONTEXT = re.compile(r"之前|前夕|以来")  # the 16 characters before them are context


def _spans(pattern: Cues, text: str) -> list[tuple[int, int]]:
    if not text:
        return []
    spans = [m.span() for m in pattern.finditer(text)]
    if not text.isascii():
        spans += [(max(m.start() - 16, 0), m.end()) for m in _BEFORE_CONTEXT.finditer(text)]
    return spans


def _inside(pos: int, spans: list[tuple[int, int]]) -> bool:
    return any(a <= pos < b for a, b in spans)


def _parties(
    rules: ContactRules,
    title: str,
    summary: str,
    title_context: list[tuple[int, int]],
    summary_context: list[tuple[int, int]],
    day: date,
    verdict: Verdict | None,
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Each side's people: the title's (outside context clauses), filled in from the summary."""
    in_title = _people(rules, title, title_context, day)
    title_direct = in_title.get(False)
    if title_direct and title_direct["us"] and title_direct["china"]:  # the summary adds none
        return tuple(sorted(title_direct["us"])), tuple(sorted(title_direct["china"]))
    in_summary = _people(rules, summary, summary_context, day)
    found = {
        **{(True, is_context): sides for is_context, sides in in_title.items()},
        **{(False, is_context): sides for is_context, sides in in_summary.items()},
    }
    result: dict[str, list[str]] = {"us": [], "china": []}
    direct = {side: [*found.get((True, False), {}).get(side, [])] for side in ("us", "china")}
    for side in ("us", "china"):
        direct[side] = direct[side] or found.get((False, False), {}).get(side, [])
    side_context = {
        side: [
            *found.get((True, True), {}).get(side, []),
            *found.get((False, True), {}).get(side, []),
        ]
        for side in ("us", "china")
    }
    for side, other in (("us", "china"), ("china", "us")):
        if direct[side]:
            result[side] = direct[side]
        elif direct[other] and set(side_context[other]) <= set(direct[other]):
            # "Trump … ahead of Xi meeting": the context names the same contact's other side
            result[side] = side_context[side]
    if verdict is not None and not found:
        for reason in verdict.reasons:  # the engine's evidence, for roles this file lacks
            kind, _, text = reason.partition(":")
            if kind in ("us", "china", "pair"):
                for m in rules.entity.finditer(text):
                    for side, key in _entities(rules, m, day) if m.lastgroup not in _MASKS else ():
                        if not result[side]:
                            result[side].append(key)
    return tuple(sorted(result["us"])), tuple(sorted(result["china"]))


def _people(
    rules: ContactRules, text: str, context: list[tuple[int, int]], day: date
) -> dict[bool, dict[str, list[str]]]:
    """The people `text` names, by side, under whether they stand in a context clause (a
    key for each of the two only when a name or role stands there)."""
    found: dict[bool, dict[str, list[str]]] = {}
    for m in rules.entity.finditer(text):
        if m.lastgroup in _MASKS:
            continue
        sides = found.setdefault(_inside(m.start(), context), {"us": [], "china": []})
        for side, key in _entities(rules, m, day):
            if key not in sides[side]:
                sides[side].append(key)
    return found


def _entities(rules: ContactRules, m: re.Match[str], day: date) -> list[tuple[str, str]]:
    group = m.lastgroup or ""
    if group in rules.office_groups:
        office = rules.offices[rules.office_groups[group]]
        holder = office.holder(day)
        return [(office.side, holder)] if holder else []
    side, key = rules.entity_names.get(m.group(group or 0), ("", ""))
    if not key:
        return []
    if key == "@heads":
        out = []
        for office_key in ("us-president", "china-president"):
            office = rules.offices[office_key]
            holder = office.holder(day)
            if holder:
                out.append((office.side, holder))
        return out
    if key.startswith("@"):
        office = rules.offices[key[1:]]
        holder = office.holder(day)
        return [(office.side, holder)] if holder else []
    return [(side, key)]


def _kind_and_place(
    rules: ContactRules,
    title: str,
    summary: str,
    title_context: list[tuple[int, int]],
    summary_context: list[tuple[int, int]],
) -> tuple[Kind, _Place | None, bool]:
    """The heaviest kind (title cues ×2), the first place outside context clauses, and
    whether any cue named the kind (else the kind is "meeting", a guess)."""
    place = _place(rules, title, summary, title_context, summary_context)
    scores = dict.fromkeys(KINDS, 0.0)
    for weight, text, context in ((2.0, title, title_context), (1.0, summary, summary_context)):
        for kind, pattern in rules.kind_strong.items():
            for m in pattern.finditer(text):
                if _inside(m.start(), context):
                    continue
                if kind == "call":
                    scores[kind] += weight * 3.0  # "phone", "通话": no other kind says them
                else:  # a contact still to come ("to meet") counts, but less
                    scores[kind] += weight * (0.5 if _future(rules, text, m) else 1.0)
    if not scores["call"] and not any(scores[k] for k in IN_PERSON) and place is None:
        for weight, text in ((2.0, title), (1.0, summary)):
            scores["call"] += weight * rules.call_weak.count(text)
    best: Kind = max(KINDS, key=lambda k: (scores[k], -KINDS.index(k)))
    return best, place, bool(scores[best])


def _place(
    rules: ContactRules,
    title: str,
    summary: str,
    title_context: list[tuple[int, int]],
    summary_context: list[tuple[int, int]],
) -> _Place | None:
    """The first place outside context clauses, the title's before the summary's; a place in
    the future ("talks to continue in Washington") only if none is not."""
    best: tuple[int, _Place] | None = None
    for base, (text, context) in enumerate(((title, title_context), (summary, summary_context))):
        for m in rules.place.finditer(text):
            if m.lastgroup in _MASKS or _inside(m.start(), context):
                continue
            name = m.group()
            entry = rules.place_names.get(name)
            if entry is None:
                continue  # a forum: only a weak signal, see _forum
            before = text[max(0, m.start() - 40) : m.start()]
            if name in entry.prep and not (
                _PREP_BEFORE.search(before[-24:]) or _PREP_AFTER.match(text[m.end() : m.end() + 24])
            ):
                continue
            rank = base + 2 * bool(_PLACE_FUTURE.search(before))
            if rank == base:  # none later ranks lower (the title's future ones rank 2)
                return entry
            if best is None or rank < best[0]:
                best = (rank, entry)
    return best[1] if best else None


def _forum(rules: ContactRules, text: str) -> str | None:
    if not any(name in text for name in rules.forum_names):  # a forum match is one of them
        return None
    for m in rules.place.finditer(text):
        if m.lastgroup not in _MASKS and m.group() in rules.forum_names:
            return rules.forum_names[m.group()]
    return None


def _future(rules: ContactRules, text: str, m: re.Match[str]) -> bool:
    """Whether match `m` comes right after a future word ("to meet", "will visit", "将会晤")."""
    before = text[max(0, m.start() - 40) : m.start()]
    if _CJK.search(m.group()):
        after = text[m.end() : m.end() + 8]
        return bool(rules.future_zh.search(before) or rules.future_zh_after.search(after))
    memo = rules._cache  # one item's: the same words often stand before several of its cues
    try:
        return memo[before]
    except KeyError:
        pass
    found = memo[before] = rules.future_en.search(before) is not None
    return found


def _unmarked(rules: ContactRules, pattern: Cues, text: str) -> bool:
    """Whether `pattern` matches `text` somewhere not right after a future word."""
    return any(not _future(rules, text, m) for m in pattern.finditer(text))


def _stage(rules: ContactRules, title: str, summary: str, side: str | None) -> Stage:
    """postponed > readout > outcome > held > planned; with no cue at all, held."""
    both = f"{title}. {summary}" if summary else title
    if rules.postponed.search(both):
        return "postponed"
    held = (
        _unmarked(rules, rules.held, title)
        or _unmarked(rules, rules.held, summary)
        or bool(_SENTENCE_MEETING.search(summary))
        or bool(rules.past.search(both))
    )
    outcome = any(
        not _future(rules, title, m)
        and not _SIDE_CLAUSE.search(title[max(0, m.start() - 40) : m.start()])
        for m in rules.outcome.finditer(title)
    )
    readout = _unmarked(rules, rules.readout, title)
    if not (held or outcome or readout) and rules.planned.search(both):
        return "planned"
    if side is not None or readout:
        return "readout"
    if outcome:
        return "outcome"
    return "held"
