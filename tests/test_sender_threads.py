"""handlers.sender for stories: replies, edits, op lookups and permalinks, over real HTTP."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from handlers.blocks import Message
from handlers.sender import (
    ConsoleSender,
    Posted,
    RateLimited,
    SlackFailed,
    SlackSender,
    make_web_client,
    story_metadata,
)
from tests.fakes.slack_server import FakeSlack

LONG_AGO = datetime.now(UTC) - timedelta(hours=1)
MSG = Message(
    text="fallback", blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}]
)


def sender_for(slack: FakeSlack) -> SlackSender:
    return SlackSender(make_web_client(slack.bot_token, slack.url, timeout=5), pace=0)


def test_reply_goes_into_the_thread_and_broadcast_also_to_the_channel(slack: FakeSlack) -> None:
    sender = sender_for(slack)
    story = sender.post("C1", MSG, story_metadata(1, [10]))
    assert isinstance(story, Posted)
    quiet = sender.reply("C1", story.ts, Message(text="quiet"), story_metadata(1, [11, 12]))
    loud = sender.reply("C1", story.ts, Message(text="loud"), story_metadata(1, [13]), True)
    assert isinstance(quiet, Posted) and isinstance(loud, Posted)
    assert [m["text"] for m in slack.replies("C1", story.ts)] == ["quiet", "loud"]
    assert [m["text"] for m in slack.top_level("C1")] == ["fallback"]
    assert [m["text"] for m in slack.messages("C1")] == ["fallback", "loud"]
    bodies = slack.calls("chat.postMessage")[1:]
    assert [b["thread_ts"] for b in bodies] == [story.ts, story.ts]
    assert [b["reply_broadcast"] for b in bodies] == [False, True]
    assert all(b["unfurl_links"] is False for b in bodies)
    gone = sender.reply("C1", "123.456", Message(text="x"), None)
    assert gone == SlackFailed("thread_not_found", "gone")


def test_update_edits_in_place_and_gone_messages_say_so(slack: FakeSlack) -> None:
    sender = sender_for(slack)
    story = sender.post("C1", MSG, story_metadata(1, [10]))
    assert isinstance(story, Posted)
    assert sender.update("C1", story.ts, Message(text="v2")) == Posted(story.ts)
    assert sender.update("C1", story.ts, Message(text="v2")) == Posted(story.ts)  # idempotent
    assert [e["text"] for e in slack.edits("C1", story.ts)] == ["v2", "v2"]
    now = slack.message("C1", story.ts)
    assert now is not None and now["metadata"] == story_metadata(1, [10])  # metadata kept
    assert sender.update("C1", "1.0", MSG) == SlackFailed("message_not_found", "gone")
    slack.fail_next("chat.update", headers={"Retry-After": "7"})
    assert sender.update("C1", story.ts, MSG) == RateLimited(7.0)
    slack.fail_next("chat.update", status=500, error="internal_error")
    assert sender.update("C1", story.ts, MSG) == SlackFailed("internal_error", "transient")
    slack.set_channel("C1", archived=True)
    assert sender.update("C1", story.ts, MSG) == SlackFailed("is_archived", "channel")


def test_find_op_searches_history_for_story_messages_and_threads_for_replies(
    slack: FakeSlack,
) -> None:
    sender = sender_for(slack)
    story = sender.post("C1", MSG, story_metadata(1, [10]))
    assert isinstance(story, Posted)
    for i in range(250):  # more than one page of replies
        sender.reply("C1", story.ts, Message(text=f"r{i}"), story_metadata(1, [100 + i]))
    grouped = sender.reply("C1", story.ts, Message(text="group"), story_metadata(1, [400, 401]))
    assert isinstance(grouped, Posted)
    assert sender.find_op("C1", 10, LONG_AGO) == Posted(story.ts)
    assert sender.find_op("C1", 401, LONG_AGO) is None  # replies are not in the history
    assert sender.find_op("C1", 401, LONG_AGO, thread_ts=story.ts) == Posted(grouped.ts)
    assert sender.find_op("C1", 400, LONG_AGO, thread_ts=story.ts) == Posted(grouped.ts)
    assert sender.find_op("C1", 999, LONG_AGO, thread_ts=story.ts) is None
    assert len(slack.calls("conversations.replies")) >= 3  # it paged
    assert sender.find_op("C1", 10, LONG_AGO, thread_ts="1.0") is None  # no such thread
    slack.fail_next("conversations.replies", status=503, error="service_unavailable")
    assert sender.find_op("C1", 401, LONG_AGO, thread_ts=story.ts) == SlackFailed(
        "service_unavailable", "transient"
    )
    slack.fail_next("conversations.history")
    assert sender.find_op("C1", 10, LONG_AGO) == RateLimited(1.0)


def test_permalink(slack: FakeSlack) -> None:
    sender = sender_for(slack)
    story = sender.post("C1", MSG, None)
    assert isinstance(story, Posted)
    link = sender.permalink("C1", story.ts)
    assert link is not None and link.startswith("https://diplo-test.slack.com/archives/C1/p")
    assert sender.permalink("C1", "1.0") is None
    slack.stop()
    assert sender.permalink("C1", story.ts) is None


def test_console_sender_prints_replies_and_edits_readably() -> None:
    out = io.StringIO()
    console = ConsoleSender(stream=out)
    story = console.post("console", Message(text="*Trump and Xi talk*"), None)
    assert isinstance(story, Posted)
    reply = console.reply("console", story.ts, Message(text="AP: <https://a.example/1|Call>"), None)
    loud = console.reply("console", story.ts, Message(text="Now held"), None, broadcast=True)
    edit = console.update("console", story.ts, Message(text="3 sources"))
    assert isinstance(reply, Posted) and isinstance(loud, Posted)
    assert edit == Posted(story.ts) and len({story.ts, reply.ts, loud.ts}) == 3
    text = out.getvalue()
    assert f"reply 2 to {story.ts} in console ──\nAP: Call (https://a.example/1)" in text
    assert "also sent to the channel" in text
    assert f"{story.ts} in console now reads ──\n3 sources" in text
    assert console.find_op("console", 1, LONG_AGO) is None
    assert console.permalink("console", story.ts) is None
