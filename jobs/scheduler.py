"""The APScheduler set-up: a poll job and a delivery job, each guarded so the thread survives."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, timedelta
from typing import Any

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    JobEvent,
)
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from deps import Deps
from jobs.catchup import CATCHUP_SECONDS, catch_up
from jobs.deliver import deliver_pending
from jobs.digests import queue_due_digests
from jobs.poll import poll_due_feeds
from jobs.reminders import queue_reminders
from jobs.retention import prune_old_items
from settings import Settings

logger = logging.getLogger(__name__)

# how often due reminders and digests are queued by default (DIPLO_SCHEDULE_SECONDS); each
# is queued once by its key, however often and by however many replicas
REMINDERS_SECONDS = Settings.schedule_seconds


def guarded(name: str, job: Callable[[Deps], Any], deps: Deps) -> Callable[[], None]:
    """Wrap a job so an exception is logged once and the scheduler keeps running."""

    def run() -> None:
        try:
            result = job(deps)
            logger.debug("%s finished: %s", name, result)
        except Exception:
            logger.exception("%s failed; it runs again at its next interval", name)

    run.__name__ = run.__qualname__ = name  # APScheduler's own messages name the job
    return run


def poll_tick(poll_seconds: int) -> int:
    """Seconds between poll job runs: often enough to notice due feeds, 1..60."""
    return max(1, min(60, poll_seconds // 5))


def poll_job(deps: Deps) -> None:
    """Poll due feeds and report the cycle; the delivery loop (jobs/wakeup.py) posts the alerts.

    It returns after one tick at most, so a slow host never delays the next run: its
    fetches are recorded in the background when they end (and not counted in this cycle).
    """
    summary = poll_due_feeds(deps, wait=poll_tick(deps.settings.poll_seconds))
    deps.events.poll_finished(
        summary.seconds, (o.status for o in summary.outcomes), summary.new_items
    )
    if summary.feeds or summary.in_flight:
        logger.info(
            "polled %d feeds in %.1fs: %d ok, %d not modified, %d failed; %d new items, "
            "%d alerts; %d still fetching",
            summary.feeds,
            summary.seconds,
            summary.ok,
            summary.not_modified,
            summary.failed,
            summary.new_items,
            summary.alerts,
            summary.in_flight,
        )


def _on_event(event: JobEvent) -> None:
    if event.code == EVENT_JOB_MISSED:
        logger.warning("job %s missed its run time", event.job_id)
    elif event.code == EVENT_JOB_MAX_INSTANCES:
        # normal while a long delivery run works through a backlog; APScheduler warns too
        logger.debug("job %s still running; this run was skipped", event.job_id)
    elif event.code == EVENT_JOB_ERROR:
        logger.error("job %s raised", event.job_id)


def build_scheduler(deps: Deps, *, deliver: bool = True) -> BackgroundScheduler:
    """A background scheduler with the poll and delivery jobs (not started).

    No persistent job store: the schedule lives in our own tables (feeds.next_poll_at,
    alerts.next_attempt_at), so any number of processes can run this safely. With
    `deliver=False` the caller runs delivery itself (bot.py: jobs.wakeup.DeliveryLoop).
    """
    settings = deps.settings
    scheduler = BackgroundScheduler(
        timezone=UTC,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60},
    )
    # Poll often enough to notice due feeds; each feed's own interval lives in next_poll_at.
    tick = poll_tick(settings.poll_seconds)
    scheduler.add_job(
        guarded("poll", poll_job, deps),
        IntervalTrigger(seconds=tick, jitter=tick // 5 or None),
        id="poll",
        replace_existing=True,
        next_run_time=deps.clock(),
    )
    if deliver:
        scheduler.add_job(
            guarded("deliver", deliver_pending, deps),
            IntervalTrigger(seconds=settings.deliver_seconds),
            id="deliver",
            replace_existing=True,
        )
    # Digests and reminders are inserted when due (jobs/digests.py, jobs/reminders.py): a
    # short tick, one insert-ignore each.
    schedule = settings.schedule_seconds
    scheduler.add_job(
        guarded("digests", queue_due_digests, deps),
        IntervalTrigger(seconds=schedule, jitter=min(5, schedule // 5) or None),
        id="digests",
        replace_existing=True,
        next_run_time=deps.clock() + timedelta(seconds=min(10, schedule)),
    )
    scheduler.add_job(
        guarded("reminders", queue_reminders, deps),
        IntervalTrigger(seconds=schedule, jitter=min(5, schedule // 5) or None),
        id="reminders",
        replace_existing=True,
    )
    # catch-ups after quiet hours or an outage: folded in the outbox, then delivered
    scheduler.add_job(
        guarded("catchup", catch_up, deps),
        IntervalTrigger(seconds=CATCHUP_SECONDS),
        id="catchup",
        replace_existing=True,
        next_run_time=deps.clock(),
    )
    if settings.retention_days > 0:  # hourly, first a few minutes after start (rolling deploys)
        scheduler.add_job(
            guarded("retention", prune_old_items, deps),
            IntervalTrigger(hours=1, jitter=60),
            id="retention",
            replace_existing=True,
            next_run_time=deps.clock() + timedelta(minutes=5),
        )
    scheduler.add_listener(_on_event, EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES | EVENT_JOB_ERROR)
    return scheduler
