"""HTTP mode end to end: signed form POSTs to the real threaded server from `run_http`.

Transport only, so SQLite only; the commands themselves run on both databases in
test_commands.py.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.request
from collections.abc import Callable, Iterator
from urllib.parse import urlencode

import pytest

from deps import Deps
from handlers.app import HttpServer, SlackAuthError, build_app, check_auth, run_http
from tests.fakes.slack_server import FakeSlack
from tests.slackbot import Bot, make_bot, post_form, sign, slash_form, wait_for
from tests.slackbot import sqlite_engine as engine  # noqa: F401  (transport only)


@pytest.fixture
def bot(deps: Deps, slack: FakeSlack) -> Bot:
    return make_bot(deps, slack)


@pytest.fixture
def server(bot: Bot) -> Iterator[HttpServer]:
    http = run_http(bot.app, 0, host="127.0.0.1")
    try:
        yield http
    finally:
        http.close()  # what bot.py calls


def command_body(slack: FakeSlack, text: str, key: str) -> str:
    return urlencode(slash_form(text, "C1", "U1", slack.response_url(key)))


def test_signed_command_is_acked_and_answered_at_the_response_url(
    server: HttpServer, slack: FakeSlack
) -> None:
    body = command_body(slack, "topics", "k1")
    started = time.monotonic()
    status, _ = post_form(server.port, body, sign(body))
    assert status == 200
    assert time.monotonic() - started < 3  # Slack's deadline for the ack
    reply = wait_for(lambda: slack.responses("k1"))[0]
    assert reply["response_type"] == "ephemeral"
    assert "`taiwan`" in json.dumps(reply["blocks"])


def test_bad_input_is_still_acked(server: HttpServer, slack: FakeSlack) -> None:
    body = command_body(slack, "latest 999 <!channel>", "k2")
    assert post_form(server.port, body, sign(body))[0] == 200
    assert "not a number from 1 to 20" in wait_for(lambda: slack.responses("k2"))[0]["text"]


def _stale(body: str) -> dict[str, str]:
    return sign(body, timestamp=int(time.time()) - 6 * 60)


@pytest.mark.parametrize(
    "headers_for",
    [
        pytest.param(lambda body: sign(body + "&text=status"), id="forged"),
        pytest.param(lambda body: sign(body, secret="not-the-secret"), id="wrong-secret"),
        pytest.param(_stale, id="stale"),
        pytest.param(lambda body: {}, id="unsigned"),
    ],
)
def test_unverified_requests_are_refused(
    server: HttpServer, slack: FakeSlack, headers_for: Callable[[str], dict[str, str]]
) -> None:
    body = command_body(slack, "help", "k3")
    status, _ = post_form(server.port, body, headers_for(body))
    assert status == 401
    time.sleep(0.2)
    assert slack.responses("k3") == []


def test_healthz_and_unknown_paths(server: HttpServer) -> None:
    with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/healthz", timeout=5) as r:
        assert (r.status, r.read()) == (200, b"ok")
    assert post_form(server.port, "x=1", {}, path="/elsewhere")[0] == 404


def test_oversized_body_is_refused_before_it_is_read(server: HttpServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.putrequest("POST", "/slack/events")
    conn.putheader("Content-Length", str(2 * 1024 * 1024))
    conn.endheaders()  # the body is never sent: the answer must not wait for it
    assert conn.getresponse().status == 413
    conn.close()


def test_build_app_calls_nothing_and_check_auth_names_the_bot(deps: Deps, slack: FakeSlack) -> None:
    bot = make_bot(deps, slack)
    assert slack.requests() == []
    assert check_auth(bot.app.client) == "U_BOT"


def test_a_rejected_token_stops_start_up_with_one_line(deps: Deps, slack: FakeSlack) -> None:
    bot = make_bot(deps, slack, slack_bot_token="xoxb-wrong")
    expected = r"^SLACK_BOT_TOKEN was rejected by Slack: invalid_auth$"
    with pytest.raises(SlackAuthError, match=expected):
        check_auth(bot.app.client)
    slack.stop()
    with pytest.raises(SlackAuthError, match="could not reach Slack"):
        check_auth(build_app(bot.deps).client)
    slack.restart()
