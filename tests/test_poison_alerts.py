"""An alert Slack keeps refusing never blocks its channel; every message fits Slack's limits.

Real database (SQLite and PostgreSQL), the real SlackSender over HTTP to the fake Slack,
which answers with Slack's own error codes; the settable clock stands in for the backoff.
"""

from __future__ import annotations

import dataclasses
import json
import logging

import pytest
from sqlalchemy import select, update

from deps import Deps
from handlers.sender import SlackSender, make_web_client
from jobs.deliver import MAX_BACKOFF, UNKNOWN_ATTEMPTS, DeliverySummary, deliver_pending
from models.item import Item
from models.outbox import FAILED, SENT, Alert
from tests.conftest import Clock
from tests.fakes.slack_server import FakeSlack
from tests.faults import queue_alert
from tests.slackbot import make_bot
from tests.test_deliver import alert, alert_ids, drain, posted

POISON = "msg_blocks_frobnicated"  # a code no list knows


@pytest.fixture
def slack(clocked_slack: FakeSlack) -> FakeSlack:
    """The fake Slack, stamping messages with the test clock."""
    return clocked_slack


@pytest.fixture
def deps(deps: Deps, slack: FakeSlack) -> Deps:
    """The test deps posting to the fake Slack through the real SlackSender."""
    sender = SlackSender(make_web_client(slack.bot_token, slack.url, timeout=2), pace=0)
    return dataclasses.replace(deps, sender=sender)


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def test_an_unknown_permanent_error_fails_that_alert_and_the_channel_moves_on(
    deps: Deps, slack: FakeSlack, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    for title in ("Story one", "Poison story", "Story three", "Story four"):
        queue_alert(deps, ["C1"], title)
    queue_alert(deps, ["C2"], "Elsewhere")
    slack.refuse_posts("Poison story", POISON)

    drain(deps, clock, step=MAX_BACKOFF)
    ids = alert_ids(deps, "C1")
    assert posted(slack, "C1") == [ids[0], ids[2], ids[3]]  # the rest, in order
    assert posted(slack, "C2") == alert_ids(deps, "C2")
    poison = alert(deps, ids[1])
    reason = f"{POISON}; as text only: {POISON}"
    assert (poison.status, poison.last_error, poison.attempts) == (FAILED, reason, UNKNOWN_ATTEMPTS)
    tries = [c for c in slack.calls("chat.postMessage") if "Poison story" in c["text"]]
    assert len(tries) == UNKNOWN_ATTEMPTS + 1
    assert [bool(c.get("blocks")) for c in tries] == [True] * UNKNOWN_ATTEMPTS + [False]
    assert tries[-1]["metadata"]["event_payload"]["alert_id"] == ids[1]  # exactly-once
    [loud] = errors(caplog)  # said once, at ERROR, with the reason
    assert POISON in loud and str(ids[1]) in loud

    body = json.dumps(make_bot(deps, slack).command("status")["blocks"])
    assert "1 failed" in body and "Poison story" in body and POISON in body


@pytest.mark.parametrize("error", ["invalid_blocks_layout", "msg_blocks_too_long"])
def test_a_content_error_is_tried_as_text_at_once(
    deps: Deps, slack: FakeSlack, caplog: pytest.LogCaptureFixture, error: str
) -> None:
    queue_alert(deps, ["C1"], "Fine story")
    queue_alert(deps, ["C1"], "Blocky story")
    queue_alert(deps, ["C1"], "Last story")
    slack.refuse_posts("Blocky story", error, blocks_only=True)
    assert deliver_pending(deps) == DeliverySummary(sent=3)
    assert posted(slack, "C1") == alert_ids(deps, "C1")
    [fine, blocky, last] = slack.messages("C1")
    assert fine["blocks"] and last["blocks"] and not blocky["blocks"]
    assert "Blocky story" in blocky["text"] and errors(caplog) == []


def test_a_content_error_refused_as_text_too_fails_in_the_first_run(
    deps: Deps, slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    queue_alert(deps, ["C1"], "Bad story")
    queue_alert(deps, ["C1"], "Good story")
    slack.refuse_posts("Bad story", "invalid_arguments")
    assert deliver_pending(deps) == DeliverySummary(sent=1, failed=1)
    bad, good = alert_ids(deps, "C1")
    assert posted(slack, "C1") == [good]
    assert alert(deps, bad).last_error == "invalid_arguments; as text only: invalid_arguments"
    assert len(errors(caplog)) == 1


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (200, "internal_error"),
        (200, "fatal_error"),
        (200, "service_unavailable"),
        (200, "request_timeout"),
        (500, "internal_error"),
        (502, ""),
    ],
)
def test_transient_errors_are_retried_without_limit(
    deps: Deps, slack: FakeSlack, clock: Clock, status: int, error: str
) -> None:
    queue_alert(deps, ["C1"], "Patient story")
    queue_alert(deps, ["C1"], "Next story")
    first = alert_ids(deps, "C1")[0]
    tries = 3 * UNKNOWN_ATTEMPTS
    slack.fail_next("chat.postMessage", tries, status=status, error=error)
    slack.fail_next("conversations.history", tries, status=status, error=error)
    with deps.sessions.begin() as s:  # the alert has been tried many times already
        s.execute(update(Alert).where(Alert.id == first).values(attempts=tries))
    drain(deps, clock, runs=4 * tries)
    assert posted(slack, "C1") == alert_ids(deps, "C1")
    with deps.sessions() as s:
        assert set(s.scalars(select(Alert.status))) == {SENT}


# --- messages always valid for Slack, end to end ---------------------------------------------


def test_a_title_of_ampersands_with_a_long_link_posts_as_blocks_with_a_working_link(
    deps: Deps, slack: FakeSlack
) -> None:
    url = "https://news.example/" + "a" * 1979
    item_id = queue_alert(deps, ["C1"], "&" * 300)
    with deps.sessions.begin() as s:
        s.execute(update(Item).where(Item.id == item_id).values(url=url, summary="<&>" * 400))
    assert deliver_pending(deps) == DeliverySummary(sent=1)
    [message] = slack.messages("C1")
    assert len(slack.calls("chat.postMessage")) == 1  # not refused: no text-only retry
    head = message["blocks"][0]["text"]["text"]
    assert len(url) == 2000 and f"<{url}|&amp;" in head
    label = head.split("|", 1)[1].split(">", 1)[0]
    assert label.endswith("…") and label[:-1].replace("&amp;", "") == ""


def test_the_fake_refuses_over_limit_messages_with_slacks_codes(slack: FakeSlack) -> None:
    sender = SlackSender(make_web_client(slack.bot_token, slack.url, timeout=2), pace=0)
    from handlers.blocks import Message
    from handlers.sender import SlackFailed

    def post(text: str, blocks: list[dict[str, object]]) -> object:
        return sender.post("C1", Message(text=text, blocks=blocks), None)

    sec = {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}
    head = {"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}
    ctx = {"type": "context", "elements": [{"type": "mrkdwn", "text": "x"}] * 11}
    long_ctx = {"type": "context", "elements": [{"type": "mrkdwn", "text": "x" * 3001}]}
    ok = {"type": "section", "text": {"type": "mrkdwn", "text": "x"}}
    assert post("t", [sec]) == SlackFailed("invalid_blocks", "content")
    assert post("t", [head]) == SlackFailed("invalid_blocks", "content")
    assert post("t", [ctx]) == SlackFailed("invalid_blocks", "content")
    assert post("t", [long_ctx]) == SlackFailed("invalid_blocks", "content")
    assert post("t", [ok] * 51) == SlackFailed("invalid_blocks", "content")
    assert post("x" * 40_001, []) == SlackFailed("msg_too_long", "content")
    assert post("t", [ok] * 50) != SlackFailed("invalid_blocks", "content")


def test_backoff_stays_capped_after_any_number_of_attempts() -> None:
    from jobs.deliver import backoff

    assert [backoff(n) for n in (9, 50, 10_000)] == [MAX_BACKOFF] * 3  # no timedelta overflow
