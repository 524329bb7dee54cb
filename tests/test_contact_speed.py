"""The fast matchers of news/contact.py agree with the slow ones they stand for.

Property tests (hypothesis) over arbitrary text built from the rules' own words, Chinese,
punctuation and characters with unusual case rules: each cue list run only with the cues its
needed words allow (`Cues`) finds what the whole alternation finds; the tries of names and
places match what the longest-first alternations matched; the entity and place regexes,
grouped by their first character, match what the plain alternation of their parts matched.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from dataclasses import replace
from datetime import date

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from news.contact import (
    _CJK,
    _NOT_ROLE_AFTER,
    _NOT_WORD,
    _NOT_WORD_AFTER,
    DEFAULT_CONTACT_PATH,
    Cues,
    _alternation,
    _trie,
    default_contact_rules,
    extract_contact,
    gate_text,
    needed_words,
)

RULES = default_contact_rules()
DATA = tomllib.loads(DEFAULT_CONTACT_PATH.read_text(encoding="utf-8"))
CUES: dict[str, Cues] = {
    "context": RULES.context,
    "call_weak": RULES.call_weak,
    "postponed": RULES.postponed,
    "readout": RULES.readout,
    "outcome": RULES.outcome,
    "held": RULES.held,
    "past": RULES.past,
    "planned": RULES.planned,
    **{f"kind:{k}": v for k, v in RULES.kind_strong.items()},
}
_WORDS = sorted(
    {
        *re.findall(
            r"[A-Za-z][A-Za-z'.-]*|[\u4e00-\u9fff]+",
            DEFAULT_CONTACT_PATH.read_text(encoding="utf-8"),
        ),
        *(w for c in CUES.values() for p in c._single for w in needed_words(p.pattern) or ()),
    }
)
_PIECES = st.one_of(
    st.sampled_from(_WORDS),
    st.sampled_from(_WORDS).map(str.upper),
    st.sampled_from([" ", "  ", ". ", ", ", "; ", "-", "'", "\u2019", "\n", "$5 billion "]),
    st.sampled_from(["ſ", "ı", "İ", "\u212a", "ß", "Σ", "é", "ﬅ", "２", "Ｔ"]),
    st.text(max_size=4),
)
TEXT = st.lists(_PIECES, max_size=30).map("".join)


def _spans(pattern: re.Pattern[str] | Cues, text: str) -> list[tuple[int, int]]:
    return [m.span() for m in pattern.finditer(text)]


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXT, before=TEXT, after=TEXT)
@example(text="Trump and Xi MEET by phone", before="", after="")
@example(text="they ſpoke; talkſ", before="", after="")
@example(text="", before="", after="")
@example(text="Trump will meet Xi; he will visit", before="", after="")  # two cues, one start
@example(text="Trump VİSİTS China", before="", after="")  # "İ".lower() is "i" + a dot
def test_cues_find_what_the_whole_alternation_finds(text: str, before: str, after: str) -> None:
    RULES.begin(f"{before}{text}{after}")  # the item's whole text holds this part
    for name, cues in CUES.items():
        assert _spans(cues, text) == _spans(cues.full, text), name
        found, expected = cues.search(text), cues.full.search(text)
        assert (found and found.span()) == (expected and expected.span()), name
        assert cues.count(text) == len(cues.full.findall(text)), name


@given(text=TEXT)
def test_cues_agree_without_an_item(text: str) -> None:
    RULES.begin("")  # the text is not part of the item: its own mask
    for name, cues in CUES.items():
        assert _spans(cues, text) == _spans(cues.full, text), name


def test_a_dotted_capital_i_is_an_i_in_the_gate() -> None:
    """ "VİSİTS" matches "visits" case-insensitively, so its gate text must hold "visits"."""
    assert "visits" in gate_text("Trump VİSİTS China")
    assert re.search("visits", "VİSİTS", re.IGNORECASE)


def test_gate_text_holds_every_ascii_letter_a_case_insensitive_match_sees() -> None:
    letters = re.compile("[a-z]", re.IGNORECASE)
    for code in range(0x110000):
        char = chr(code)
        if letters.fullmatch(char):
            low = gate_text(char)
            assert any(re.fullmatch(x, char, re.IGNORECASE) for x in low if x.isascii()), char


_PHRASES = st.lists(
    st.text(alphabet="abAB .-中美", min_size=1, max_size=6), min_size=1, max_size=12
)


@given(phrases=_PHRASES, text=st.text(alphabet="abAB .-中美x", max_size=40))
@example(phrases=["ab", "abab", "a"], text="ababx ab a")
def test_trie_matches_the_longest_first_alternation(phrases: list[str], text: str) -> None:
    for tail in ("", _NOT_WORD_AFTER, r"\s+b", "a"):
        trie = re.compile(f"(?:{_trie(phrases)}){tail}")
        reference = re.compile(f"(?:{_alternation(phrases)}){tail}")
        assert _spans(trie, text) == _spans(reference, text)


def _reference_entity_and_place() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """The entity and place regexes as plain alternations of their parts (the old layout)."""
    names = {n for side in ("us", "china") for v in DATA["people"][side].values() for n in v}
    office_patterns = []
    for office in DATA["offices"].values():
        names.update(office.get("names", []))
        if office.get("roles"):
            group = f"o{len(office_patterns)}"
            side_words = _alternation(DATA["prefixes"][office["side"]])
            office_patterns.append(
                rf"(?P<{group}>(?=[A-Z]){_NOT_WORD}(?:{side_words})\s+(?:[A-Za-z-]+\s+)?"
                rf"(?i:{_alternation(office['roles'])}){_NOT_ROLE_AFTER})"
            )
    names.update(DATA["pairs"]["heads"])
    masks = _alternation(DATA["masks"]["terms"])
    english = _alternation([n for n in names if not _CJK.search(n)])
    chinese = _alternation([n for n in names if _CJK.search(n)])
    entity = re.compile(
        "|".join(
            [
                f"(?=[A-Z\u4e00-\u9fff])(?P<mask>{masks})",
                *office_patterns,
                rf"(?=[A-Za-z]){_NOT_WORD}(?P<en>{english}){_NOT_WORD_AFTER}",
                f"(?=[\u4e00-\u9fff])(?P<zh>{chinese})",
            ]
        )
    )
    loc = [n for p in DATA["places"].values() for n in p["names"]]
    loc += [n for v in DATA["forums"].values() for n in v]
    loc_en = _alternation([n for n in loc if not _CJK.search(n)])
    loc_zh = _alternation([n for n in loc if _CJK.search(n)])
    place = re.compile(
        "|".join(
            [
                f"(?=[A-Z\u4e00-\u9fff])(?P<mask>{masks})",
                rf"(?=[A-Z]){_NOT_WORD}(?P<en>{loc_en}){_NOT_WORD_AFTER}",
                f"(?=[\u4e00-\u9fff])(?P<zh>{loc_zh})",
            ]
        )
    )
    return entity, place


REF_ENTITY, REF_PLACE = _reference_entity_and_place()
_ALIASES = {"mask_zh": "mask", "en_lc": "en"}


def _named(pattern: re.Pattern[str], text: str) -> list[tuple[int, int, str | None]]:
    return [
        (*m.span(), _ALIASES.get(m.lastgroup or "", m.lastgroup)) for m in pattern.finditer(text)
    ]


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXT)
@example(text="U.S. Secretary of State Rubio met Chinese Foreign Minister Wang Yi in North Korea")
@example(text="the two leaders met in Busan; 中美元首在釜山会晤, 习近平 and 特朗普")
def test_entity_and_place_match_the_plain_alternations(text: str) -> None:
    assert _named(RULES.entity, text) == _named(REF_ENTITY, text)
    assert _named(RULES.place, text) == _named(REF_PLACE, text)


class _Whole:
    """A cue list that always runs its whole alternation (the reference)."""

    def __init__(self, cues: Cues) -> None:
        self.full, self.book = cues.full, self

    def begin(self, item: str) -> None:
        pass

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        return self.full.finditer(text)

    def search(self, text: str) -> re.Match[str] | None:
        return self.full.search(text)

    def count(self, text: str) -> int:
        return len(self.full.findall(text))


REFERENCE = replace(
    RULES,
    entity=REF_ENTITY,
    place=REF_PLACE,
    kind_strong={k: _Whole(v) for k, v in RULES.kind_strong.items()},  # type: ignore[misc]
    **{name: _Whole(cues) for name, cues in CUES.items() if ":" not in name},  # type: ignore[arg-type]
    _cache={},
)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(title=TEXT, summary=TEXT, day=st.dates(date(2016, 1, 1), date(2030, 12, 31)))
@example(
    title="Trump to meet Xi in Busan next week",
    summary="Talks set for Oct 30.",
    day=date(2025, 10, 20),
)
@example(title="习近平同特朗普通电话", summary="两国元首将于下月在釜山会晤", day=date(2025, 9, 19))
def test_contact_record_matches_the_reference_rules(title: str, summary: str, day: date) -> None:
    assert extract_contact(title, summary, day) == extract_contact(
        title, summary, day, rules=REFERENCE
    )
