"""Sending one DIGEST op: render from the database now, post it, then its chart in its thread.

The digest is a top-level message with the usual `diplo_alert` metadata, so a try that may
have landed is looked up in the channel's history first, as for item alerts (jobs.deliver).
The chart is drawn (news/chart.py) and its bytes handed to Slack (files.getUploadURLExternal
+ the upload POST) *before* the message is posted, so the message can say whether a chart
follows; once the message is in, the file is shared in its thread
(files.completeUploadExternal). A chart that cannot be drawn or uploaded is logged and left
out: the digest is posted anyway, once, and the chart is never retried on its own (a
digest found already posted after a crash is not given a chart either: it might have one).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from handlers.blocks import chart_comment, digest_message, digest_title, text_only
from handlers.sender import (
    ALERT_EVENT,
    Posted,
    PostResult,
    Sender,
    SlackFailed,
    Uploaded,
)
from jobs.digests import DigestPayload
from jobs.story_delivery import OpOutcome
from models.channel import settings_of
from models.digest import DigestView, chart_data, digest_view
from models.outbox import AlertJob
from news.chart import digest_chart

logger = logging.getLogger(__name__)

Paced = Callable[[str, Callable[[], PostResult]], PostResult]


def _metadata(alert_id: int) -> dict[str, Any]:
    return {"event_type": ALERT_EVENT, "event_payload": {"alert_id": alert_id}}


def _failed(result: object, kind: str) -> bool:
    return isinstance(result, SlackFailed) and result.kind == kind


class DigestAttempt:
    """Send one digest op (see the module docstring); every outcome is an `OpOutcome`."""

    def __init__(
        self,
        sender: Sender,
        sessions: sessionmaker[Session],
        call: Paced,
        lookback: timedelta,
        unknown_attempts: int,
        default_tz: str,
    ) -> None:
        self.sender, self.sessions, self.call = sender, sessions, call
        self.lookback, self.unknown_attempts, self.default_tz = (
            lookback,
            unknown_attempts,
            default_tz,
        )
        self.charts = 0  # charts shared by this run
        self.chart_seconds = 0.0  # time spent drawing them

    def run(self, job: AlertJob) -> OpOutcome:
        """Look up (when unsure), render, upload the chart, post, share the chart."""
        if job.maybe_posted_since is not None:
            found = self.sender.find_posted(
                job.channel, job.alert_id, job.maybe_posted_since - self.lookback
            )
            if found is not None:
                return OpOutcome(job, found, recovered=isinstance(found, Posted), lookup=True)
        try:
            payload = DigestPayload.from_json(job.payload)
        except (ValueError, KeyError, TypeError):
            error = "bad_digest_payload"
            return OpOutcome(job, SlackFailed(error, "content"), given_up=error)
        view = self._view(job.channel, payload)
        upload = self._upload_chart(view, job)
        message = digest_message(view, chart=None if upload is None else bool(upload))
        metadata = _metadata(job.alert_id)
        result = self.call(job.channel, lambda: self.sender.post(job.channel, message, metadata))
        if _failed(result, "content") or (
            _failed(result, "unknown") and job.attempt >= self.unknown_attempts
        ):
            assert isinstance(result, SlackFailed)
            first = result.error
            logger.warning("digest %s: Slack refused it (%s); text only", job.alert_id, first)
            result = self.call(
                job.channel, lambda: self.sender.post(job.channel, text_only(message), metadata)
            )
            if _failed(result, "content") or _failed(result, "unknown"):
                assert isinstance(result, SlackFailed)
                return OpOutcome(job, result, given_up=f"{first}; as text only: {result.error}")
        if isinstance(result, Posted) and upload:
            self._share(upload, view, job, result.ts)
        return OpOutcome(job, result)

    def _view(self, channel: str, payload: DigestPayload) -> DigestView:
        with self.sessions() as s:
            zone = settings_of(s, channel, self.default_tz).zone
            return digest_view(
                s, channel, payload.kind, payload.start, payload.end, zone, late=payload.late
            )

    def _upload_chart(self, view: DigestView, job: AlertJob) -> Uploaded | bool | None:
        """The chart's bytes handed to Slack; False when that failed; None: nothing to draw."""
        if not view.topics:
            return None
        started = time.perf_counter()
        try:
            with self.sessions() as s:
                title = digest_title(view.kind, view.end, view.zone)
                data = chart_data(s, view.topics, view.end, view.zone, title)
            if data.empty:
                return None
            png = digest_chart(data)
        except Exception:  # a plotting bug must not hold the digest back
            logger.exception("digest %s: the chart could not be drawn", job.alert_id)
            return False
        finally:
            self.chart_seconds += time.perf_counter() - started
        filename = f"diplo-digest-{view.end:%Y%m%d-%H%M}.png"
        uploaded = self.sender.upload_file(filename, png)
        if not isinstance(uploaded, Uploaded):
            logger.warning(
                "digest %s: chart upload failed (%s); posted without it",
                job.alert_id,
                getattr(uploaded, "error", "ratelimited"),
            )
            return False
        return uploaded

    def _share(self, upload: Uploaded | bool, view: DigestView, job: AlertJob, ts: str) -> None:
        assert isinstance(upload, Uploaded)
        title = digest_title(view.kind, view.end, view.zone)
        comment = chart_comment(view.kind)
        shared = self.call(
            job.channel,
            lambda: self.sender.share_file(upload.file_id, title, job.channel, ts, comment),
        )
        if isinstance(shared, Posted):
            self.charts += 1
        else:
            logger.warning(
                "digest %s: chart not shared (%s); the digest stands without it",
                job.alert_id,
                getattr(shared, "error", "ratelimited"),
            )
