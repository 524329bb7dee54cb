"""Replay protection in HTTP mode: a signed request runs once; a byte-identical copy is refused.

Signed POSTs to the real waitress server from `run_http`, on SQLite and PostgreSQL (the
signatures are kept in `seen_requests`, so every replica refuses the copy).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from slack_bolt import BoltRequest
from sqlalchemy import func, select

from deps import Deps
from handlers.app import HttpServer, run_http
from models.seen_request import REPLAY_WINDOW, SeenRequest, first_sighting, prune
from models.subscription import listing
from tests.fakes.slack_server import FakeSlack
from tests.slackbot import Bot, make_bot, post_form, sign, slash_form, wait_for


@pytest.fixture
def bot(deps: Deps, slack: FakeSlack) -> Bot:
    return make_bot(deps, slack)


@pytest.fixture
def server(bot: Bot) -> Iterator[HttpServer]:
    http = run_http(bot.app, 0, host="127.0.0.1")
    try:
        yield http
    finally:
        http.close()


def _seen(deps: Deps) -> int:
    with deps.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(SeenRequest)) or 0)


def test_a_replayed_subscribe_is_refused_and_runs_once(
    server: HttpServer, bot: Bot, slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    body = urlencode(slash_form("subscribe taiwan", "C1", "U1", slack.response_url("sub")))
    headers = sign(body)
    assert post_form(server.port, body, headers)[0] == 200
    wait_for(lambda: slack.responses("sub"))
    assert post_form(server.port, body, headers)[0] == 401  # the same bytes, the same signature
    assert post_form(server.port, body, {**headers, "X-Slack-Retry-Num": "1"})[0] == 401
    time.sleep(0.3)
    assert len(slack.responses("sub")) == 1
    with bot.deps.sessions() as s:
        assert [(sub.channel_id, sub.topic) for sub in listing(s, None, 10)] == [("C1", "taiwan")]
    assert _seen(bot.deps) == 1
    assert caplog.text.count("refused a replayed Slack request") == 2


def test_the_same_command_signed_again_is_a_new_request(
    server: HttpServer, slack: FakeSlack
) -> None:
    """Slack's own retries are signed afresh (a new timestamp): they are not replays."""
    body = urlencode(slash_form("help", "C1", "U1", slack.response_url("again")))
    now = int(time.time())
    assert post_form(server.port, body, sign(body, timestamp=now - 1))[0] == 200
    assert post_form(server.port, body, sign(body, timestamp=now))[0] == 200
    assert len(wait_for(lambda: len(slack.responses("again")) == 2 and slack.responses("again")))


def test_a_refused_forgery_is_not_remembered(
    server: HttpServer, bot: Bot, slack: FakeSlack
) -> None:
    body = urlencode(slash_form("help", "C1", "U1", slack.response_url("forged")))
    assert post_form(server.port, body, sign(body, secret="wrong"))[0] == 401
    assert _seen(bot.deps) == 0  # Bolt's signature check runs first; junk never reaches the table


def test_socket_mode_requests_are_not_checked(bot: Bot, slack: FakeSlack) -> None:
    body = urlencode(slash_form("topics", "C1", "U1", slack.response_url("socket")))
    for _ in range(2):
        assert bot.app.dispatch(BoltRequest(body=body, mode="socket_mode")).status == 200
    wait_for(lambda: len(slack.responses("socket")) == 2)
    assert _seen(bot.deps) == 0


def test_signatures_are_forgotten_after_the_window(deps: Deps) -> None:
    start = deps.clock()
    with deps.sessions.begin() as s:
        assert first_sighting(s, "v0=old", start) is True
        assert first_sighting(s, "v0=old", start) is False
        assert first_sighting(s, "v0=new", start + REPLAY_WINDOW) is True
    with deps.sessions.begin() as s:
        assert prune(s, start + REPLAY_WINDOW + timedelta(seconds=1)) == 1
    with deps.sessions() as s:
        assert s.scalars(select(SeenRequest.signature)).all() == ["v0=new"]


def test_a_replay_through_bolt_dispatch_gets_401(bot: Bot, slack: FakeSlack) -> None:
    body = urlencode(slash_form("status", "C1", "U1", slack.response_url("d")))
    headers = {"content-type": "application/x-www-form-urlencoded", **sign(body)}
    first = bot.app.dispatch(BoltRequest(body=body, headers=headers))
    again = bot.app.dispatch(BoltRequest(body=body, headers=headers))
    assert (first.status, again.status) == (200, 401)
    assert json.loads(json.dumps(wait_for(lambda: slack.responses("d"))))
