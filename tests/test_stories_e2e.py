"""Issue 10 end to end: real feeds → poll → stories → story ops → the fake Slack, in Socket Mode.

The bot runs its real App on the fake Slack's Socket Mode websocket (commands arrive as
envelopes, replies go to response_urls); feeds come from the real feed server over HTTP;
delivery is `deliver_pending` with the real SlackSender. One story per real-world contact:
its first item is the story message, every other item a reply in its thread, the story
message edited as the story grows.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from deps import Deps
from handlers.app import run_socket_mode
from handlers.sender import SlackSender, make_web_client
from jobs.deliver import MAX_BACKOFF, deliver_pending
from jobs.poll import poll_due_feeds
from models.feed import add_feed
from models.outbox import pending_count
from tests.conftest import Clock
from tests.fakes.feed_server import FeedServer
from tests.fakes.slack_server import FakeSlack
from tests.faults import posted_ops
from tests.feedgen import Story, rss, wire
from tests.slackbot import Bot, make_bot, slash_form, wait_for

DAY1 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
DAY4 = datetime(2026, 12, 3, 14, 0, tzinfo=UTC)

# One call (Reuters, AP, CNN, Xinhua, the White House, CCTV: two of them Chinese) and two
# other contacts. Clustered by the stories engine, not by the test.
CALL_PLANNED = [
    Story(
        "Trump and Xi to speak by phone on Thursday, White House says",
        link="https://www.reuters.com/world/trump-xi-call-1",
        guid="a1",
        summary="President Donald Trump will hold a phone call with Chinese President Xi "
        "Jinping this week.",
        published=DAY1,
    ),
    Story(
        "Trump, Xi set for phone call as trade truce nears end",
        link="https://apnews.com/article/trump-xi-call-2",
        guid="a2",
        summary="The two leaders are expected to talk by phone on Thursday.",
        published=DAY1 + timedelta(minutes=10),
    ),
]
OTHERS = [
    Story(
        "Trump to meet Xi at APEC summit in Shenzhen next year",
        link="https://www.bloomberg.com/news/trump-xi-apec",
        guid="b1",
        summary="The White House confirmed the meeting on the sidelines of the APEC summit.",
        published=DAY1 + timedelta(minutes=20),
    ),
    Story(
        "Wang Yi to visit Washington for talks with Rubio next week",
        link="https://www.scmp.com/news/wang-yi-rubio",
        guid="c1",
        summary="China's foreign minister will hold talks with Secretary of State Marco Rubio.",
        published=DAY1 + timedelta(minutes=30),
    ),
]
CALL_HELD = [
    Story(
        "Trump and Xi hold phone call on trade and Taiwan",
        link="https://edition.cnn.com/trump-xi-call-3",
        guid="a3",
        summary="Trump said he had a very good call with Xi Jinping.",
        published=DAY4,
    ),
    Story(
        "习近平同美国总统特朗普通电话",
        link="http://www.news.cn/politics/leaders/2026-12/03/c_1.htm",
        guid="a4",
        summary="12月3日晚，国家主席习近平应约同美国总统特朗普通电话。",
        published=DAY4 + timedelta(minutes=30),
    ),
    Story(
        "Readout of President Trump's Call with President Xi Jinping of China",
        link="https://www.whitehouse.gov/briefings-statements/2026/12/readout-call-xi/",
        guid="a5",
        summary="President Trump spoke with President Xi Jinping of the People's Republic of "
        "China today about trade and fentanyl.",
        published=DAY4 + timedelta(minutes=60),
    ),
    Story(
        "中美元首通电话 讨论经贸问题",
        link="https://news.cctv.com/2026/12/03/call.shtml",
        guid="a6",
        summary="习近平同特朗普通电话，双方就中美关系交换意见。",
        published=DAY4 + timedelta(minutes=70),
    ),
]


@pytest.fixture
def slack(clocked_slack: FakeSlack) -> FakeSlack:
    return clocked_slack


@pytest.fixture
def bot(deps: Deps, slack: FakeSlack) -> Iterator[Bot]:
    """The App on the fake Slack's Socket Mode socket, delivering with the real SlackSender."""
    sender = SlackSender(make_web_client(slack.bot_token, slack.url, timeout=5), pace=0)
    deps = dataclasses.replace(deps, sender=sender)
    bot = make_bot(deps, slack, slack_app_token=slack.app_token, slack_signing_secret=None)
    handler = run_socket_mode(bot.app, slack.app_token)
    try:
        slack.wait_connections(1)
        yield bot
    finally:
        handler.close()


def command(bot: Bot, text: str, channel: str = "C1") -> dict[str, Any]:
    """`/diplo text` as a Socket Mode envelope; the reply posted to its response_url."""
    key = uuid.uuid4().hex
    form = slash_form(text, channel, "U1", bot.slack.response_url(key))
    bot.slack.wait_ack(bot.slack.send_envelope("slash_commands", form))
    return dict(wait_for(lambda: bot.slack.responses(key))[0])


def drain(bot: Bot, clock: Clock) -> None:
    for _ in range(20):
        deliver_pending(bot.deps)
        with bot.deps.sessions() as s:
            if pending_count(s) == 0:
                return
        clock.advance(seconds=MAX_BACKOFF.total_seconds())
    raise AssertionError("ops still pending")


def feed(feed_server: FeedServer, bot: Bot, *stories: Story, version: int) -> None:
    body = rss([*reversed(stories), *wire(2, prefix="Markets")], title="Test Wire")
    feed_server.serve("/wire.xml", body, etag=f'"v{version}"')


def poll(bot: Bot, clock: Clock) -> None:
    clock.advance(seconds=bot.deps.settings.poll_seconds + 1)
    summary = poll_due_feeds(bot.deps)
    assert summary.ok == 1, summary


def payload(message: dict[str, Any]) -> dict[str, Any]:
    return dict(message["metadata"]["event_payload"])


def start(bot: Bot, feed_server: FeedServer, clock: Clock, channel: str = "C1") -> None:
    """Subscribe the channel (a command), add the feed and prime it with old items."""
    assert "subscribed" in command(bot, "subscribe all", channel)["text"]
    feed(feed_server, bot, version=0)
    with bot.deps.sessions.begin() as s:
        add_feed(s, feed_server.url("/wire.xml"), clock())
    poll(bot, clock)


def test_one_call_six_outlets_and_two_other_stories(
    bot: Bot, slack: FakeSlack, feed_server: FeedServer, clock: Clock
) -> None:
    start(bot, feed_server, clock)
    feed(feed_server, bot, *CALL_PLANNED, *OTHERS, version=1)
    poll(bot, clock)
    drain(bot, clock)
    clock.now = DAY4 + timedelta(hours=2)
    feed(feed_server, bot, *CALL_PLANNED, *OTHERS, *CALL_HELD, version=2)
    poll(bot, clock)
    drain(bot, clock)

    top = slack.top_level("C1")
    assert len(top) == 3, [m["text"] for m in top]  # one message per story
    call = top[0]
    assert "Trump and Xi to speak by phone" in call["text"]
    threads = slack.all_replies("C1")
    assert set(threads) == {call["ts"]}  # the other two stories have one item each
    replies = threads[call["ts"]]
    ids, in_order = posted_ops(slack, "C1")
    assert in_order and len(ids) == len(set(ids)) == 8  # every item once
    # the held item and the first readout advanced the stage: broadcast to the channel
    loud = [r for r in replies if r.get("subtype") == "thread_broadcast"]
    assert [r["text"][:8] for r in loud] == ["Now held", "Now read"]
    assert [m["text"][:8] for m in slack.messages("C1") if m.get("subtype")] == [
        "Now held",
        "Now read",
    ]
    quiet = [r["text"] for r in replies if r.get("subtype") is None]
    assert quiet[0].startswith("AP · wire: ")
    group = "+2 outlets: White House · US government, CCTV · Chinese state media"
    assert quiet[-1].startswith(group)
    # the story message was edited to the story as it is now
    now = slack.message("C1", call["ts"])
    assert now is not None and slack.edits("C1", call["ts"])
    shown = json.dumps(now["blocks"], ensure_ascii=False)
    assert "*6 sources*" in shown and ":memo: Readout" in shown
    assert "US account* (White House · US government)" in shown
    assert "Chinese account* (Xinhua · Chinese state media)" in shown
    assert len(slack.calls("chat.postMessage")) == 3 + 4  # 3 stories, 4 replies (one grouped)

    listing = json.dumps(command(bot, "latest")["blocks"], ensure_ascii=False)
    assert listing.count("diplo_story") == 3 and "6 sources" in listing
    story_id = payload(call)["story_id"]
    timeline = json.dumps(command(bot, f"story {story_id}")["blocks"], ensure_ascii=False)
    assert timeline.index("Reuters") < timeline.index("Xinhua") < timeline.index("CCTV")


def test_a_burst_of_40_is_a_few_messages_and_a_new_story_goes_first(
    bot: Bot, slack: FakeSlack, feed_server: FeedServer, clock: Clock
) -> None:
    start(bot, feed_server, clock)
    burst = [
        Story(
            f"Trump and Xi speak by phone about trade, report {n}",
            link=f"https://outlet{n}.example/trump-xi-call",
            guid=f"burst-{n}",
            published=DAY1 + timedelta(seconds=n),
        )
        for n in range(40)
    ]
    feed(feed_server, bot, *burst, OTHERS[1], version=1)
    poll(bot, clock)
    drain(bot, clock)
    posts = slack.calls("chat.postMessage")
    stories = [payload(p)["story_id"] for p in posts]
    burst_story = stories[0]
    assert stories[1] != burst_story  # the new story's message right after the first
    assert stories.count(burst_story) <= 5, [p["text"][:50] for p in posts]
    ids, in_order = posted_ops(slack, "C1")
    assert in_order and len(ids) == len(set(ids)) == 41


def test_threads_off_edits_in_place_and_posts_only_stage_changes(
    bot: Bot, slack: FakeSlack, feed_server: FeedServer, clock: Clock
) -> None:
    start(bot, feed_server, clock)
    assert "Threads are now *off*" in command(bot, "threads off")["text"]
    feed(feed_server, bot, *CALL_PLANNED, version=1)
    poll(bot, clock)
    drain(bot, clock)
    clock.now = DAY4 + timedelta(hours=2)
    feed(feed_server, bot, *CALL_PLANNED, *CALL_HELD, version=2)
    poll(bot, clock)
    drain(bot, clock)
    assert slack.all_replies("C1") == {}
    top = slack.top_level("C1")
    assert [m["text"][:8] for m in top[1:]] == ["Now held", "Now read"]
    first = top[0]["ts"]
    assert all(f"p{first.replace('.', '')}" in json.dumps(m["blocks"]) for m in top[1:])
    shown = json.dumps(slack.message("C1", first), ensure_ascii=False)
    # sources listed in the message
    assert "*6 sources*" in shown and "• CCTV · Chinese state media: " in shown


def test_a_channel_subscribed_before_stories_keeps_its_queued_alerts(
    bot: Bot, slack: FakeSlack, feed_server: FeedServer, clock: Clock
) -> None:
    from tests.faults import queue_alert

    start(bot, feed_server, clock)
    queue_alert(bot.deps, ["C1"], "Xi and Biden speak")  # an item alert of before
    feed(feed_server, bot, *CALL_PLANNED, version=1)
    poll(bot, clock)
    drain(bot, clock)
    top = slack.top_level("C1")
    assert "alert_id" in payload(top[0]) and "story_id" in payload(top[1])
    assert len(top) == 2 and len(slack.all_replies("C1")[top[1]["ts"]]) == 1


def test_story_messages_and_replies_show_times_in_the_channels_zone(
    bot: Bot, slack: FakeSlack, feed_server: FeedServer, clock: Clock
) -> None:
    """`/diplo tz Asia/Tokyo`: the story message and its replies show Tokyo time, named."""
    start(bot, feed_server, clock)
    assert "Asia/Tokyo" in json.dumps(command(bot, "tz Asia/Tokyo"))
    feed(feed_server, bot, *CALL_PLANNED, version=1)
    poll(bot, clock)
    drain(bot, clock)
    [top] = slack.top_level("C1")
    replies = slack.all_replies("C1")[top["ts"]]
    # DAY1 08:00 UTC = 17:00 in Tokyo; AP's item came ten minutes later
    shown = json.dumps([slack.message("C1", top["ts"]), *replies], ensure_ascii=False)
    assert "Mon 30 Nov 2026, 17:10 JST" in shown and "<!date^" not in shown
