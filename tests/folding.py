"""Helpers shared by the quiet-hours, catch-up and flood-budget tests."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any

from sqlalchemy import select

from deps import Deps
from handlers.sender import SlackSender, make_web_client
from jobs.catchup import fold_policy
from jobs.deliver import MAX_BACKOFF, deliver_pending
from models.channel import set_quiet
from models.fold import before_story_ops
from models.outbox import Alert, enqueue_story, pending_count
from models.story import Story
from tests import stories
from tests.conftest import Clock
from tests.fakes.slack_server import FakeSlack


def slack_deps(deps: Deps, slack: FakeSlack, **settings: Any) -> Deps:
    """`deps` delivering with the real SlackSender to the fake Slack (no pacing)."""
    sender = SlackSender(make_web_client(slack.bot_token, slack.url, timeout=2), pace=0)
    return dataclasses.replace(
        deps, sender=sender, settings=dataclasses.replace(deps.settings, **settings)
    )


def quiet(
    deps: Deps, channel: str, start: int | None, end: int | None, urgent: str = "all"
) -> None:
    """Set the channel's quiet hours directly (the command is tested on its own)."""
    with deps.sessions.begin() as s:
        set_quiet(s, channel, start, end, urgent, deps.clock())


def queue(
    deps: Deps,
    story: int,
    source: str = "Reuters",
    channels: tuple[str, ...] = ("C1",),
    *,
    stage: str | None = None,
    urgent: str | None = None,
    advanced: bool = False,
) -> int:
    """Store an item of `story` and queue it as classify does (flood budget included)."""
    with deps.sessions.begin() as s:
        current = s.get(Story, story)
        stage = stage or (current.stage if current else "planned")
        item = stories.store_item(
            s, deps, story, source, f"Story {story}: {source} reports", stage=stage
        )
        now = deps.clock()
        live = before_story_ops(
            s, story, item, channels, now, fold_policy(deps.settings), urgent=urgent
        )
        enqueue_story(s, story, item, live, now, advanced=advanced, urgent=urgent)
    return item


def drain(deps: Deps, clock: Clock, runs: int = 30) -> None:
    """Deliver until nothing is claimable; moves the clock past back-offs when needed."""
    for _ in range(runs):
        summary = deliver_pending(deps)
        if summary.sent == summary.retried == summary.failed == summary.recovered == 0:
            with deps.sessions() as s:
                if pending_count(s) == 0:
                    return
            clock.advance(seconds=MAX_BACKOFF.total_seconds())
    raise AssertionError("ops still pending")


def deliver_all(deps: Deps) -> None:
    """Deliver what is claimable now, without moving the clock."""
    for _ in range(10):
        if deliver_pending(deps).sent == 0:
            return


def rows(deps: Deps) -> list[Alert]:
    with deps.sessions() as s:
        return list(s.scalars(select(Alert).order_by(Alert.id)))


def payload(message: dict[str, Any]) -> dict[str, Any]:
    return dict(message.get("metadata", {}).get("event_payload") or {})


def catchups(slack: FakeSlack, channel: str) -> list[dict[str, Any]]:
    """The channel's top-level catch-up messages."""
    return [m for m in slack.top_level(channel) if "While " in m["text"][:40]]


def story_posts(slack: FakeSlack, channel: str) -> list[int]:
    """The story ids of the channel's story messages, in order."""
    return [payload(m)["story_id"] for m in slack.top_level(channel) if "story_id" in payload(m)]


def shown(message: dict[str, Any]) -> str:
    return json.dumps(message.get("blocks") or message["text"], ensure_ascii=False)


def utc(*args: int) -> datetime:
    from datetime import UTC

    return datetime(*args, tzinfo=UTC)
