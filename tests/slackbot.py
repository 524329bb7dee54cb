"""Drive the real Bolt app in tests: signed requests, the bot wired to the fake Slack."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_bolt import App, BoltRequest
from sqlalchemy import Engine

from deps import Deps
from handlers import register_handlers
from handlers.app import build_app
from handlers.blocks import UNSUBSCRIBE_ACTION
from models.db import make_engine
from models.feed import add_feed
from models.item import save_new
from models.migrate import upgrade
from news.entry import Entry
from tests.fakes.slack_server import FakeSlack
from tests.slack_limits import assert_slack_limits

SECRET = "test-signing-secret"


def slash_form(text: str, channel: str, user: str, response_url: str) -> dict[str, str]:
    """The form fields Slack POSTs for `/diplo <text>`."""
    return {
        "token": "legacy",
        "team_id": "T1",
        "team_domain": "diplo-test",
        "channel_id": channel,
        "channel_name": "general",
        "user_id": user,
        "user_name": user.lower(),
        "command": "/diplo",
        "text": text,
        "api_app_id": "A1",
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": "1.2.3",
    }


def unsubscribe_press(topic: str, channel: str, user: str, response_url: str) -> str:
    """The form body Slack POSTs when an Unsubscribe button on a subscriptions list is pressed."""
    return button_press(UNSUBSCRIBE_ACTION, topic, channel, user, response_url)


def button_press(action_id: str, value: str, channel: str, user: str, response_url: str) -> str:
    """The form body Slack POSTs when a button on an ephemeral message is pressed."""
    payload = {
        "type": "block_actions",
        "team": {"id": "T1", "domain": "diplo-test"},
        "user": {"id": user, "team_id": "T1"},
        "api_app_id": "A1",
        "token": "legacy",
        "container": {"type": "message", "channel_id": channel, "is_ephemeral": True},
        "trigger_id": "1.2.3",
        "channel": {"id": channel, "name": "general"},
        "response_url": response_url,
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "b1",
                "value": value,
                "text": {"type": "plain_text", "text": "Button"},
                "action_ts": "1.0",
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)})


def sign(body: str, secret: str = SECRET, timestamp: int | None = None) -> dict[str, str]:
    """Slack's v0 signature headers for `body`, computed independently of slack_sdk."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"x-slack-request-timestamp": ts, "x-slack-signature": f"v0={digest}"}


def wait_for(check: Any, timeout: float = 5.0) -> Any:
    """Poll `check()` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError("nothing arrived in time")
        time.sleep(0.01)


def post_form(
    port: int, body: str, headers: dict[str, str], path: str = "/slack/events"
) -> tuple[int, bytes]:
    """POST a form body to the bot's HTTP server on 127.0.0.1; (status, body), errors too."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=body.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded", **headers},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@dataclass
class Bot:
    """The real App wired to the fake Slack, and ways to talk to it."""

    app: App
    deps: Deps
    slack: FakeSlack

    def dispatch(self, body: str, content_type: str = "application/x-www-form-urlencoded") -> Any:
        """Hand `body` to the App, signed with the secret the App was built with."""
        secret = self.deps.settings.slack_signing_secret or SECRET
        headers = {"content-type": content_type, **sign(body, secret)}
        return self.app.dispatch(BoltRequest(body=body, headers=headers))

    def command(self, text: str, channel: str = "C1", user: str = "U1") -> dict[str, Any]:
        """Run `/diplo text`; check the ack; return the reply POSTed to the response_url."""
        key = uuid.uuid4().hex
        body = urlencode(slash_form(text, channel, user, self.slack.response_url(key)))
        ack = self.dispatch(body)
        assert ack.status == 200, ack.body
        replies = wait_for(lambda: self.slack.responses(key))
        assert len(replies) == 1
        reply: dict[str, Any] = replies[0]
        assert reply["text"].strip()
        assert_slack_limits(reply.get("blocks") or [])
        return reply

    def press(
        self, action_id: str, value: str, channel: str = "C1", user: str = "U1"
    ) -> dict[str, Any]:
        """Press a button (`action_id`, `value`) on an ephemeral message; the reply sent."""
        key = uuid.uuid4().hex
        body = button_press(action_id, value, channel, user, self.slack.response_url(key))
        ack = self.dispatch(body)
        assert ack.status == 200
        return dict(wait_for(lambda: self.slack.responses(key))[0])

    def click(self, topic: str, channel: str = "C1", user: str = "U1") -> dict[str, Any]:
        """Press an Unsubscribe button on an ephemeral subscriptions list."""
        key = uuid.uuid4().hex
        body = unsubscribe_press(topic, channel, user, self.slack.response_url(key))
        ack = self.dispatch(body)
        assert ack.status == 200
        return dict(wait_for(lambda: self.slack.responses(key))[0])


def slack_deps(deps: Deps, slack: FakeSlack, **settings_: Any) -> Deps:
    """`deps` with Slack settings pointing at the fake."""
    settings_.setdefault("slack_bot_token", slack.bot_token)
    settings_.setdefault("slack_signing_secret", SECRET)
    settings_.setdefault("slack_api_url", slack.url)
    return replace(deps, settings=replace(deps.settings, **settings_))


def make_bot(deps: Deps, slack: FakeSlack, **settings_: Any) -> Bot:
    """The real App with every handler registered, talking to the fake Slack."""
    d = slack_deps(deps, slack, **settings_)
    app = build_app(d)
    register_handlers(app, d)
    return Bot(app, d, slack)


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """A migrated SQLite database only: import it as `engine` in transport-only test files."""
    eng = make_engine(f"sqlite:///{tmp_path / 'diplo.db'}")
    upgrade(eng)
    yield eng
    assert "Checked out connections: 0" in eng.pool.status(), "a session was left open"
    eng.dispose()


def store_items(deps: Deps, specs: Sequence[tuple[str, str | None, str]]) -> None:
    """Store items (title, label, comma-separated topics), the first one newest."""
    now = deps.clock()
    entries = [
        Entry(
            dedup_key=uuid.uuid4().hex,
            title=title,
            url=f"https://wire.example/{n}",
            summary=f"Summary of {title}",
            published=now - timedelta(minutes=n),
        )
        for n, (title, _, _) in enumerate(specs)
    ]
    with deps.sessions.begin() as s:
        feed, _ = add_feed(s, f"https://wire.example/{uuid.uuid4().hex}.xml", now)
        items = {i.title: i for i in save_new(s, feed.id, "Wire", entries, now)}
        for title, label, topics in specs:
            items[title].label = label
            items[title].topics = topics
