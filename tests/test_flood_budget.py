"""The flood budget: at most N story messages per channel per hour; the rest in one rolling
"more stories" message, edited as more fold in. Never dropped silently.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from deps import Deps
from models.channel import set_flood_budget
from models.outbox import FOLDED, MORE, POST, SENT
from tests.conftest import Clock
from tests.fakes.slack_server import FakeSlack
from tests.faults import posted_ops
from tests.folding import drain, payload, queue, rows, shown, slack_deps, story_posts


@pytest.fixture
def slack(clocked_slack: FakeSlack) -> FakeSlack:
    return clocked_slack


def more_messages(slack: FakeSlack, channel: str) -> list[dict[str, Any]]:
    return [m for m in slack.top_level(channel) if m["text"].startswith("+")]


def listed(message: dict[str, Any]) -> list[int]:
    return [int(n) for n in re.findall(r" · #(\d+)", shown(message))]


def test_thirty_stories_in_an_hour_are_twenty_messages_and_one_edited_more_message(
    deps: Deps, slack: FakeSlack, clock: Clock
) -> None:
    deps = slack_deps(deps, slack)
    for story in range(1, 31):
        queue(deps, story, "Reuters")
        if story <= 5:
            queue(deps, 1, f"Outlet {story}")  # replies to a story already here: not counted
        drain(deps, clock)
        clock.advance(minutes=1)
    assert story_posts(slack, "C1") == list(range(1, 21))
    [more] = more_messages(slack, "C1")
    now = slack.message("C1", more["ts"])
    assert now is not None
    assert listed(now) == list(range(21, 31)) and "+10 more stories" in now["text"]
    assert len(slack.edits("C1", more["ts"])) == 9  # posted with one story, edited per story
    assert "alert_id" in payload(more)  # found again by its metadata after a crash
    ids, _ = posted_ops(slack, "C1")
    assert len(ids) == len(set(ids))
    folded = [r for r in rows(deps) if r.status == FOLDED]
    assert sorted(r.story_id for r in folded) == list(range(21, 31))
    [more_row] = [r for r in rows(deps) if r.op == MORE]
    assert {r.folded_into for r in folded} == {more_row.id}

    # a folded story's next item while the budget is spent: folded too, the list shows it
    queue(deps, 25, "CNN", stage="held", advanced=True)
    drain(deps, clock)
    assert len(more_messages(slack, "C1")) == 1
    edited = slack.message("C1", more["ts"])
    assert edited is not None and "Held" in shown(edited)
    assert story_posts(slack, "C1") == list(range(1, 21))

    # an hour after the first messages the budget is free again: story messages resume,
    # and a folded story's next item posts its message
    clock.advance(minutes=40)
    queue(deps, 31, "AP")
    queue(deps, 22, "AP")
    drain(deps, clock)
    assert sorted(story_posts(slack, "C1")[20:]) == [22, 31]
    assert [r.status for r in rows(deps) if r.op == POST and r.story_id == 22] == [SENT]


def test_urgent_stories_are_never_folded_and_a_channel_budget_wins(
    deps: Deps, slack: FakeSlack, clock: Clock
) -> None:
    deps = slack_deps(deps, slack)
    with deps.sessions.begin() as s:
        set_flood_budget(s, "C2", 2, clock())  # what `/diplo budget 2` stores
    for story in range(1, 5):
        queue(deps, story, "Reuters", ("C2",))
    queue(deps, 5, "White House", ("C2",), urgent="confirmed")
    drain(deps, clock)
    assert story_posts(slack, "C2") == [1, 2, 5]
    [more] = more_messages(slack, "C2")
    assert listed(slack.message("C2", more["ts"]) or {}) == [3, 4]


def test_no_budget(deps: Deps, slack: FakeSlack, clock: Clock) -> None:
    deps = slack_deps(deps, slack, flood_budget=0)
    for story in range(1, 26):
        queue(deps, story, "Reuters")
    drain(deps, clock)
    assert len(story_posts(slack, "C1")) == 25 and more_messages(slack, "C1") == []
