"""The contact record of a relevant item: who met, what kind of contact, its stage, where, when.

Rules and word lists live in news/contact.toml. The relevance engine's Verdict says that an
item is about a US–China contact; this module says which one, in the terms stories are
clustered on: canonical people keys (习近平 and Xi Jinping are both `xi`), kind, stage, place
key and scheduled date. Everything here is pure and never raises on item text.
"""

from __future__ import annotations

import re
import tomllib
from bisect import bisect_right
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
_SENTENCE_MEETING = re.compile(r"(?:^|[.;]\s+)meeting\b", re.IGNORECASE)


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
    kind_strong: dict[Kind, re.Pattern[str]]
    call_weak: re.Pattern[str]
    postponed: re.Pattern[str]
    readout: re.Pattern[str]
    outcome: re.Pattern[str]
    held: re.Pattern[str]
    past: re.Pattern[str]
    planned: re.Pattern[str]
    context: re.Pattern[str]
    future_en: re.Pattern[str]
    future_zh: re.Pattern[str]
    future_zh_after: re.Pattern[str]
    _cache: dict[str, Any] = field(default_factory=dict)


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
    return "|".join(re.escape(p) for p in sorted(set(phrases), key=len, reverse=True))


def _cues(patterns: list[str]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)


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
            side_words = _alternation(prefixes[office["side"]])
            office_patterns.append(
                rf"(?P<{group}>(?=[A-Z]){_NOT_WORD}(?:{side_words})\s+(?:[A-Za-z-]+\s+)?(?i:{_alternation(roles)}){_NOT_ROLE_AFTER})"
            )
    heads = frozenset(data["pairs"]["heads"])
    for name in heads:
        names[name] = ("pair", "@heads")
    masks = data["masks"]["terms"]
    english = [n for n in names if not _CJK.search(n)]
    chinese = [n for n in names if _CJK.search(n)]
    entity = re.compile(
        "|".join(
            [
                f"(?=[A-Z\u4e00-\u9fff])(?P<mask>{_alternation(masks)})",
                *office_patterns,
                rf"(?=[A-Za-z]){_NOT_WORD}(?P<en>{_alternation(english)}){_NOT_WORD_AFTER}",
                f"(?=[\u4e00-\u9fff])(?P<zh>{_alternation(chinese)})",
            ]
        )
    )
    places: dict[str, _Place] = {}
    for key, place in data["places"].items():
        shown = place.get("shown", place["names"][0])
        entry = _Place(key, shown, place.get("region", key), frozenset(place.get("needs_prep", [])))
        for name in place["names"]:
            places[name] = entry
    forums = {name: key for key, spelled in data["forums"].items() for name in spelled}
    loc = [*places, *forums]
    loc_en = _alternation([n for n in loc if not _CJK.search(n)])
    loc_zh = _alternation([n for n in loc if _CJK.search(n)])
    place = re.compile(
        "|".join(
            [
                f"(?=[A-Z\u4e00-\u9fff])(?P<mask>{_alternation(masks)})",
                rf"(?=[A-Z]){_NOT_WORD}(?P<en>{loc_en}){_NOT_WORD_AFTER}",
                f"(?=[\u4e00-\u9fff])(?P<zh>{loc_zh})",
            ]
        )
    )
    kinds = data["kinds"]
    stages = data["stages"]
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


def _spans(pattern: re.Pattern[str], text: str) -> list[tuple[int, int]]:
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
    found: dict[tuple[bool, bool], dict[str, list[str]]] = {}
    for in_title, text, context in (
        (True, title, title_context),
        (False, summary, summary_context),
    ):
        for m in rules.entity.finditer(text):
            if m.lastgroup == "mask":
                continue
            is_context = _inside(m.start(), context)
            sides = found.setdefault((in_title, is_context), {"us": [], "china": []})
            for side, key in _entities(rules, m, day):
                if key not in sides[side]:
                    sides[side].append(key)
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
                    for side, key in _entities(rules, m, day) if m.lastgroup != "mask" else ():
                        if not result[side]:
                            result[side].append(key)
    return tuple(sorted(result["us"])), tuple(sorted(result["china"]))


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
    candidates: list[tuple[int, _Place]] = []
    for rank, (text, context) in enumerate(((title, title_context), (summary, summary_context))):
        for m in rules.place.finditer(text):
            if m.lastgroup == "mask" or _inside(m.start(), context):
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
            # a place in the future ("talks to continue in Washington") only if none is not
            candidates.append((rank + 2 * bool(_PLACE_FUTURE.search(before)), entry))
    place: _Place | None = min(candidates, key=lambda c: c[0])[1] if candidates else None
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
            scores["call"] += weight * len(rules.call_weak.findall(text))
    best: Kind = max(KINDS, key=lambda k: (scores[k], -KINDS.index(k)))
    return best, place, bool(scores[best])


def _forum(rules: ContactRules, text: str) -> str | None:
    for m in rules.place.finditer(text):
        if m.lastgroup != "mask" and m.group() in rules.forum_names:
            return rules.forum_names[m.group()]
    return None


def _future(rules: ContactRules, text: str, m: re.Match[str]) -> bool:
    """Whether match `m` comes right after a future word ("to meet", "will visit", "将会晤")."""
    before = text[max(0, m.start() - 40) : m.start()]
    if _CJK.search(m.group()):
        after = text[m.end() : m.end() + 8]
        return bool(rules.future_zh.search(before) or rules.future_zh_after.search(after))
    return rules.future_en.search(before) is not None


def _unmarked(rules: ContactRules, pattern: re.Pattern[str], text: str) -> bool:
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
