"""`/diplo upcoming`, App Home and `bot.py upcoming`: planned contacts still ahead (issue 11).

Contacts come from real items through the real path (relevance → contact record → stories);
commands go through the real Bolt App to the fake Slack.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from cli import main
from deps import Deps
from handlers.home import build_home
from handlers.sender import SlackSender, make_web_client
from jobs.deliver import deliver_pending
from models.subscription import subscribe
from models.upcoming import upcoming
from news.zones import zone
from tests.conftest import Clock
from tests.contacts import ingest
from tests.fakes.slack_server import FakeSlack
from tests.slackbot import Bot, make_bot

PUBLISHED = datetime(2025, 10, 20, 12, 0, tzinfo=UTC)
GYEONGJU = ("Trump and Xi to meet at APEC in Gyeongju on Oct 31", "https://www.reuters.com/g1")
NY = zone("America/New_York", "UTC")


@pytest.fixture
def slack(clocked_slack: FakeSlack) -> FakeSlack:
    return clocked_slack


@pytest.fixture
def bot(deps: Deps, slack: FakeSlack, clock: Clock) -> Bot:
    clock.now = PUBLISHED
    sender = SlackSender(make_web_client(slack.bot_token, slack.url, timeout=5), pace=0)
    return make_bot(dataclasses.replace(deps, sender=sender), slack)


def text_of(reply: dict[str, Any]) -> str:
    return json.dumps(reply.get("blocks") or reply["text"], ensure_ascii=False)


def test_upcoming_lists_the_gyeongju_meeting_with_its_date_and_place(bot: Bot) -> None:
    [story] = ingest(bot.deps, [GYEONGJU], PUBLISHED)
    reply = bot.command("upcoming")
    assert reply["response_type"] == "ephemeral"
    shown = text_of(reply)
    assert "*Fri 31 Oct* · Trump–Xi meeting in Gyeongju (APEC) · meeting" in shown
    assert (
        "<https://www.reuters.com/g1|Trump and Xi to meet at APEC in Gyeongju on Oct 31>" in shown
    )
    assert "1 source" in shown and "confirmed by" not in shown
    with bot.deps.sessions() as s:
        [contact] = upcoming(s, PUBLISHED, NY)
    assert (contact.story_id, contact.place, contact.start.isoformat()) == (
        story,
        "Gyeongju",
        "2025-10-31",
    )
    assert contact.exact_day is not None and contact.zone_name == "Asia/Seoul"


def test_the_story_link_is_the_story_message_here_once_posted(bot: Bot) -> None:
    with bot.deps.sessions.begin() as s:
        subscribe(s, "C1", ["summit"], "U1", PUBLISHED)
    ingest(bot.deps, [GYEONGJU], PUBLISHED)
    assert deliver_pending(bot.deps).sent == 1
    [posted] = bot.slack.messages("C1")
    shown = text_of(bot.command("upcoming"))
    link = bot.slack.calls("chat.getPermalink")[0]
    assert (link["channel"], link["message_ts"]) == ("C1", posted["ts"])
    assert "https://diplo-test.slack.com/archives/C1/p" in shown
    assert "reuters.com/g1" not in shown
    assert "reuters.com/g1" in text_of(bot.command("upcoming", channel="C2"))  # not posted there


def test_the_story_links_cost_one_permalink_call_not_one_per_contact(bot: Bot) -> None:
    """Slack is asked once; the other story messages' links follow from its answer."""
    with bot.deps.sessions.begin() as s:
        subscribe(s, "C1", ["all"], "U1", PUBLISHED)
    ingest(
        bot.deps,
        [
            GYEONGJU,
            ("Wang Yi to visit Washington for talks with Rubio on Nov 20", "https://apnews.com/w"),
            ("He Lifeng and Bessent to hold trade talks in Madrid", "https://www.reuters.com/m"),
        ],
        PUBLISHED,
    )
    assert deliver_pending(bot.deps).sent == 3
    posted = [m["ts"] for m in bot.slack.top_level("C1")]
    shown = text_of(bot.command("upcoming"))
    assert len(bot.slack.calls("chat.getPermalink")) == 1
    for ts in posted:
        assert f"https://diplo-test.slack.com/archives/C1/p{ts.replace('.', '')}|" in shown, ts


def test_soonest_first_undated_last_vague_dates_as_said_and_confirmed_by(bot: Bot) -> None:
    ingest(
        bot.deps,
        [
            (
                "Wang Yi to visit Washington for talks with Rubio in early March 2026",
                "https://apnews.com/w",
            ),
            ("He Lifeng and Bessent to hold trade talks in Madrid", "https://www.reuters.com/m"),
            GYEONGJU,
        ],
        PUBLISHED,
    )
    ingest(
        bot.deps,
        [
            (
                "Xi Jinping to meet Trump in Gyeongju on Oct 31, foreign ministry says",
                "https://www.fmprc.gov.cn/x",
            )
        ],
        PUBLISHED + timedelta(hours=2),
    )
    shown = text_of(bot.command("upcoming"))
    gyeongju = shown.index("Trump–Xi meeting in Gyeongju")
    march = shown.index("early March 2026")
    undated = shown.index("date not announced")
    assert gyeongju < march < undated
    assert "He Lifeng" in shown[undated:] and "Madrid" in shown[undated:]
    assert "2 sources · confirmed by MFA" in shown


def test_held_postponed_and_passed_contacts_are_not_upcoming(bot: Bot, clock: Clock) -> None:
    ingest(bot.deps, [GYEONGJU], PUBLISHED)
    ingest(
        bot.deps,
        [("Xi to visit Washington on Nov 20", "https://apnews.com/v")],
        PUBLISHED,
    )
    assert "Gyeongju" in text_of(bot.command("upcoming"))
    ingest(
        bot.deps,
        [("Trump-Xi meeting in Gyeongju postponed", "https://apnews.com/p")],
        PUBLISHED + timedelta(days=1),
    )
    shown = text_of(bot.command("upcoming"))
    assert "Gyeongju" not in shown and "Washington" in shown
    ingest(
        bot.deps,
        [("Xi and Trump meet in Washington", "https://apnews.com/h")],
        PUBLISHED + timedelta(days=2),
    )
    assert "No planned contact ahead" in text_of(bot.command("upcoming"))


def test_a_date_passes_where_the_contact_happens(deps: Deps, clock: Clock) -> None:
    ingest(deps, [GYEONGJU], PUBLISHED)
    # 31 Oct ends in Gyeongju at 15:00 UTC (midnight KST), while it is still 31 Oct in New York
    with deps.sessions() as s:
        assert upcoming(s, datetime(2025, 10, 31, 14, 59, tzinfo=UTC), NY)
        assert upcoming(s, datetime(2025, 10, 31, 15, 0, tzinfo=UTC), NY) == []


def test_app_home_shows_the_same_list(bot: Bot) -> None:
    ingest(bot.deps, [GYEONGJU], PUBLISHED)
    view = build_home(bot.deps, None)
    body = json.dumps(view["blocks"], ensure_ascii=False)
    assert "Upcoming contacts" in body
    assert "*Fri 31 Oct 2025* · Trump–Xi meeting in Gyeongju (APEC)" in body


def test_the_cli_lists_upcoming_contacts_as_json(
    engine: Engine, deps: Deps, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # the CLI runs on the real clock: a contact ten days from now
    now = datetime.now(UTC)
    day = (now + timedelta(days=10)).date()
    title = f"Trump and Xi to meet in Busan on {day:%b} {day.day}, {day.year}"
    ingest(deps, [(title, "https://www.reuters.com/b")], now)
    monkeypatch.setenv("DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.chdir("/")  # no .env
    assert main(lambda _: 0, ["upcoming", "--json"]) == 0
    [line] = capsys.readouterr().out.splitlines()
    found = json.loads(line)
    assert found["start"] == day.isoformat() and found["place"] == "Busan" and found["exact"]
    assert found["parties"] == ["Trump", "Xi"] and found["url"] == "https://www.reuters.com/b"
    assert main(lambda _: 0, ["upcoming"]) == 0
    assert "Trump–Xi meeting in Busan" in capsys.readouterr().out
    assert main(lambda _: 0, ["upcoming", "--tz", "Mars/Base"]) == 2
