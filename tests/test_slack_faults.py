"""Slack that fails, beyond the single-fault cases of test_deliver.py and test_socket_mode.py.

A storm with every failure kind interleaved on chat.postMessage (429 with Retry-After,
`ratelimited`, 5xx, timeouts and dropped connections before and after Slack posted, a
failing history lookup), then a revoked token and a wrong one, then recovery: every queued
alert arrives exactly once, in order per channel. And a Socket Mode connection that stops
answering pings (a silent network path, not a closed socket) is replaced.
"""

from __future__ import annotations

import logging

import pytest

from deps import Deps
from handlers.app import run_socket_mode
from tests.conftest import Clock
from tests.fakes.slack_server import FakeSlack
from tests.faults import STORM, StallProxy, run_slack_storm
from tests.slackbot import make_bot, slash_form, wait_for


@pytest.fixture
def slack(clocked_slack: FakeSlack) -> FakeSlack:
    """The fake Slack stamping messages with the test clock (history lookups compare times)."""
    return clocked_slack


def test_a_storm_of_every_failure_then_recovery_delivers_each_alert_once_in_order(
    deps: Deps, slack: FakeSlack, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    report = run_slack_storm(deps, slack, clock)

    assert report.queued == 3 * 3 + 3 * 2 + 2 * 3  # parts 1,3,5 to 3 channels, 0,2,4 to 2; +2
    assert (report.delivered, report.duplicated, report.out_of_order) == (report.queued, 0, [])
    kinds = set(STORM) - {"ok"}
    assert kinds <= set(report.injected)
    assert report.auth_stops == ["token_revoked", "invalid_auth"]
    # stopping for a bad token is said loudly, once per run, naming Slack's error
    loud = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("token_revoked" in m and "delivery stopped" in m for m in loud)
    assert any("invalid_auth" in m and "delivery stopped" in m for m in loud)
    assert slack.bot_token not in caplog.text
    # Retry-After was honoured: nothing was posted while a 429 said to wait
    posts = slack.requests("chat.postMessage")
    assert len(posts) <= report.queued + len(STORM) + 4


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)  # the transport only
def test_socket_mode_replaces_a_connection_that_stops_answering_pings(
    deps: Deps, slack: FakeSlack
) -> None:
    proxy = StallProxy(slack.ws_port)
    slack.ws_advertised_port = proxy.port
    bot = make_bot(deps, slack, slack_app_token=slack.app_token, slack_signing_secret=None)
    handler = run_socket_mode(bot.app, slack.app_token, ping_interval=0.2)
    try:
        slack.wait_connections(1)
        assert proxy.stall() == 1  # the socket stays open; nothing passes any more
        wait_for(lambda: len(slack.requests("apps.connections.open")) >= 2, timeout=10)
        wait_for(lambda: _answered(slack, "after-stall"), timeout=10)
    finally:
        handler.close()
        proxy.close()


def _answered(slack: FakeSlack, key: str) -> bool:
    """Send `/diplo help` to the newest socket; True once acked and answered."""
    form = slash_form("help", "C1", "U1", slack.response_url(key))
    try:
        slack.wait_ack(slack.send_envelope("slash_commands", form), timeout=1)
    except (TimeoutError, RuntimeError, OSError):
        return False
    return bool(wait_for(lambda: slack.responses(key)))
