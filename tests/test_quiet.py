"""Quiet hours: the window logic (pure, DST), held alerts, the urgent bypass, the catch-up.

Storage on SQLite and PostgreSQL; delivery over real HTTP to the fake Slack with the real
SlackSender; the clock is the test's. America/New_York is UTC-5 in winter: the test clock's
start, 2026-11-30 09:00 UTC, is 04:00 there, inside 22:00-07:00.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deps import Deps
from jobs.catchup import catch_up
from models.outbox import FOLDED, PENDING, POST, SENT
from news.quiet import (
    QuietWindowError,
    bypasses,
    current_window,
    in_quiet,
    last_window,
    parse_window,
    wall_instant,
    window_end,
)
from tests.conftest import Clock
from tests.fakes.slack_server import FakeSlack
from tests.folding import (
    catchups,
    deliver_all,
    drain,
    payload,
    queue,
    quiet,
    rows,
    shown,
    slack_deps,
    story_posts,
    utc,
)
from tests.slackbot import Bot, make_bot

NY = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
NIGHT = (22 * 60, 7 * 60)


# --- the window, pure --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "window"),
    [("22:00-07:00", (1320, 420)), ("9:30-10:00", (570, 600)), ("23:59 – 0:00", (1439, 0))],
)
def test_parse_window(text: str, window: tuple[int, int]) -> None:
    assert parse_window(text) == window


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("22:00", "START-END"),
        ("22:00-", "START-END"),
        ("24:00-07:00", "not a time of day"),
        ("22:60-07:00", "not a time of day"),
        ("10pm-7am", "not a time of day"),
        ("22:00-22:00", "same time"),
        ("22:00-07:00-08:00", "START-END"),
    ],
)
def test_parse_window_refuses(text: str, why: str) -> None:
    with pytest.raises(QuietWindowError, match=why):
        parse_window(text)


def test_a_window_crossing_midnight() -> None:
    def at(h: int, m: int = 0, day: int = 29) -> datetime:
        return datetime(2026, 11, day, h, m, tzinfo=NY).astimezone(UTC)

    assert not in_quiet(at(21, 59), NY, *NIGHT)
    assert in_quiet(at(22), NY, *NIGHT) and in_quiet(at(23, 59), NY, *NIGHT)
    assert in_quiet(at(0, 0, 30), NY, *NIGHT) and in_quiet(at(6, 59), NY, *NIGHT)
    assert not in_quiet(at(7), NY, *NIGHT) and not in_quiet(at(12), NY, *NIGHT)
    assert window_end(at(23), NY, *NIGHT) == at(7, 0, day=30)
    assert window_end(at(3), NY, *NIGHT) == at(7)
    assert window_end(at(12), NY, *NIGHT) is None
    assert last_window(at(12), NY, *NIGHT) == current_window(at(3), NY, *NIGHT)


def test_dst_spring_forward_new_york() -> None:
    # 2026-03-08: 02:00 EST becomes 03:00 EDT; the night of 7→8 March is one hour shorter
    window = current_window(utc(2026, 3, 8, 6), NY, *NIGHT)
    assert window is not None
    assert window.start == utc(2026, 3, 8, 3)  # 22:00 EST
    assert window.end == utc(2026, 3, 8, 11)  # 07:00 EDT
    assert window.end - window.start == timedelta(hours=8)
    # a window edge the clock skips opens at the jump (02:30 never shows that night)
    assert wall_instant(datetime(2026, 3, 8).date(), 150, NY) == utc(2026, 3, 8, 7)
    assert in_quiet(utc(2026, 3, 8, 7), NY, 150, 300) and not in_quiet(
        utc(2026, 3, 8, 6, 59), NY, 150, 300
    )


def test_dst_fall_back_new_york() -> None:
    # 2026-11-01: 02:00 EDT becomes 01:00 EST; the night of 31 Oct→1 Nov is an hour longer
    window = current_window(utc(2026, 11, 1, 6), NY, *NIGHT)
    assert window is not None
    assert (window.start, window.end) == (utc(2026, 11, 1, 2), utc(2026, 11, 1, 12))
    assert window.end - window.start == timedelta(hours=10)
    # an end the clock shows twice (01:30) ends the window at its first showing: one window
    w = current_window(utc(2026, 11, 1, 4), NY, 23 * 60, 90)
    assert w is not None and w.end == utc(2026, 11, 1, 5, 30)  # 01:30 EDT
    assert not in_quiet(utc(2026, 11, 1, 6, 15), NY, 23 * 60, 90)  # 01:15 EST: not again


def test_europe_london_summer_time() -> None:
    # 2026-03-29: 01:00 GMT becomes 02:00 BST
    window = current_window(utc(2026, 3, 29, 3), LONDON, *NIGHT)
    assert window is not None
    assert (window.start, window.end) == (utc(2026, 3, 28, 22), utc(2026, 3, 29, 6))
    summer = current_window(utc(2026, 7, 1, 0), LONDON, *NIGHT)
    assert summer is not None and summer.start == utc(2026, 6, 30, 21)  # 22:00 BST


@given(
    st.datetimes(
        min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
    ),
    st.integers(0, 1439),
    st.integers(0, 1439),
    st.sampled_from(["America/New_York", "Europe/London", "Asia/Singapore", "UTC"]),
)
def test_window_properties(now: datetime, start: int, end: int, name: str) -> None:
    if start == end:
        return
    tz = ZoneInfo(name)
    window = current_window(now, tz, start, end)
    assert in_quiet(now, tz, start, end) == (window is not None)
    if window is not None:
        assert window.start <= now < window.end
        assert window.end - window.start <= timedelta(hours=25)
        assert window_end(now, tz, start, end) == window.end
        after = current_window(window.end, tz, start, end)
        assert after is None or after.start == window.end  # the next night's, never this one
    last = last_window(now, tz, start, end)
    assert last is None or last.end <= now
    if name in ("UTC", "Asia/Singapore"):  # no DST: the wall clock alone decides
        minute = now.astimezone(tz).hour * 60 + now.astimezone(tz).minute
        inside = start <= minute < end if start < end else minute >= start or minute < end
        assert (window is not None) == inside


def test_urgent_policies() -> None:
    assert bypasses("all", "held") and bypasses("all", "confirmed")
    assert bypasses("held", "held") and not bypasses("held", "confirmed")
    assert not bypasses("none", "held") and not bypasses("all", None)


# --- held in the outbox, urgent at once, one catch-up --------------------------------------------


@pytest.fixture
def slack(clocked_slack: FakeSlack) -> FakeSlack:
    return clocked_slack


def test_quiet_hours_hold_alerts_an_urgent_one_comes_at_once_and_one_catch_up_at_the_end(
    deps: Deps, slack: FakeSlack, clock: Clock
) -> None:
    deps = slack_deps(deps, slack)
    clock.now = utc(2026, 11, 30, 2)  # 21:00 in New York: story 3 (planned) is posted
    queue(deps, 3, "Reuters", stage="planned")
    quiet(deps, "C1", *NIGHT)
    drain(deps, clock)
    assert story_posts(slack, "C1") == [3]

    clock.now = utc(2026, 11, 30, 8)  # 03:00: quiet
    queue(deps, 1, "Reuters")
    queue(deps, 1, "AP")
    queue(deps, 2, "BBC")
    queue(deps, 3, "AP")  # a quiet reply of a story already here: into the thread
    queue(deps, 3, "CNN", stage="held", urgent="held", advanced=True)  # took place: urgent
    queue(deps, 4, "White House", urgent="confirmed")  # a new contact, officially announced
    deliver_all(deps)
    assert story_posts(slack, "C1") == [3, 4]  # stories 1 and 2 wait
    thread = slack.replies("C1", slack.top_level("C1")[0]["ts"])
    assert [r.get("subtype") for r in thread] == [None, "thread_broadcast"]

    # a restart during quiet hours: a new sender, the held alerts are in the database
    again = slack_deps(deps, slack)
    assert catch_up(again) == []  # still quiet
    deliver_all(again)
    assert story_posts(slack, "C1") == [3, 4] and not catchups(slack, "C1")

    clock.now = utc(2026, 11, 30, 12, 0, 5)  # 07:00:05: the window is over
    deliver_all(again)  # held until the catch-up is made, never one by one
    assert len(slack.top_level("C1")) == 2
    [made] = catch_up(again)
    assert catch_up(again) == []  # once
    drain(again, clock)
    [message] = catchups(slack, "C1")
    assert payload(message)["alert_id"] == made
    text = shown(message)
    assert "2 stories" in text and text.count("#1") == 1 and text.count("#2") == 1
    assert "#3" not in text and "#4" not in text
    assert len(slack.top_level("C1")) == 3
    folded = [r for r in rows(again) if r.status == FOLDED]
    assert {r.story_id for r in folded} == {1, 2} and {r.folded_into for r in folded} == {made}

    # the next item of a folded story posts its story message, then replies as usual
    clock.advance(minutes=5)
    queue(again, 1, "CNN")
    drain(again, clock)
    assert story_posts(slack, "C1") == [3, 4, 1]
    story1 = slack.top_level("C1")[-1]["ts"]
    assert len(slack.replies("C1", story1)) == 1
    posts = [r for r in rows(again) if r.op == POST and r.story_id == 1]
    assert [(p.status, p.folded_into) for p in posts] == [(SENT, None)]


def test_urgent_held_only_and_none(deps: Deps, slack: FakeSlack, clock: Clock) -> None:
    deps = slack_deps(deps, slack)
    quiet(deps, "C1", *NIGHT, urgent="held")
    quiet(deps, "C2", *NIGHT, urgent="none")
    queue(deps, 1, "White House", channels=("C1", "C2"), urgent="confirmed")
    queue(deps, 2, "CNN", channels=("C1", "C2"), stage="held", urgent="held")
    deliver_all(deps)
    assert story_posts(slack, "C1") == [2] and story_posts(slack, "C2") == []
    clock.now = utc(2026, 11, 30, 12, 1)
    assert len(catch_up(deps)) == 2
    drain(deps, clock)
    assert "1 story" in shown(catchups(slack, "C1")[0])
    assert "2 stories" in shown(catchups(slack, "C2")[0])


def test_a_broadcast_held_for_a_story_already_here_goes_quietly_into_its_thread(
    deps: Deps, slack: FakeSlack, clock: Clock
) -> None:
    deps = slack_deps(deps, slack)
    clock.now = utc(2026, 11, 30, 2)
    queue(deps, 1, "Reuters")
    drain(deps, clock)
    quiet(deps, "C1", *NIGHT, urgent="none")
    clock.now = utc(2026, 11, 30, 8)
    queue(deps, 1, "CNN", stage="held", urgent="held", advanced=True)
    deliver_all(deps)
    parent = slack.top_level("C1")[0]["ts"]
    assert slack.replies("C1", parent) == []  # a stage change would notify: held
    clock.now = utc(2026, 11, 30, 12, 1)
    catch_up(deps)
    drain(deps, clock)
    [reply] = slack.replies("C1", parent)
    assert reply.get("subtype") is None  # quiet, not broadcast: the catch-up says it moved
    assert "Held" in shown(catchups(slack, "C1")[0])
    assert slack.edits("C1", parent)  # the story message shows the new stage


def test_quiet_command(deps: Deps, slack: FakeSlack, clock: Clock) -> None:
    bot: Bot = make_bot(slack_deps(deps, slack), slack)
    assert "No quiet hours" in bot.command("quiet")["text"]
    reply = bot.command("quiet 22:00-07:00")
    assert "*22:00–07:00* (America/New_York)" in reply["text"]
    assert "urgent all" in reply["text"] and reply["response_type"] == "in_channel"
    assert "urgent held" in bot.command("quiet urgent held")["text"]
    assert "*22:00–07:00*" in bot.command("quiet")["text"]
    for bad, why in [
        ("quiet 25:00-07:00", "not a time of day"),
        ("quiet 22:00-22:00", "same time"),
        ("quiet 22:00", "START-END"),
        ("quiet 22:00-07:00 urgent maybe", "`none`, `held` or `all`"),
        ("quiet 22:00-07:00 urgent", "`none`, `held` or `all`"),
    ]:
        reply = bot.command(bad)
        assert why in reply["text"] and "/diplo quiet" in reply["text"], reply["text"]
        assert reply.get("response_type") != "in_channel"
    # turned off during quiet hours: what was held comes now, as one catch-up
    queue(bot.deps, 1, "Reuters")
    queue(bot.deps, 2, "AP")
    deliver_all(bot.deps)
    assert slack.top_level("C1") == []
    assert "Quiet hours are now *off*" in bot.command("quiet off")["text"]
    drain(bot.deps, clock)
    assert len(catchups(slack, "C1")) == 1 and story_posts(slack, "C1") == []
    assert [r.status for r in rows(bot.deps) if r.op == POST] == [FOLDED, FOLDED]
    assert PENDING not in {r.status for r in rows(bot.deps)}


# --- what counts as urgent (jobs/stories.py, through the real classifier and clustering) ------


def test_urgent_is_a_planned_contact_taking_place_or_an_official_confirming_it(
    deps: Deps,
) -> None:
    from jobs.classify import classify_new_items
    from jobs.stories import StoryChange
    from news.relevance import default_classifier
    from tests.test_story_storage import store

    day = datetime(2026, 12, 1, 14, tzinfo=UTC)
    planned = [
        (
            "Trump and Xi to speak by phone on Thursday, officials say",
            "Reuters",
            "https://www.reuters.com/p1",
        ),
        (
            "President Trump will hold a call with President Xi Jinping on Thursday",
            "White House",
            "https://www.whitehouse.gov/briefings/p2",
        ),
        ("Trump and Xi to talk by phone this week", "AP", "https://apnews.com/p3"),
    ]
    held = [
        ("Trump and Xi hold phone call on trade and Taiwan", "CNN", "https://edition.cnn.com/h1")
    ]
    changes: list[StoryChange] = []
    with deps.sessions.begin() as s:
        items = store(s, planned, day)
        classify_new_items(s, items, default_classifier(), day, alert=False, story_changes=changes)
        later = store(s, held, day + timedelta(days=2), start=10)
        classify_new_items(
            s,
            later,
            default_classifier(),
            day + timedelta(days=2),
            alert=False,
            story_changes=changes,
        )
    assert len({c.story_id for c in changes}) == 1, changes
    assert [c.urgent for c in changes] == [None, "confirmed", None, "held"]


def test_settings_of_folding() -> None:
    from settings import SettingsError, load_settings

    s = load_settings({}, env_file=None)
    assert (s.default_tz, s.catchup_after, s.flood_budget) == ("America/New_York", 3600, 20)
    env = {"DIPLO_DEFAULT_TZ": "Asia/Singapore", "DIPLO_CATCHUP_AFTER": "90m"}
    s = load_settings({**env, "DIPLO_FLOOD_BUDGET": "0"}, env_file=None)
    assert (s.default_tz, s.catchup_after, s.flood_budget) == ("Asia/Singapore", 5400, 0)
    for name, bad in [
        ("DIPLO_DEFAULT_TZ", "Mars/Olympus"),
        ("DIPLO_CATCHUP_AFTER", "soon"),
        ("DIPLO_CATCHUP_AFTER", "10s"),
        ("DIPLO_FLOOD_BUDGET", "-1"),
    ]:
        with pytest.raises(SettingsError, match=name):
            load_settings({name: bad}, env_file=None)
