"""The pure parts of digests: when they are due (DST), the chart PNG, the message, the console.

No database, no Slack: tables of times, bytes checked, Block Kit limits checked.
"""

from __future__ import annotations

import io
import struct
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from handlers.blocks import digest_message, escape_mrkdwn
from handlers.sender import ConsoleSender, Posted, Uploaded
from models.digest import DigestStory, DigestView
from models.item import ItemView
from models.story_view import StoryEntry, StoryView
from models.upcoming import UpcomingContact
from news.chart import ChartData, digest_chart
from news.schedule import (
    due_period,
    last_due,
    next_due,
    parse_clock,
    parse_weekday,
)
from tests.slack_limits import assert_message_ok

NY = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("zone", "now", "due"),
    [
        # New York, fall back on Sun 1 Nov 2026 (02:00 EDT → 01:00 EST)
        (NY, "2026-11-01T12:59", "2026-10-31T12:00"),
        (NY, "2026-11-01T13:00", "2026-11-01T13:00"),
        # New York, spring forward on Sun 8 Mar 2026 (02:00 EST → 03:00 EDT)
        (NY, "2026-03-08T11:59", "2026-03-07T13:00"),
        (NY, "2026-03-08T12:00", "2026-03-08T12:00"),
        # London, clocks go back on Sun 25 Oct 2026 (BST → GMT)
        (LONDON, "2026-10-25T07:59", "2026-10-24T07:00"),
        (LONDON, "2026-10-25T08:00", "2026-10-25T08:00"),
        (LONDON, "2026-03-29T07:00", "2026-03-29T07:00"),  # the first BST morning
    ],
)
def test_daily_0800_is_0800_local_on_both_sides_of_a_dst_change(
    zone: ZoneInfo, now: str, due: str
) -> None:
    found = last_due("daily", None, 8 * 60, zone, utc(now))
    assert found == utc(due)
    assert found.astimezone(zone).strftime("%H:%M") == "08:00"


def test_periods_are_23_or_25_hours_across_dst_and_always_local_0800_to_0800() -> None:
    fall = due_period("daily", None, 480, NY, utc("2026-11-01T14:00"))
    spring = due_period("daily", None, 480, NY, utc("2026-03-08T14:00"))
    assert fall.end - fall.start == timedelta(hours=25)
    assert spring.end - spring.start == timedelta(hours=23)
    assert fall.key == "2026-10-31T12:00:00+00:00"


def test_a_time_that_does_not_exist_or_happens_twice_fires_once() -> None:
    # 02:30 does not exist on 8 Mar 2026 in New York: it fires at 03:30 EDT (07:30 UTC)
    assert last_due("daily", None, 150, NY, utc("2026-03-08T12:00")) == utc("2026-03-08T07:30")
    # 01:30 happens twice on 1 Nov 2026: the first (EDT, 05:30 UTC) only
    assert last_due("daily", None, 90, NY, utc("2026-11-01T06:45")) == utc("2026-11-01T05:30")
    assert next_due("daily", None, 90, NY, utc("2026-11-01T05:30")) == utc("2026-11-02T06:30")


def test_weekly_and_next_due() -> None:
    now = utc("2026-11-04T12:00")  # a Wednesday
    assert last_due("weekly", 0, 480, NY, now) == utc("2026-11-02T13:00")
    assert next_due("weekly", 0, 480, NY, now) == utc("2026-11-09T13:00")
    assert next_due("weekly", 2, 480, NY, now) == utc("2026-11-04T13:00")  # later today


@pytest.mark.parametrize(
    ("text", "minutes"),
    [("08:00", 480), ("8:00", 480), ("23:59", 1439), ("00:00", 0), (" 7:05 ", 425)],
)
def test_parse_clock(text: str, minutes: int) -> None:
    assert parse_clock(text) == minutes


@pytest.mark.parametrize("text", ["24:00", "8", "8am", "08:60", "8.00", "", "08:00:00"])
def test_parse_clock_refuses(text: str) -> None:
    assert parse_clock(text) is None


def test_parse_weekday() -> None:
    assert [parse_weekday(w) for w in ("mon", "Monday", "tu", "thu", "SUN", "sa")] == [
        0,
        0,
        1,
        3,
        6,
        5,
    ]
    assert [parse_weekday(w) for w in ("t", "s", "funday", "")] == [None] * 4


# --- the chart --------------------------------------------------------------------------------


def chart_data(topics: int = 3) -> ChartData:
    days = tuple(date(2026, 10, 26) + timedelta(days=n) for n in range(7))
    names = ["call", "trade", "taiwan", "tech", "summit", "visit", "security"][:topics]
    items = {t: tuple((n * 3 + k) % 7 for k in range(7)) for n, t in enumerate(names)}
    stories = {t: tuple((n + k) % 3 for k in range(7)) for n, t in enumerate(names)}
    return ChartData("Daily digest · Mon 2 Nov 2026", days, items, stories)


def test_the_chart_is_a_small_deterministic_800x400_png() -> None:
    digest_chart(chart_data())  # warm: the first chart imports matplotlib
    started = time.perf_counter()
    png = digest_chart(chart_data(7))
    seconds = time.perf_counter() - started
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == (800, 400)
    assert len(png) < 100_000
    assert digest_chart(chart_data(7)) == png  # same data, same bytes
    assert b"matplotlib" not in png  # no version or timestamp in the file
    assert seconds < 5


def test_an_empty_chart_is_flagged() -> None:
    data = ChartData("x", (date(2026, 11, 1),), {"call": (0,)}, {})
    assert data.empty and not chart_data().empty


# --- the message --------------------------------------------------------------------------------


def story(n: int, title: str, stage: str = "held", when: date | None = None) -> StoryView:
    item = ItemView(
        id=n,
        title=title,
        url=f"https://news.example/{n}",
        summary="",
        source="Reuters",
        published_at=utc("2026-11-30T09:00"),
        label="relevant",
        score=1.0,
        topics=("call",),
        reasons=(),
    )
    return StoryView(
        n, stage, (StoryEntry(item, "Reuters"),), kind="meeting", parties=("Trump", "Xi"), when=when
    )


def view(stories: list[StoryView], **kw: object) -> DigestView:
    base: dict[str, object] = {
        "channel_id": "C1",
        "kind": "daily",
        "start": utc("2026-10-31T12:00"),
        "end": utc("2026-11-01T13:00"),
        "zone": NY,
        "late": False,
        "topics": ("call",),
        "stories": tuple(DigestStory(s, 2) for s in stories),
        "more_stories": 0,
        "reports": 2 * len(stories),
        "upcoming": (),
    }
    base.update(kw)
    return DigestView(**base)  # type: ignore[arg-type]


def test_the_digest_message_names_the_local_period_and_each_story() -> None:
    planned = UpcomingContact(
        story_id=9,
        kind="visit",
        parties=("Trump", "Xi"),
        place="Washington",
        region=None,
        forum=None,
        start=date(2026, 11, 4),
        end=date(2026, 11, 4),
        precision="day",
        said="Nov 4",
        source_count=2,
        title="Xi to visit",
        url="https://news.example/9",
        confirmed_by="White House",
    )
    message = digest_message(view([story(1, "Trump and Xi talk")], upcoming=(planned,)), True)
    assert_message_ok(message)
    body = str(message.blocks)
    assert "Daily digest · Sun 1 Nov 2026" in body
    assert "Sat 31 Oct, 08:00 EDT to Sun 1 Nov, 08:00 EST" in body
    assert "Trump and Xi talk" in body and "2 new reports" in body and "1 source" in body
    # the /diplo upcoming line: day, contact, sources, who confirmed it
    assert "*Wed 4 Nov* · Trump–Xi visit in Washington" in body
    assert "<https://news.example/9|Xi to visit>" in body and "2 sources" in body
    assert "confirmed by White House" in body
    assert "in the thread" in body and "Daily digest" in message.text


def test_a_long_digest_stays_within_slacks_limits_and_escapes_headlines() -> None:
    many = [story(n, f"<!channel> Story {n} " + "x" * 300) for n in range(30)]
    message = digest_message(view(many, more_stories=12, late=True), False)
    assert_message_ok(message)
    body = str(message.blocks) + message.text
    assert "<!channel>" not in body and escape_mrkdwn("<!channel>") in body
    assert "…and 12 more" in body and "Posted late" in body and "No chart this time" in body


def test_a_watch_words_only_digest_lists_the_matches() -> None:
    item = story(5, "Xi in <Gyeongju>").headline.item
    message = digest_message(view([], topics=(), watched=(("Gyeongju", item),)), None)
    assert_message_ok(message)
    body = str(message.blocks)
    assert "*Watch-words*" in body and '"Gyeongju": <https://news.example/5|' in body
    assert "&lt;Gyeongju&gt;" in body and "no subscriptions" not in body


def test_a_digest_without_subscriptions_says_so() -> None:
    message = digest_message(view([], topics=()), None)
    assert "no subscriptions" in str(message.blocks)
    assert "Chart" not in str(message.blocks)


def test_the_console_writes_the_chart_to_a_file_and_prints_its_path() -> None:
    out = io.StringIO()
    console = ConsoleSender(stream=out)
    uploaded = console.upload_file("diplo-digest.png", b"\x89PNG fake")
    assert isinstance(uploaded, Uploaded)
    path = Path(uploaded.file_id)
    try:
        assert path.read_bytes() == b"\x89PNG fake"
        shared = console.share_file(uploaded.file_id, "Digest", "console", "console-1", "Chart")
        assert isinstance(shared, Posted)
        assert str(path) in out.getvalue() and "thread of console-1" in out.getvalue()
    finally:
        path.unlink()
