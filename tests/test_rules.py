"""news.rules: the rules file loads, a user can extend it without code, and every mistake in
it is reported with its line (or key path) instead of a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from news.relevance import Classifier, default_classifier
from news.rules import DEFAULT_RULES_PATH, RulesError, load_rules, parse_rules

BASE = """\
[topics.trade]
description = "Trade"
terms = ["tariff"]

[actors.us]
side = "us"
rank = "leader"
terms = ["Trump"]
"""


def error(text: str) -> str:
    with pytest.raises(RulesError) as caught:
        parse_rules(text, "news/topics.toml")
    return str(caught.value)


def test_default_rules_load_with_the_taxonomy() -> None:
    rules = load_rules()
    assert rules.source.endswith("topics.toml")
    assert [name for name, _ in rules.topics][:3] == ["summit", "call", "visit"]
    assert DEFAULT_RULES_PATH.name == "topics.toml"


def test_a_small_rules_file_works() -> None:
    text = (
        BASE
        + """
[actors.cn]
side = "china"
rank = "leader"
terms = ["Xi"]

[events.call]
topic = "trade"
terms = ["phone call"]
"""
    )
    classifier = Classifier(parse_rules(text))
    verdict = classifier.classify("Trump and Xi hold phone call on tariffs")
    assert verdict.relevant
    assert verdict.topics == ("trade",)
    assert classifier.topics == {"trade": "Trade"}


@pytest.mark.parametrize(
    ("addition", "expected"),
    [
        ("\n[actors.cn\nside = 1\n", "line 10: Expected ']'"),
        (
            '\n[actors.cn]\nside = "china"\nrank = "leader"\nterm = ["Xi"]\n',
            "line 13: actors.cn.term: unknown key",
        ),
        (
            '\n[actors.cn]\nside = "china"\nrank = "leader"\nterms = "Xi"\n',
            "line 13: actors.cn.terms: expected a list of strings",
        ),
        (
            '\n[actors.cn]\nside = "prc"\nrank = "leader"\n',
            "line 11: actors.cn.side: expected one of us, china",
        ),
        ('\n[actors.cn]\nside = "china"\nrank = 4\n', "line 12: actors.cn.rank: expected one of"),
        (
            "\n[events.meet]\npatterns = [\n  '''meet(s''',\n]\n",
            "line 12: events.meet.patterns: bad regular expression 'meet(s'",
        ),
        (
            "\n[events.meet]\npatterns = ['x*']\n",
            "line 11: events.meet.patterns: pattern matches empty text",
        ),
        (
            "\n[events.meet]\npatterns = ['(?P<x>meet)']\n",
            "named groups and back-references are not allowed",
        ),
        (
            '\n[events.meet]\nterms = ["{nope} meeting"]\n',
            "line 11: events.meet.terms: unknown vocab name {nope}",
        ),
        (
            '\n[events.meet]\ntopic = "summit"\nterms = ["meet"]\n',
            "line 11: events.meet.topic: expected a topic from [topics] (trade)",
        ),
        ('\n[events.meet]\nweak = "yes"\n', "line 11: events.meet.weak: expected true or false"),
        (
            '\n[events.meet]\nterms = ["meet", ""]\n',
            "line 11: events.meet.terms: empty string in list",
        ),
        ('\n[masks.x]\nreason = "two words"\n', "line 11: masks.x.reason"),
        ('\n[cues.x]\neffect = "explode"\n', "line 11: cues.x.effect: expected one of break"),
        ("\n[stuff]\nx = 1\n", "line 10: stuff: unknown section"),
        ('\n[settings]\njoin_gap = "far"\n', "line 11: settings.join_gap: expected a whole number"),
        ("\n[settings]\nspeed = 3\n", "line 11: settings.speed: unknown setting"),
        ('\n[vocab]\n"bad name" = ["x"]\n', "vocab.bad name: vocab names are letters"),
    ],
)
def test_mistakes_name_the_line_or_key(addition: str, expected: str) -> None:
    message = error(BASE + addition)
    assert message.startswith("news/topics.toml ")
    assert expected in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            'actors = 3\n[topics.t]\ndescription = "T"\n',
            "actors: expected a table",
            id="section-not-a-table",
        ),
        pytest.param(
            '[topics.trade]\nterms = ["tariff"]\n',
            "line 1: topics.trade.description: expected a one-line text",
            id="topic-without-description",
        ),
        pytest.param(
            '[actors.us]\nside = "us"\nrank = "leader"\n',
            "topics: at least one topic is needed",
            id="no-topic",
        ),
    ],
)
def test_whole_file_mistakes(text: str, expected: str) -> None:
    assert expected in error(text)


def test_a_missing_or_unreadable_file_is_a_rules_error(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="cannot read the rules file"):
        load_rules(tmp_path / "nope.toml")
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(RulesError, match="cannot read the rules file"):
        load_rules(binary)


def test_a_malformed_file_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(BASE + '\n[events.meet]\nterms = ["meet",\n', encoding="utf-8")
    with pytest.raises(RulesError, match=r"rules.toml line 1[0-9]: "):
        load_rules(path)


def test_users_extend_the_rules_without_code(tmp_path: Path) -> None:
    """Add a topic (rare earths) and an official's name to a copy of the shipped file."""
    text = DEFAULT_RULES_PATH.read_text(encoding="utf-8")
    text = text.replace(
        '[actors.us_officials]\nside = "us"\nrank = "official"\nterms = [\n',
        '[actors.us_officials]\nside = "us"\nrank = "official"\nterms = [\n  "Jane Doe",\n',
    )
    text += (
        '\n[topics.rare_earths]\ndescription = "Rare earth minerals"\n'
        'terms = ["rare earths", "稀土"]\n'
    )
    path = tmp_path / "topics.toml"
    path.write_text(text, encoding="utf-8")
    classifier = Classifier(load_rules(path))
    assert list(classifier.topics)[-1] == "rare_earths"
    verdict = classifier.classify("Jane Doe meets Wang Yi to discuss rare earths")
    assert verdict.relevant
    assert "us:Jane Doe" in verdict.reasons
    assert "rare_earths" in verdict.topics
    assert not default_classifier().classify("Jane Doe meets Wang Yi").relevant


def test_vocab_lists_expand_in_terms_and_patterns() -> None:
    text = (
        BASE
        + """
[vocab]
leaders = ["Xi", "Li Qiang"]

[actors.cn]
side = "china"
rank = "leader"
terms = ["{leaders}"]

[events.meet]
patterns = ['''\\bmeets?\\b''']
"""
    )
    classifier = Classifier(parse_rules(text))
    assert classifier.classify("Trump meets Li Qiang").relevant
    assert classifier.classify("Trump meets Xi").relevant


def test_cased_terms_respect_case_in_mixed_case_text() -> None:
    text = (
        BASE.replace('terms = ["Trump"]', 'cased = ["Trump"]')
        + """
[actors.cn]
side = "china"
rank = "leader"
cased = ["Xi"]

[events.call]
terms = ["call with"]
"""
    )
    classifier = Classifier(parse_rules(text))
    assert classifier.classify("Trump holds call with Xi").relevant
    assert not classifier.classify("A trump holds call with Xi").relevant
    assert classifier.classify("TRUMP HOLDS CALL WITH XI").relevant
    assert classifier.classify("trump holds call with xi").relevant


def test_matcher_scan_lists_every_phrase() -> None:
    rules = load_rules()
    phrases = [
        text for _, _, text, _ in rules.matcher.scan("Trump, Xi hold phone call; 中美元首通话")
    ]
    assert phrases == ["Trump", "Xi", "phone call", ";", "中美元首", "通话"]
