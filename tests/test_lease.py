"""models.lease: one lease for feeds and outbox ops; the heartbeat that renews it."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlalchemy import select

from deps import Deps
from jobs.heartbeat import renew_own_leases
from models import lease as leases
from models.feed import Feed, add_feed, claim_due_feeds
from models.outbox import PENDING, SENDING, SLACK, Alert, claim_batch, release_owned
from tests.conftest import Clock
from tests.faults import queue_alert

TTL = timedelta(seconds=3)


def feed_leases(deps: Deps) -> dict[str, tuple[str | None, object]]:
    with deps.sessions() as s:
        return {f.url: (f.lease_owner, f.lease_until) for f in s.scalars(select(Feed))}


def test_a_claim_holds_for_the_lease_time_then_anyone_may_take_it(deps: Deps, clock: Clock) -> None:
    now = clock()
    with deps.sessions.begin() as s:
        add_feed(s, "https://a.example/", now)
    with deps.sessions.begin() as s:
        assert len(claim_due_feeds(s, now, "p:1", 10, TTL)) == 1
    with deps.sessions.begin() as s:
        assert claim_due_feeds(s, now + TTL - timedelta(seconds=1), "p:2", 10, TTL) == []
        assert [f.lease_owner for f in claim_due_feeds(s, now + TTL, "p:2", 10, TTL)] == ["p:2"]


def test_renew_extends_only_live_leases_of_this_process_and_its_runs(
    deps: Deps, clock: Clock
) -> None:
    now = clock()
    with deps.sessions.begin() as s:
        for name in ("mine", "other", "ended"):
            add_feed(s, f"https://{name}.example/", now)
    with deps.sessions.begin() as s:
        for feed in s.scalars(select(Feed)):
            owner = "p:1" if feed.url != "https://other.example/" else "p:10"
            leases.take(s, Feed, [feed.id], owner, now, TTL)
        ended = s.scalars(select(Feed.id).where(Feed.url == "https://ended.example/")).one()
        assert leases.expire(s, Feed, now, Feed.id == ended) == 1
    queue_alert(deps, ["C1"], "Trump and Xi speak by phone")
    with deps.sessions.begin() as s:
        [job] = claim_batch(s, now, "p:1/run", 10, TTL, kind=SLACK)
    later = clock.advance(seconds=2)
    assert renew_own_leases_for(deps, "p:1") == (1, 1)
    until = feed_leases(deps)
    assert until["https://mine.example/"] == ("p:1", later + deps.settings.lease)
    assert until["https://other.example/"] == ("p:10", now + TTL)  # "p:1" is not a prefix
    assert until["https://ended.example/"] == ("p:1", now)  # ended: no longer ours
    with deps.sessions() as s:
        alert = s.get(Alert, job.alert_id)
        assert alert is not None and alert.lease_until == later + deps.settings.lease


def renew_own_leases_for(deps: Deps, owner: str) -> tuple[int, int]:
    """One heartbeat of the process named `owner`."""
    return renew_own_leases(replace(deps, owner=owner))


def test_a_run_out_lease_is_not_renewed_and_another_process_takes_the_row(
    deps: Deps, clock: Clock
) -> None:
    queue_alert(deps, ["C1"], "Trump and Xi speak by phone")
    with deps.sessions.begin() as s:
        claim_batch(s, clock(), "p:1/run", 10, TTL, kind=SLACK)
    clock.advance(seconds=TTL.total_seconds())  # the heartbeat stalled past the lease
    assert renew_own_leases_for(deps, "p:1") == (0, 0)
    with deps.sessions.begin() as s:
        [job] = claim_batch(s, clock(), "p:2/run", 10, TTL, kind=SLACK)
    assert job.was_stale_sending  # the channel is searched before posting again
    assert renew_own_leases_for(deps, "p:1") == (0, 0)
    assert renew_own_leases_for(deps, "p:2") == (0, 1)


def test_release_drops_a_lease_and_expire_ends_it_keeping_the_owner(
    deps: Deps, clock: Clock
) -> None:
    now = clock()
    queue_alert(deps, ["C1", "C2"], "Trump and Xi speak by phone")
    with deps.sessions.begin() as s:
        jobs = claim_batch(s, now, "p:1/run", 10, TTL, kind=SLACK)
        first, second = (j.alert_id for j in jobs)
        released = (Alert.id == first, leases.owned_by(Alert, "p:1"))
        assert leases.release(s, Alert, *released, status=PENDING) == 1
        assert release_owned(s, "p:1", now) == 1  # the shutdown path: expire
    with deps.sessions() as s:
        rows = {a.id: (a.status, a.lease_owner, a.lease_until) for a in s.scalars(select(Alert))}
    assert rows == {first: (PENDING, None, None), second: (SENDING, "p:1/run", now)}
