"""Replay protection for HTTP mode: a signed request is executed once, a byte-identical copy
within the signature window is refused with 401. Socket Mode requests are not signed and pass.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from slack_bolt import App, BoltRequest, BoltResponse
from sqlalchemy.exc import SQLAlchemyError

from deps import Deps
from models.seen_request import first_sighting, prune

logger = logging.getLogger(__name__)

PRUNE_EVERY = 50  # requests between two prunes of old signatures (one indexed DELETE)


def register(app: App, deps: Deps) -> None:
    """Add the replay guard; it runs after Bolt's own signature check."""
    counter = _Counter()

    @app.middleware
    def refuse_replays(
        req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]
    ) -> BoltResponse:
        if req.mode == "socket_mode":
            return next()
        signature = (req.headers.get("x-slack-signature") or [""])[0]
        now = deps.clock()
        try:
            with deps.sessions.begin() as s:
                new = first_sighting(s, signature, now)
                if new and counter.tick() % PRUNE_EVERY == 1:  # the first, then every 50th
                    prune(s, now)
        except SQLAlchemyError as exc:
            logger.warning("cannot check for a replayed request (%s): refused", type(exc).__name__)
            return BoltResponse(status=503, body="")
        if not new:
            retry = (req.headers.get("x-slack-retry-num") or [""])[0]
            logger.warning(
                "refused a replayed Slack request (signature seen before%s)",
                f", retry {retry}" if retry else "",
            )
            return BoltResponse(status=401, body="")
        return next()


class _Counter:
    """A thread-safe request counter."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._n = 0

    def tick(self) -> int:
        with self._lock:
            self._n += 1
            return self._n
