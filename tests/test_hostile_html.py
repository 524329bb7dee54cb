"""A 5 MB feed of hostile HTML (thousands of `<!--`, unclosed `<script`, deep nesting, huge
attributes) served over real HTTP: one poll stores its items, clean, in well under a second.

Before the HTML parser and the element bounds, parsing this feed took 16–112 s of CPU on
the build machine (depending on the shape), every poll.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from deps import Deps
from news.bound import bound_elements
from news.text import MAX_TAGS, TextBudget, html_to_text
from tests.fakes.feed_server import FeedServer
from tests.faults import HOSTILE_HTML_SHAPES, hostile_deps, hostile_html_feed, run_hostile_html

sqlite_only = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)


@pytest.fixture
def big_deps(deps: Deps) -> Iterator[Deps]:
    """The test deps with a fetcher that accepts the 5 MB feed."""
    big = hostile_deps(deps, total_timeout=10.0, max_bytes=6 * 1024 * 1024)
    yield big
    big.fetcher.close()


@sqlite_only
def test_a_5mb_feed_of_hostile_html_polls_in_bounded_time(
    big_deps: Deps, feed_server: FeedServer
) -> None:
    report = run_hostile_html(big_deps, feed_server)
    assert report.body_bytes > 5_000_000
    assert report.problems == []
    assert report.good_stored
    assert report.stored == report.entries > 200
    # ~0.3 s on an idle build machine; the regular expressions took 16 s and more
    assert report.parse_seconds < 3, f"parse took {report.parse_seconds:.1f} s"
    assert report.cycle_seconds < 6, f"the poll took {report.cycle_seconds:.1f} s"


def test_long_elements_become_one_cdata_section_before_feedparser() -> None:
    """Counting work, not time: what feedparser gets has a bounded number of XML events."""
    body = hostile_html_feed()
    bounded = bound_elements(body)
    assert len(bounded.body) < 1_500_000  # the 5 MB were cut to what is looked at
    assert bounded.cut > 100
    # raw markup and entities inside descriptions became CDATA: few tags, few entities left
    assert bounded.body.count(b"&") < 50_000
    assert bounded.body.count(b"<") - bounded.body.count(b"<![CDATA[") * 2 < 1_000_000


@pytest.mark.parametrize("shape", sorted(HOSTILE_HTML_SHAPES))
def test_every_hostile_shape_is_parsed_within_its_budget(shape: str) -> None:
    budget = TextBudget(chars=1_000_000, tags=25_000)
    html = HOSTILE_HTML_SHAPES[shape].removeprefix("<![CDATA[").removesuffix("]]>") * 50
    for _ in range(100):
        text = html_to_text(html, limit=1000, budget=budget)
        assert len(text) <= 1000
    # at most MAX_TAGS tags per fragment; the feed's budget stops the parser, not the text
    assert budget.tags >= 0 and budget.chars >= 0
    assert budget.parsed * MAX_TAGS >= 25_000 - budget.tags


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>a</p><p>b</p>", "a b"),
        ("<b>Bi</b>den &amp; Xi", "Biden & Xi"),
        ("x<script>alert(1)</script>y<style>p{}</style>z", "xyz"),
        ("a<br>b<br/>c", "a b c"),
        ("<!-- note -->d", "d"),
        ("&lt;b&gt;bold&lt;/b&gt;", "<b>bold</b>"),
        ("a &amp;amp; b", "a & b"),
        ("<!channel> <@U1> <https://x.example|y>", "<!channel> <@U1> <https://x.example|y>"),
        ("1 < 2 and 3 > 2", "1 < 2 and 3 > 2"),
        ("<li>one<li>two", "one two"),
        ("<!--" * 5000 + "hidden", ""),
        ("<script>" + "x<" * 50_000, ""),
        ('<a href="' + "x" * 500 + '">hi</a> there', "hi there"),
        ('<a href="' + "x" * 50_000 + '">hi</a> there', ""),  # past the cap: nothing
    ],
)
def test_html_to_text_keeps_its_output(html: str, text: str) -> None:
    assert html_to_text(html, limit=1000) == text
