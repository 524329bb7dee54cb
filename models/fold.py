"""Folding: live alerts held back (quiet hours, an outage, the flood budget) and the messages
that stand for them (a catch-up, a rolling "more stories" message).

Held alerts stay `pending` in the outbox; nothing is kept in memory. Three parts:
- `FoldPolicy.held` is the claim's gate: the ids of live ops not to hand out now (a channel
  in quiet hours, one whose window ended and whose catch-up is not made yet, one whose
  backlog is older than the outage threshold);
- `fold_due` (jobs/catchup.py, every ~20 s) makes the catch-up: one CATCHUP row per channel,
  and in the same transaction the held rows become FOLDED with `folded_into` = its id;
- `before_story_ops` (classify, at enqueue) folds new story posts past the flood budget into
  the channel's MORE row, and re-opens the post of a folded story when a new item arrives.

Which ops are held: an item alert, and every op of a story whose message is not in the
channel (post, replies, edits: folded, the catch-up lists the story and the story's next item
posts its message then). For a story whose message is in the channel, only a stage change
(a broadcast reply) is held: at the fold it becomes a quiet thread reply (threads do not
notify) and the catch-up lists the story; quiet replies and edits are never held, so the
thread and the message stay complete. A row that may have been posted (`maybe_posted_since`)
or is being sent is never held or folded: it is delivered (or found) as usual.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from models.channel import Channel
from models.outbox import (
    CATCHUP,
    FOLDED,
    MORE,
    PENDING,
    POST,
    POST_OP,
    REPLY,
    SENDING,
    SENT,
    UPDATE,
    Alert,
    SenderKind,
    _insert_ignore,
    notify_queued,
)
from news.quiet import URGENT_DEFAULT, Window, bypasses, current_window, last_window

LIVE_OPS = (POST, REPLY, UPDATE)
QUIET = "quiet"  # catch-up after quiet hours (key "quiet:<window start>")
AWAY = "away"  # catch-up after an outage (key "away:<oldest waiting>")
FLOOD_WINDOW = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class ChannelFolding:
    """What folding needs of one channel's settings, resolved to the defaults."""

    channel_id: str
    tz: ZoneInfo
    quiet_start: int | None = None
    quiet_end: int | None = None
    quiet_urgent: str = URGENT_DEFAULT
    flood_budget: int = 20  # story messages per hour; 0: no budget

    @property
    def quiet(self) -> bool:
        """Whether the channel has quiet hours."""
        return self.quiet_start is not None and self.quiet_end is not None

    def window(self, now: datetime) -> Window | None:
        """The quiet window `now` is in."""
        if self.quiet_start is None or self.quiet_end is None:
            return None
        return current_window(now, self.tz, self.quiet_start, self.quiet_end)

    def last(self, now: datetime) -> Window | None:
        """The latest quiet window that has ended."""
        if self.quiet_start is None or self.quiet_end is None:
            return None
        return last_window(now, self.tz, self.quiet_start, self.quiet_end)


def zone(name: str | None, default: str) -> ZoneInfo:
    """The zone called `name`, else `default` (also for a name the database lost)."""
    for candidate in (name, default, "UTC"):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


@dataclass(frozen=True, slots=True)
class Waiting:
    """A pending live op that was never possibly posted: what folding may take."""

    id: int
    channel: str
    op: str
    story_id: int | None
    item_id: int | None
    broadcast: bool
    urgent: str | None  # "held" | "confirmed" | None
    created_at: datetime

    def fold_action(self, posted: set[tuple[int, str]]) -> str | None:
        """What folding does with it: "fold", "demote" (to a quiet reply) or None (never held)."""
        if self.story_id is None or (self.story_id, self.channel) not in posted:
            return "fold"
        if self.op == REPLY and self.broadcast:
            return "demote"
        return None


def _urgency(payload: str | None) -> str | None:
    if not payload:
        return None
    try:
        kind = json.loads(payload).get("urgent")
    except (ValueError, AttributeError):
        return None
    return kind if isinstance(kind, str) else None


@dataclass(frozen=True, slots=True)
class FoldPolicy:
    """The configured defaults folding works with (DIPLO_DEFAULT_TZ, DIPLO_CATCHUP_AFTER, …)."""

    default_tz: str = "America/New_York"
    catchup_after: timedelta = timedelta(hours=1)
    flood_budget: int = 20

    # --- channel settings (the one reader: the coordinator may switch it to settings_of)

    def channels(self, s: Session, channel_ids: Iterable[str]) -> dict[str, ChannelFolding]:
        """Each channel's folding settings, defaults for a channel without a row."""
        wanted = list(dict.fromkeys(channel_ids))
        rows = {
            r.channel_id: r
            for r in s.execute(
                select(
                    Channel.channel_id,
                    Channel.tz,
                    Channel.quiet_start,
                    Channel.quiet_end,
                    Channel.quiet_urgent,
                    Channel.flood_budget,
                ).where(Channel.channel_id.in_(wanted))
            )
        }
        out = {}
        for c in wanted:
            r = rows.get(c)
            out[c] = ChannelFolding(
                channel_id=c,
                tz=zone(r.tz if r else None, self.default_tz),
                quiet_start=r.quiet_start if r else None,
                quiet_end=r.quiet_end if r else None,
                quiet_urgent=(r.quiet_urgent if r else None) or URGENT_DEFAULT,
                flood_budget=self.flood_budget
                if r is None or r.flood_budget is None
                else r.flood_budget,
            )
        return out

    def _quiet_channels(self, s: Session) -> list[str]:
        query = select(Channel.channel_id).where(
            Channel.quiet_start.is_not(None), Channel.quiet_end.is_not(None)
        )
        return list(s.scalars(query))

    # --- the claim's gate

    def held(self, s: Session, now: datetime, kind: SenderKind) -> set[int]:
        """The ids of pending ops of `kind`'s channels that claim must not hand out at `now`.

        Quiet hours only: during the window, and after it what it held until the catch-up
        job folds it. An outage's backlog is not held here (a long Slack outage with no
        catch-up job running must still deliver everything): the job folds it as it ages,
        and start-up runs the job once before delivery begins.
        """
        plan = self._plan(s, now, kind, claim=True)
        return {r.id for p in plan.values() for r in (*p.fold, *p.demote)} | {
            i for p in plan.values() for i in p.keyed
        }

    # --- what to fold, shared by the gate and the job

    def _plan(self, s: Session, now: datetime, kind: SenderKind, claim: bool) -> dict[str, Plan]:
        quiet = [c for c in self._quiet_channels(s) if kind.owns(c)]
        if claim and not quiet:
            return {}  # the usual case: one small query per claim
        waiting = select(Alert.channel_id, func.min(Alert.created_at)).where(
            _waiting_filter(), kind.where()
        )
        if claim:
            waiting = waiting.where(Alert.channel_id.in_(quiet))
        oldest = dict(s.execute(waiting.group_by(Alert.channel_id)).tuples().all())
        catching_up: set[str] = set()  # a catch-up not sent yet takes in the rest too
        if not claim:
            catching_up = set(
                s.scalars(
                    select(Alert.channel_id)
                    .where(
                        Alert.op == CATCHUP,
                        Alert.status == PENDING,
                        Alert.slack_ts.is_(None),
                        kind.where(),
                    )
                    .distinct()
                )
            )
        settings = self.channels(s, quiet if claim else {*oldest, *quiet})
        cutoff = now - self.catchup_after
        plans: dict[str, Plan] = {}
        in_window: list[str] = []
        for channel, f in settings.items():
            window = f.window(now)
            if window is not None:
                plans[channel] = Plan(f, QUIET, window, hold_all=True)
                in_window.append(channel)
            elif claim:  # an outage's backlog is folded by the job (and at start-up), not held
                if channel in oldest and (last := f.last(now)) is not None:
                    plans[channel] = Plan(f, QUIET, last)
            elif channel in oldest and (oldest[channel] < cutoff or channel in catching_up):
                plans[channel] = Plan(f, AWAY, Window(oldest[channel], now))
            elif channel in oldest and (last := f.last(now)) is not None:
                plans[channel] = Plan(f, QUIET, last)
        if not plans:
            return {}
        rows = _waiting(s, [c for c in plans if c in oldest])
        posted = _posted(s, rows)
        for row in rows:
            plan = plans[row.channel]
            action = row.fold_action(posted)
            if action is None:
                continue
            if plan.reason == QUIET:
                if bypasses(plan.settings.quiet_urgent, row.urgent):
                    continue
                if not plan.hold_all and row.created_at >= plan.window.end:
                    continue
            (plan.fold if action == "fold" else plan.demote).append(row)
        if claim and in_window:  # a catch-up or "more stories" message waits for the end too
            for alert_id, channel in s.execute(
                select(Alert.id, Alert.channel_id).where(
                    Alert.channel_id.in_(in_window),
                    Alert.op.in_((CATCHUP, MORE)),
                    Alert.status == PENDING,
                    Alert.maybe_posted_since.is_(None),
                )
            ):
                plans[channel].keyed.append(alert_id)
        return {c: p for c, p in plans.items() if p.fold or p.demote or p.keyed}


@dataclass
class Plan:
    """One channel's held ops: why, over which span, and what becomes of each."""

    settings: ChannelFolding
    reason: str  # QUIET | AWAY
    window: Window
    hold_all: bool = False  # in the window now: everything holdable, whenever queued
    fold: list[Waiting] = field(default_factory=list)
    demote: list[Waiting] = field(default_factory=list)
    keyed: list[int] = field(default_factory=list)  # CATCHUP / MORE rows held in the window


def _waiting_filter() -> Any:
    return (Alert.status == PENDING) & Alert.maybe_posted_since.is_(None) & Alert.op.in_(LIVE_OPS)


def _waiting(s: Session, channels: Sequence[str]) -> list[Waiting]:
    if not channels:
        return []
    rows = s.execute(
        select(
            Alert.id,
            Alert.channel_id,
            Alert.op,
            Alert.story_id,
            Alert.item_id,
            Alert.broadcast,
            Alert.urgent,
            Alert.payload,
            Alert.created_at,
        )
        .where(_waiting_filter(), Alert.channel_id.in_(list(channels)))
        .order_by(Alert.id)
    ).all()
    return [
        Waiting(
            r.id,
            r.channel_id,
            r.op,
            r.story_id,
            r.item_id,
            bool(r.broadcast),
            _urgency(r.payload) if r.urgent else None,
            r.created_at,
        )
        for r in rows
    ]


def _posted(s: Session, rows: Sequence[Waiting]) -> set[tuple[int, str]]:
    """(story, channel) pairs among `rows` whose story message is in the channel."""
    stories = {r.story_id for r in rows if r.story_id is not None}
    if not stories:
        return set()
    found = s.execute(
        select(Alert.story_id, Alert.channel_id).where(
            Alert.op == POST_OP,
            Alert.status == SENT,
            Alert.story_id.in_(stories),
            Alert.channel_id.in_({r.channel for r in rows}),
        )
    )
    return {(story, channel) for story, channel in found.tuples() if story is not None}


# --- the catch-up ---------------------------------------------------------------------------------


def fold_due(s: Session, now: datetime, policy: FoldPolicy, kind: SenderKind) -> list[int]:
    """Fold what each channel held into its catch-up, once its quiet window is over or its
    backlog is older than the outage threshold; returns the catch-up ids made or extended.

    A channel with a catch-up not sent yet gets the new rows added to it (one message per
    outage, however long); otherwise a CATCHUP row is inserted with the key of its window
    (insert-ignore: once across replicas).
    """
    made = []
    for channel, plan in policy._plan(s, now, kind, claim=False).items():
        if plan.hold_all:
            continue  # still quiet
        found = _fold(s, channel, plan, now)
        if found is not None:
            made.append(found)
    if made:
        notify_queued(s)
    return made


def fold_now(
    s: Session, channel: str, now: datetime, policy: FoldPolicy, kind: SenderKind
) -> int | None:
    """Fold what the channel's quiet hours hold right now (quiet hours turned off or moved)."""
    plan = policy._plan(s, now, kind, claim=False).get(channel)
    if plan is None or plan.reason != QUIET:
        return None
    plan.window = Window(plan.window.start, min(plan.window.end, now))
    found = _fold(s, channel, plan, now)
    if found is not None:
        notify_queued(s)
    return found


def catchup_key(reason: str, since: datetime) -> str:
    """The key of a catch-up: why and since when (`quiet:2026-11-30T03:00:00+00:00`)."""
    return f"{reason}:{since.isoformat()}"


def _fold(s: Session, channel: str, plan: Plan, now: datetime) -> int | None:
    target, payload = _open_catchup(s, channel)
    created = target is None
    if target is None:
        key = catchup_key(plan.reason, plan.window.start)
        payload = {"reason": plan.reason, "since": plan.window.start.isoformat()}
        target = _insert_keyed(s, channel, CATCHUP, key, payload, now)
        if target is None:  # that key's catch-up is out already: late rows get their own
            target = _insert_keyed(s, channel, CATCHUP, f"{key}+{now.isoformat()}", payload, now)
        if target is None:
            return None
    folded = s.execute(
        update(Alert)
        .where(Alert.id.in_([r.id for r in plan.fold]), _waiting_filter())
        .values(status=FOLDED, folded_into=target, lease_owner=None, lease_until=None)
        .returning(Alert.story_id, Alert.item_id)
        .execution_options(synchronize_session=False)
    ).all()
    demoted = s.execute(
        update(Alert)
        .where(Alert.id.in_([r.id for r in plan.demote]), _waiting_filter())
        .values(broadcast=False, folded_into=target)
        .returning(Alert.story_id)
        .execution_options(synchronize_session=False)
    ).all()
    if not folded and not demoted:
        if created:
            s.execute(delete(Alert).where(Alert.id == target))
        return None
    stories = _ordered_stories(plan, {r.story_id for r in folded} | {r.story_id for r in demoted})
    items = [r.item_id for r in folded if r.story_id is None and r.item_id is not None]
    assert payload is not None
    payload["until"] = now.isoformat()
    payload["stories"] = list(dict.fromkeys([*payload.get("stories", []), *stories]))
    payload["items"] = list(dict.fromkeys([*payload.get("items", []), *items]))
    s.execute(
        update(Alert)
        .where(Alert.id == target)
        .values(payload=json.dumps(payload))
        .execution_options(synchronize_session=False)
    )
    return target


def _ordered_stories(plan: Plan, ids: set[int | None]) -> list[int]:
    seen = [r.story_id for r in sorted([*plan.fold, *plan.demote], key=lambda r: r.id)]
    return [i for i in dict.fromkeys(seen) if i is not None and i in ids]


def _open_catchup(s: Session, channel: str) -> tuple[int | None, dict[str, Any] | None]:
    """The channel's catch-up not sent yet (locked), to add to, with its payload."""
    row = s.execute(
        select(Alert.id, Alert.payload)
        .where(
            Alert.channel_id == channel,
            Alert.op == CATCHUP,
            Alert.status == PENDING,
            Alert.slack_ts.is_(None),
        )
        .order_by(Alert.id.desc())
        .limit(1)
        .with_for_update()
    ).first()
    if row is None:
        return None, None
    return row.id, _payload(row.payload)


def _payload(raw: str | None) -> dict[str, Any]:
    try:
        value = json.loads(raw or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _insert_keyed(
    s: Session, channel: str, op: str, key: str, payload: dict[str, Any], now: datetime
) -> int | None:
    return _insert_ignore(
        s,
        {
            "story_id": None,
            "item_id": None,
            "channel_id": channel,
            "op": op,
            "key": key[:120],
            "payload": json.dumps(payload),
            "broadcast": False,
            "status": PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        },
    )


# --- at enqueue: the flood budget and folded stories ---------------------------------------------


def before_story_ops(
    s: Session,
    story_id: int,
    item_id: int,
    channels: Sequence[str],
    now: datetime,
    policy: FoldPolicy,
    *,
    urgent: str | None = None,
) -> list[str]:
    """Fold this story item where the flood budget says so; returns the channels still to
    queue as usual (models.outbox.enqueue_story).

    A new story past the channel's budget (story messages queued in the last hour) gets its
    post row FOLDED into the channel's rolling MORE message; a story already folded there
    (or in a catch-up) gets its post re-opened as a pending story message, unless the budget
    is still spent, when the item is folded into MORE too. Urgent items and channels in
    quiet hours never count against the budget (quiet hours hold them for the catch-up).
    """
    wanted = list(dict.fromkeys(channels))
    posts = {
        r.channel_id: r
        for r in s.execute(
            select(Alert.id, Alert.channel_id, Alert.status).where(
                Alert.op == POST_OP, Alert.story_id == story_id, Alert.channel_id.in_(wanted)
            )
        )
    }
    settings = policy.channels(s, wanted)
    live = []
    for channel in wanted:
        post = posts.get(channel)
        if post is not None and post.status != FOLDED:
            live.append(channel)
            continue
        f = settings[channel]
        flood = urgent is None and f.window(now) is None and _over_budget(s, channel, f, now)
        if flood:
            more = _more_row(s, channel, now)
            if post is None:
                row = _story_row(story_id, item_id, channel, now, POST, more)
            else:
                row = _story_row(story_id, item_id, channel, now, REPLY, more)
            if more is not None and _insert_ignore(s, row) is not None:
                _add_to_more(s, more, story_id, now)
                continue
        if post is not None:
            _reopen(s, post.id, now)
        live.append(channel)
    return live


def _story_row(
    story_id: int, item_id: int, channel: str, now: datetime, op: str, more: int | None
) -> dict[str, Any]:
    return {
        "story_id": story_id,
        "item_id": item_id,
        "channel_id": channel,
        "op": op,
        "broadcast": False,
        "status": FOLDED,
        "folded_into": more,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def _over_budget(s: Session, channel: str, f: ChannelFolding, now: datetime) -> bool:
    if f.flood_budget <= 0:
        return False
    queued = s.scalar(
        select(func.count(Alert.id)).where(
            Alert.channel_id == channel,
            Alert.op == POST_OP,
            Alert.story_id.is_not(None),
            Alert.status.in_((PENDING, SENDING, SENT)),
            Alert.created_at > now - FLOOD_WINDOW,
        )
    )
    return (queued or 0) >= f.flood_budget


def _more_row(s: Session, channel: str, now: datetime) -> int | None:
    """The channel's MORE message begun within the hour, or a new one."""
    found = s.scalar(
        select(Alert.id)
        .where(
            Alert.channel_id == channel,
            Alert.op == MORE,
            Alert.status.in_((PENDING, SENDING, SENT)),
            Alert.created_at > now - FLOOD_WINDOW,
        )
        .order_by(Alert.id.desc())
        .limit(1)
    )
    if found is not None:
        return found
    return _insert_keyed(s, channel, MORE, now.isoformat(), {"since": now.isoformat()}, now)


def _add_to_more(s: Session, more: int, story_id: int, now: datetime) -> None:
    """List the story in the MORE message; one already posted is edited (chat.update)."""
    row = s.execute(
        select(Alert.status, Alert.payload).where(Alert.id == more).with_for_update()
    ).one()
    payload = _payload(row.payload)
    stories = payload.setdefault("stories", [])
    fresh = story_id not in stories
    if fresh:
        stories.append(story_id)
    values: dict[str, Any] = {"payload": json.dumps(payload)}
    if row.status == SENT:  # posted: edit it (as story `update` ops do)
        values |= {"status": PENDING, "next_attempt_at": now, "attempts": 0}
    elif row.status == SENDING:  # being sent with the older list: it goes once more
        values["rerender"] = True
    s.execute(
        update(Alert)
        .where(Alert.id == more)
        .values(values)
        .execution_options(synchronize_session=False)
    )
    notify_queued(s)


def _reopen(s: Session, post_id: int, now: datetime) -> None:
    """A folded story's post becomes a pending story message again (its next item)."""
    s.execute(
        update(Alert)
        .where(Alert.id == post_id, Alert.status == FOLDED)
        .values(
            status=PENDING,
            folded_into=None,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
            slack_ts=None,
            last_error=None,
            maybe_posted_since=None,
            urgent=False,
            payload=None,
        )
        .execution_options(synchronize_session=False)
    )
