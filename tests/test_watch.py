"""news.watch: phrase validation, normalisation and matching, table-driven; plus properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from news.watch import (
    MAX_PER_CHANNEL,
    InvalidPhrase,
    Watch,
    WatchIndex,
    normalize,
    parse_phrases,
    validate,
)


def index(*phrases: str, channel: str = "C1", topic: str | None = None) -> WatchIndex:
    return WatchIndex(Watch(channel, p, validate(p), topic) for p in phrases)


@pytest.mark.parametrize(
    ("phrase", "text", "hit"),
    [
        # case and width
        ("rare earths", "China curbs RARE EARTHS exports", True),
        ("ABC", "ＡＢＣ News reports", True),
        ("ＡＢＣ", "abc news", True),
        ("huawei", "Ｈｕａｗｅｉ ban", True),
        # whole words, optional plural -s / -es
        ("tariff", "New tariffs on steel", True),
        ("tariff", "A tariff on steel", True),
        ("tax", "Export taxes rise", True),
        ("rare earth", "rare earths deal", True),
        ("tariff", "tariffication ahead", False),
        ("chip", "microchip makers", False),
        ("chip", "chipset makers", False),
        ("Xi", "Xinjiang policy", False),
        ("Xi", "Xi's visit", True),
        ("US", "Trump lifts US duties", True),
        ("US", "bus lanes", False),
        # separators: spaces, hyphens and dashes are one space
        ("rare earth", "rare-earth magnets", True),
        ("rare earth", "rare\u00a0 earth", True),
        ("U.S.-China", "U.S. China ties", True),
        ("AT&T", "AT&T sues", True),
        # CJK: substring, width-insensitive
        ("稀土", "中国限制稀土出口", True),
        ("稀土", "中国限制出口", False),
        ("关税", "特朗普宣布关税", True),
        ("华为", "美国制裁华为5G", True),
        ("稀土", "ｃｈｉｎａ稀土", True),
        # traditional and simplified Chinese match each other (OpenCC)
        ("关税", "美國宣布加徵關稅", True),
        ("關稅", "美国宣布加征关税", True),
        ("台湾", "臺灣問題", True),
        # Latin words next to CJK text still match (Chinese has no spaces)
        ("trump", "特朗普Trump访华", True),
        ("5G", "华为5G手机", True),
        ("5G", "华为5GB手机", False),
        ("华5g", "美国制裁华5G", True),  # a CJK character then a Latin one
    ],
)
def test_match(phrase: str, text: str, hit: bool) -> None:
    found = index(phrase).match(text, topics=())
    assert (found.get("C1") is not None) == hit, (phrase, text)


@pytest.mark.parametrize(
    ("phrase", "normalized"),
    [
        ("Rare Earths", "rare earths"),
        ("  rare   earths ", "rare earths"),
        ("ＡＢＣ", "abc"),
        ("U.S.", "u.s"),
        ("«tariffs»", "tariffs"),
        ("稀土", "稀土"),
        ("Straße", "strasse"),
    ],
)
def test_validate_normalizes(phrase: str, normalized: str) -> None:
    assert validate(phrase) == normalized


@pytest.mark.parametrize(
    ("phrase", "problem"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("!!!", "letter or digit"),
        ("…—…", "letter or digit"),
        ("「」", "letter or digit"),
        ("x", "at least 2"),
        ("x" * 61, "at most 60"),
        ("@U0123ABC", "mentions"),
        ("#C0123ABC", "mentions"),
        ("!here", "mentions"),
        ("https://x.example/a", "links"),
        ("www.example.com", "links"),
    ],
)
def test_validate_rejects(phrase: str, problem: str) -> None:
    with pytest.raises(InvalidPhrase, match=problem):
        validate(phrase)


def test_limits_are_as_documented() -> None:
    assert MAX_PER_CHANNEL == 50
    assert validate("x" * 60) == "x" * 60
    assert validate("稀土") == "稀土"


def test_topic_limited_watch_needs_the_topic() -> None:
    idx = WatchIndex([Watch("C1", "rare earths", "rare earths", "trade")])
    assert idx.match("rare earths talks", topics=("summit",)) == {}
    assert "C1" in idx.match("rare earths talks", topics=("trade",))


def test_each_channel_gets_its_first_phrase() -> None:
    idx = WatchIndex(
        [
            Watch("C1", "tariffs", "tariffs", None),
            Watch("C1", "rare earths", "rare earths", None),
            Watch("C2", "Rare Earths", "rare earths", None),
            Watch("C3", "fentanyl", "fentanyl", None),
        ]
    )
    found = idx.match("Rare earths and tariffs", topics=())
    assert {c: w.phrase for c, w in found.items()} == {"C1": "rare earths", "C2": "Rare Earths"}


def test_longer_phrase_with_the_same_first_word() -> None:
    idx = index("rare earth magnets", "rare")
    assert [w.phrase for w in idx.find("rare earth magnets")] == ["rare earth magnets", "rare"]


def test_empty_index() -> None:
    idx = WatchIndex([])
    assert not idx
    assert idx.match("anything", ()) == {}


@pytest.mark.parametrize(
    ("text", "phrases", "topic", "bare"),
    [
        ('"rare earths"', ["rare earths"], None, 0),
        ("“rare earths” in trade", ["rare earths"], "trade", 0),
        ('"rare earths" tariffs 稀土', ["rare earths", "tariffs", "稀土"], None, 2),
        ("tariffs in Trade", ["tariffs"], "trade", 1),
        ("「稀土」", ["稀土"], None, 0),
        ('"unterminated phrase', ["unterminated phrase"], None, 0),
        ('"in" "trade"', ["in", "trade"], None, 0),
        ("in trade", [], "trade", 0),
        ("", [], None, 0),
    ],
)
def test_parse_phrases(text: str, phrases: list[str], topic: str | None, bare: int) -> None:
    assert parse_phrases(text) == (phrases, topic, bare)


@given(st.text(max_size=300), st.lists(st.text(min_size=1, max_size=70), max_size=8))
def test_arbitrary_text_never_raises(text: str, phrases: list[str]) -> None:
    watches = []
    for phrase in phrases:
        try:
            watches.append(Watch("C1", phrase, validate(phrase)))
        except InvalidPhrase:
            continue
    idx = WatchIndex(watches)
    found = idx.find(text)
    assert all(w in watches for w in found)
    parse_phrases(text)
    normalize(text)


@given(st.text(min_size=2, max_size=40))
def test_a_valid_phrase_matches_itself(phrase: str) -> None:
    try:
        norm = validate(phrase)
    except InvalidPhrase:
        return
    assert index(phrase).find(phrase), (phrase, norm)
