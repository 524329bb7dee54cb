"""Sending story ops: the story message, thread replies (bursts as one), and its edits.

`jobs.deliver` claims, paces and records; this module decides, for one unit of claimed ops
of one story in one channel, what to render and which Slack call to make. Rendering happens
here, at send time, from the story as it is now (`models.story_view.load_story`).

A unit is one op, or a channel's quiet replies of one story claimed in the same run: they
become ONE reply listing several outlets. Every story message and reply carries metadata
`diplo_story` with the ids of the ops it delivers, so an op whose earlier try may have
landed is looked up first: story messages in the channel's history, replies in the
thread (`conversations.replies`) and, in case it went top-level, the history too.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TypeGuard
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from handlers.blocks import (
    Message,
    stage_post,
    stage_reply,
    story_message,
    story_reply,
    text_only,
)
from handlers.sender import LookupResult, Posted, PostResult, Sender, SlackFailed, story_metadata
from models.channel import DEFAULT_TZ
from models.outbox import POST, REPLY, UPDATE, AlertJob
from models.story_view import StoryEntry, StoryView, load_story
from news.zones import zone

logger = logging.getLogger(__name__)

MAX_GROUP = 25  # quiet replies listed in one message at most

Paced = Callable[[str, Callable[[], PostResult]], PostResult]


@dataclass(frozen=True)
class OpOutcome:
    """What happened to one op of a unit."""

    job: AlertJob
    result: PostResult
    recovered: bool = False  # found already posted instead of posted again
    lookup: bool = False  # the failure came from a lookup
    given_up: str | None = None  # it cannot be delivered, for good: why
    absorbed: bool = False  # nothing to send (the story message shows it)


@dataclass
class RunStories:
    """What one deliver run learnt about story messages: posted (ts) or failed for good."""

    posted: dict[tuple[str, int], str] = field(default_factory=dict)
    failed: set[tuple[str, int]] = field(default_factory=set)

    def learn(self, outcome: OpOutcome) -> None:
        """Remember a story message this run posted, found, or gave up."""
        job = outcome.job
        if job.op != POST or job.story_id is None:
            return
        if isinstance(outcome.result, Posted) and outcome.given_up is None:
            self.posted[(job.channel, job.story_id)] = outcome.result.ts
        elif outcome.given_up is not None:
            self.failed.add((job.channel, job.story_id))


def quiet_reply(job: AlertJob) -> bool:
    """A reply that does not advance the stage: it may share a message with others."""
    return job.op == REPLY and not job.broadcast and job.story_id is not None


def take_unit(queue: deque[AlertJob]) -> list[AlertJob]:
    """Pop the next unit: one op, or a quiet reply with the same story's later quiet replies.

    Grouping stops at that story's next broadcast reply, so the thread keeps its order
    around a stage change.
    """
    job = queue.popleft()
    if not quiet_reply(job):
        return [job]
    unit, rest, stop = [job], deque[AlertJob](), False
    while queue:
        other = queue.popleft()
        same = other.story_id == job.story_id
        if same and not stop and quiet_reply(other) and len(unit) < MAX_GROUP:
            unit.append(other)
            continue
        if same and other.op == REPLY and other.broadcast:
            stop = True
        rest.append(other)
    queue.extend(rest)
    return unit


def _is(result: object, kind: str) -> TypeGuard[SlackFailed]:
    return isinstance(result, SlackFailed) and result.kind == kind


def _entry(story: StoryView, job: AlertJob) -> StoryEntry | None:
    for e in story.entries:
        if job.item is not None and e.item.id == job.item.id:
            return e
    if job.item is None:
        return None
    return StoryEntry(job.item, outlet=job.item.source or "unknown outlet")


class StoryAttempt:
    """Send one unit of one story's ops to one channel (see the module docstring)."""

    def __init__(
        self,
        sender: Sender,
        sessions: sessionmaker[Session],
        paced: Paced,
        known: RunStories,
        lookback: timedelta,
        unknown_attempts: int = 5,
        default_tz: str = DEFAULT_TZ,
    ) -> None:
        self.sender, self.sessions, self.paced = sender, sessions, paced
        self.known, self.lookback = known, lookback
        self.unknown_attempts = unknown_attempts  # tries against an unknown error, then text
        self.default_tz = default_tz  # a channel's zone until it has one

    def zone(self, job: AlertJob) -> ZoneInfo:
        """The zone of the job's channel, for the times its messages show."""
        return zone(job.tz, self.default_tz)

    def run(self, unit: list[AlertJob]) -> list[OpOutcome]:
        """The outcome of each op of the unit."""
        job = unit[0]
        assert job.story_id is not None
        with self.sessions() as s:
            story = load_story(s, job.story_id)
        if story is None:
            return [
                OpOutcome(j, SlackFailed("story_gone", "content"), given_up="story_gone")
                for j in unit
            ]
        if job.op == POST:
            return [self._post(job, story)]
        if job.op == UPDATE:
            return [self._update(job, story)]
        return self._replies(unit, story)

    # --- the story message and its edits

    def _post(self, job: AlertJob, story: StoryView) -> OpOutcome:
        if job.maybe_posted_since is not None:
            found = self._find(job, None)
            if found is not None:
                return OpOutcome(job, found, recovered=isinstance(found, Posted), lookup=True)
        message = story_message(story, list_sources=not job.threads, tz=self.zone(job))
        return self._send_top(job, [job], message)

    def _update(self, job: AlertJob, story: StoryView) -> OpOutcome:
        assert job.story_id is not None
        key = (job.channel, job.story_id)
        if key in self.known.posted:  # posted in this run, rendered after this edit was queued
            return OpOutcome(job, Posted(self.known.posted[key]), absorbed=True)
        ts = job.parent_ts
        if ts is None:
            why = "no_story_message"
            return OpOutcome(job, SlackFailed(why, "content"), given_up=why)
        message = story_message(story, list_sources=not job.threads, tz=self.zone(job))
        channel = job.channel
        result, given_up = self._with_fallback(
            job, message, lambda m: self.sender.update(channel, ts, m)
        )
        if _is(result, "gone"):  # the story message was deleted: nothing left to edit
            given_up = result.error
        return OpOutcome(job, result, given_up=given_up)

    # --- replies

    def _replies(self, unit: list[AlertJob], story: StoryView) -> list[OpOutcome]:
        job = unit[0]
        assert job.story_id is not None
        key = (job.channel, job.story_id)
        parent = job.parent_ts or self.known.posted.get(key)
        parent_failed = job.parent_failed or key in self.known.failed
        outcomes: list[OpOutcome] = []
        todo: list[AlertJob] = []
        for j in unit:
            if j.maybe_posted_since is None:
                todo.append(j)
                continue
            found = self._find(j, parent)
            if isinstance(found, Posted):
                outcomes.append(OpOutcome(j, found, recovered=True, lookup=True))
            elif found is None:
                todo.append(j)
            else:  # nobody can tell: the whole unit waits
                return [OpOutcome(x, found, lookup=True) for x in unit]
        if not todo:
            return outcomes
        entries = [e for e in (_entry(story, j) for j in todo) if e is not None]
        broadcast = todo[0].broadcast
        reply = story_reply(entries, self.zone(job), story.in_china)
        if parent is None and not parent_failed:
            # its story message is neither posted nor given up: wait for it
            waiting = SlackFailed("story_message_pending", "transient")
            return [*outcomes, *(OpOutcome(j, waiting) for j in todo)]
        if parent is None:  # the story message failed for good: never let a reply vanish
            message = stage_reply(story, entries[0]) if broadcast else reply
            return [*outcomes, *self._send_top_all(todo, message)]
        if not job.threads:
            if not broadcast:  # the edited story message lists it
                return [*outcomes, *(OpOutcome(j, Posted(parent), absorbed=True) for j in todo)]
            link = self.sender.permalink(job.channel, parent)
            return [*outcomes, *self._send_top_all(todo, stage_post(story, entries[0], link))]
        message = stage_reply(story, entries[0]) if broadcast else reply
        metadata = story_metadata(story.id, [j.alert_id for j in todo])
        channel = job.channel
        result, given_up = self._with_fallback(
            job, message, lambda m: self.sender.reply(channel, parent, m, metadata, broadcast)
        )
        if _is(result, "gone"):  # the story message was deleted: top-level instead
            logger.info("story %s: message gone in %s; reply sent top-level", story.id, channel)
            return [*outcomes, *self._send_top_all(todo, message)]
        return [*outcomes, *(OpOutcome(j, result, given_up=given_up) for j in todo)]

    # --- shared

    def _send_top_all(self, todo: list[AlertJob], message: Message) -> list[OpOutcome]:
        """Post `message` top-level for these ops (one message carrying all their ids)."""
        job = todo[0]
        assert job.story_id is not None
        metadata = story_metadata(job.story_id, [j.alert_id for j in todo])
        channel = job.channel

        def post(m: Message) -> PostResult:
            result = self.sender.post(channel, m, metadata)
            joined = _is(result, "channel") and result.error == "not_in_channel"
            if joined and self.sender.join(channel):
                result = self.sender.post(channel, m, metadata)
            return result

        result, given_up = self._with_fallback(job, message, post)
        return [OpOutcome(j, result, given_up=given_up) for j in todo]

    def _send_top(self, job: AlertJob, ops: list[AlertJob], message: Message) -> OpOutcome:
        return self._send_top_all(ops, message)[0]

    def _with_fallback(
        self, job: AlertJob, message: Message, send: Callable[[Message], PostResult]
    ) -> tuple[PostResult, str | None]:
        """Send (paced); a message Slack refuses goes once more as text only, then is given up.

        Refused: a content error at once, an unknown error from the `unknown_attempts`-th
        try on. Returns the result and, when given up, why.
        """
        result = self.paced(job.channel, lambda: send(message))
        refused = _is(result, "content") or (
            _is(result, "unknown") and job.attempt >= self.unknown_attempts
        )
        if not refused:
            return result, None
        assert isinstance(result, SlackFailed)
        first = result.error
        logger.warning("story op %s: Slack refused it (%s); text only", job.alert_id, first)
        result = self.paced(job.channel, lambda: send(text_only(message)))
        if _is(result, "content") or _is(result, "unknown"):
            return result, f"{first}; as text only: {result.error}"
        return result, None

    def _find(self, job: AlertJob, thread_ts: str | None) -> LookupResult:
        """Search for an earlier try of the op: in its thread, then in the history."""
        assert job.maybe_posted_since is not None
        oldest = job.maybe_posted_since - self.lookback
        if thread_ts is not None:
            found = self.sender.find_op(job.channel, job.alert_id, oldest, thread_ts=thread_ts)
            if found is not None:
                return found
        return self.sender.find_op(job.channel, job.alert_id, oldest)
