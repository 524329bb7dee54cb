"""The edges, metered: each reports to `Events` at the one place the work happens.

- `MeteredFetcher.fetch`: every feed fetch (fetch_many runs through it), with its time.
- `MeteredClassifier.classify`: every item classified, with its time and topics.
- `meter_slack_client`: every Slack Web API call of a WebClient, by method and error.
- `outbox_reader`, `database_check`: what the metrics and /readyz read at request time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from jobs.fetch import FetchConfig, Fetcher, FetchRequest, FetchResult
from models.outbox import outbox_depth
from news.relevance import Classifier, Verdict
from news.rules import Rules
from ops.metrics import Events, OutboxRows

STATEMENT_TIMEOUT_MS = 2000  # PostgreSQL: a scrape's query never runs longer


class MeteredFetcher(Fetcher):
    """The fetcher, reporting each fetch's duration."""

    def __init__(self, config: FetchConfig, events: Events) -> None:
        super().__init__(config)
        self.events = events

    def fetch(self, request: FetchRequest, *, log: bool = True) -> FetchResult:
        """Fetch one feed (see Fetcher.fetch) and report how long it took."""
        started = time.perf_counter()
        try:
            return super().fetch(request, log=log)
        finally:
            self.events.fetch_finished(time.perf_counter() - started)


class MeteredClassifier(Classifier):
    """The relevance engine, reporting each verdict and its time."""

    def __init__(self, rules: Rules, events: Events) -> None:
        super().__init__(rules)
        self.events = events

    def classify(self, title: str, summary: str = "") -> Verdict:
        """Label one item (see Classifier.classify) and report it."""
        started = time.perf_counter()
        verdict = super().classify(title, summary)
        self.events.item_classified(time.perf_counter() - started, verdict.relevant, verdict.topics)
        return verdict


def meter_slack_client(client: WebClient, events: Events) -> WebClient:
    """Make `client` report every Web API call (method, Slack's error code, 429s); returns it.

    Every WebClient method goes through `api_call`, so wrapping that one method of this
    instance counts them all, including Bolt's and the Socket Mode handler's.
    """
    call: Callable[..., Any] = client.api_call

    def api_call(api_method: str, **kwargs: Any) -> Any:
        try:
            response = call(api_method, **kwargs)
        except SlackApiError as exc:
            data = exc.response.data if isinstance(exc.response.data, dict) else {}
            status = exc.response.status_code
            events.slack_call(api_method, str(data.get("error") or f"http_{status}"), status)
            raise
        except Exception as exc:
            events.slack_call(api_method, f"transport_{type(exc).__name__}")
            raise
        events.slack_call(api_method, None, response.status_code)
        return response

    setattr(client, "api_call", api_call)  # noqa: B010  (an instance attribute, on purpose)
    return client


def _bounded(s: Session) -> None:
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}"))


def outbox_reader(sessions: sessionmaker[Session]) -> Callable[[], OutboxRows]:
    """Read the outbox depth and oldest ages in one short, bounded transaction."""

    def read() -> OutboxRows:
        with sessions() as s, s.begin():
            _bounded(s)
            return outbox_depth(s)

    return read


def database_check(sessions: sessionmaker[Session]) -> Callable[[], bool]:
    """True when the database answers a `SELECT 1`."""

    def check() -> bool:
        with sessions() as s, s.begin():
            _bounded(s)
            return s.execute(text("SELECT 1")).scalar() == 1

    return check
