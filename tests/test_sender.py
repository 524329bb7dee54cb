"""handlers.sender: SlackSender over real HTTP to the fake Slack; ConsoleSender's output."""

from __future__ import annotations

import ast
import io
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from handlers.blocks import Message, alert_message
from handlers.sender import (
    ConsoleSender,
    Posted,
    RateLimited,
    SlackFailed,
    SlackSender,
    classify_error,
    make_web_client,
)
from models.item import ItemView
from tests.fakes.slack_server import FakeSlack

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime.now(UTC)
META = {"event_type": "diplo_alert", "event_payload": {"alert_id": 42}}
MSG = Message(
    text="fallback", blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}]
)


def sender_for(slack: FakeSlack, timeout: float = 5) -> SlackSender:
    return SlackSender(make_web_client(slack.bot_token, slack.url, timeout=timeout), pace=0)


def test_post_sends_blocks_fallback_metadata_and_no_unfurling(slack: FakeSlack) -> None:
    result = sender_for(slack).post("C1", MSG, META)
    assert isinstance(result, Posted)
    [body] = slack.calls("chat.postMessage")
    assert body["text"] == "fallback" and body["blocks"] == MSG.blocks
    assert body["metadata"] == META
    assert body["unfurl_links"] is False and body["unfurl_media"] is False
    assert slack.messages("C1")[0]["ts"] == result.ts


FAILURES = [
    (lambda s: s.fail_next("chat.postMessage", headers={"Retry-After": "9"}), RateLimited(9.0)),
    (lambda s: s.fail_next("chat.postMessage", headers={}), RateLimited(1.0)),
    (
        lambda s: s.fail_next("chat.postMessage", error="internal_error", status=500),
        SlackFailed("internal_error", "transient"),
    ),
    (
        lambda s: s.fail_next("chat.postMessage", error="service_unavailable", status=503),
        SlackFailed("service_unavailable", "transient"),
    ),
    (lambda s: s.drop_next("chat.postMessage"), SlackFailed("connection_dropped", "transient")),
    (lambda s: s.stop(), SlackFailed("connection_refused", "transient")),
    (lambda s: s.delay("chat.postMessage", 1.0), SlackFailed("timeout", "transient")),
    (lambda s: s.set_token_revoked(), SlackFailed("token_revoked", "auth")),
    (lambda s: s.set_channel("C1", exists=False), SlackFailed("channel_not_found", "channel")),
    (lambda s: s.set_channel("C1", archived=True), SlackFailed("is_archived", "channel")),
    (lambda s: s.set_channel("C1", member=False), SlackFailed("not_in_channel", "channel")),
    (
        lambda s: s.fail_next("chat.postMessage", status=200, error="restricted_action"),
        SlackFailed("restricted_action", "channel"),
    ),
    (
        lambda s: s.fail_next("chat.postMessage", status=200, error="invalid_blocks"),
        SlackFailed("invalid_blocks", "content"),
    ),
    (
        lambda s: s.fail_next("chat.postMessage", status=200, error="something_new"),
        SlackFailed("something_new", "unknown"),  # retried a few times, then text only
    ),
]


ERROR_CLASSES = [
    # transient: retried without limit (Slack is down or busy; it only delays)
    *((code, "transient") for code in ("ratelimited", "internal_error", "fatal_error")),
    *((code, "transient") for code in ("service_unavailable", "request_timeout", "http_503")),
    *((code, "transient") for code in ("timeout", "connection_dropped", "unexpected_error")),
    # auth: the token is bad for every call (delivery stops, alerts kept)
    *((code, "auth") for code in ("invalid_auth", "token_revoked", "missing_scope")),
    # channel: this channel refuses posts (its alerts fail, subscriptions pause)
    *((code, "channel") for code in ("channel_not_found", "is_archived", "restricted_action")),
    # content: this message is malformed; text only at once, then failed
    *((code, "content") for code in ("invalid_blocks", "invalid_blocks_format", "no_text")),
    *((code, "content") for code in ("msg_too_long", "msg_blocks_too_long", "invalid_x")),
    *((code, "content") for code in ("metadata_too_large", "invalid_metadata_format")),
    # unknown: retried UNKNOWN_ATTEMPTS times, then text only, then failed
    *((code, "unknown") for code in ("something_new", "http_400", "http_404", "not_ok")),
]


@pytest.mark.parametrize(("error", "kind"), ERROR_CLASSES)
def test_every_slack_error_code_has_an_explicit_class(error: str, kind: str) -> None:
    assert classify_error(error) == kind


@pytest.mark.parametrize(("setup", "expected"), FAILURES, ids=[str(e) for _, e in FAILURES])
def test_every_failure_becomes_a_value(
    slack: FakeSlack, setup: Callable[[FakeSlack], None], expected: object
) -> None:
    setup(slack)
    try:
        assert sender_for(slack, timeout=0.3).post("C1", MSG, META) == expected
    finally:
        slack.delay("chat.postMessage", 0)
        if expected == SlackFailed("connection_refused", "transient"):
            slack.restart()


def test_wrong_token_is_auth_failure(slack: FakeSlack) -> None:
    sender = SlackSender(make_web_client("xoxb-not-the-token", slack.url), pace=0)
    assert sender.post("C1", MSG, META) == SlackFailed("invalid_auth", "auth")


def test_a_dropped_post_is_not_resent_by_the_client(slack: FakeSlack) -> None:
    slack.drop_next("chat.postMessage", after_processing=True)
    assert sender_for(slack).post("C1", MSG, META) == SlackFailed("connection_dropped", "transient")
    assert len(slack.calls("chat.postMessage")) == 1  # slack_sdk's retry handler would repost
    assert len(slack.messages("C1")) == 1


def post_direct(slack: FakeSlack, channel: str, text: str, alert_id: int | None = None) -> str:
    body: dict[str, object] = {"channel": channel, "text": text}
    if alert_id is not None:
        body["metadata"] = {"event_type": "diplo_alert", "event_payload": {"alert_id": alert_id}}
    _, answer = slack.handle(
        "chat.postMessage", body, {"authorization": f"Bearer {slack.bot_token}"}
    )
    assert answer["ok"], answer
    return str(answer["ts"])


def test_find_posted_pages_through_history(slack: FakeSlack) -> None:
    sender = sender_for(slack)
    before = datetime.now(UTC) - timedelta(seconds=1)
    ts = post_direct(slack, "C1", "the alert", alert_id=42)
    for n in range(450):  # newer chatter: the alert is on the third page of 200
        post_direct(slack, "C1", f"chatter {n}")
    assert sender.find_posted("C1", 42, before) == Posted(ts)
    pages = slack.calls("conversations.history")
    assert len(pages) == 3 and all(p["include_all_metadata"] in ("1", "true") for p in pages)
    assert sender.find_posted("C1", 43, before) is None
    assert sender.find_posted("C1", 42, datetime.now(UTC) + timedelta(seconds=5)) is None


def test_find_posted_reports_failures_instead_of_not_found(slack: FakeSlack) -> None:
    sender = sender_for(slack)
    slack.fail_next("conversations.history", error="internal_error", status=500)
    assert sender.find_posted("C1", 1, NOW) == SlackFailed("internal_error", "transient")
    slack.fail_next("conversations.history", headers={"Retry-After": "3"})
    assert sender.find_posted("C1", 1, NOW) == RateLimited(3.0)
    slack.set_channel("C2", member=False)
    assert sender.find_posted("C2", 1, NOW) == SlackFailed("not_in_channel", "channel")


def test_join(slack: FakeSlack) -> None:
    slack.set_channel("CPUB", member=False)
    slack.set_channel("GPRIV", member=False, private=True)
    sender = sender_for(slack)
    assert sender.join("CPUB") is True
    assert sender.join("GPRIV") is False


def test_no_token_in_logs(slack: FakeSlack, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    sender = sender_for(slack)
    sender.post("C1", MSG, META)
    slack.set_token_revoked()
    sender.post("C1", MSG, META)
    sender.find_posted("C1", 1, NOW)
    assert slack.bot_token not in caplog.text
    assert slack.bot_token.removeprefix("xoxb-") not in caplog.text


def test_console_sender_prints_plain_readable_alerts() -> None:
    item = ItemView(
        id=1,
        title="Xi & Biden <talk> trade",
        url="https://news.example/a?b=1&c=2",
        source="Wire <News>",
        summary="Both sides said <b>good</b> things.",
        published_at=datetime(2026, 11, 30, 8, 0, tzinfo=UTC),
        label="relevant",
        score=0.9,
        topics=("trade", "call"),
        reasons=("leaders",),
    )
    out = io.StringIO()
    console = ConsoleSender(stream=out)
    assert console.post("C1", alert_message(item), None) == Posted("console-1")
    assert console.post("C2", Message(text="plain &amp; simple"), None) == Posted("console-2")
    text = out.getvalue()
    assert "Xi & Biden <talk> trade (https://news.example/a?b=1&c=2)" in text
    assert "Wire <News> · 2026-11-30 08:00 UTC" in text
    assert "Topics: trade, call" in text
    assert "plain & simple" in text
    assert "&amp;" not in text and "&lt;" not in text and "<!date" not in text
    assert console.find_posted("C1", 1, NOW) is None and console.join("C1") is True
    assert console.pace == 0


def test_the_deliver_job_does_not_import_slack_sdk() -> None:
    """jobs/ stays free of slack_sdk: deliver imports none, sender imports it only when used."""
    for path in (ROOT / "jobs" / "deliver.py", ROOT / "handlers" / "sender.py"):
        tree = ast.parse(path.read_text())
        top = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
        names = [a.name for n in top if isinstance(n, ast.Import) for a in n.names]
        names += [n.module or "" for n in top if isinstance(n, ast.ImportFrom)]
        assert not [n for n in names if n.startswith(("slack_sdk", "slack_bolt"))], path
    deliver = (ROOT / "jobs" / "deliver.py").read_text()
    assert "slack_sdk" not in deliver and "slack_bolt" not in deliver
