"""news.dates: English and Chinese date phrases resolved against the published time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from news.dates import find_dates, local_day, scheduled

PUB = datetime(2025, 10, 29, 12, 0, tzinfo=UTC)  # a Wednesday


@pytest.mark.parametrize(
    ("text", "start", "end", "precision"),
    [
        ("Xi will meet Trump in Busan on Oct 31", "2025-10-31", "2025-10-31", "day"),
        ("the summit on October 30", "2025-10-30", "2025-10-30", "day"),
        ("talks on Oct. 30-31", "2025-10-30", "2025-10-31", "days"),
        ("talks from 30 October", "2025-10-30", "2025-10-30", "day"),
        ("a visit next week", "2025-11-03", "2025-11-09", "week"),
        ("later this week", "2025-10-30", "2025-11-02", "week"),
        ("a call next month", "2025-11-01", "2025-11-30", "month"),
        ("meeting tomorrow", "2025-10-30", "2025-10-30", "day"),
        ("leaders meet Thursday", "2025-10-30", "2025-10-30", "day"),
        ("spoke on Monday", "2025-10-27", "2025-10-27", "day"),
        ("next Monday", "2025-11-03", "2025-11-03", "day"),
        ("a trip in early 2026", "2026-01-01", "2026-04-30", "part-of-year"),
        ("a visit in early March", "2026-03-01", "2026-03-10", "part-of-month"),
        ("a state visit later this year", "2025-10-29", "2025-12-31", "part-of-year"),
        ("will travel to China in April", "2026-04-01", "2026-04-30", "month"),
        ("the Nov. 2025 summit", "2025-11-01", "2025-11-30", "month"),
        ("by year-end", "2025-10-01", "2025-12-31", "part-of-year"),
        ("next year", "2026-01-01", "2026-12-31", "year"),
        ("特朗普下月访华", "2025-11-01", "2025-11-30", "month"),
        ("下周举行会谈", "2025-11-03", "2025-11-09", "week"),
        ("明天通话", "2025-10-30", "2025-10-30", "day"),
        ("10月30日会晤", "2025-10-30", "2025-10-30", "day"),
        ("10月31日", "2025-10-31", "2025-10-31", "day"),
        ("2025年10月30日", "2025-10-30", "2025-10-30", "day"),
        ("本月底", "2025-10-21", "2025-10-31", "part-of-month"),
        ("明年4月访华", "2026-04-01", "2026-04-30", "month"),
        ("将于明年初访问中国", "2026-01-01", "2026-04-30", "part-of-year"),
        ("4月1日至3日对中国进行国事访问", "2026-04-01", "2026-04-03", "days"),
        ("十月三十日", "2025-10-30", "2025-10-30", "day"),
    ],
)
def test_phrases_resolve(text: str, start: str, end: str, precision: str) -> None:
    found = find_dates(text, PUB)
    assert found, text
    when = found[0]
    assert (when.start.isoformat(), when.end.isoformat(), when.precision) == (start, end, precision)


@pytest.mark.parametrize(
    "text",
    ["no date here", "Trump may 5 things", "12 hours of talks", "met at Mar-a-Lago", "会晤"],
)
def test_no_date(text: str) -> None:
    assert find_dates(text, PUB) == []


def test_bare_month_day_is_the_nearest_future_ish_occurrence() -> None:
    """A bare "10月31日" is never a far year (a date library once made it 2110)."""
    assert find_dates("10月31日", date(2025, 11, 3))[0].start == date(2025, 10, 31)  # days ago
    assert find_dates("10月31日", date(2025, 12, 20))[0].start == date(2026, 10, 31)
    assert find_dates("Dec 30", date(2026, 1, 4))[0].start == date(2025, 12, 30)
    assert find_dates("Jan 3", date(2025, 12, 28))[0].start == date(2026, 1, 3)


def test_time_zones_near_midnight() -> None:
    """17:00 UTC is already the next day in Shanghai: Chinese text counts from there."""
    late = datetime(2025, 10, 29, 17, 0, tzinfo=UTC)
    assert find_dates("明天", late)[0].start == date(2025, 10, 31)
    assert find_dates("tomorrow", late)[0].start == date(2025, 10, 30)
    assert find_dates("tomorrow", late, "Asia/Shanghai")[0].start == date(2025, 10, 31)
    assert local_day(late, None, "习近平") == date(2025, 10, 30)
    naive = datetime(2025, 10, 29, 23, 30)
    assert local_day(naive) == date(2025, 10, 29)  # naive is UTC


def test_scheduled_skips_dates_already_over() -> None:
    when = scheduled("当地时间10月16日会晤；will meet again on Oct 31", PUB)
    assert when is not None and when.start == date(2025, 10, 31)
    assert scheduled("met last Monday", PUB) is None
    assert scheduled("the leaders meet on Monday", PUB).start == date(2025, 11, 3)  # ahead


def test_display_adds_the_year() -> None:
    assert find_dates("early March", PUB)[0].display() == "early March 2026"
    assert find_dates("下月", PUB)[0].display() == "下月（2025年11月）"
    assert find_dates("early 2026", PUB)[0].display() == "early 2026"


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                *"0123456789 -,.年月日号周下本明后今初底末上中旬",
                "Oct ",
                "October ",
                "next ",
                "week",
                "month",
                "year",
                "early ",
                "late ",
                "in ",
                "Monday",
                "tomorrow",
                "2026",
                "this ",
                "March",
                "end of the ",
            ]
        ),
        max_size=30,
    ).map("".join)
    | st.text(max_size=80),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1)),
)
def test_arbitrary_text_never_raises_and_stays_near(text: str, published: datetime) -> None:
    day = published.date()
    for when in find_dates(text, published):
        assert when.start <= when.end
        assert day - timedelta(days=800) <= when.start <= day + timedelta(days=800)


def test_a_date_years_away_from_the_published_day_is_no_contact_date() -> None:
    """Hypothesis found "Oct 2026" in an item published in 2000: history or a far goal."""
    assert find_dates("Oct 2026", datetime(2000, 1, 1)) == []
    assert [w.iso() for w in find_dates("Oct 2026", datetime(2026, 9, 1))] != []
