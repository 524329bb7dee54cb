"""The App Home tab: `app_home_opened` → views.publish with items, subscriptions, feed health."""

from __future__ import annotations

import json
from typing import Any

import pytest

from deps import Deps
from handlers.blocks import MAX_VIEW_BLOCKS
from models.feed import add_feed
from models.subscription import pause_channel, subscribe
from tests.fakes.slack_server import FakeSlack
from tests.slack_limits import assert_slack_limits
from tests.slackbot import Bot, make_bot, store_items, wait_for

sqlite_only = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)


def open_home(bot: Bot, user: str = "U1", tab: str = "home") -> Any:
    event = {"type": "app_home_opened", "user": user, "channel": "D1", "tab": tab}
    body = {
        "token": "legacy",
        "team_id": "T1",
        "api_app_id": "A1",
        "event": event,
        "type": "event_callback",
        "event_id": "Ev1",
        "event_time": 1,
        "authorizations": [{"team_id": "T1", "user_id": "U_BOT", "is_bot": True}],
    }
    return bot.dispatch(json.dumps(body), content_type="application/json")


def test_home_shows_items_subscriptions_and_feed_health(deps: Deps, slack: FakeSlack) -> None:
    bot = make_bot(deps, slack)
    store_items(deps, [("Xi and Trump meet in Busan", "relevant", "summit"), ("Noise", None, "")])
    now = deps.clock()
    with deps.sessions.begin() as s:
        subscribe(s, "C1", ["trade", "all"], "U1", now)
        subscribe(s, "C2", ["taiwan"], "U2", now)
        pause_channel(s, "C2", "is_archived")
        feed, _ = add_feed(s, "https://bad.example/rss", now)
        feed.consecutive_failures, feed.last_error = 2, "timeout"
    slack.set_member_of("U1", "C1", "C2")
    assert open_home(bot).status == 200
    view = wait_for(lambda: slack.views.get("U1"))
    assert view["type"] == "home"
    assert_slack_limits(view["blocks"], max_blocks=MAX_VIEW_BLOCKS)
    body = json.dumps(view["blocks"], ensure_ascii=False)
    assert "Xi and Trump meet in Busan" in body and "Noise" not in body
    assert "<#C1>: `all` (every topic), `trade`" in body
    assert "<#C2>: `taiwan` — :double_vertical_bar: paused: is_archived" in body
    assert "1 ok, 1 failing, 0 disabled" in body and "timeout" in body
    assert [c["user_id"] for c in slack.calls("views.publish")] == ["U1"]


def test_home_shows_only_the_viewers_channels_when_slack_says_which(
    deps: Deps, slack: FakeSlack
) -> None:
    bot = make_bot(deps, slack)
    with deps.sessions.begin() as s:
        subscribe(s, "C1", ["trade"], "U1", deps.clock())
        subscribe(s, "C2", ["taiwan"], "U2", deps.clock())
    slack.set_member_of("U1", "C1")
    assert open_home(bot).status == 200
    body = json.dumps(wait_for(lambda: slack.views.get("U1"))["blocks"], ensure_ascii=False)
    assert "<#C1>" in body and "<#C2>" not in body
    assert slack.calls("users.conversations")[0]["user"] == "U1"


@pytest.mark.parametrize(
    ("viewer", "fail"),
    [
        pytest.param("U3", lambda slack: None, id="missing_scope"),  # U3: no membership known
        pytest.param(
            "U1",
            lambda slack: slack.fail_next("users.conversations", status=200, error="fatal_error"),
            id="error",
        ),
        pytest.param(
            "U1",
            lambda slack: slack.fail_next("users.conversations", 5, status=500, error="internal"),
            id="http-500",
        ),
        pytest.param("U1", lambda slack: slack.drop_next("users.conversations", 5), id="dropped"),
    ],
)
def test_home_shows_no_channels_subscriptions_when_slack_wont_say_which(
    deps: Deps, slack: FakeSlack, viewer: str, fail: Any
) -> None:
    bot = make_bot(deps, slack)
    with deps.sessions.begin() as s:
        subscribe(s, "C1", ["trade"], "U1", deps.clock())
        subscribe(s, "CPRIVATE", ["taiwan"], "U2", deps.clock())
    slack.set_member_of("U1", "C1")
    fail(slack)
    assert open_home(bot, user=viewer).status == 200
    body = json.dumps(wait_for(lambda: slack.views.get(viewer))["blocks"], ensure_ascii=False)
    assert "<#C1>" not in body and "<#CPRIVATE>" not in body
    assert "Slack did not say which channels you are in" in body
    assert "No channel is subscribed yet." not in body


@sqlite_only
def test_home_when_nothing_is_stored(deps: Deps, slack: FakeSlack) -> None:
    bot = make_bot(deps, slack)
    slack.set_member_of("U7")
    open_home(bot, user="U7")
    body = json.dumps(wait_for(lambda: slack.views.get("U7"))["blocks"])
    assert "No relevant items yet." in body and "No channel is subscribed yet." in body


@sqlite_only
def test_messages_tab_publishes_nothing(deps: Deps, slack: FakeSlack) -> None:
    bot = make_bot(deps, slack)
    assert open_home(bot, tab="messages").status == 200
    open_home(bot, user="U9")  # a later home open proves the first one was handled
    wait_for(lambda: slack.views.get("U9"))
    assert [c["user_id"] for c in slack.calls("views.publish")] == ["U9"]
