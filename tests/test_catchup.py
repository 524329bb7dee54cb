"""Catch-up after downtime: a backlog older than DIPLO_CATCHUP_AFTER comes as one message.

Slack unreachable (the fake Slack stopped: connections refused) for two hours, the clock
moved on; or diplo itself down (no delivery at all), then restarted. Each channel gets one
"while diplo was away" message, nothing is posted twice, nothing is lost.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from deps import Deps
from jobs.catchup import catch_up
from jobs.deliver import deliver_pending
from jobs.recover import start_up
from models.outbox import CATCHUP, FOLDED, PENDING, SENT, Alert
from tests.conftest import Clock
from tests.fakes.slack_server import FakeSlack
from tests.faults import posted_ops
from tests.folding import (
    catchups,
    drain,
    payload,
    queue,
    rows,
    slack_deps,
    story_posts,
)

CHANNELS = ("C1", "C2")


@pytest.fixture
def slack(clocked_slack: FakeSlack) -> FakeSlack:
    return clocked_slack


def shown_stories(slack: FakeSlack, channel: str) -> list[int]:
    """Every story the channel saw: its story messages, then those its catch-ups list."""
    listed = [s for m in catchups(slack, channel) for s in folded_stories(m)]
    return story_posts(slack, channel) + listed


def folded_stories(message: dict[str, object]) -> list[int]:
    import re

    return [int(n) for n in re.findall(r" · #(\d+)", str(message["blocks"]))]


def test_a_two_hour_slack_outage_gives_one_catch_up_per_channel(
    deps: Deps, slack: FakeSlack, clock: Clock
) -> None:
    deps = slack_deps(deps, slack)
    start = clock()
    queue(deps, 1, "Reuters", CHANNELS)
    queue(deps, 2, "AP", CHANNELS)
    slack.stop()  # Slack unreachable: every call refused
    arrivals = {0: 3, 30: 4, 90: 5}
    for minute in range(0, 121, 10):
        clock.now = start + timedelta(minutes=minute)
        if minute in arrivals:
            queue(deps, arrivals[minute], "BBC", CHANNELS)
        deliver_pending(deps)
        catch_up(deps)
    assert slack.top_level("C1") == []
    slack.restart()
    clock.now = start + timedelta(hours=2, minutes=1)
    catch_up(deps)
    drain(deps, clock)
    for channel in CHANNELS:
        [message] = catchups(slack, channel)
        assert "While diplo was away" in message["text"]
        seen = shown_stories(slack, channel)
        assert sorted(seen) == [1, 2, 3, 4, 5], seen  # every story, each once
        # the first story was being sent when Slack went away (maybe posted): never folded,
        # it is looked up and posted once; the rest waited and are in the catch-up
        assert story_posts(slack, channel) == [1]
        ids, _ = posted_ops(slack, channel)
        assert len(ids) == len(set(ids))
    assert len([r for r in rows(deps) if r.op == CATCHUP]) == 2
    assert {r.status for r in rows(deps)} == {SENT, FOLDED}
    # live alerts resume
    queue(deps, 6, "CNN", CHANNELS)
    drain(deps, clock)
    assert story_posts(slack, "C1") == [1, 6]


def test_diplo_down_two_hours_then_restarted(deps: Deps, slack: FakeSlack, clock: Clock) -> None:
    down = slack_deps(deps, slack)
    for story in (1, 2, 3):
        queue(down, story, "Reuters", CHANNELS)
    queue(down, 1, "AP", CHANNELS)  # a second report of story 1: folded with it
    clock.advance(hours=2)
    up = slack_deps(deps, slack)  # a new process: start-up folds before delivery starts
    start_up(up)
    with up.sessions() as s:
        made = [r.id for r in s.scalars(select(Alert).where(Alert.op == CATCHUP))]
    assert len(made) == 2 and catch_up(up) == []
    drain(up, clock)
    for channel in CHANNELS:
        [message] = slack.top_level(channel)
        assert payload(message)["alert_id"] in made
        assert sorted(folded_stories(message)) == [1, 2, 3]
        assert "3 stories" in message["text"]
    assert PENDING not in {r.status for r in rows(up)}
    # story 1's next item posts its story message (its folded post is re-opened)
    queue(up, 1, "CNN", ("C1",))
    drain(up, clock)
    assert story_posts(slack, "C1") == [1]
    assert len(slack.all_replies("C1")) == 1


def test_a_short_outage_is_delivered_as_usual(deps: Deps, slack: FakeSlack, clock: Clock) -> None:
    deps = slack_deps(deps, slack)
    queue(deps, 1, "Reuters")
    queue(deps, 2, "AP")
    clock.advance(minutes=50)
    assert catch_up(deps) == []
    drain(deps, clock)
    assert story_posts(slack, "C1") == [1, 2] and catchups(slack, "C1") == []
