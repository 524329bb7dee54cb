"""jobs.deliver: every queued alert reaches its channel exactly once, in order, through faults.

Real database (SQLite file and PostgreSQL), real HTTP to the fake Slack, the real SlackSender;
time moves with the settable clock instead of sleeping.
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import logging
import threading
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from deps import Deps
from handlers.blocks import alert_message
from handlers.sender import ConsoleSender, Posted, SlackSender, make_web_client
from jobs.deliver import (
    LEASE,
    MAX_BACKOFF,
    DeliverySummary,
    alert_metadata,
    backoff,
    deliver_pending,
)
from models.channel import paused_reasons
from models.item import Item, ItemView
from models.outbox import (
    CONSOLE_CHANNEL,
    FAILED,
    PENDING,
    SENT,
    SLACK,
    Alert,
    claim_batch,
    failed_recent,
    pending_count,
    status_counts,
)
from models.subscription import Subscription, subscribe
from tests.conftest import Clock
from tests.fakes.slack_server import FakeSlack
from tests.faults import queue_alert


@pytest.fixture
def slack(clocked_slack: FakeSlack) -> FakeSlack:
    """The fake Slack, stamping messages with the test clock (so `oldest` means something)."""
    return clocked_slack


def slack_sender(slack: FakeSlack, pace: float = 0.0) -> SlackSender:
    return SlackSender(make_web_client(slack.bot_token, slack.url, timeout=2), pace=pace)


@pytest.fixture
def deps(deps: Deps, slack: FakeSlack) -> Deps:
    """The shared test deps (settable clock, test database), posting to the fake Slack."""
    return dataclasses.replace(deps, sender=slack_sender(slack))


def queue(deps: Deps, channels: list[str], title: str = "Xi and Biden speak") -> int:
    """Store one relevant item and queue it for `channels`; returns the item id."""
    return queue_alert(deps, channels, title)


def alert_ids(deps: Deps, channel: str) -> list[int]:
    """The channel's alerts, in queue order."""
    with deps.sessions() as s:
        return list(
            s.scalars(select(Alert.id).where(Alert.channel_id == channel).order_by(Alert.id))
        )


def posted(slack: FakeSlack, channel: str) -> list[int]:
    """Alert ids of the messages in the channel, in posting order."""
    return [m["metadata"]["event_payload"]["alert_id"] for m in slack.messages(channel)]


def drain(deps: Deps, clock: Clock, step: timedelta = MAX_BACKOFF, runs: int = 40) -> int:
    """Run delivery (moving the clock by `step` between runs) until nothing waits; returns runs."""
    for n in range(1, runs + 1):
        deliver_pending(deps)
        with deps.sessions() as s:
            if pending_count(s) == 0:
                return n
        clock.advance(seconds=step.total_seconds())
    raise AssertionError(f"alerts still pending after {runs} runs")


def alert(deps: Deps, alert_id: int) -> Alert:
    with deps.sessions() as s:
        found = s.get(Alert, alert_id)
        assert found is not None
        return found


def test_alerts_are_posted_once_to_exactly_the_queued_channels(
    deps: Deps, slack: FakeSlack
) -> None:
    first = queue(deps, ["C1", "C2"])
    queue(deps, ["C2"])
    assert deliver_pending(deps) == DeliverySummary(sent=3)
    assert deliver_pending(deps) == DeliverySummary()
    assert posted(slack, "C1") == alert_ids(deps, "C1")
    assert posted(slack, "C2") == alert_ids(deps, "C2")
    assert {b["channel"] for b in slack.calls("chat.postMessage")} == {"C1", "C2"}
    body = slack.calls("chat.postMessage")[0]
    assert body["unfurl_links"] is False and body["unfurl_media"] is False
    assert body["metadata"] == alert_metadata(alert_ids(deps, "C1")[0])
    with deps.sessions() as s:
        item = s.get(Item, first)
        assert item is not None
        # the time in the channel's zone (none set: DIPLO_DEFAULT_TZ, America/New_York)
        expected = alert_message(ItemView.of(item), tz=ZoneInfo("America/New_York"))
        rows = s.scalars(select(Alert)).all()
    assert (body["text"], body["blocks"]) == (expected.text, expected.blocks)
    assert {r.status for r in rows} == {SENT}
    ts = {m["ts"] for ch in ("C1", "C2") for m in slack.messages(ch)}
    assert {r.slack_ts for r in rows} == ts


def test_markup_in_a_title_arrives_escaped(deps: Deps, slack: FakeSlack) -> None:
    queue(deps, ["C1"], title="<!channel> <@U123> see <https://evil.example|good news> & more")
    deliver_pending(deps)
    [message] = slack.messages("C1")
    wire = str(message["text"]) + str(message["blocks"])
    for raw in ("<!channel>", "<@U123>", "<https://evil.example|good news>", "& more"):
        assert raw not in wire
    assert "&lt;!channel&gt; &lt;@U123&gt;" in message["text"]
    assert "&lt;https://evil.example|good news&gt; &amp; more" in message["text"]


def test_an_outage_delays_alerts_then_each_arrives_once_in_order(
    deps: Deps, slack: FakeSlack, clock: Clock
) -> None:
    for _ in range(3):
        queue(deps, ["C1", "C2"])
    slack.stop()
    summary = deliver_pending(deps)
    assert (summary.sent, summary.retried) == (0, 2)  # one try per channel; the rest wait
    assert status_counts_now(deps) == {
        PENDING: 6,
        "sending": 0,
        SENT: 0,
        FAILED: 0,
        "folded": 0,
        "skipped": 0,
    }
    clock.advance(seconds=backoff(1).total_seconds())
    assert deliver_pending(deps).retried == 2  # history lookups fail too: nothing is posted
    slack.restart()
    assert deliver_pending(deps) == DeliverySummary()  # backing off, not hammering
    drain(deps, clock)
    assert posted(slack, "C1") == alert_ids(deps, "C1")
    assert posted(slack, "C2") == alert_ids(deps, "C2")
    assert alert(deps, alert_ids(deps, "C1")[0]).attempts == 3


def status_counts_now(deps: Deps) -> dict[str, int]:
    with deps.sessions() as s:
        return status_counts(s)


def test_a_dropped_connection_after_posting_is_found_not_reposted(
    deps: Deps, slack: FakeSlack, clock: Clock
) -> None:
    queue(deps, ["C1"])
    queue(deps, ["C1"])
    slack.drop_next("chat.postMessage", after_processing=True)
    assert deliver_pending(deps).retried == 1
    assert len(slack.messages("C1")) == 1  # it did land
    drain(deps, clock)
    assert posted(slack, "C1") == alert_ids(deps, "C1")
    assert len(slack.calls("chat.postMessage")) == 2
    assert len(slack.calls("conversations.history")) == 1


def test_a_timeout_after_slack_posted_is_found_not_reposted(
    deps: Deps, slack: FakeSlack, clock: Clock
) -> None:
    deps.sender = SlackSender(make_web_client(slack.bot_token, slack.url, timeout=0.2), pace=0)
    queue(deps, ["C1"])
    slack.delay("chat.postMessage", 0.5)
    assert deliver_pending(deps).retried == 1
    slack.delay("chat.postMessage", 0)
    clock.advance(minutes=1)
    for _ in range(50):  # the slow request still lands
        if slack.messages("C1"):
            break
        threading.Event().wait(0.02)
    assert deliver_pending(deps) == DeliverySummary(recovered=1)
    assert posted(slack, "C1") == alert_ids(deps, "C1")


def test_a_429_storm_loses_nothing_and_honours_retry_after(
    deps: Deps, slack: FakeSlack, clock: Clock
) -> None:
    for _ in range(4):
        queue(deps, ["C1", "C2"])
    slack.fail_next("chat.postMessage", 1, headers={"Retry-After": "30"})
    summary = deliver_pending(deps)
    assert (summary.retried, summary.stopped_reason) == (1, "ratelimited")
    clock.advance(seconds=29)
    deliver_pending(deps)
    assert len(slack.calls("chat.postMessage")) == 1  # every channel waited Retry-After
    slack.fail_next("chat.postMessage", 20, headers={"Retry-After": "1"})
    runs = drain(deps, clock, step=timedelta(seconds=1))
    assert runs <= 25
    assert posted(slack, "C1") == alert_ids(deps, "C1")
    assert posted(slack, "C2") == alert_ids(deps, "C2")
    assert len(slack.calls("chat.postMessage")) == 1 + 20 + 8


def test_transient_errors_back_off_up_to_a_cap_and_never_drop(
    deps: Deps, slack: FakeSlack, clock: Clock
) -> None:
    queue(deps, ["C1"])
    [alert_id] = alert_ids(deps, "C1")
    slack.fail_next("chat.postMessage", 12, error="internal_error", status=500)
    waits = []
    for _ in range(12):
        assert deliver_pending(deps).retried == 1
        row = alert(deps, alert_id)
        waits.append(row.next_attempt_at - clock())
        assert (row.status, row.last_error) == (PENDING, "internal_error")
        clock.now = row.next_attempt_at
    assert waits[:4] == [timedelta(seconds=s) for s in (5, 10, 20, 40)]
    assert waits[-1] == MAX_BACKOFF and max(waits) == MAX_BACKOFF
    row = alert(deps, alert_id)
    assert (row.attempts, row.last_error) == (12, "internal_error")
    assert deliver_pending(deps) == DeliverySummary(sent=1)
    assert posted(slack, "C1") == [alert_id]


def test_crash_after_posting_before_recording_is_recovered_from_history(
    deps: Deps, slack: FakeSlack, clock: Clock
) -> None:
    for _ in range(3):
        queue(deps, ["C1"])
    with deps.sessions.begin() as s:
        jobs = claim_batch(s, clock(), "crashed-host:1", 10, LEASE, kind=SLACK)
    for job in jobs[:2]:  # the process dies after posting two, before recording them
        result = deps.sender.post(
            job.channel, alert_message(job.item), alert_metadata(job.alert_id)
        )
        assert isinstance(result, Posted)
    assert deliver_pending(deps) == DeliverySummary()  # its lease still holds the channel
    clock.advance(seconds=LEASE.total_seconds() + 1)
    assert deliver_pending(deps) == DeliverySummary(sent=1, recovered=2)
    assert posted(slack, "C1") == alert_ids(deps, "C1")
    assert len(slack.calls("chat.postMessage")) == 3
    history = slack.calls("conversations.history")
    assert history and all(h["include_all_metadata"] in ("1", "true") for h in history)
    assert float(history[0]["oldest"]) < jobs[0].claimed_at.timestamp()
    ts = [m["ts"] for m in slack.messages("C1")]
    assert [alert(deps, i).slack_ts for i in alert_ids(deps, "C1")] == ts


@pytest.mark.parametrize("state", [{"exists": False}, {"archived": True}])
def test_a_channel_that_refuses_posts_fails_its_alerts_and_is_paused(
    deps: Deps, slack: FakeSlack, state: dict[str, Any]
) -> None:
    with deps.sessions.begin() as s:
        subscribe(s, "CBAD", ["call", "trade"], "U1", deps.clock())
        subscribe(s, "C1", ["call"], "U1", deps.clock())
    slack.set_channel("CBAD", **state)
    queue(deps, ["CBAD", "C1"])
    queue(deps, ["CBAD"])
    summary = deliver_pending(deps)
    assert (summary.sent, summary.failed) == (1, 2)
    error = "channel_not_found" if "exists" in state else "is_archived"
    assert len(slack.calls("chat.postMessage")) == 2  # the second CBAD alert is not tried
    with deps.sessions() as s:
        paused = paused_reasons(s)
        subs = {
            (x.channel_id, x.topic): paused.get(x.channel_id)
            for x in s.scalars(select(Subscription))
        }
        failed = failed_recent(s, 10)
    assert subs == {("CBAD", "call"): error, ("CBAD", "trade"): error, ("C1", "call"): None}
    assert [a.channel_id for a in failed] == ["CBAD", "CBAD"]
    assert all(a.last_error == error for a in failed)
    assert deliver_pending(deps) == DeliverySummary()


def test_not_in_channel_joins_a_public_channel_and_posts(deps: Deps, slack: FakeSlack) -> None:
    slack.set_channel("COUT", member=False)
    queue(deps, ["COUT"])
    assert deliver_pending(deps) == DeliverySummary(sent=1)
    assert [c["channel"] for c in slack.calls("conversations.join")] == ["COUT"]
    assert posted(slack, "COUT") == alert_ids(deps, "COUT")


def test_not_in_a_private_channel_fails_and_pauses(deps: Deps, slack: FakeSlack) -> None:
    slack.set_channel("GPRIV", member=False, private=True)
    with deps.sessions.begin() as s:
        subscribe(s, "GPRIV", ["call"], "U1", deps.clock())
    queue(deps, ["GPRIV"])
    assert deliver_pending(deps).failed == 1
    with deps.sessions() as s:
        assert paused_reasons(s) == {"GPRIV": "not_in_channel"}


def test_a_bad_token_stops_the_run_and_keeps_every_alert(
    deps: Deps, slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    for _ in range(3):
        queue(deps, ["C1", "C2"])
    slack.set_token_revoked(True)
    with caplog.at_level(logging.ERROR, logger="jobs.deliver"):
        summary = deliver_pending(deps)
    assert summary == DeliverySummary(stopped_reason="token_revoked")
    assert len(slack.calls("chat.postMessage")) == 1
    assert status_counts_now(deps)[PENDING] == 6
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "token_revoked" in record.getMessage() and slack.bot_token not in caplog.text
    slack.set_token_revoked(False)  # the token is fixed: the next run resumes
    assert deliver_pending(deps).sent == 6
    assert posted(slack, "C1") == alert_ids(deps, "C1")


def test_refused_blocks_are_retried_as_text_then_failed(deps: Deps, slack: FakeSlack) -> None:
    queue(deps, ["C1"])
    slack.fail_next("chat.postMessage", 1, status=200, error="invalid_blocks")
    assert deliver_pending(deps) == DeliverySummary(sent=1)
    assert slack.calls("chat.postMessage")[1].get("blocks") is None
    assert slack.messages("C1")[0]["text"]
    queue(deps, ["C1"])
    queue(deps, ["C1"])
    slack.fail_next("chat.postMessage", 2, status=200, error="msg_too_long")
    assert deliver_pending(deps) == DeliverySummary(sent=1, failed=1)
    ids = alert_ids(deps, "C1")
    assert posted(slack, "C1") == [ids[0], ids[2]]
    assert alert(deps, ids[1]).last_error == "msg_too_long; as text only: msg_too_long"
    with deps.sessions() as s:
        assert paused_reasons(s) == {}  # nothing paused


def test_posts_to_one_channel_are_paced(deps: Deps, slack: FakeSlack) -> None:
    deps.sender = slack_sender(slack, pace=0.2)
    for _ in range(3):
        queue(deps, ["C1", "C2"])
    assert deliver_pending(deps).sent == 6
    by_channel: dict[str, list[float]] = {}
    for call in slack.requests("chat.postMessage"):
        by_channel.setdefault(call.body["channel"], []).append(call.at)
    for times in by_channel.values():
        assert all(b - a >= 0.2 for a, b in itertools.pairwise(times))
    first = [times[0] for times in by_channel.values()]
    assert abs(first[0] - first[1]) < 0.15  # channels take turns: C2 did not wait for C1


def test_concurrent_runs_never_post_an_alert_twice(
    deps: Deps, slack: FakeSlack, clock: Clock
) -> None:
    for _ in range(12):
        queue(deps, ["C1", "C2", "C3"])
    slack.delay("chat.postMessage", 0.005)
    slack.fail_next("chat.postMessage", 3, error="internal_error", status=500)
    start = threading.Barrier(3)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            start.wait()
            for _ in range(30):
                deliver_pending(deps, limit=7)
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    drain(deps, clock)
    for channel in ("C1", "C2", "C3"):
        assert posted(slack, channel) == alert_ids(deps, channel)


def test_repeated_outage_errors_end_the_run_early(deps: Deps, slack: FakeSlack) -> None:
    for channel in ("C1", "C2", "C3", "C4", "C5"):
        queue(deps, [channel])
    slack.fail_next("chat.postMessage", 10, error="service_unavailable", status=503)
    summary = deliver_pending(deps)
    assert (summary.retried, summary.stopped_reason) == (3, "slack_unavailable")
    assert len(slack.calls("chat.postMessage")) == 3
    assert status_counts_now(deps)[PENDING] == 5
    assert [alert(deps, i).attempts for i in alert_ids(deps, "C5")] == [0]  # untried: not counted


def test_a_lookup_without_history_scope_holds_only_that_channel(
    deps: Deps, slack: FakeSlack, clock: Clock
) -> None:
    queue(deps, ["C1"])
    queue(deps, ["C2"])
    with deps.sessions.begin() as s:
        claim_batch(
            s, clock(), "crashed-host:1", 1, LEASE, kind=SLACK
        )  # C1's alert, never recorded
    clock.advance(seconds=LEASE.total_seconds() + 1)
    slack.fail_next("conversations.history", 1, status=200, error="missing_scope")
    summary = deliver_pending(deps)
    assert (summary.sent, summary.retried, summary.stopped_reason) == (1, 1, None)
    assert slack.messages("C1") == []  # not posted blind: it might be there already
    assert alert(deps, alert_ids(deps, "C1")[0]).last_error == "history lookup: missing_scope"
    drain(deps, clock)
    assert posted(slack, "C1") == alert_ids(deps, "C1")


class ExplodingSender:
    """The real SlackSender, except that posts to CBOOM raise (a bug, not a Slack answer)."""

    def __init__(self, inner: SlackSender) -> None:
        self.inner, self.pace, self.kind = inner, 0.0, inner.kind

    def post(self, channel: str, message: Any, metadata: Any) -> Any:
        if channel == "CBOOM":
            raise RuntimeError("boom")
        return self.inner.post(channel, message, metadata)

    def find_posted(self, channel: str, alert_id: int, oldest: Any) -> Any:
        return self.inner.find_posted(channel, alert_id, oldest)

    def join(self, channel: str) -> bool:
        return self.inner.join(channel)


def test_an_unexpected_error_retries_that_alert_and_spares_the_rest(
    deps: Deps, slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    assert isinstance(deps.sender, SlackSender)
    deps.sender = ExplodingSender(deps.sender)
    queue(deps, ["CBOOM", "C1"])
    summary = deliver_pending(deps)
    assert (summary.sent, summary.retried) == (1, 1)
    row = alert(deps, alert_ids(deps, "CBOOM")[0])
    assert (row.status, row.last_error) == (PENDING, "unexpected_error")
    assert row.maybe_posted_since is not None
    assert "boom" in caplog.text


def test_console_mode_prints_each_alert_once(deps: Deps) -> None:
    out = io.StringIO()
    deps.sender = ConsoleSender(stream=out)
    for n in range(25):  # more than PER_CHANNEL: an unpaced sender takes them all at once
        queue(deps, [CONSOLE_CHANNEL, "C1"], title=f"Story {n} & more")
    assert deliver_pending(deps) == DeliverySummary(sent=25)
    assert deliver_pending(deps) == DeliverySummary()
    printed = out.getvalue()
    assert printed.count("── alert ") == 25 and "Story 24 & more" in printed
    assert "for C1" not in printed  # a real channel's alerts are left to Slack
    assert status_counts_now(deps)[PENDING] == 25
