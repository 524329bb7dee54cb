"""`/diplo threads`, `/diplo latest` (stories), `/diplo story <n>` and Home, through the App."""

from __future__ import annotations

import json
from typing import Any

import pytest

from deps import Deps
from models.channel import threads_on
from tests.fakes.slack_server import FakeSlack
from tests.slackbot import Bot, make_bot


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
