"""Load the relevance rules (news/topics.toml) and compile them into one regex pass per text."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from news.chinese import to_simplified

DEFAULT_RULES_PATH = Path(__file__).with_name("topics.toml")

RANKS = {"mention": 1, "country": 2, "official": 3, "leader": 4}
SIDES = ("us", "china", "both", "third", "any")
EFFECTS = (
    "break",
    "boundary",
    "former",
    "halt",
    "offtopic",
    "relations",
    "policy",
    "context",
    "context_after",
    "below",
    "outcome",
)
PHRASE_KEYS = ("terms", "cased", "patterns")
SECTION_KEYS: dict[str, frozenset[str]] = {
    "topics": frozenset({"description", *PHRASE_KEYS}),
    "actors": frozenset({"side", "rank", "anaphor", *PHRASE_KEYS}),
    "events": frozenset(
        {
            "topic",
            "weak",
            "topic_needs_leader",
            "needs_person",
            "destination",
            "content_after",
            *PHRASE_KEYS,
        }
    ),
    "masks": frozenset({"reason", "quiet", *PHRASE_KEYS}),
    "cues": frozenset({"effect", *PHRASE_KEYS}),
}
SETTING_KEYS = {"join_gap": 16, "object_gap": 32, "link_window": 110}
TOP_KEYS = frozenset({"settings", "vocab", *SECTION_KEYS})
MASK, BREAK, NODE = 1, 2, 3  # Meaning.kind
# Meaning.flags: what a phrase says about the sides (anaphors say nothing by themselves).
US, US_ACTOR, CHINA, CHINA_ACTOR, THIRD, STRONG, LEADER = 1, 2, 4, 8, 16, 32, 64
CONTEXT, BELOW = 128, 256  # a context cue (either kind); an actor below national level

# A letter or digit that glues a phrase to its neighbour ("Xi" is not inside "Xiamen").
_WORDCHAR = "0-9A-Za-z\u00c0-\u024f"
_IS_WORDCHAR = re.compile(f"[{_WORDCHAR}]").fullmatch
_SEPARATORS = re.compile(r"[\s\-]+")
_VOCAB_REF = re.compile(r"\{([A-Za-z_]\w*)\}")
_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_STRUCTURAL_CUES = frozenset({"halt", "former", "boundary", "context", "context_after", "below"})
_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(?:#.*)?$")


class RulesError(ValueError):
    """The rules file cannot be read, parsed or compiled; the message names the line or key."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Distances, in characters, that decide which phrases belong together."""

    join_gap: int = 16
    object_gap: int = 32
    link_window: int = 110


@dataclass(frozen=True, slots=True)
class Meaning:
    """What a matched phrase stands for, merged over every group that lists it."""

    us: int = 0
    cn: int = 0
    third: int = 0
    role: int = 0
    anaphor: bool = False
    event: str = ""
    event_topic: str = ""
    weak: bool = False
    needs_leader: bool = False
    needs_person: bool = False
    destination: bool = False
    content_after: bool = False  # what follows the event is what was said, not who
    topics: frozenset[str] = frozenset()
    mask: str = ""
    quiet: bool = False
    cues: frozenset[str] = frozenset()
    # Derived by _finish, for speed:
    node: bool = False  # takes part in a sentence's structure (sides, roles, events, cues)
    kind: int = 0  # MASK, BREAK, NODE or 0 (topics and cues only)
    actor: bool = False  # a country or person that can meet someone
    place: bool = False  # a third-party place: only ever the object of an event
    flags: int = 0  # US, US_ACTOR, CHINA, CHINA_ACTOR, THIRD, STRONG, LEADER, CONTEXT, BELOW


Token = tuple[int, int, str, Meaning]


@dataclass(frozen=True, slots=True)
class Matcher:
    """One compiled regex over every phrase, and what each match means.

    The regex runs over lower-cased text; a cased term is then checked against the original.
    """

    regex: re.Pattern[str]
    ascii_regex: re.Pattern[str]
    terms: dict[str, Meaning]
    cased: dict[str, dict[str, Meaning]]
    groups: dict[str, Meaning]

    def meaning(self, low: str, original: str, caseless: bool) -> Meaning | None:
        """What a term match means: `low` as matched, `original` as written in the text.

        In a text all in capitals or all in small letters, case says nothing: a cased term
        matches in any case there.
        """
        found = self.terms.get(low)
        if found is not None:
            return found
        forms = self.cased.get(low)
        if forms is None:
            key = _SEPARATORS.sub(" ", low)
            found = self.terms.get(key)
            if found is not None:
                return found
            forms = self.cased.get(key)
            if forms is None:
                return None
            original = _SEPARATORS.sub(" ", original)
        if caseless:
            return next(iter(forms.values()))
        return forms.get(original)

    def scan(self, text: str) -> list[Token]:
        """`tokens(text)` as a list."""
        return list(self.tokens(text))

    def tokens(self, text: str) -> Iterator[Token]:
        """Every phrase in `text`, left to right, as (start, end, text, meaning).

        The reference for the copy inlined in Classifier._sentences (a property test keeps
        the two in agreement).
        """
        terms, groups, meaning = self.terms, self.groups, self.meaning
        caseless = text.isupper() or text.islower()
        ascii_text = text.isascii()
        low = " " + text.lower() if ascii_text else lower(text)
        regex = self.ascii_regex if ascii_text else self.regex
        for m in regex.finditer(low):
            start, end = m.span()
            group, key = m.lastgroup, m.group()
            if ascii_text:
                # The ASCII regex consumes the character before a word too ("(?P<w>)" marks
                # such matches), and runs over " " + text: one position further on.
                if group == "w":
                    key, end, group = low[start + 1 : end], end - 1, None
                else:
                    start, end = max(start - 1, 0), end - 1
            s = text[start:end]
            if group:
                yield start, end, s, groups[group]
            else:
                found = terms.get(key) or meaning(key, s, caseless)
                if found is not None:
                    yield start, end, s, found


def lower(text: str) -> str:
    """`text` lower-cased, one character for one, so positions stay the same."""
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(ch if len(ch.lower()) != 1 else ch.lower() for ch in text)


@dataclass(frozen=True, slots=True)
class Rules:
    """The compiled rules: the taxonomy, the settings and the matcher."""

    source: str
    topics: tuple[tuple[str, str], ...]
    settings: Settings
    matcher: Matcher


def load_rules(path: Path | str | None = None) -> Rules:
    """Read and compile a rules file (default: news/topics.toml); raise RulesError if bad."""
    path = Path(path) if path is not None else DEFAULT_RULES_PATH
    shown = _display(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesError(f"{shown}: cannot read the rules file: {exc}") from None
    return parse_rules(text, shown)


def parse_rules(text: str, source: str = "<rules>") -> Rules:
    """Compile rules from TOML text; `source` names the file in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(toml_error(exc, text, source)) from None
    return _Compiler(data, _Locator(text, source)).compile()


def toml_error(exc: tomllib.TOMLDecodeError, text: str, source: str) -> str:
    """A TOML syntax error as one line naming the file and line: `FILE line N: what …`."""
    message = str(exc)
    where = _TOML_POSITION.search(message)
    if where is not None:
        return f"{source} line {where[1]}: {message[: where.start()]} (column {where[2]})"
    if message.endswith("(at end of document)"):
        what = message.removesuffix("(at end of document)").strip()
        line = text.count("\n") + (not text.endswith("\n"))
        return f"{source} line {line}: {what} (at the end of the file)"
    return f"{source}: {message}"


def _display(path: Path) -> str:
    """The path as the user would write it: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


class _Locator:
    """Finds the line of a table, key or value in the TOML text, for error messages."""

    def __init__(self, text: str, source: str) -> None:
        self.source = source
        self.lines = text.splitlines()
        self.tables: dict[str, int] = {}
        for number, line in enumerate(self.lines):
            header = _HEADER.match(line)
            if header:
                name = ".".join(p.strip().strip("\"'") for p in header[1].split("."))
                self.tables.setdefault(name, number)

    def error(self, path: tuple[str, ...], problem: str, value: str | None = None) -> RulesError:
        """A RulesError naming the line when it can be found, else the key path."""
        line = self._find(path, value)
        where = f"line {line + 1}: " if line is not None else ""
        return RulesError(f"{self.source} {where}{'.'.join(path)}: {problem}".replace("  ", " "))

    def _find(self, path: tuple[str, ...], value: str | None) -> int | None:
        for cut in range(len(path), 0, -1):
            table = ".".join(path[:cut])
            if table not in self.tables:
                continue
            start = self.tables[table]
            end = min((n for n in self.tables.values() if n > start), default=len(self.lines))
            keys = path[cut:]
            if not keys:
                return start
            key_line = self._key_line(keys[0], start + 1, end)
            if key_line is None:
                return start
            if value is not None:
                for number in range(key_line, end):
                    if value in self.lines[number]:
                        return number
            return key_line
        return None

    def _key_line(self, key: str, start: int, end: int) -> int | None:
        pattern = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
        return next((n for n in range(start, end) if pattern.match(self.lines[n])), None)


@dataclass(slots=True)
class _Phrases:
    """Every phrase with its merged meaning, before compiling."""

    terms: dict[str, Meaning] = field(default_factory=dict)
    cased: dict[str, Meaning] = field(default_factory=dict)
    patterns: list[tuple[str, Meaning]] = field(default_factory=list)


class _Compiler:
    """Validates the parsed TOML and builds the Rules."""

    def __init__(self, data: dict[str, Any], where: _Locator) -> None:
        self.data = data
        self.where = where
        self.phrases = _Phrases()
        self.vocab: dict[str, list[str]] = {}

    def compile(self) -> Rules:
        unknown = sorted(set(self.data) - TOP_KEYS)
        if unknown:
            raise self.where.error((unknown[0],), f"unknown section ({_names(TOP_KEYS)})")
        settings = self._settings()
        self._vocab()
        topics = self._topics()
        taxonomy = {name for name, _ in topics}
        for section in ("actors", "events", "masks", "cues"):
            for name, group in self._groups(section).items():
                meaning = self._meaning(section, name, group, taxonomy)
                self._phrases_of((section, name), group, meaning)
        return Rules(
            source=self.where.source,
            topics=topics,
            settings=settings,
            matcher=_build_matcher(self.phrases),
        )

    def _table(self, key: str) -> dict[str, Any]:
        value = self.data.get(key, {})
        if not isinstance(value, dict):
            raise self.where.error((key,), "expected a table")
        return value

    def _settings(self) -> Settings:
        table = self._table("settings")
        values: dict[str, int] = {}
        for key, value in table.items():
            if key not in SETTING_KEYS:
                raise self.where.error(
                    ("settings", key), f"unknown setting (expected one of {_names(SETTING_KEYS)})"
                )
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 10_000:
                raise self.where.error(("settings", key), "expected a whole number from 0 to 10000")
            values[key] = value
        return Settings(**values)

    def _vocab(self) -> None:
        for name, items in self._table("vocab").items():
            path = ("vocab", name)
            if not re.fullmatch(r"[A-Za-z_]\w*", name):
                raise self.where.error(path, "vocab names are letters, digits and _")
            self.vocab[name] = self._strings(path, items, allow_empty=True)

    def _topics(self) -> tuple[tuple[str, str], ...]:
        topics = self._groups("topics")
        if not topics:
            raise self.where.error(("topics",), "at least one topic is needed")
        out = []
        for name, group in topics.items():
            description = group.get("description")
            if not isinstance(description, str) or not description.strip():
                raise self.where.error(("topics", name, "description"), "expected a one-line text")
            meaning = Meaning(topics=frozenset({name}))
            self._phrases_of(("topics", name), group, meaning)
            out.append((name, " ".join(description.split())))
        return tuple(out)

    def _groups(self, section: str) -> dict[str, dict[str, Any]]:
        table = self._table(section)
        for name, group in table.items():
            if not isinstance(group, dict):
                raise self.where.error((section, name), f"expected a table [{section}.{name}]")
            unknown = sorted(set(group) - SECTION_KEYS[section])
            if unknown:
                raise self.where.error(
                    (section, name, unknown[0]),
                    f"unknown key (expected one of {_names(SECTION_KEYS[section])})",
                )
        return table

    def _meaning(
        self, section: str, name: str, group: dict[str, Any], taxonomy: set[str]
    ) -> Meaning:
        path = (section, name)
        if section == "actors":
            side = self._choice(path, group, "side", SIDES)
            rank = RANKS[self._choice(path, group, "rank", tuple(RANKS))]
            anaphor = self._flag(path, group, "anaphor")
            us = rank if side in ("us", "both") else 0
            cn = rank if side in ("china", "both") else 0
            third = rank if side == "third" else 0
            role = rank if side == "any" else 0
            return Meaning(us=us, cn=cn, third=third, role=role, anaphor=anaphor)
        if section == "events":
            topic = group.get("topic", "")
            if not isinstance(topic, str) or (topic and topic not in taxonomy):
                raise self.where.error(
                    (*path, "topic"),
                    f"expected a topic from [topics] ({', '.join(sorted(taxonomy))})",
                )
            return Meaning(
                event=name,
                event_topic=topic,
                weak=self._flag(path, group, "weak"),
                needs_leader=self._flag(path, group, "topic_needs_leader"),
                needs_person=self._flag(path, group, "needs_person"),
                destination=self._flag(path, group, "destination"),
                content_after=self._flag(path, group, "content_after"),
            )
        if section == "masks":
            reason = group.get("reason", name)
            if not isinstance(reason, str) or not re.fullmatch(r"[\w-]+", reason):
                raise self.where.error(
                    (*path, "reason"), "expected a short word such as other-sense"
                )
            return Meaning(mask=reason, quiet=self._flag(path, group, "quiet"))
        effect = self._choice(path, group, "effect", EFFECTS)
        return Meaning(cues=frozenset({effect}))

    def _choice(
        self, path: tuple[str, ...], group: dict[str, Any], key: str, allowed: tuple[str, ...]
    ) -> str:
        value = group.get(key)
        if value not in allowed:
            got = "nothing" if value is None else repr(value)
            raise self.where.error((*path, key), f"expected one of {', '.join(allowed)}, got {got}")
        return str(value)

    def _flag(self, path: tuple[str, ...], group: dict[str, Any], key: str) -> bool:
        value = group.get(key, False)
        if not isinstance(value, bool):
            raise self.where.error((*path, key), "expected true or false")
        return value

    def _strings(self, path: tuple[str, ...], value: Any, allow_empty: bool = False) -> list[str]:
        if not isinstance(value, list):
            raise self.where.error(path, "expected a list of strings")
        for item in value:
            if not isinstance(item, str):
                raise self.where.error(path, f"expected a list of strings, found {item!r}")
            if not allow_empty and not item.strip():
                raise self.where.error(path, "empty string in list", '""')
        return value

    def _phrases_of(self, path: tuple[str, ...], group: dict[str, Any], meaning: Meaning) -> None:
        phrases = self.phrases
        for raw in self._strings((*path, "terms"), group.get("terms", [])):
            for term in self._combinations((*path, "terms"), raw):
                key = _term_key(term)
                phrases.terms[key] = _merge(phrases.terms.get(key), meaning)
        for raw in self._strings((*path, "cased"), group.get("cased", [])):
            for term in self._combinations((*path, "cased"), raw):
                key = _cased_key(term)
                phrases.cased[key] = _merge(phrases.cased.get(key), meaning)
        for raw in self._strings((*path, "patterns"), group.get("patterns", [])):
            pattern = self._expand((*path, "patterns"), raw)
            phrases.patterns.append((pattern, meaning))

    def _combinations(self, path: tuple[str, ...], raw: str) -> list[str]:
        """`raw` with each {name} replaced by every phrase of that vocab list in turn."""
        match = _VOCAB_REF.search(raw)
        if match is None:
            return [raw]
        phrases = self._vocab_list(path, match[1], raw)
        out = []
        for phrase in phrases:
            out.extend(self._combinations(path, raw[: match.start()] + phrase + raw[match.end() :]))
        return [term for term in out if term.strip()]

    def _vocab_list(self, path: tuple[str, ...], name: str, raw: str) -> list[str]:
        if name not in self.vocab:
            raise self.where.error(path, f"unknown vocab name {{{name}}}", raw)
        return self.vocab[name]

    def _expand(self, path: tuple[str, ...], raw: str) -> str:
        def splice(m: re.Match[str]) -> str:
            phrases = sorted(self._vocab_list(path, m[1], raw), key=len, reverse=True)
            return "(?:" + "|".join(_atoms(p) for p in phrases) + ")"

        pattern = _VOCAB_REF.sub(splice, raw)
        self._check_regex(path, raw, pattern)
        return f"(?i:{pattern})"

    def _check_regex(self, path: tuple[str, ...], raw: str, pattern: str) -> None:
        if "(?P" in pattern or re.search(r"\\[1-9]", pattern):
            raise self.where.error(
                path, f"named groups and back-references are not allowed: {raw!r}", raw
            )
        try:
            compiled = re.compile(pattern, re.IGNORECASE)
        except re.error as exc:
            raise self.where.error(path, f"bad regular expression {raw!r}: {exc}", raw) from None
        if compiled.match(""):
            raise self.where.error(path, f"pattern matches empty text: {raw!r}", raw)


def _names(keys: Any) -> str:
    return ", ".join(sorted(keys))


def _term_key(term: str) -> str:
    return _SEPARATORS.sub(" ", lower(to_simplified(term.strip().replace("’", "'"))))


def _cased_key(term: str) -> str:
    return _SEPARATORS.sub(" ", to_simplified(term.strip().replace("’", "'")))


def _merge(old: Meaning | None, new: Meaning) -> Meaning:
    """Combine two meanings of one phrase: highest ranks, all topics and cues, first event."""
    if old is None:
        return new
    if old.mask or new.mask:
        return old if old.mask else new
    event = old if old.event else new
    return replace(
        event,
        us=max(old.us, new.us),
        cn=max(old.cn, new.cn),
        third=max(old.third, new.third),
        role=max(old.role, new.role),
        anaphor=old.anaphor or new.anaphor,
        topics=old.topics | new.topics,
        cues=old.cues | new.cues,
    )


def _build_matcher(phrases: _Phrases) -> Matcher:
    """One alternation over the patterns and a trie of every term, for lower-cased text.

    Speed matters (every item of every feed): sre tries the alternation at each position,
    and skips an alternative at once when its first operation is a character or a class
    that does not match. So the text is lower-cased and the regex has no re.IGNORECASE;
    each pattern keeps its own first operation and is named by an empty group at its end;
    terms that start with a letter or digit sit behind one look-behind, the other ASCII
    ones start with their own character, and the rest (Chinese) sit behind one look-ahead
    and are left out of the regex for ASCII text. A match outside the named groups is a
    term, looked up by its text. Cased terms are in the trie lower-cased and checked
    against the original text afterwards.
    """
    terms = {key: _finish(m) for key, m in phrases.terms.items()}
    cased: dict[str, dict[str, Meaning]] = {}
    for key, m in phrases.cased.items():
        cased.setdefault(lower(key), {})[key] = _finish(m)
    groups: dict[str, Meaning] = {}
    parts: list[str] = []
    for number, (pattern, meaning) in enumerate(phrases.patterns):
        groups[f"p{number}"] = _finish(meaning)
        parts.append(f"{pattern}(?P<p{number}>)")
    words = set(terms) | set(cased)
    latin = [w for w in words if _IS_WORDCHAR(w[0])]
    marks = [w for w in words if not _IS_WORDCHAR(w[0]) and w[0].isascii()]
    others = [w for w in words if not w[0].isascii()]
    ascii_parts = list(parts)
    if latin:
        branches = "|".join(_trie_branches(latin))
        parts.append(f"(?<![{_WORDCHAR}])(?:{branches})")
        ascii_parts.append(f"[^{_WORDCHAR}](?:{branches})(?P<w>)")
    parts.extend(_trie_branches(marks))
    ascii_parts.extend(_trie_branches(marks))
    if others:
        firsts = "".join(sorted({re.escape(w[0]) for w in others}))
        parts.append(f"(?=[{firsts}])(?:{'|'.join(_trie_branches(others))})")
    return Matcher(
        regex=re.compile("|".join(parts) or "(?!)"),
        ascii_regex=re.compile("|".join(ascii_parts) or "(?!)"),
        terms=terms,
        cased=cased,
        groups=groups,
    )


def _finish(m: Meaning) -> Meaning:
    """Mark the meanings that the sentence analysis must look at."""
    node = bool(m.us or m.cn or m.third or m.role or m.anaphor or m.event)
    node = node or bool(m.cues & _STRUCTURAL_CUES)
    kind = MASK if m.mask else BREAK if "break" in m.cues else NODE if node else 0
    flags = 0
    if not m.anaphor:
        for bit, test in (
            (US, m.us >= 1),
            (US_ACTOR, m.us >= 2),
            (CHINA, m.cn >= 1),
            (CHINA_ACTOR, m.cn >= 2),
            (THIRD, m.third >= 1),
            (STRONG, m.us >= 3 or m.cn >= 3),
            (LEADER, 4 in (m.us, m.cn, m.third, m.role)),
        ):
            flags |= bit if test else 0
    if m.cues & {"context", "context_after"}:
        flags |= CONTEXT
    if "below" in m.cues:
        flags |= BELOW
    return replace(
        m,
        node=node,
        kind=kind,
        actor=is_actor(m.us, m.cn, m.third),
        place=is_place(m.us, m.cn, m.third),
        flags=flags,
    )


def is_actor(us: int, cn: int, third: int) -> bool:
    """An actor: the US or China at country rank or above, a third party at official or above."""
    return us >= 2 or cn >= 2 or third >= 3


def is_place(us: int, cn: int, third: int) -> bool:
    """A place: a third party at country rank, with no US or China actor in the phrase."""
    return third == 2 and us < 2 and cn < 2


def _trie_branches(words: list[str]) -> list[str]:
    """Regexes, one per first character, that match `words` longest first.

    A word ends on a word boundary; a space in it matches a space or a hyphen.
    """
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = True
    return [_atom(ch) + _emit(trie[ch], ch) for ch in sorted(trie)]


def _emit(node: dict[str, Any], last: str) -> str:
    """The regex for a trie node; `last` is the character leading to it."""
    branches = [_atom(ch) + _emit(node[ch], ch) for ch in sorted(k for k in node if k)]
    if "" in node:
        branches.append(f"(?![{_WORDCHAR}])" if _IS_WORDCHAR(last) else "")
    if len(branches) == 1:
        return branches[0]
    return "(?:" + "|".join(branches) + ")"


def _atom(ch: str) -> str:
    """One character of a phrase as regex: a space matches a space or a hyphen."""
    return "[ -]" if ch == " " else re.escape(ch)


def _atoms(phrase: str) -> str:
    return "".join(_atom(ch) for ch in _term_key(phrase))
