"""handlers.blocks for stories: story message, replies, stage changes, lists, within limits."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handlers.blocks import (
    STORY_ACTION,
    Message,
    home_story_blocks,
    stage_post,
    stage_reply,
    story_list,
    story_message,
    story_reply,
    story_timeline,
    threads_message,
)
from models.item import ItemView
from models.story_view import StoryEntry, StoryView
from tests.faults import live_markup, mrkdwn_texts
from tests.slack_limits import assert_message_ok, assert_slack_limits

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def entry(
    n: int,
    outlet: str = "AP",
    stage: str | None = "planned",
    side: str | None = None,
    title: str | None = None,
    summary: str = "",
    url: str | None = None,
) -> StoryEntry:
    item = ItemView(
        id=n,
        title=title or f"Trump and Xi to talk by phone ({n})",
        url=url if url is not None else f"https://news.example/{n}",
        source=outlet,
        summary=summary,
        published_at=NOW + timedelta(minutes=n),
        label="relevant",
        score=1.0,
        topics=("call",),
        reasons=("leaders: trump, xi", "kind: call"),
    )
    return StoryEntry(item=item, outlet=outlet, stage=stage, side=side)


def story(*entries: StoryEntry, stage: str = "planned", **kw: object) -> StoryView:
    return StoryView(id=7, stage=stage, entries=tuple(entries), **kw)  # type: ignore[arg-type]


def texts(message: Message) -> str:
    return "\n".join(mrkdwn_texts(message.text, message.blocks))


def test_story_message_shows_headline_stage_contact_sources_latest_and_why() -> None:
    s = story(
        entry(1, "Reuters"),
        entry(2, "AP"),
        entry(3, "Reuters", stage="held", title="Trump, Xi hold call"),
        stage="held",
        kind="call",
        parties=("Trump", "Xi"),
        where="Busan",
        when=date(2026, 12, 1),
    )
    message = story_message(s)
    assert_message_ok(message)
    body = texts(message)
    assert "<https://news.example/1|Trump and Xi to talk by phone (1)>" in body
    assert ":handshake: Held" in body and "call · Trump – Xi · Busan · 01 Dec 2026" in body
    assert "*2 sources*" in body  # distinct outlets, not items
    assert "latest: Reuters: <https://news.example/3|Trump, Xi hold call>" in body
    assert "Why: leaders: trump, xi; kind: call" in body and "Story #7" in body
    assert message.text.startswith("[Held] Trump and Xi to talk by phone (1) (2 sources)")
    assert not any("fields" in b for b in message.blocks)  # no readouts yet


def test_both_official_readouts_are_paired_side_by_side() -> None:
    us = entry(2, "White House", stage="readout", side="us", summary="The President spoke.")
    cn = entry(3, "Xinhua", stage="readout", side="china", title="习近平同特朗普通电话")
    only_us = story_message(story(entry(1), us, stage="readout"))
    assert not any("fields" in b for b in only_us.blocks)
    message = story_message(story(entry(1), us, cn, stage="readout"))
    assert_message_ok(message)
    [paired] = [b for b in message.blocks if "fields" in b]
    left, right = (f["text"] for f in paired["fields"])
    assert left.startswith("*US account* (White House)") and "The President spoke." in left
    assert right.startswith("*Chinese account* (Xinhua)") and "习近平同特朗普通电话" in right


def test_threads_off_story_message_lists_its_sources() -> None:
    s = story(entry(1, "AP"), entry(2, "CNN"), entry(3, "BBC"))
    assert "CNN" not in texts(story_message(s))
    listed = texts(story_message(s, list_sources=True))
    assert "• CNN: <https://news.example/2|" in listed and "• BBC:" in listed


def test_replies_one_item_or_a_burst_of_outlets() -> None:
    one = story_reply([entry(2, "CNN")])
    assert_message_ok(one)
    assert one.text.startswith("CNN: <https://news.example/2|")
    many = story_reply([entry(n, o) for n, o in enumerate(["AP", "CNN", "BBC", "AP"], 2)])
    assert_message_ok(many)
    assert many.text == "+3 outlets (4 reports): AP, CNN, BBC"
    assert "• BBC: <https://news.example/4|" in texts(many)


def test_stage_reply_and_threads_off_stage_post() -> None:
    held = entry(5, "Reuters", stage="held", title="Trump and Xi hold call")
    s = story(entry(1), held, stage="held")
    reply = stage_reply(s, held)
    assert reply.text == "Now held: Trump and Xi hold call"
    assert "Now *held*: <https://news.example/5|Trump and Xi hold call> (Reuters)" in texts(reply)
    post = stage_post(s, held, "https://diplo-test.slack.com/archives/C1/p1")
    assert "<https://diplo-test.slack.com/archives/C1/p1|the story>" in texts(post)
    assert "the story message above" in texts(stage_post(s, held, None))


def test_story_list_timeline_and_home() -> None:
    s1 = story(entry(1), entry(2, "CNN", stage="held"), stage="held")
    listing = story_list([s1], "Latest stories")
    assert_message_ok(listing)
    assert listing.blocks[1]["accessory"]["action_id"] == STORY_ACTION
    assert listing.blocks[1]["accessory"]["value"] == "7"
    assert "2 sources" in texts(listing) and ":handshake: Held" in texts(listing)
    assert "No stories" in story_list([], "Latest stories", "No stories yet.").text
    timeline = story_timeline(s1)
    assert_message_ok(timeline)
    body = texts(timeline)
    assert body.index("AP: <https://news.example/1|") < body.index("CNN: <https://news.example/2|")
    assert_slack_limits(home_story_blocks([s1] * 40), max_blocks=100)
    assert "Threads are now *off*" in threads_message("C1", False, True).text
    assert threads_message("C1", True, False).public is False


SLACKISH = st.sampled_from(
    ["<!channel>", "<@U123>", "<#C1|general>", "<https://evil|good>", "&", "<", ">", "|", "*"]
)
TEXT = st.lists(st.one_of(st.text(max_size=60), SLACKISH), max_size=10).map("".join)
LONG = st.one_of(TEXT, st.text(min_size=1, max_size=20).map(lambda t: t * 300))
URL = st.one_of(st.none(), TEXT, TEXT.map(lambda t: "https://news.example/" + t))
ENTRY = st.builds(
    lambda n, outlet, stage, side, title, summary, url: entry(
        n, outlet, stage, side, title or "x", summary, url
    ),
    st.integers(1, 10_000),
    LONG,
    st.sampled_from([None, "planned", "held", "readout", "outcome", "postponed", "weird<!here>"]),
    st.sampled_from([None, "us", "china"]),
    LONG,
    LONG,
    URL,
)


@given(
    entries=st.lists(ENTRY, min_size=1, max_size=40),
    stage=st.sampled_from(["planned", "held", "readout", "<!channel>"]),
    kind=st.one_of(st.none(), TEXT),
    parties=st.lists(LONG, max_size=8).map(tuple),
    where=st.one_of(st.none(), LONG),
    link=st.one_of(st.none(), st.just("https://diplo-test.slack.com/archives/C1/p1")),
)
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
def test_every_story_message_stays_within_slack_limits_and_carries_no_live_markup(
    entries: list[StoryEntry],
    stage: str,
    kind: str | None,
    parties: tuple[str, ...],
    where: str | None,
    link: str | None,
) -> None:
    s = StoryView(
        id=1, stage=stage, entries=tuple(entries), kind=kind, parties=parties, where=where
    )
    messages = [
        story_message(s),
        story_message(s, list_sources=True),
        story_reply(entries),
        stage_reply(s, entries[-1]),
        stage_post(s, entries[-1], link),
        story_list([s] * 20, "Latest <!channel>"),
        story_timeline(s),
    ]
    for message in messages:
        assert_message_ok(message)
        for text in mrkdwn_texts(message.text, message.blocks):
            assert live_markup(text) == [], text
    assert_slack_limits(home_story_blocks([s] * 30), max_blocks=100)


def test_story_times_are_in_the_channels_zone_with_beijing_time_for_china() -> None:
    """Every time a story message or reply shows is in the channel's zone, zone named."""
    london, new_york = ZoneInfo("Europe/London"), ZoneInfo("America/New_York")
    s = story(entry(1, "Reuters"), entry(2, "AP"), where="Busan")
    body = texts(story_message(s, tz=london))
    assert "<!date^" not in body
    assert "AP: <https://news.example/2|Trump and Xi to talk by phone (2)> · " in body
    assert "Mon 30 Nov 2026, 09:02 GMT" in body and "Beijing" not in body  # Busan: no Beijing
    beijing = story(entry(1, "Reuters"), entry(2, "AP"), where="Beijing", region="beijing")
    assert beijing.in_china
    shown = texts(story_message(beijing, tz=new_york, list_sources=True))
    assert "Mon 30 Nov 2026, 04:01 EST (17:01 Beijing)" in shown  # every listed source too
    assert "Mon 30 Nov 2026, 04:02 EST (17:02 Beijing)" in shown
    reply = texts(story_reply([entry(3, "CNN")], tz=new_york, beijing=True))
    assert "04:03 EST (17:03 Beijing)" in reply
    burst = texts(story_reply([entry(3, "CNN"), entry(4, "BBC")], tz=london))
    assert "09:03 GMT" in burst and "09:04 GMT" in burst
    # no channel (App Home, a DM): Slack shows each reader's own zone
    assert "<!date^" in texts(story_message(s))
