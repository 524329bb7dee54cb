"""Post queued alerts to Slack exactly once, in order per channel, losing none.

One run: claim a batch of due alerts (short transaction), post them round-robin across
channels, at most one per `sender.pace` seconds per channel, and record each result in its
own short transaction. No transaction is open while Slack is called.

Why a post is never repeated: every message carries `metadata.event_payload.alert_id`, and an
alert whose last try may have landed unrecorded (the sender crashed after posting, or the
request timed out or dropped) is first looked up in the channel's history.

Story ops (`post` the story message, `reply` in its thread, `update` it) go through
`jobs.story_delivery`, one unit at a time: a channel's story messages come first, and its
quiet replies of one story claimed together go out as one message. Their metadata lists
the op ids they deliver, looked up (thread replies included) the same way.

A DIGEST op (queued when due by jobs.digests) goes through `jobs.digest_delivery`: rendered
now, posted like an item alert (same metadata, same lookup), its chart shared in its thread.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta, tzinfo
from typing import TYPE_CHECKING, Any, TypeGuard

from handlers.blocks import Message, alert_message, text_only
from handlers.sender import (
    ALERT_EVENT,
    LookupResult,
    Posted,
    PostResult,
    RateLimited,
    Sender,
    SlackFailed,
)
from jobs.catchup import fold_policy, render_folded
from jobs.digest_delivery import DigestAttempt
from jobs.reminders import render_reminder
from jobs.story_delivery import RunStories, StoryAttempt, take_unit
from models.lease import DEFAULT_TTL
from models.outbox import (
    CATCHUP,
    DIGEST,
    KEYED_OPS,
    MORE,
    POST,
    REMIND,
    UPDATE,
    AlertJob,
    claim_batch,
    fail_channel,
    mark_failed,
    mark_retry,
    mark_sent,
    mark_skipped,
    mark_update_sent,
    pending_count,
    release,
)
from models.subscription import pause_channel

if TYPE_CHECKING:
    from deps import Deps

logger = logging.getLogger(__name__)

LEASE = DEFAULT_TTL  # DIPLO_LEASE_SECONDS' default: a killed sender's alerts are looked up after
# this; while a run works, the heartbeat renews its leases (jobs/heartbeat.py)
RUN_TIME = timedelta(minutes=1)  # no new post starts later than this in a run
PER_CHANNEL = 20  # alerts per channel per run when the sender is paced
FIRST_BACKOFF = timedelta(seconds=5)
MAX_BACKOFF = timedelta(minutes=15)
LOOKBACK = timedelta(minutes=5)  # history is searched from this long before the claim (skew)
MAX_TRANSIENT = 3  # consecutive outage-like failures that end the run
# Paced runs send a channel at most this many replies and edits, then hand the rest back and
# run again at once: a story message queued meanwhile (claimed first) waits ~2 s at most.
MAX_FOLLOW_UPS = 2
# Tries an alert gets against an error code Slack gives that no list knows (see
# handlers.sender.classify_error), with the usual backoff, before the text-only try.
UNKNOWN_ATTEMPTS = 5

# Keyed ops (a channel's reminder, digest, …): each renders at send time, from the data as it
# is then; a str instead of a Message says why it is out of date (marked skipped, not posted).
KeyedRenderer = Callable[["Deps", AlertJob], Message | str]
KEYED_RENDERERS: dict[str, KeyedRenderer] = {REMIND: render_reminder}


@dataclass(frozen=True)
class DeliverySummary:
    """What one run did; `stopped_reason` says why it ended early (alerts kept pending)."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    recovered: int = 0
    stopped_reason: str | None = None


def alert_metadata(alert_id: int) -> dict[str, Any]:
    """The message metadata that lets a later run find an alert already posted."""
    return {"event_type": ALERT_EVENT, "event_payload": {"alert_id": alert_id}}


def backoff(attempt: int) -> timedelta:
    """Wait before retry `attempt` + 1 after a transient failure: doubling, capped."""
    doublings = min(max(attempt - 1, 0), 16)  # past the cap already; 2**n must not overflow
    return min(FIRST_BACKOFF * 2**doublings, MAX_BACKOFF)


@dataclass(frozen=True)
class _Outcome:
    result: PostResult
    recovered: bool = False  # found in the history instead of posted
    lookup: bool = False  # the failure came from the history lookup
    given_up: str | None = None  # Slack refused it, as built and as text only: why
    skipped: str | None = None  # a keyed message out of date at send time: why (not posted)


class _Pacer:
    """Posts to one channel at least `pace` seconds apart (sleeping at most `pace`)."""

    def __init__(self, sender: Sender, pace: float) -> None:
        self.sender, self.pace = sender, pace
        self.last: dict[str, float] = {}

    def post(self, channel: str, message: Message, metadata: dict[str, Any]) -> PostResult:
        """Wait for the channel's turn, then post; the gap counts from the previous answer."""
        return self.call(channel, lambda: self.sender.post(channel, message, metadata))

    def call(self, channel: str, send: Callable[[], PostResult]) -> PostResult:
        """Wait for the channel's turn, then make one Slack call to it (post, reply, edit)."""
        if channel in self.last:
            gap = self.last[channel] + self.pace - time.monotonic()
            if gap > 0:
                time.sleep(gap)
        try:
            return send()
        finally:
            self.last[channel] = time.monotonic()


def _attempt(sender: Sender, job: AlertJob, pacer: _Pacer, tz: tzinfo) -> _Outcome:
    """Look up (when unsure), then post, joining the channel once if needed.

    A message Slack refuses (a content error at once, an unknown error from the
    UNKNOWN_ATTEMPTS-th try on) is tried once more as text only; refused again, it is given up.
    """
    assert job.item is not None  # an item alert (story ops go through StoryAttempt)
    if job.maybe_posted_since is not None:
        found = _find(sender, job)
        if found is not None:
            return _Outcome(found, recovered=isinstance(found, Posted), lookup=True)
    return _post(sender, job, alert_message(job.item, watch_phrase=job.watch_phrase, tz=tz), pacer)


def _post(sender: Sender, job: AlertJob, message: Message, pacer: _Pacer) -> _Outcome:
    """Post a top-level message carrying the alert's metadata (text only if Slack refuses it)."""
    metadata = alert_metadata(job.alert_id)
    result = pacer.post(job.channel, message, metadata)
    if _is(result, "channel") and result.error == "not_in_channel" and sender.join(job.channel):
        result = pacer.post(job.channel, message, metadata)
    if _is(result, "content") or (_is(result, "unknown") and job.attempt >= UNKNOWN_ATTEMPTS):
        first = result.error
        logger.warning("alert %s: Slack refused it (%s); trying text only", job.alert_id, first)
        result = pacer.post(job.channel, text_only(message), metadata)
        if _is(result, "content") or _is(result, "unknown"):
            return _Outcome(result, given_up=f"{first}; as text only: {result.error}")
    return _Outcome(result)


def _find(sender: Sender, job: AlertJob) -> LookupResult:
    """Search the channel for an earlier try of this alert that may have landed."""
    assert job.maybe_posted_since is not None
    if job.was_stale_sending:
        logger.info("alert %s was left unrecorded by a stopped sender; searching", job.alert_id)
    oldest = job.maybe_posted_since - LOOKBACK
    found = sender.find_posted(job.channel, job.alert_id, oldest)
    if _is(found, "channel") and found.error == "not_in_channel" and sender.join(job.channel):
        found = sender.find_posted(job.channel, job.alert_id, oldest)
    if _is(found, "auth") and found.error == "missing_scope":
        # posting may still work: hold this channel's alert, not the whole delivery
        logger.error(
            "cannot search channel %s for alert %s: the app lacks the channels:history or "
            "groups:history scope; the alert waits",
            job.channel,
            job.alert_id,
        )
        return SlackFailed("missing_scope", "transient")
    return found


def _attempt_safely(sender: Sender, job: AlertJob, pacer: _Pacer, tz: tzinfo) -> _Outcome:
    """`_attempt`, with a bug or an unexpected error turned into a retry (maybe posted)."""
    try:
        return _attempt(sender, job, pacer, tz)
    except Exception:
        logger.exception(
            "alert %s: unexpected error while sending; it will be retried", job.alert_id
        )
        return _Outcome(SlackFailed("unexpected_error", "transient"))


def _attempt_digest(digests: DigestAttempt, job: AlertJob) -> _Outcome:
    """One digest (jobs.digest_delivery); a bug becomes a retry (maybe posted)."""
    try:
        o = digests.run(job)
    except Exception:
        logger.exception("digest %s: unexpected error; it will be retried", job.alert_id)
        return _Outcome(SlackFailed("unexpected_error", "transient"))
    return _Outcome(o.result, recovered=o.recovered, lookup=o.lookup, given_up=o.given_up)


def _attempt_keyed(deps: Deps, job: AlertJob, pacer: _Pacer) -> _Outcome:
    """A keyed op: looked up first when unsure (like any alert), rendered now, posted top-level."""
    if job.maybe_posted_since is not None:
        found = _find(deps.sender, job)
        if found is not None:
            return _Outcome(found, recovered=isinstance(found, Posted), lookup=True)
    render = KEYED_RENDERERS.get(job.op)
    rendered = render(deps, job) if render is not None else f"no_renderer:{job.op}"
    if isinstance(rendered, str):
        return _Outcome(Posted(""), skipped=rendered)
    return _post(deps.sender, job, rendered, pacer)


def _attempt_folded(
    sender: Sender, job: AlertJob, pacer: _Pacer, stories: StoryAttempt
) -> _Outcome:
    """A catch-up or "more stories" message: posted once, then edited (MORE) in place.

    Rendered now from its payload; one that may have landed is looked up first and, found,
    edited to the current list (its payload may have grown since).
    """
    message = render_folded(stories.sessions, job, stories.zone(job))
    ts, recovered = job.parent_ts, False
    if ts is None and job.maybe_posted_since is not None:
        found = _find(sender, job)
        if found is not None and not isinstance(found, Posted):
            return _Outcome(found, lookup=True)
        if isinstance(found, Posted):
            ts, recovered = found.ts, True
    if ts is not None:
        edit_ts = ts
        result = pacer.call(job.channel, lambda: sender.update(job.channel, edit_ts, message))
        if not _is(result, "gone"):  # deleted: post it again below
            if _is(result, "content"):
                result = pacer.call(
                    job.channel, lambda: sender.update(job.channel, edit_ts, text_only(message))
                )
            return _Outcome(result, recovered=recovered)
    metadata = alert_metadata(job.alert_id)
    result = pacer.post(job.channel, message, metadata)
    if _is(result, "channel") and result.error == "not_in_channel" and sender.join(job.channel):
        result = pacer.post(job.channel, message, metadata)
    if _is(result, "content") or (_is(result, "unknown") and job.attempt >= UNKNOWN_ATTEMPTS):
        first = result.error
        result = pacer.post(job.channel, text_only(message), metadata)
        if _is(result, "content") or _is(result, "unknown"):
            return _Outcome(result, given_up=f"{first}; as text only: {result.error}")
    return _Outcome(result)


def _attempt_unit(
    deps: Deps,
    unit: list[AlertJob],
    pacer: _Pacer,
    stories: StoryAttempt,
    digests: DigestAttempt,
) -> list[tuple[AlertJob, _Outcome]]:
    """One item alert, digest, keyed op or unit of story ops; a bug becomes a retry."""
    sender = deps.sender
    if unit[0].op == DIGEST:
        return [(unit[0], _attempt_digest(digests, unit[0]))]
    if unit[0].op in (CATCHUP, MORE):
        try:
            return [(unit[0], _attempt_folded(sender, unit[0], pacer, stories))]
        except Exception:
            logger.exception("alert %s: unexpected error; it will be retried", unit[0].alert_id)
            return [(unit[0], _Outcome(SlackFailed("unexpected_error", "transient")))]
    if unit[0].op in KEYED_OPS:
        try:
            return [(unit[0], _attempt_keyed(deps, unit[0], pacer))]
        except Exception:
            logger.exception("%s %s: unexpected error; it will be retried", unit[0].op, unit[0])
            return [(unit[0], _Outcome(SlackFailed("unexpected_error", "transient")))]
    if unit[0].story_id is None:
        return [(unit[0], _attempt_safely(sender, unit[0], pacer, stories.zone(unit[0])))]
    try:
        outcomes = stories.run(unit)
    except Exception:
        logger.exception("story ops %s: unexpected error; they will be retried", unit)
        return [(j, _Outcome(SlackFailed("unexpected_error", "transient"))) for j in unit]
    for outcome in outcomes:
        stories.known.learn(outcome)
    return [
        (o.job, _Outcome(o.result, recovered=o.recovered, lookup=o.lookup, given_up=o.given_up))
        for o in outcomes
    ]


def _is(result: object, kind: str) -> TypeGuard[SlackFailed]:
    return isinstance(result, SlackFailed) and result.kind == kind


def _round_robin(jobs: list[AlertJob]) -> dict[str, deque[AlertJob]]:
    queues: dict[str, deque[AlertJob]] = {}
    for job in jobs:
        queues.setdefault(job.channel, deque()).append(job)
    return queues


def _next_units(queues: dict[str, deque[AlertJob]]) -> Iterator[list[AlertJob]]:
    """Round-robin over channels: each turn one item alert or one unit of story ops."""
    while queues:
        for channel in list(queues):
            if queues.get(channel):
                yield take_unit(queues[channel])
            if channel in queues and not queues[channel]:
                del queues[channel]


class _Run:
    """The state of one deliver run."""

    def __init__(self, deps: Deps, owner: str, pace: float) -> None:
        self.deps, self.owner, self.pacer = deps, owner, _Pacer(deps.sender, pace)
        self.counts = {"sent": 0, "retried": 0, "failed": 0, "recovered": 0}
        self.stopped: str | None = None
        self.hold: timedelta | None = None
        self.transient_streak = 0
        self.failed_channels: set[str] = set()

    def record(self, job: AlertJob, outcome: _Outcome, queues: dict[str, deque[AlertJob]]) -> None:
        """Store one outcome; drops the channel's later jobs from this run when it is blocked."""
        now, owner, result = self.deps.clock(), self.owner, outcome.result
        if job.channel in self.failed_channels:
            return  # failed with the rest of its channel already
        with self.deps.sessions.begin() as s:
            if outcome.skipped is not None:
                mark_skipped(s, job.alert_id, outcome.skipped, owner=owner)
                logger.info(
                    "%s %s for %s skipped: %s", job.op, job.key, job.channel, outcome.skipped
                )
                return
            if isinstance(result, Posted) and outcome.given_up is None:
                if job.op in (UPDATE, MORE):
                    mark_update_sent(s, job.alert_id, result.ts, now)
                else:
                    mark_sent(s, job.alert_id, result.ts, now)
                self.counts["recovered" if outcome.recovered else "sent"] += 1
                self.transient_streak = 0
                return
            if isinstance(result, RateLimited):
                delay = timedelta(seconds=max(result.retry_after, 1.0))
                mark_retry(s, job.alert_id, now, delay, "ratelimited", owner=owner)
                self.counts["retried"] += 1
                self.stop("ratelimited", delay)
                return
            assert isinstance(result, SlackFailed)
            where = "history lookup: " if outcome.lookup else ""
            error = where + result.error
            if result.kind == "auth":
                mark_retry(s, job.alert_id, now, timedelta(0), error, owner=owner)
                left = pending_count(s)
                logger.error(
                    "Slack rejected the bot token (%s): delivery stopped, %d alerts kept",
                    result.error,
                    left,
                )
                self.stop(result.error)
            elif result.kind == "channel":
                mark_failed(s, job.alert_id, error, now, owner=owner)
                others = fail_channel(
                    s, job.channel, error, now, owner=owner, kind=self.deps.sender.kind
                )
                paused = pause_channel(s, job.channel, result.error, now)
                queues.pop(job.channel, None)
                self.failed_channels.add(job.channel)
                logger.warning(
                    "channel %s refuses posts (%s): %d alerts failed, %d subscriptions paused",
                    job.channel,
                    result.error,
                    1 + others,
                    paused,
                )
                self.counts["failed"] += 1 + others
            elif outcome.given_up is not None:
                mark_failed(s, job.alert_id, outcome.given_up, now, owner=owner)
                logger.error(
                    "alert %s for %s failed: Slack refused it (%s); the channel moves on",
                    job.alert_id,
                    job.channel,
                    outcome.given_up,
                )
                self.counts["failed"] += 1
            else:  # transient, unknown (not yet given up), or a lookup that could not tell
                delay = backoff(job.attempt)
                maybe = result.kind == "transient" or outcome.lookup  # ok:false: not posted
                mark_retry(s, job.alert_id, now, delay, error, owner=owner, maybe_posted=maybe)
                blocked = queues.pop(job.channel, deque())
                release(s, [j.alert_id for j in blocked], owner=owner)
                logger.warning(
                    "alert %s for %s: %s; retry in %ss",
                    job.alert_id,
                    job.channel,
                    error,
                    delay,
                    extra={"channel": job.channel, "alert_id": job.alert_id},
                )
                self.counts["retried"] += 1
                if result.kind == "transient":
                    self.transient_streak += 1
                if self.transient_streak >= MAX_TRANSIENT:
                    self.stop("slack_unavailable")

    def stop(self, reason: str, hold: timedelta | None = None) -> None:
        """End the run after this job; with `hold`, the untried alerts wait that long."""
        self.stopped = reason
        self.hold = hold

    def summary(self) -> DeliverySummary:
        """The run's counts."""
        return DeliverySummary(**self.counts, stopped_reason=self.stopped)


def deliver_pending(
    deps: Deps, limit: int = 100, *, per_channel: int | None = None
) -> DeliverySummary:
    """Post up to `limit` due alerts; safe to run concurrently in threads and processes.

    Posts to one channel are `deps.sender.pace` seconds apart (the run sleeps that long at
    most); a paced sender gets `per_channel` (default PER_CHANNEL) alerts per channel per run.
    """
    pace = max(deps.sender.pace, 0.0)
    if per_channel is None:
        per_channel = PER_CHANNEL if pace > 0 else limit
    owner = f"{deps.owner}/{secrets.token_hex(4)}"
    started = deps.clock()
    with deps.sessions.begin() as s:
        jobs = claim_batch(
            s,
            started,
            owner,
            limit,
            deps.settings.lease,
            per_channel=per_channel,
            kind=deps.sender.kind,
            hold=fold_policy(deps.settings),
        )
    if not jobs:
        return DeliverySummary()
    run = _Run(deps, owner, pace)
    stories = StoryAttempt(
        deps.sender,
        deps.sessions,
        run.pacer.call,
        RunStories(),
        LOOKBACK,
        UNKNOWN_ATTEMPTS,
        deps.settings.default_tz,
    )
    digests = DigestAttempt(
        deps.sender,
        deps.sessions,
        run.pacer.call,
        LOOKBACK,
        UNKNOWN_ATTEMPTS,
        deps.settings.default_tz,
    )
    queues = _round_robin(jobs)
    deadline = started + RUN_TIME
    untried: list[int] = []
    follow_ups: dict[str, int] = {}
    try:
        for unit in _next_units(queues):
            channel = unit[0].channel
            if pace > 0 and unit[0].op != POST and follow_ups.get(channel, 0) >= MAX_FOLLOW_UPS:
                untried += [j.alert_id for j in unit]  # the next run, at once (below)
                untried += [j.alert_id for j in queues.pop(channel, ())]
                deps.deliver_now.set()
                continue
            if unit[0].op != POST:
                follow_ups[channel] = follow_ups.get(channel, 0) + 1
            if run.stopped is None and deps.clock() >= deadline:
                run.stop("out_of_time")
            if run.stopped is None and deps.stopping.is_set():
                run.stop("shutting_down")  # the untried alerts are handed back below
            if run.stopped is not None:
                untried += [j.alert_id for j in unit]
                continue
            # every op of a unit shares its message's fate: each is recorded, even when an
            # earlier one stopped the run (a dropped post may have delivered all of them)
            for job, outcome in _attempt_unit(deps, unit, run.pacer, stories, digests):
                run.record(job, outcome, queues)
    finally:
        # if recording failed (database down), that alert stays `sending`: looked up later
        untried += [j.alert_id for q in queues.values() for j in q]
        if untried:
            not_before = deps.clock() + run.hold if run.hold else None
            with deps.sessions.begin() as s:
                release(s, untried, owner=owner, not_before=not_before)
    return run.summary()
