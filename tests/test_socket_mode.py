"""Socket Mode end to end: the real SocketModeHandler on the fake Slack's websocket.

These tests are about the transport, so they run on SQLite only (closing the builtin
client takes up to 3 s: a pending socket read holds its lock).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from deps import Deps
from handlers.app import SlackAuthError, run_socket_mode
from tests.fakes.slack_server import FakeSlack
from tests.slackbot import Bot, make_bot, slash_form, wait_for
from tests.slackbot import sqlite_engine as engine  # noqa: F401  (transport only)


def connect(deps: Deps, slack: FakeSlack, ping_interval: float = 5.0) -> Iterator[Bot]:
    bot = make_bot(deps, slack, slack_app_token=slack.app_token, slack_signing_secret=None)
    handler = run_socket_mode(bot.app, slack.app_token, ping_interval=ping_interval)
    try:
        slack.wait_connections(1)
        yield bot
    finally:
        handler.close()


@pytest.fixture
def bot(deps: Deps, slack: FakeSlack) -> Iterator[Bot]:
    yield from connect(deps, slack)


def send_command(slack: FakeSlack, text: str, key: str, command: str = "/diplo") -> str:
    form = {**slash_form(text, "C1", "U1", slack.response_url(key)), "command": command}
    return slack.send_envelope("slash_commands", form)


def test_commands_good_and_bad_are_acked_and_answered(bot: Bot, slack: FakeSlack) -> None:
    opened = slack.requests("apps.connections.open")
    assert len(opened) == 1
    assert opened[0].headers["authorization"] == f"Bearer {slack.app_token}"
    envelope = send_command(slack, "topics", "good")
    assert slack.wait_ack(envelope)["envelope_id"] == envelope
    assert "`trade`" in str(wait_for(lambda: slack.responses("good"))[0]["blocks"])
    for n, text in enumerate(["", "nonsense words", "latest 0", "feeds add <!channel>"]):
        slack.wait_ack(send_command(slack, text, f"bad{n}"))
        assert wait_for(lambda n=n: slack.responses(f"bad{n}"))[0]["text"]
    envelope = send_command(slack, "x", "other", command="/weather")
    assert "/weather" in slack.wait_ack(envelope)["payload"]["text"]


def test_reconnects_when_slack_asks(bot: Bot, slack: FakeSlack) -> None:
    slack.disconnect_all()
    wait_for(lambda: len(slack.requests("apps.connections.open")) >= 2)
    wait_for(lambda: _acked(slack, "after-refresh"), timeout=10)


def test_reconnects_after_the_socket_drops(deps: Deps, slack: FakeSlack) -> None:
    for _ in connect(deps, slack, ping_interval=0.3):  # dead sockets are found by pings
        slack.close_all()
        wait_for(lambda: len(slack.requests("apps.connections.open")) >= 2, timeout=10)
        wait_for(lambda: _acked(slack, "after-drop"), timeout=10)


def _acked(slack: FakeSlack, key: str) -> bool:
    """Send a command; True once acked and answered (an envelope to a closing socket is lost)."""
    try:
        slack.wait_ack(send_command(slack, "help", key), timeout=1)
    except (TimeoutError, RuntimeError, OSError):
        return False
    return bool(wait_for(lambda: slack.responses(key)))


def test_a_rejected_app_token_stops_start_up(deps: Deps, slack: FakeSlack) -> None:
    bot = make_bot(deps, slack, slack_signing_secret=None)
    expected = "SLACK_APP_TOKEN was rejected by Slack: invalid_auth"
    with pytest.raises(SlackAuthError, match=expected):
        run_socket_mode(bot.app, "xapp-wrong")
