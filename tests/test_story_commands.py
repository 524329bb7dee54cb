"""`/diplo threads`, `/diplo latest` (stories), `/diplo story <n>` and Home, through the App."""

from __future__ import annotations

import json
from typing import Any

import pytest

from deps import Deps
from handlers.blocks import STORY_ACTION
from models.channel import threads_on
from tests.conftest import Clock
from tests.fakes.slack_server import FakeSlack
from tests.slackbot import Bot, make_bot, wait_for
from tests.stories import add_story
from tests.test_home import open_home


@pytest.fixture
def bot(deps: Deps, slack: FakeSlack) -> Bot:
    return make_bot(deps, slack)


def text_of(reply: dict[str, Any]) -> str:
    return json.dumps(reply.get("blocks") or reply["text"], ensure_ascii=False)


def threads(deps: Deps, channel: str) -> bool:
    with deps.sessions() as s:
        return threads_on(s, channel)


def test_threads_on_off_per_channel(bot: Bot) -> None:
    shown = bot.command("threads", channel="C1")
    assert "Threads were already *on*" in shown["text"] and shown["response_type"] == "ephemeral"
    off = bot.command("threads off", channel="C1")
    assert "Threads are now *off* in <#C1>" in off["text"]
    assert off["response_type"] == "in_channel"
    assert threads(bot.deps, "C1") is False and threads(bot.deps, "C2") is True
    assert "already *off*" in bot.command("threads OFF", channel="C1")["text"]
    assert "now *on*" in bot.command("threads on", channel="C1")["text"]
    assert threads(bot.deps, "C1") is True
    bad = bot.command("threads sideways <!channel>", channel="C1")
    assert "Say `on` or `off`" in bad["text"] and "<!channel>" not in text_of(bad)
    assert "run this in the channel" in bot.command("threads off", channel="D1")["text"]
    assert "threads [on|off]" in text_of(bot.command("help"))


def test_latest_lists_stories_one_line_each_with_a_timeline_button(bot: Bot, clock: Clock) -> None:
    add_story(bot.deps, 1, [("Reuters", "Trump and Xi to talk"), ("AP", "Trump, Xi set call")])
    clock.advance(hours=1)
    add_story(bot.deps, 2, [("SCMP", "Wang Yi to visit Washington")], topics="visit")
    reply = bot.command("latest")
    body = text_of(reply)
    assert "Latest stories" in body
    assert body.index("Wang Yi to visit Washington") < body.index("Trump and Xi to talk")
    assert "2 sources" in body and "1 source" in body and "Trump, Xi set call" not in body
    buttons = [b["accessory"] for b in reply["blocks"] if "accessory" in b]
    assert [(b["action_id"], b["value"]) for b in buttons] == [
        ("diplo_story", "2"),
        ("diplo_story", "1"),
    ]
    assert "Wang Yi" not in text_of(bot.command("latest 5 call"))
    assert "Trump and Xi" not in text_of(bot.command("latest visit"))


def test_story_shows_its_timeline_and_unknown_ones_say_so(bot: Bot) -> None:
    add_story(
        bot.deps, 1, [("Reuters", "Trump and Xi to talk"), ("新华网", "习近平同特朗普通电话")]
    )
    body = text_of(bot.command("story 1"))
    assert body.index("Reuters: ") < body.index("新华网: ") and "Story #1" in body
    assert "#1" in text_of(bot.command("story #1"))
    for bad in ("story 99", "story x<!here>"):
        reply = bot.command(bad)
        assert "No story" in reply["text"] and "<!here>" not in text_of(reply)
    assert "Give the story's number" in bot.command("story")["text"]


def test_the_timeline_button_answers_with_the_story(bot: Bot) -> None:
    add_story(bot.deps, 1, [("Reuters", "Trump and Xi to talk")])
    reply = bot.press(STORY_ACTION, "1")
    assert "Trump and Xi to talk" in text_of(reply) and reply.get("replace_original") is False


def test_home_shows_current_stories(deps: Deps, slack: FakeSlack) -> None:
    bot = make_bot(deps, slack)
    add_story(deps, 1, [("Reuters", "Trump and Xi to talk"), ("AP", "Trump, Xi set call")])
    open_home(bot)
    view = wait_for(lambda: slack.views.get("U1"))
    body = json.dumps(view["blocks"], ensure_ascii=False)
    assert "Trump and Xi to talk" in body and "2 sources" in body
    assert "Trump, Xi set call" not in body  # one line per story, not per item
