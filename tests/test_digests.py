"""Digests end to end: `/diplo digest`, the job that queues them when due, delivery to the fake
Slack (message + chart PNG in its thread), `alerts off`.

Real database (SQLite file and PostgreSQL), the real App for commands, the real SlackSender
over HTTP to the fake Slack, and the test clock instead of waiting for 08:00.
"""

from __future__ import annotations

import dataclasses
import json
import struct
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from deps import Deps
from handlers.blocks import digest_message
from handlers.sender import SlackSender, make_web_client
from jobs.classify import classify_and_alert
from jobs.deliver import MAX_BACKOFF, deliver_pending
from jobs.digests import DigestPayload, queue_due_digests
from models.channel import set_alerts, set_digest
from models.digest import digest_view
from models.feed import add_feed
from models.item import save_new
from models.outbox import DIGEST, SENT, Alert, pending_count
from models.story import Story
from models.subscription import subscribe
from models.upcoming import upcoming
from news.entry import Entry
from tests import stories
from tests.conftest import Clock
from tests.fakes.slack_server import FakeSlack
from tests.slackbot import Bot, make_bot

NY = ZoneInfo("America/New_York")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def slack(clocked_slack: FakeSlack) -> FakeSlack:
    return clocked_slack


@pytest.fixture
def deps(deps: Deps, slack: FakeSlack) -> Deps:
    sender = SlackSender(make_web_client(slack.bot_token, slack.url, timeout=5), pace=0)
    return dataclasses.replace(deps, sender=sender)


@pytest.fixture
def bot(deps: Deps, slack: FakeSlack) -> Bot:
    return make_bot(deps, slack)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def text_of(message: dict[str, Any]) -> str:
    return json.dumps(message.get("blocks") or message["text"], ensure_ascii=False)


def digests(deps: Deps) -> list[Alert]:
    with deps.sessions() as s:
        return list(s.scalars(select(Alert).where(Alert.op == DIGEST).order_by(Alert.id)))


def drain(deps: Deps, clock: Clock, runs: int = 10) -> None:
    for _ in range(runs):
        deliver_pending(deps)
        with deps.sessions() as s:
            if pending_count(s) == 0:
                return
        clock.advance(seconds=MAX_BACKOFF.total_seconds())
    raise AssertionError("still pending")


def schedule(deps: Deps, channel: str, every: str, at: int, weekday: int | None = None) -> None:
    with deps.sessions.begin() as s:
        subscribe(s, channel, ["call"], "U1", deps.clock())
        set_digest(s, channel, every, weekday, at, deps.clock())


def add_report(
    deps: Deps, story: int, outlet: str, title: str, topics: str = "call", stage: str = "held"
) -> int:
    with deps.sessions.begin() as s:
        return stories.store_item(s, deps, story, outlet, title, topics=topics, stage=stage)


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_MAGIC and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


# --- when digests are due ---------------------------------------------------------------------


def test_daily_0800_new_york_fires_at_0800_local_across_the_dst_change(
    deps: Deps, clock: Clock
) -> None:
    clock.now = utc("2026-10-30T10:00")
    schedule(deps, "C1", "daily", 8 * 60)
    fired = []
    while clock.now < utc("2026-11-03T18:00"):
        if queue_due_digests(deps):
            fired.append(clock.now)
        clock.advance(hours=1)
    # 08:00 EDT (UTC-4) until 1 Nov 2026, then 08:00 EST (UTC-5)
    assert fired == [
        utc("2026-10-30T12:00"),
        utc("2026-10-31T12:00"),
        utc("2026-11-01T13:00"),
        utc("2026-11-02T13:00"),
        utc("2026-11-03T13:00"),
    ]
    assert [f.astimezone(NY).strftime("%H:%M %Z") for f in fired] == [
        "08:00 EDT",
        "08:00 EDT",
        "08:00 EST",
        "08:00 EST",
        "08:00 EST",
    ]
    rows = digests(deps)
    payloads = [DigestPayload.from_json(r.payload) for r in rows]
    # each period runs from 08:00 local to 08:00 local: 25 hours across the change
    assert [p.end - p.start for p in payloads] == [timedelta(hours=h) for h in (24, 24, 25, 24, 24)]
    assert [r.key for r in rows] == [p.start.isoformat() for p in payloads]
    assert all(p.kind == "daily" and not p.late for p in payloads)


def test_weekly_monday_0800_fires_on_mondays_only(deps: Deps, clock: Clock) -> None:
    clock.now = utc("2026-10-28T01:00")  # a Wednesday
    schedule(deps, "C1", "weekly", 8 * 60, weekday=0)
    fired = []
    while clock.now < utc("2026-11-17T00:00"):
        if queue_due_digests(deps):
            fired.append(clock.now)
        clock.advance(hours=4)  # lands on 13:00 UTC every day
    assert fired == [utc("2026-11-02T13:00"), utc("2026-11-09T13:00"), utc("2026-11-16T13:00")]
    first = DigestPayload.from_json(digests(deps)[0].payload)
    assert (first.start, first.end) == (utc("2026-10-26T12:00"), utc("2026-11-02T13:00"))


def test_two_replicas_and_a_restart_queue_and_post_one_digest(
    deps: Deps, slack: FakeSlack, clock: Clock
) -> None:
    clock.now = utc("2026-11-30T12:00")
    schedule(deps, "C1", "daily", 8 * 60)
    clock.now = utc("2026-11-30T13:00:20")  # 08:00:20 EST
    replicas = [dataclasses.replace(deps, owner=f"replica-{n}") for n in range(2)]
    start = threading.Barrier(2)

    def run(replica: Deps) -> None:
        start.wait()
        for _ in range(5):
            queue_due_digests(replica)

    threads = [threading.Thread(target=run, args=(r,)) for r in replicas]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    restarted = dataclasses.replace(deps, owner="after-restart")
    clock.advance(minutes=1)
    assert queue_due_digests(restarted) == 0
    assert len(digests(deps)) == 1
    drain(restarted, clock)
    assert len(slack.top_level("C1")) == 1
    clock.advance(hours=1)
    assert queue_due_digests(deps) == 0  # the same period, an hour later: still one


def test_a_post_that_landed_unrecorded_is_found_not_repeated(
    deps: Deps, slack: FakeSlack, clock: Clock
) -> None:
    add_report(deps, 1, "Reuters", "Trump and Xi speak by phone")
    with deps.sessions.begin() as s:
        subscribe(s, "C1", ["call"], "U1", clock())
    clock.advance(minutes=1)
    assert bot_free_digest_now(deps)
    slack.drop_next("chat.postMessage", after_processing=True)  # posted; the answer is lost
    summary = deliver_pending(deps)
    assert summary.retried == 1 and len(slack.top_level("C1")) == 1
    drain(deps, clock)
    assert len(slack.top_level("C1")) == 1
    assert digests(deps)[0].status == SENT


def test_a_double_click_either_side_of_a_minute_queues_one_digest_now(
    deps: Deps, clock: Clock
) -> None:
    clock.now = utc("2026-11-30T09:00") - timedelta(milliseconds=100)
    assert bot_free_digest_now(deps)
    clock.advance(milliseconds=200)  # 09:00:00.1: another minute, the same click
    assert not bot_free_digest_now(deps)
    clock.advance(seconds=59)  # 09:00:59.1: still within a minute of the first
    assert not bot_free_digest_now(deps)
    clock.advance(seconds=1)  # a minute after the first: a new digest
    assert bot_free_digest_now(deps)
    assert len(digests(deps)) == 2


def bot_free_digest_now(deps: Deps) -> bool:
    from jobs.digests import queue_digest_now

    return queue_digest_now(deps, "C1", None)


def test_a_digest_missed_while_down_is_posted_late_within_its_period(
    deps: Deps, slack: FakeSlack, clock: Clock
) -> None:
    clock.now = utc("2026-11-29T20:00")
    schedule(deps, "C1", "daily", 8 * 60)
    add_report(deps, 1, "Reuters", "Trump and Xi speak by phone")
    clock.now = utc("2026-11-30T16:00")  # diplo was down from before 08:00 until 11:00 EST
    assert queue_due_digests(deps) == 1
    [row] = digests(deps)
    assert DigestPayload.from_json(row.payload).late
    drain(deps, clock)
    [message] = slack.top_level("C1")
    assert "Posted late" in text_of(message) and "Trump and Xi speak by phone" in text_of(message)


def test_a_schedule_set_after_todays_time_starts_tomorrow(deps: Deps, clock: Clock) -> None:
    clock.now = utc("2026-11-30T15:00")  # 10:00 EST: 08:00 has passed
    schedule(deps, "C1", "daily", 8 * 60)
    clock.advance(minutes=1)
    assert queue_due_digests(deps) == 0
    clock.now = utc("2026-12-01T13:00")
    assert queue_due_digests(deps) == 1


# --- the digest message and its chart -----------------------------------------------------------


def test_digest_now_posts_one_message_with_the_channels_stories_and_a_png_chart(
    bot: Bot, slack: FakeSlack, clock: Clock
) -> None:
    deps = bot.deps
    clock.now = utc("2026-11-27T15:00")
    add_report(deps, 3, "AP", "Old call story from three days ago")
    clock.now = utc("2026-11-30T09:00")
    for outlet in ("Reuters", "AP"):
        add_report(deps, 1, outlet, f"Trump and Xi speak by phone ({outlet})")
    add_report(deps, 2, "Bloomberg", "US and China trade talks resume", topics="trade")
    with deps.sessions.begin() as s:
        stories.store_item(s, deps, 4, "SCMP", "Xi to visit Washington next week", stage="planned")
        planned = s.get(Story, 4)
        assert planned is not None
        planned.scheduled_start = planned.scheduled_end = (clock() + timedelta(days=3)).date()
        planned.place_name = "Washington"
    assert "subscribe" in bot.command("subscribe call")["text"].lower()
    clock.advance(hours=2)
    reply = bot.command("digest now")
    assert "on its way" in reply["text"] and reply["response_type"] == "ephemeral"
    assert "already" in bot.command("digest now")["text"]  # a double click: one digest
    summary = deliver_pending(deps)
    assert summary.sent == 1
    [message] = slack.top_level("C1")
    body = text_of(message)
    assert "Trump and Xi speak by phone (Reuters)" in body and "2 sources" in body
    assert "trade talks" not in body  # not a topic of this channel
    assert "Old call story" not in body  # before the period
    assert "Coming up in the next 7 days" in body and "Xi to visit Washington" in body
    assert "Washington" in body and "Chart of stories and reports per day" in body
    assert message["metadata"]["event_type"] == "diplo_alert"
    [chart] = slack.files("C1")
    assert chart["thread_ts"] == message["ts"]
    assert chart["data"][:8] == PNG_MAGIC and png_size(chart["data"]) == (800, 400)
    assert 5_000 < len(chart["data"]) < 150_000
    assert chart["title"].startswith("Digest ·")
    [reply] = slack.replies("C1", message["ts"])
    assert [f["id"] for f in reply["files"]] == [chart["id"]]
    assert reply["text"].startswith("Digest:")
    [upload] = slack.calls("files.getUploadURLExternal")
    assert int(upload["length"]) == len(chart["data"]) and upload["filename"].endswith(".png")
    assert deliver_pending(deps).sent == 0 and len(slack.top_level("C1")) == 1


def test_the_digest_lists_the_upcoming_contacts_of_the_next_7_days_on_its_topics(
    deps: Deps, clock: Clock
) -> None:
    """The digest's list is `/diplo upcoming`'s, narrowed to the channel's topics and a week."""
    ny = ZoneInfo("America/New_York")
    planned = {  # story: (topic, days ahead or None, stage)
        4: ("call", 3, "planned"),
        5: ("trade", 3, "planned"),  # not a topic of the channel
        6: ("call", 10, "planned"),  # beyond the week
        7: ("call", None, "planned"),  # no date: in /diplo upcoming, not in the week
        8: ("call", 2, "held"),  # took place: never upcoming
        9: ("call", 6, "planned"),
    }
    with deps.sessions.begin() as s:
        subscribe(s, "C1", ["call"], "U1", clock())
        for story_id, (topic, days, stage) in planned.items():
            stories.store_item(
                s, deps, story_id, "AP", f"Contact {story_id}", stage=stage, topics=topic
            )
            row = s.get(Story, story_id)
            assert row is not None
            if days is not None:
                row.scheduled_start = row.scheduled_end = (clock() + timedelta(days=days)).date()
    with deps.sessions() as s:
        view = digest_view(s, "C1", "now", clock() - timedelta(days=1), clock(), ny)
        listed = [c.story_id for c in upcoming(s, clock(), ny, "C1")]
    assert [c.story_id for c in view.upcoming] == [4, 9]
    assert listed == [4, 5, 9, 6, 7]  # the same query, unnarrowed
    body = text_of({"blocks": digest_message(view).blocks})
    assert (
        "Coming up in the next 7 days" in body and "Contact 4" in body and "Contact 7" not in body
    )


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
@pytest.mark.parametrize("failure", ["get_url", "upload_post", "complete"])
def test_a_failed_upload_still_posts_the_digest_once_without_the_picture(
    deps: Deps, slack: FakeSlack, clock: Clock, failure: str
) -> None:
    add_report(deps, 1, "Reuters", "Trump and Xi speak by phone")
    with deps.sessions.begin() as s:
        subscribe(s, "C1", ["call"], "U1", clock())
    clock.advance(minutes=1)
    if failure == "get_url":
        slack.fail_next("files.getUploadURLExternal", status=200, error="internal_error")
    elif failure == "upload_post":
        slack.fail_uploads(1, status=500)
    else:
        slack.fail_next("files.completeUploadExternal", status=200, error="not_allowed")
    assert bot_free_digest_now(deps)
    assert deliver_pending(deps).sent == 1
    [message] = slack.top_level("C1")
    assert "Trump and Xi speak by phone" in text_of(message)
    assert slack.files("C1") == []
    if failure != "complete":  # known before posting: the message says so
        assert "No chart this time" in text_of(message)
    assert digests(deps)[0].status == SENT
    clock.advance(hours=1)
    assert deliver_pending(deps).sent == 0  # nothing retried: not the chart, not the digest
    assert len(slack.top_level("C1")) == 1 and slack.files("C1") == []


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_a_channel_without_news_gets_a_short_digest_and_no_chart(
    deps: Deps, slack: FakeSlack, clock: Clock
) -> None:
    with deps.sessions.begin() as s:
        subscribe(s, "C1", ["trade"], "U1", clock())
    assert bot_free_digest_now(deps)
    assert deliver_pending(deps).sent == 1
    [message] = slack.top_level("C1")
    assert "No new reports on this channel's topics" in text_of(message)
    assert slack.calls("files.getUploadURLExternal") == [] and slack.files() == []


# --- alerts off -------------------------------------------------------------------------------


def classify(deps: Deps, titles: list[str]) -> list[str]:
    """Store and classify items as a poll does; their links."""
    now = deps.clock()
    entries = [
        Entry(
            dedup_key=uuid.uuid4().hex,
            title=title,
            url=f"https://wire.example/{uuid.uuid4().hex[:8]}",
            summary=title,
            published=now - timedelta(minutes=n),
        )
        for n, title in enumerate(titles)
    ]
    with deps.sessions.begin() as s:
        feed, _ = add_feed(s, f"https://wire.example/{uuid.uuid4().hex}.xml", now)
        items = save_new(s, feed.id, "Reuters", entries, now)
        classify_and_alert(s, items, deps.classifier, now, alert=True)
    return [str(e.url) for e in entries]


def test_alerts_off_gets_no_live_alerts_but_the_stories_in_its_digest(
    bot: Bot, slack: FakeSlack, clock: Clock
) -> None:
    deps = bot.deps
    for channel in ("COFF", "CON"):
        bot.command("subscribe all", channel=channel)
    reply = bot.command("alerts off", channel="COFF")
    assert "Live alerts are now *off (digests only)*" in reply["text"]
    assert "no digest is set" in reply["text"] and reply["response_type"] == "in_channel"
    assert "already" in bot.command("alerts off", channel="COFF")["text"]
    bot.command('watch "Gyeongju"', channel="COFF")  # watch-words wait for the digest too
    headline = "Trump speaks with Xi for two hours, the two to meet at APEC in Gyeongju"
    [url] = classify(deps, [headline])
    with deps.sessions() as s:
        queued = {a.channel_id for a in s.scalars(select(Alert))}
    assert queued == {"CON"}
    drain(deps, clock)
    assert slack.top_level("COFF") == [] and len(slack.top_level("CON")) == 1
    clock.advance(minutes=1)
    bot.command("digest now", channel="COFF")
    drain(deps, clock)
    [digest] = slack.top_level("COFF")
    assert "Trump speaks with Xi for two hours" in text_of(digest)
    assert "*Watch-words*" in text_of(digest) and '\\"Gyeongju\\"' in text_of(digest)
    assert "live alerts are off here" in text_of(bot.command(f"why {url}", channel="COFF"))
    assert "now *on*" in bot.command("alerts on", channel="COFF")["text"]
    clock.advance(minutes=5)
    classify(deps, ["Xi and Trump hold second phone call on trade, tariffs"])
    with deps.sessions() as s:
        assert "COFF" in {a.channel_id for a in s.scalars(select(Alert).where(Alert.op != DIGEST))}


# --- the commands -------------------------------------------------------------------------------


def test_digest_settings_through_the_command(bot: Bot, clock: Clock) -> None:
    clock.now = utc("2026-10-31T20:00")
    shown = bot.command("digest")
    assert "Digests in <#C1>: *off*" in shown["text"] and shown["response_type"] == "ephemeral"
    daily = bot.command("digest daily 08:00")
    assert "*daily at 08:00 (America/New_York)*" in daily["text"]
    assert "Sun 1 Nov, 08:00 EST" in daily["text"] and daily["response_type"] == "in_channel"
    weekly = bot.command("digest WEEKLY Monday 7:30")
    assert "*every Monday at 07:30 (America/New_York)*" in weekly["text"]
    assert "Mon 2 Nov, 07:30 EST" in weekly["text"]
    with bot.deps.sessions() as s:
        from models.channel import digest_schedule

        assert digest_schedule(s, "C1").every == "weekly"
        assert (digest_schedule(s, "C1").weekday, digest_schedule(s, "C1").at) == (0, 450)
    assert "every Monday at 07:30" in bot.command("digest")["text"]
    assert "daily at 08:00" in bot.command("digest daily")["text"]  # the default time
    assert "now *off*" in bot.command("digest off")["text"]
    assert "*off*" in bot.command("digest")["text"]
    help_text = text_of(bot.command("help"))
    assert "digest daily [HH:MM]" in help_text and "alerts [on|off]" in help_text


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("digest sometimes", "Say `daily`, `weekly`, `off` or `now`"),
        ("digest weekly", "Name the day"),
        ("digest weekly funday 08:00", "`funday` is not a day of the week"),
        ("digest weekly t 08:00", "`t` is not a day of the week"),  # tue or thu?
        ("digest daily 25:00", "`25:00` is not a time"),
        ("digest daily 8am", "`8am` is not a time"),
        ("digest daily 08:00 09:00", "Give one time"),
        ("digest off now", "`digest off` takes nothing"),
        ("digest now please", "`digest now` takes nothing"),
        ("digest <!channel>", "not `!channel`"),  # unwrapped: never a ping
        ("alerts maybe", "Say `on` or `off`"),
    ],
)
def test_wrong_arguments_get_the_usage_line(bot: Bot, text: str, expected: str) -> None:
    reply = bot.command(text)
    body = reply["text"]
    assert reply["response_type"] == "ephemeral"
    assert expected.replace("<", "&lt;").replace(">", "&gt;") in body, body
    assert "Usage: `/diplo " in body
    assert "<!channel>" not in text_of(reply)
    with bot.deps.sessions() as s:
        from models.channel import alerts_on, digest_schedule

        assert digest_schedule(s, "C1").every is None and alerts_on(s, "C1")


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_digest_and_alerts_are_channel_settings(bot: Bot) -> None:
    assert "run this in the channel" in bot.command("digest daily 08:00", channel="D1")["text"]
    assert "run this in the channel" in bot.command("alerts off", channel="D1")["text"]


def test_alerts_off_channel_is_left_out_of_channels_for(deps: Deps, clock: Clock) -> None:
    from models.subscription import channels_for

    with deps.sessions.begin() as s:
        for channel in ("C1", "C2"):
            subscribe(s, channel, ["call"], "U1", clock())
        set_alerts(s, "C2", False, clock())
        assert channels_for(s, ["call"]) == ["C1"]
        set_alerts(s, "C2", True, clock())
        assert channels_for(s, ["call"]) == ["C1", "C2"]
