"""Story ops end to end through jobs.deliver: one message per story, replies, edits, once.

Real database (SQLite file and PostgreSQL), real HTTP to the fake Slack, the real SlackSender.
Ops are queued with `models.outbox.enqueue_story`, as classify does.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from deps import Deps
from handlers.sender import SlackSender, make_web_client, story_metadata
from jobs.deliver import LEASE, MAX_BACKOFF, DeliverySummary, deliver_pending
from models.channel import set_threads
from models.outbox import (
    FAILED,
    POST,
    REPLY,
    SENT,
    SLACK,
    UPDATE,
    Alert,
    claim_batch,
    enqueue_story,
    enqueue_update,
    pending_count,
)
from models.story import Story
from tests import stories
from tests.conftest import Clock
from tests.fakes.slack_server import FakeSlack
from tests.faults import queue_alert


@pytest.fixture
def slack(clocked_slack: FakeSlack) -> FakeSlack:
    return clocked_slack


@pytest.fixture
def deps(deps: Deps, slack: FakeSlack) -> Deps:
    sender = SlackSender(make_web_client(slack.bot_token, slack.url, timeout=2), pace=0)
    return dataclasses.replace(deps, sender=sender)


def store_item(deps: Deps, title: str, source: str, story: int = 1) -> int:
    with deps.sessions.begin() as s:
        return stories.store_item(s, deps, story, source, title)


def queue(
    deps: Deps,
    story: int,
    source: str,
    channels: tuple[str, ...] = ("C1",),
    title: str | None = None,
    advanced: bool = False,
) -> int:
    """Store an item of `story` from `source` and queue it as classify does; the item id.

    `advanced`: the item takes the story to `held`.
    """
    with deps.sessions.begin() as s:
        current = s.get(Story, story)
        stage = "held" if advanced else (current.stage if current else "planned")
        item = stories.store_item(
            s, deps, story, source, title or f"Story {story}: {source} reports", stage=stage
        )
        enqueue_story(s, story, item, channels, deps.clock(), advanced=advanced)
    return item


def drain(deps: Deps, clock: Clock, runs: int = 30) -> None:
    for _ in range(runs):
        deliver_pending(deps)
        with deps.sessions() as s:
            if pending_count(s) == 0:
                return
        clock.advance(seconds=MAX_BACKOFF.total_seconds())
    raise AssertionError("ops still pending")


def ops(deps: Deps) -> list[Alert]:
    with deps.sessions() as s:
        return list(s.scalars(select(Alert).order_by(Alert.id)))


def payload(message: dict[str, Any]) -> dict[str, Any]:
    return dict(message["metadata"]["event_payload"])


def delivered_op_ids(slack: FakeSlack, channel: str) -> list[int]:
    """Every op id carried by a message of the channel (top-level and replies), in order."""
    messages = slack.top_level(channel)
    for ts in slack.all_replies(channel):
        messages += slack.replies(channel, ts)
    return sorted(i for m in messages for i in payload(m)["op_ids"])


def story_ts(slack: FakeSlack, channel: str, story: int) -> str:
    [ts] = [m["ts"] for m in slack.top_level(channel) if payload(m)["story_id"] == story]
    return str(ts)


def test_three_stories_three_messages_replies_in_their_threads_and_edits(
    deps: Deps, slack: FakeSlack, clock: Clock
) -> None:
    for outlet in ("Reuters", "AP"):
        queue(deps, 1, outlet)
    queue(deps, 2, "BBC")
    assert deliver_pending(deps).sent == 4  # posts 1 and 2, a reply to 1, its edit (absorbed)
    for outlet in ("CNN", "Xinhua", "Bloomberg"):
        queue(deps, 1, outlet)
    queue(deps, 3, "NHK")
    queue(deps, 2, "AFP")
    drain(deps, clock)
    top = slack.top_level("C1")
    assert [payload(m)["story_id"] for m in top] == [1, 2, 3]
    s1, s2 = story_ts(slack, "C1", 1), story_ts(slack, "C1", 2)
    replies1 = [m["text"] for m in slack.replies("C1", s1)]
    assert replies1[0].startswith("AP: ") and replies1[1].startswith("+3 outlets: CNN, Xinhua")
    assert [m["text"][:4] for m in slack.replies("C1", s2)] == ["AFP:"]
    assert set(slack.all_replies("C1")) == {s1, s2}
    assert slack.edits("C1", s1) and "5 sources" in slack.message("C1", s1)["text"]  # type: ignore[index]
    assert "2 sources" in str(slack.message("C1", s2))
    assert not slack.edits("C1", story_ts(slack, "C1", 3))
    # every op delivered exactly once; edits are not messages
    rows = ops(deps)
    assert {r.status for r in rows} == {SENT}
    sent_ids = sorted(r.id for r in rows if r.op != UPDATE)
    assert delivered_op_ids(slack, "C1") == sent_ids
    assert len(slack.calls("chat.postMessage")) == 6  # 3 stories + 3 replies (one grouped)


def test_a_burst_of_40_becomes_few_messages_and_a_new_story_is_not_held_behind_it(
    deps: Deps, slack: FakeSlack, clock: Clock
) -> None:
    deps.sender = SlackSender(make_web_client(slack.bot_token, slack.url, timeout=2), pace=0.001)
    queue(deps, 1, "Outlet 0")
    deliver_pending(deps)
    for n in range(1, 40):
        queue(deps, 1, f"Outlet {n}")
    queue(deps, 2, "Reuters")  # a new story, queued after the burst
    deliver_pending(deps)
    posts = slack.calls("chat.postMessage")
    assert payload(posts[1])["story_id"] == 2  # the new story went first
    drain(deps, clock)
    messages = slack.calls("chat.postMessage")
    story1 = [m for m in messages if payload(m)["story_id"] == 1]
    assert len(story1) <= 5, [m["text"][:40] for m in story1]
    assert "40 sources" in str(slack.message("C1", story_ts(slack, "C1", 1)))
    assert delivered_op_ids(slack, "C1") == sorted(r.id for r in ops(deps) if r.op != UPDATE)


def test_a_stage_advance_is_broadcast_on_its_own(
    deps: Deps, slack: FakeSlack, clock: Clock
) -> None:
    queue(deps, 1, "Reuters")
    deliver_pending(deps)
    queue(deps, 1, "AP")
    queue(deps, 1, "White House", title="Trump and Xi held a call", advanced=True)
    queue(deps, 1, "CNN")
    drain(deps, clock)
    parent = story_ts(slack, "C1", 1)
    replies = slack.replies("C1", parent)
    assert [r["text"][:8] for r in replies] == ["AP: <htt", "Now held", "CNN: <ht"]
    assert [r.get("subtype") for r in replies] == [None, "thread_broadcast", None]
    assert [m["text"][:8] for m in slack.messages("C1")][1:] == ["Now held"]  # in the channel
    bodies = [b for b in slack.calls("chat.postMessage") if b.get("thread_ts")]
    assert [b["reply_broadcast"] for b in bodies] == [False, True, False]


def test_one_story_message_per_channel_even_when_queued_twice(deps: Deps) -> None:
    item = store_item(deps, "Trump, Xi to talk", "AP")
    other = store_item(deps, "Trump, Xi will talk", "CNN")
    with deps.sessions.begin() as s:
        assert enqueue_story(s, 1, item, ["C1", "C2"], deps.clock()) == 2
        assert enqueue_story(s, 1, item, ["C1"], deps.clock()) == 0  # same item again
        assert enqueue_story(s, 1, other, ["C1"], deps.clock()) == 1  # reply (+ an edit)
        assert enqueue_story(s, 1, store_item_in(s, deps), ["C1"], deps.clock()) == 1  # coalesced
        assert enqueue_update(s, 1, "C1", deps.clock()) == 0
    kinds = [(r.op, r.channel_id) for r in ops(deps)]
    assert kinds == [
        (POST, "C1"),
        (POST, "C2"),
        (REPLY, "C1"),
        (UPDATE, "C1"),
        (REPLY, "C1"),
    ]


def store_item_in(s: Any, deps: Deps) -> int:
    return stories.store_item(s, deps, 1, "BBC", "more")


def test_an_edit_claimed_while_the_story_changes_goes_again(
    deps: Deps, slack: FakeSlack, clock: Clock
) -> None:
    queue(deps, 1, "Reuters")
    deliver_pending(deps)
    queue(deps, 1, "AP")
    with deps.sessions.begin() as s:
        jobs = claim_batch(s, clock(), "someone", 10, LEASE, kind=SLACK)
    assert [j.op for j in jobs] == [REPLY, UPDATE]
    queue(deps, 1, "CNN")  # arrives while that edit is being sent
    with deps.sessions.begin() as s:
        [edit] = s.scalars(select(Alert).where(Alert.op == UPDATE)).all()
        assert edit.rerender is True
    clock.advance(seconds=LEASE.total_seconds() + 1)
    drain(deps, clock)
    parent = story_ts(slack, "C1", 1)
    assert "3 sources" in str(slack.message("C1", parent))
    assert delivered_op_ids(slack, "C1") == sorted(r.id for r in ops(deps) if r.op != UPDATE)


def test_a_reply_that_landed_unrecorded_is_found_in_the_thread_not_resent(
    deps: Deps, slack: FakeSlack, clock: Clock
) -> None:
    queue(deps, 1, "Reuters")
    deliver_pending(deps)
    queue(deps, 1, "AP")
    queue(deps, 1, "CNN")
    slack.drop_next("chat.postMessage", after_processing=True)
    assert deliver_pending(deps).retried >= 1
    parent = story_ts(slack, "C1", 1)
    assert len(slack.replies("C1", parent)) == 1  # it did land
    drain(deps, clock)
    assert len(slack.replies("C1", parent)) == 1  # and was not posted again
    assert slack.calls("conversations.replies")
    assert delivered_op_ids(slack, "C1") == sorted(r.id for r in ops(deps) if r.op != UPDATE)
    assert {r.status for r in ops(deps)} == {SENT}


def test_a_killed_sender_story_message_is_found_in_the_history(
    deps: Deps, slack: FakeSlack, clock: Clock
) -> None:
    queue(deps, 1, "Reuters")
    with deps.sessions.begin() as s:
        [job] = claim_batch(s, clock(), "killed:1", 10, LEASE, kind=SLACK)
    deps.sender.post("C1", deps_message(), story_metadata(1, [job.alert_id]))  # then died
    clock.advance(seconds=LEASE.total_seconds() + 1)
    assert deliver_pending(deps) == DeliverySummary(recovered=1)
    assert len(slack.top_level("C1")) == 1


def deps_message() -> Any:
    from handlers.blocks import Message

    return Message(text="story")


def test_a_story_message_refused_for_good_sends_its_replies_top_level(
    deps: Deps, slack: FakeSlack, clock: Clock
) -> None:
    queue(deps, 1, "Reuters")
    queue(deps, 1, "AP")
    slack.fail_next("chat.postMessage", 2, status=200, error="invalid_blocks")  # blocks, text
    drain(deps, clock)
    statuses = [(r.op, r.status) for r in ops(deps)]
    assert statuses == [(POST, FAILED), (REPLY, SENT), (UPDATE, FAILED)]
    [top] = slack.top_level("C1")
    assert top["text"].startswith("AP: ") and not slack.all_replies("C1")


def test_a_deleted_story_message_gets_replies_top_level(
    deps: Deps, slack: FakeSlack, clock: Clock
) -> None:
    queue(deps, 1, "Reuters")
    deliver_pending(deps)
    slack.fail_next("chat.postMessage", 1, status=200, error="thread_not_found")
    queue(deps, 1, "AP")
    drain(deps, clock)
    assert [m["text"][:3] for m in slack.top_level("C1")][1:] == ["AP:"]
    assert {r.status for r in ops(deps) if r.op == REPLY} == {SENT}


def test_threads_off_edits_the_story_message_and_posts_only_stage_changes(
    deps: Deps, slack: FakeSlack, clock: Clock
) -> None:
    with deps.sessions.begin() as s:
        set_threads(s, "C1", False, clock())
    queue(deps, 1, "Reuters")
    deliver_pending(deps)
    queue(deps, 1, "AP")
    queue(deps, 1, "CNN")
    queue(deps, 1, "White House", title="Trump and Xi held a call", advanced=True)
    drain(deps, clock)
    assert not slack.all_replies("C1")
    first, stage = slack.top_level("C1")
    assert "4 sources" in str(slack.message("C1", first["ts"]))
    assert "• CNN: " in str(slack.message("C1", first["ts"]))  # listed in the message itself
    assert stage["text"].startswith("Now held")
    assert f"p{first['ts'].replace('.', '')}" in str(stage["blocks"])  # links the story message
    assert {r.status for r in ops(deps)} == {SENT}


def test_item_alerts_queued_before_stories_still_go_out_in_order(
    deps: Deps, slack: FakeSlack, clock: Clock
) -> None:
    old = queue_alert(deps, ["C1"], "Xi and Biden speak")
    queue(deps, 1, "Reuters")
    queue(deps, 1, "AP")
    drain(deps, clock)
    top = slack.top_level("C1")
    assert top[0]["metadata"]["event_payload"] == {"alert_id": ops(deps)[0].id}
    assert payload(top[1])["story_id"] == 1 and len(top) == 2
    assert old and {r.status for r in ops(deps)} == {SENT}


def test_a_rate_limited_reply_waits_and_arrives_once(
    deps: Deps, slack: FakeSlack, clock: Clock
) -> None:
    queue(deps, 1, "Reuters")
    deliver_pending(deps)
    queue(deps, 1, "AP")
    slack.fail_next("chat.postMessage", 1, headers={"Retry-After": "20"})
    assert deliver_pending(deps).stopped_reason == "ratelimited"
    clock.advance(seconds=10)
    deliver_pending(deps)
    assert len(slack.calls("chat.postMessage")) == 2
    clock.advance(seconds=timedelta(seconds=11).total_seconds())
    drain(deps, clock)
    assert len(slack.replies("C1", story_ts(slack, "C1", 1))) == 1


def test_concurrent_runs_deliver_every_story_op_once_in_thread_order(
    deps: Deps, slack: FakeSlack, clock: Clock
) -> None:
    import threading

    from tests.faults import posted_ops

    channels = ("C1", "C2", "C3")
    for story in (1, 2, 3):
        queue(deps, story, "Reuters", channels)
    for n in range(12):
        queue(deps, 1 + n % 3, f"Outlet {n}", channels, advanced=n == 7)
    slack.delay("chat.postMessage", 0.005)
    slack.fail_next("chat.postMessage", 3, error="internal_error", status=500)
    start = threading.Barrier(3)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            start.wait()
            for _ in range(30):
                deliver_pending(deps, limit=7)
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    drain(deps, clock)
    for channel in channels:
        ids, in_order = posted_ops(slack, channel)
        expected = sorted(r.id for r in ops(deps) if r.channel_id == channel and r.op != UPDATE)
        assert in_order and sorted(ids) == expected, channel  # each once, none lost
        assert len(slack.top_level(channel)) == 3
    assert {r.status for r in ops(deps)} == {SENT}


def test_a_paced_run_sends_two_follow_ups_per_channel_so_a_new_story_waits_little(
    deps: Deps, slack: FakeSlack, clock: Clock
) -> None:
    deps.sender = SlackSender(make_web_client(slack.bot_token, slack.url, timeout=2), pace=0.01)
    for story in range(1, 6):
        queue(deps, story, "Reuters")
    drain(deps, clock)
    for story in range(1, 6):  # five stories' replies (and edits) waiting
        queue(deps, story, "AP")
    deps.deliver_now.clear()
    assert deliver_pending(deps).sent == 2  # two replies (edits come last); the rest handed back
    assert deps.deliver_now.is_set()  # … to a run that starts at once
    queue(deps, 6, "SCMP")  # a new story, queued meanwhile
    deliver_pending(deps)
    bodies = slack.calls("chat.postMessage")
    new = [n for n, b in enumerate(bodies) if payload(b)["story_id"] == 6]
    assert new == [7]  # 5 story messages, two replies, then the new story's message
    drain(deps, clock)
    assert delivered_op_ids(slack, "C1") == sorted(r.id for r in ops(deps) if r.op != UPDATE)


def test_a_dropped_grouped_reply_records_all_its_ops_so_none_is_sent_again(
    deps: Deps, slack: FakeSlack, clock: Clock
) -> None:
    queue(deps, 1, "Reuters")
    deliver_pending(deps)
    for outlet in ("AP", "CNN", "BBC", "AFP", "NHK"):  # one grouped reply of five ops
        queue(deps, 1, outlet)
    slack.drop_next("chat.postMessage", after_processing=True)
    deliver_pending(deps)  # three "outage" results end the run: the others must be recorded
    drain(deps, clock)
    parent = story_ts(slack, "C1", 1)
    [reply] = slack.replies("C1", parent)
    assert sorted(payload(reply)["op_ids"]) == sorted(r.id for r in ops(deps) if r.op == REPLY)
    assert delivered_op_ids(slack, "C1") == sorted(r.id for r in ops(deps) if r.op != UPDATE)
