"""news/query.py: the search syntax (table-driven) and the spans shown in bold."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from news.query import Query, QueryError, Term, match_spans, parse_query

TOPICS = {"trade", "summit", "call"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tariffs", Query((Term("tariffs"),))),
        ("Xi  Biden", Query((Term("Xi"), Term("Biden")))),
        ('"trade deal" xi', Query((Term("trade deal", phrase=True), Term("xi")))),
        ("“trade  deal”", Query((Term("trade deal", phrase=True),))),
        ('"unclosed phrase', Query((Term("unclosed phrase", phrase=True),))),
        ('"one"', Query((Term("one"),))),
        ("xi xi XI", Query((Term("xi"), Term("XI")))),
        ("deal topic:trade", Query((Term("deal"),), topic="trade")),
        ("deal TOPIC:Trade", Query((Term("deal"),), topic="trade")),
        ("deal topic:all", Query((Term("deal"),))),
        ("deal source:Reuters", Query((Term("deal"),), source="Reuters")),
        (
            "deal since:2025-10-01",
            Query((Term("deal"),), since=datetime(2025, 10, 1, tzinfo=UTC)),
        ),
        ('"topic:trade"', Query((Term("topic:trade"),))),
        ("習近平 釜山", Query((Term("習近平"), Term("釜山")))),
        ("10% _ * a:b", Query((Term("10%"), Term("_"), Term("*"), Term("a:b")))),
        (
            "NEAR(a b) -x ^y AND",
            Query((Term("NEAR(a"), Term("b)"), Term("-x"), Term("^y"), Term("AND"))),
        ),
    ],
)
def test_parse_query(text: str, expected: Query) -> None:
    assert parse_query(text, TOPICS) == expected


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", "Give one or more words"),
        ('""', "Give one or more words"),
        ("topic:trade", "at least one word besides"),
        ("deal topic:frogs", "Unknown topic 'frogs'; topics: call, summit, trade."),
        ("deal topic:", "topic: needs a value"),
        ("deal since:yesterday", "since: wants a date like 2025-10-01"),
        ("deal since:2025-02-30", "since:2025-02-30 is not a real date."),
        ("a b c d e f g h i", "at most 8"),
    ],
)
def test_bad_queries_say_why_in_one_line(text: str, error: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse_query(text, TOPICS)
    assert error in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("term", "kind", "indexable"),
    [
        (Term("tariffs"), "word", True),
        (Term("xi"), "word", False),
        (Term("Zürich"), "word", True),
        (Term("习近平"), "text", True),
        (Term("釜山"), "text", False),
        (Term("10%"), "text", True),
        (Term("U.S."), "text", True),
        (Term("a_b"), "text", True),
        (Term("trade deal", phrase=True), "text", True),
    ],
)
def test_term_kinds(term: Term, kind: str, indexable: bool) -> None:
    assert (term.kind, term.indexable) == (kind, indexable)


@pytest.mark.parametrize(
    ("text", "terms", "spans"),
    [
        ("Xi meets Biden", ["biden"], [(9, 14)]),
        ("New tariffs on chips", ["tariff"], [(4, 11)]),  # grown to the whole word
        ("trade deal, trade", ["trade"], [(0, 5), (12, 17)]),
        ("a trade deal", ["trade deal", "deal"], [(2, 12)]),  # overlapping: merged
        ("习近平在釜山会晤特朗普", ["釜山", "习近平"], [(0, 3), (4, 6)]),
        ("no match", ["zebra"], []),
        ("Straße", ["straße"], [(0, 6)]),
    ],
)
def test_match_spans(text: str, terms: list[str], spans: list[tuple[int, int]]) -> None:
    assert match_spans(text, [Term(t, phrase=" " in t) for t in terms]) == spans
