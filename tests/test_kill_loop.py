"""The process dies: `kill -9` at random moments of polling and delivery, again and again.

A real `python bot.py` (HTTP mode, against the fake Slack and feed server) is killed with
SIGKILL 20 times while the feed keeps publishing relevant items and the fake Slack is
slow and drops connections; then one clean run. The items report one call, so they make
one story: its message, thread replies and edits are all killed mid-way. Afterwards every
item is stored once and delivered exactly once and in order (story message, then its
thread), and no op is left waiting or `sending`.
The machinery is `tests.faults.kill_loop`, shared with `benchmarks/faults.py`.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from deps import Deps, default_owner, owner_is_gone
from handlers.blocks import alert_message
from handlers.sender import SlackSender, make_web_client
from jobs.deliver import LEASE, DeliverySummary, alert_metadata, deliver_pending
from jobs.poll import poll_due_feeds
from jobs.recover import release_dead_leases
from models.feed import Feed, add_feed, claim_due_feeds
from models.outbox import SENT, SLACK, Alert, claim_batch
from tests.conftest import Clock
from tests.fakes.feed_server import FeedServer
from tests.fakes.slack_server import FakeSlack
from tests.faults import kill_loop, queue_alert
from tests.feedgen import rss, wire


@pytest.mark.slow
@pytest.mark.timeout(300)  # 20 real restarts: about 60 s alone, more on a loaded machine
@pytest.mark.parametrize(
    ("database_url", "kills"),
    [("sqlite", 20), pytest.param("postgresql", 4, marks=pytest.mark.postgres)],
    indirect=["database_url"],
)
def test_kill_9_again_and_again_loses_and_repeats_nothing(
    bot_runs: None,
    database_url: str,
    kills: int,
    feed_server: FeedServer,
    slack: FakeSlack,
    tmp_path: Path,
) -> None:
    report = kill_loop(database_url, feed_server, slack, tmp_path, kills=kills)
    log = (tmp_path / "bot.log").read_text(errors="replace")
    context = f"{report}\n--- bot.log (tail) ---\n{log[-3000:]}"
    assert report.kills == kills
    assert report.published >= kills // 2, context
    assert (report.stored, report.stored_twice) == (report.published, 0), context
    assert report.queued == report.published, context
    assert (report.delivered, report.duplicated, report.lost) == (report.queued, 0, 0), context
    assert (report.stuck, report.out_of_order) == (0, False), context
    # the stories engine puts the calls in one story: replies and edits were killed too
    assert report.replies > 0 and report.edits > 0, context
    assert "Traceback" not in log, context


# --- start-up recovery (what makes the loop above finish in seconds, not minutes) ------------


def dead_pid() -> int:
    """The pid of a process that has just ended."""
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(proc.stdout)


def test_owner_is_gone_only_for_ended_processes_of_this_host() -> None:
    me = default_owner()
    host = me.rpartition(":")[0]
    assert owner_is_gone(f"{host}:{dead_pid()}", me)
    assert owner_is_gone(f"{host}:{dead_pid()}/a1b2c3d4", me)
    assert owner_is_gone(me, me)  # at start-up, our own name is a predecessor's
    assert not owner_is_gone(f"{host}:{os.getppid()}", me)  # alive
    assert not owner_is_gone(f"elsewhere:{dead_pid()}", me)  # another host: cannot tell
    assert not owner_is_gone("test", me)
    assert not owner_is_gone(f"{host}:notapid", me)


@pytest.fixture
def slack_deps(deps: Deps, clocked_slack: FakeSlack) -> Deps:
    """The deps as a real process names itself, posting to the fake Slack."""
    slack = clocked_slack
    sender = SlackSender(make_web_client(slack.bot_token, slack.url, timeout=5), pace=0)
    return dataclasses.replace(deps, sender=sender, owner=default_owner())


def test_a_restart_takes_back_a_killed_process_leases_at_once(
    slack_deps: Deps, feed_server: FeedServer, clocked_slack: FakeSlack, clock: Clock
) -> None:
    deps, slack = slack_deps, clocked_slack
    host = deps.owner.rpartition(":")[0]
    killed, alive_elsewhere = f"{host}:{dead_pid()}", f"otherhost:{os.getpid()}"
    url = feed_server.serve("/f.xml", rss(wire(2)))
    with deps.sessions.begin() as s:
        add_feed(s, url, clock())
        add_feed(s, feed_server.serve("/g.xml", rss(wire(1, start=9))), clock())
    with deps.sessions.begin() as s:  # the killed process leased the first feed …
        [leased] = claim_due_feeds(s, clock(), killed, 1)
        assert leased.url == url
    with deps.sessions.begin() as s:  # … another host's live process the second
        claim_due_feeds(s, clock(), alive_elsewhere, 1)
    queue_alert(deps, ["C1"], "Trump and Xi speak")
    queue_alert(deps, ["C1"], "Trump and Xi speak again")
    with deps.sessions.begin() as s:  # it held both and was posting the first when it died
        [job, _] = claim_batch(s, clock(), f"{killed}/deadbeef", 10, LEASE, kind=SLACK)
    deps.sender.post(job.channel, alert_message(job.item), alert_metadata(job.alert_id))

    assert poll_due_feeds(deps).feeds == 0  # both leased: nothing to poll
    assert deliver_pending(deps) == DeliverySummary()  # the channel waits for the lease
    assert release_dead_leases(deps) == (1, 2)
    assert release_dead_leases(deps) == (0, 0)
    assert [o.url for o in poll_due_feeds(deps).outcomes] == [url]
    assert deliver_pending(deps) == DeliverySummary(sent=1, recovered=1)
    ids = [m["metadata"]["event_payload"]["alert_id"] for m in slack.messages("C1")]
    with deps.sessions() as s:
        rows = s.execute(select(Alert.id, Alert.status).order_by(Alert.id)).all()
        other = s.scalars(select(Feed).where(Feed.lease_owner == alive_elsewhere)).one()
    assert ids == [r.id for r in rows] and {r.status for r in rows} == {SENT}
    assert other.lease_until == clock() + LEASE  # another host's live lease: untouched
