"""Reminders before planned contacts (issue 11): queued when due by jobs.reminders, delivered
once through the outbox to the fake Slack, moved, cancelled, never doubled; a driven clock."""

from __future__ import annotations

import dataclasses
import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from deps import Deps
from handlers.sender import SlackSender, make_web_client
from jobs.deliver import LEASE, alert_metadata, deliver_pending
from jobs.reminders import queue_reminders, render_reminder
from models.channel import set_reminders, set_tz
from models.db import make_engine, make_sessionmaker
from models.outbox import REMIND, SKIPPED, Alert, claim_batch
from models.story import Story
from models.subscription import pause_channel, subscribe
from news.reminders import BadOffsets, due_offset, exact_day, parse_offsets
from tests.conftest import Clock
from tests.contacts import ingest
from tests.fakes.slack_server import FakeSlack
from tests.slackbot import make_bot

PUBLISHED = datetime(2025, 10, 20, 12, 0, tzinfo=UTC)
GYEONGJU = ("Trump and Xi to meet at APEC in Gyeongju on Oct 31", "https://www.reuters.com/g1")
START = datetime(2025, 10, 30, 15, 0, tzinfo=UTC)  # 31 Oct 00:00 KST: the contact's day begins


@pytest.fixture
def slack(clocked_slack: FakeSlack) -> FakeSlack:
    return clocked_slack


@pytest.fixture
def live(deps: Deps, slack: FakeSlack, clock: Clock) -> Deps:
    """Deps delivering to the fake Slack, the clock at the announcement, C1 on `summit`."""
    clock.now = PUBLISHED
    with deps.sessions.begin() as s:
        subscribe(s, "C1", ["summit"], "U1", PUBLISHED)
    return with_slack(deps, slack)


def with_slack(deps: Deps, slack: FakeSlack, **changes: Any) -> Deps:
    sender = SlackSender(make_web_client(slack.bot_token, slack.url, timeout=5), pace=0)
    return dataclasses.replace(deps, sender=sender, **changes)


def reminders(slack: FakeSlack, channel: str = "C1") -> list[str]:
    """The text of every reminder posted to the channel, in order."""
    return [m["text"] for m in slack.messages(channel) if m["text"].startswith("In ")]


def at(deps: Deps, clock: Clock, when: datetime) -> int:
    """Move the clock, queue what is due, deliver; returns how many reminders were queued."""
    clock.now = when
    queued = queue_reminders(deps)
    deliver_pending(deps)
    return queued


def remind_rows(deps: Deps) -> list[Alert]:
    with deps.sessions() as s:
        return list(s.scalars(select(Alert).where(Alert.op == REMIND).order_by(Alert.id)))


# --- pure rules ------------------------------------------------------------------------------


def test_durations_and_what_counts_as_an_exact_date() -> None:
    assert parse_offsets(["24h", "1h"]) == (1440, 60)
    assert parse_offsets(["90m", "2d", "90M"]) == (2880, 90)
    for bad in (["15d"], ["0h"], ["soon"], ["1h", "2h", "3h", "4h"], []):
        with pytest.raises(BadOffsets):
            parse_offsets(bad)
    day = PUBLISHED.date()
    assert exact_day(day, "day", "Oct 31") == day
    assert exact_day(day, "days", "Oct 30-31") == day
    assert exact_day(day, "days", "this weekend") is None
    assert exact_day(day, "week", "next week") is None
    # late: only the nearest due reminder is sent; none once the contact began
    assert due_offset(START, (1440, 60), START - timedelta(minutes=30)) == 60
    assert due_offset(START, (1440, 60), START - timedelta(hours=2)) == 1440
    assert due_offset(START, (1440, 60), START - timedelta(hours=25)) is None
    assert due_offset(START, (1440, 60), START) is None


# --- end to end ------------------------------------------------------------------------------


def test_a_reminder_posts_once_24_hours_and_once_1_hour_before(
    live: Deps, slack: FakeSlack, clock: Clock
) -> None:
    [story] = ingest(live, [GYEONGJU], PUBLISHED)
    assert at(live, clock, PUBLISHED) == 0
    assert len(slack.messages("C1")) == 1  # the story message
    assert at(live, clock, START - timedelta(hours=24, seconds=1)) == 0
    assert at(live, clock, START - timedelta(hours=24)) == 1
    for minutes in (0, 1, 30, 600):  # the job runs every ~30 s: nothing more
        assert at(live, clock, START - timedelta(hours=24) + timedelta(minutes=minutes)) == 0
    assert at(live, clock, START - timedelta(hours=1)) == 1
    assert at(live, clock, START - timedelta(minutes=59)) == 0
    assert at(live, clock, START + timedelta(minutes=1)) == 0
    assert reminders(slack) == [
        "In 24 hours: Trump–Xi meeting in Gyeongju (APEC), Fri 31 Oct (Thu 30 Oct, 11:00 EDT here)",
        "In 1 hour: Trump–Xi meeting in Gyeongju (APEC), Fri 31 Oct (Thu 30 Oct, 11:00 EDT here)",
    ]
    posted = [m for m in slack.messages("C1") if m["text"].startswith("In ")]
    blocks = json.dumps(posted[0]["blocks"], ensure_ascii=False)
    assert "from 00:00 KST; time of day not announced" in blocks
    assert "https://diplo-test.slack.com/archives/C1/p" in blocks  # the story message
    assert posted[0]["metadata"]["event_type"] == "diplo_alert"
    assert [r.key for r in remind_rows(live)] == [
        f"{story}:1440:2025-10-30T15:00:00+00:00",
        f"{story}:60:2025-10-30T15:00:00+00:00",
    ]


def test_a_later_item_that_moves_the_date_moves_the_reminders(
    live: Deps, slack: FakeSlack, clock: Clock
) -> None:
    [story] = ingest(live, [GYEONGJU], PUBLISHED)
    clock.now = START - timedelta(hours=24)
    assert queue_reminders(live) == 1  # due, not sent yet: the date moves first
    moved = (
        "Trump and Xi will now meet in Gyeongju on Nov 1, White House says",
        "https://www.reuters.com/g2",
    )
    assert ingest(live, [moved], clock.now + timedelta(minutes=5)) == [story]
    deliver_pending(live)
    assert reminders(slack) == []
    [old] = remind_rows(live)
    assert (old.status, old.last_error) == (SKIPPED, "rescheduled")
    assert at(live, clock, START - timedelta(hours=1)) == 0  # the old 1-hour mark
    new_start = START + timedelta(days=1)
    assert at(live, clock, new_start - timedelta(hours=24)) == 1
    assert at(live, clock, new_start - timedelta(hours=1)) == 1
    assert [t.split(",")[1].strip() for t in reminders(slack)] == [
        "Sat 1 Nov (Fri 31 Oct",
        "Sat 1 Nov (Fri 31 Oct",
    ]
    assert [t.split(":")[0] for t in reminders(slack)] == ["In 24 hours", "In 1 hour"]


def test_postponement_cancels_the_reminders(live: Deps, slack: FakeSlack, clock: Clock) -> None:
    ingest(live, [GYEONGJU], PUBLISHED)
    clock.now = START - timedelta(hours=24)
    assert queue_reminders(live) == 1
    ingest(live, [("Trump-Xi meeting in Gyeongju postponed", "https://apnews.com/p")], clock.now)
    deliver_pending(live)  # the due one, checked at send time: not planned any more
    assert at(live, clock, START - timedelta(hours=1)) == 0
    assert reminders(slack) == []
    assert [(r.status, r.last_error) for r in remind_rows(live)] == [(SKIPPED, "not_planned")]


def test_a_contact_held_early_gets_no_more_reminders(
    live: Deps, slack: FakeSlack, clock: Clock
) -> None:
    ingest(live, [GYEONGJU], PUBLISHED)
    assert at(live, clock, START - timedelta(hours=24)) == 1
    ingest(live, [("Trump and Xi meet in Gyeongju", "https://apnews.com/h")], clock.now)
    with live.sessions() as s:
        assert s.scalar(select(Story.stage)) == "held"
    assert at(live, clock, START - timedelta(hours=1)) == 0
    assert len(reminders(slack)) == 1


def test_late_reminders_say_the_time_left_and_only_the_nearest_goes(
    live: Deps, slack: FakeSlack, clock: Clock
) -> None:
    ingest(live, [GYEONGJU], PUBLISHED)
    # diplo was down from before T-24h to T-5h: the 24-hour reminder goes, saying 5 hours
    assert at(live, clock, START - timedelta(hours=5)) == 1
    # … and down again until T-30min: the 1-hour one goes, the 24-hour one is not repeated
    assert at(live, clock, START - timedelta(minutes=30)) == 1
    assert [t.split(":")[0] for t in reminders(slack)] == ["In 5 hours", "In 30 minutes"]


def test_a_due_reminder_outrun_by_a_nearer_one_is_skipped(
    live: Deps, slack: FakeSlack, clock: Clock
) -> None:
    ingest(live, [GYEONGJU], PUBLISHED)
    clock.now = START - timedelta(hours=2)
    assert queue_reminders(live) == 1  # the 24-hour one, late; Slack is down until T-30min
    clock.now = START - timedelta(minutes=30)
    assert queue_reminders(live) == 1
    deliver_pending(live)
    assert [t.split(":")[0] for t in reminders(slack)] == ["In 30 minutes"]
    assert [r.status for r in remind_rows(live)] == [SKIPPED, "sent"]


def test_channels_with_reminders_off_or_paused_get_none(
    live: Deps, slack: FakeSlack, clock: Clock
) -> None:
    with live.sessions.begin() as s:
        subscribe(s, "C2", ["summit"], "U1", PUBLISHED)
        subscribe(s, "C3", ["all"], "U1", PUBLISHED)
        subscribe(s, "C4", ["trade"], "U1", PUBLISHED)  # not a topic of the contact
        set_reminders(s, "C2", (), PUBLISHED)
        pause_channel(s, "C3", "is_archived", PUBLISHED)
    ingest(live, [GYEONGJU], PUBLISHED)
    assert at(live, clock, START - timedelta(hours=24)) == 1
    assert {r.channel_id for r in remind_rows(live)} == {"C1"}


def test_the_remind_command(live: Deps, slack: FakeSlack, clock: Clock) -> None:
    bot = make_bot(live, slack)
    reply = bot.command("remind 2d 90m")
    assert reply["response_type"] == "in_channel" and "2d and 90m before" in reply["text"]
    assert "2d and 90m before" in bot.command("remind")["text"]
    for bad, words in (
        ("remind 15d", "14 days"),
        ("remind 1h 2h 3h 4h", "At most 3"),
        ("remind soon", "not a duration"),
    ):
        refused = bot.command(bad)
        assert refused["response_type"] == "ephemeral" and words in refused["text"], bad
        assert "/diplo remind" in refused["text"]
    ingest(live, [GYEONGJU], PUBLISHED)
    assert at(live, clock, START - timedelta(hours=48, seconds=1)) == 0
    assert at(live, clock, START - timedelta(hours=48)) == 1
    assert at(live, clock, START - timedelta(hours=24)) == 0  # not one of this channel's
    assert bot.command("remind off")["response_type"] == "in_channel"
    assert at(live, clock, START - timedelta(minutes=90)) == 0
    assert [t.split(":")[0] for t in reminders(slack)] == ["In 2 days"]


def test_reminder_times_across_the_dst_change(live: Deps, slack: FakeSlack, clock: Clock) -> None:
    """America/New_York falls back on 2026-11-01: 24 real hours before a contact on 2 Nov."""
    published = datetime(2026, 10, 20, 12, 0, tzinfo=UTC)
    with live.sessions.begin() as s:
        subscribe(s, "C1", ["visit"], "U1", published)
        subscribe(s, "CLON", ["visit"], "U1", published)
        set_tz(s, "CLON", "Europe/London", published)
    ingest(live, [("Xi to visit Washington on Nov 2", "https://apnews.com/x")], published)
    start = datetime(2026, 11, 2, 5, 0, tzinfo=UTC)  # 2 Nov 00:00 EST
    assert at(live, clock, datetime(2026, 11, 1, 4, 0, tzinfo=UTC)) == 0  # 00:00 EDT: not yet
    assert at(live, clock, start - timedelta(hours=24)) == 2  # 1 Nov 01:00 EDT (the first 01:00)
    assert at(live, clock, start - timedelta(hours=1)) == 2  # 1 Nov 23:00 EST
    assert reminders(slack, "C1") == [
        "In 24 hours: Xi visit in Washington, Mon 2 Nov",
        "In 1 hour: Xi visit in Washington, Mon 2 Nov",
    ]
    assert "from 00:00 EST" in json.dumps(slack.messages("C1")[-1]["blocks"])
    assert (
        reminders(slack, "CLON")[0]
        == "In 24 hours: Xi visit in Washington, Mon 2 Nov (Mon 2 Nov, 05:00 GMT here)"
    )


# --- exactly once ----------------------------------------------------------------------------


def test_a_crash_after_queueing_or_posting_repeats_nothing(
    live: Deps, slack: FakeSlack, clock: Clock
) -> None:
    ingest(live, [GYEONGJU], PUBLISHED)
    deliver_pending(live)
    clock.now = START - timedelta(hours=24)
    assert queue_reminders(live) == 1
    # crashed before sending: the restarted bot queues nothing new and sends it once
    assert queue_reminders(live) == 0
    # a sender killed (-9) after Slack took the post, before recording it
    with live.sessions.begin() as s:
        [job] = claim_batch(s, clock.now, "ghost:1", 10, LEASE, kind=live.sender.kind)
    message = render_reminder(live, job)
    assert not isinstance(message, str)
    live.sender.post(job.channel, message, alert_metadata(job.alert_id))
    clock.now += LEASE + timedelta(seconds=1)  # its lease runs out
    summary = deliver_pending(live)
    assert (summary.sent, summary.recovered) == (0, 1)
    # a post that times out after landing is looked up, not repeated
    clock.now = START - timedelta(hours=1)
    assert queue_reminders(live) == 1
    slack.drop_next("chat.postMessage", after_processing=True)
    deliver_pending(live)
    clock.now += timedelta(minutes=1)
    assert deliver_pending(live).recovered == 1
    assert [t.split(":")[0] for t in reminders(slack)] == ["In 24 hours", "In 1 hour"]
    assert [r.status for r in remind_rows(live)] == ["sent", "sent"]


def test_two_replicas_on_one_database_queue_and_post_each_reminder_once(
    engine: Engine, live: Deps, slack: FakeSlack, clock: Clock
) -> None:
    ingest(live, [GYEONGJU], PUBLISHED)
    deliver_pending(live)
    engines = [make_engine(engine.url.render_as_string(hide_password=False)) for _ in range(2)]
    try:
        replicas = [
            with_slack(live, slack, sessions=make_sessionmaker(e), owner=f"replica{n}")
            for n, e in enumerate(engines)
        ]
        for when in (START - timedelta(hours=24), START - timedelta(hours=1)):
            clock.now = when
            gate = threading.Barrier(2)
            queued: list[int] = []

            def run(deps: Deps, gate: threading.Barrier, queued: list[int]) -> None:
                gate.wait()
                queued.append(queue_reminders(deps))
                gate.wait()
                deliver_pending(deps)

            threads = [threading.Thread(target=run, args=(d, gate, queued)) for d in replicas]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
            assert sorted(queued) == [0, 1]
    finally:
        for e in engines:
            e.dispose()
    assert [t.split(":")[0] for t in reminders(slack)] == ["In 24 hours", "In 1 hour"]
    assert len(remind_rows(live)) == 2


def test_the_scheduler_queues_reminders(deps: Deps) -> None:
    from jobs.scheduler import REMINDERS_SECONDS, build_scheduler

    jobs = {j.id: j for j in build_scheduler(deps).get_jobs()}
    assert "reminders" in jobs and REMINDERS_SECONDS <= 30
    assert jobs["reminders"].trigger.interval == timedelta(seconds=REMINDERS_SECONDS)
    settings = dataclasses.replace(deps.settings, schedule_seconds=1)
    fast = dataclasses.replace(deps, settings=settings)
    jobs = {j.id: j for j in build_scheduler(fast).get_jobs()}
    assert {jobs[j].trigger.interval for j in ("reminders", "digests")} == {timedelta(seconds=1)}
