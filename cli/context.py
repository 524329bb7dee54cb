"""Building a process's dependencies for a CLI command, and the one-line failures at start."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from deps import Deps
from handlers.sender import ConsoleSender, Sender
from jobs.fetch import FetchConfig
from models.db import make_engine, make_sessionmaker
from models.migrate import upgrade
from news.relevance import Classifier
from news.rules import RulesError, load_rules
from news.sources import SourceBook, SourcesError, default_sources, load_sources
from news.urls import redact_text
from ops.instrument import MeteredClassifier, MeteredFetcher, meter_slack_client
from ops.logs import TEXT_FORMAT, formatter
from ops.metrics import Events
from settings import Settings, SettingsError, load_settings


class StartupError(Exception):
    """Something the user must fix before diplo can start; the message is one line."""


class RedactingFormatter(logging.Formatter):
    """Another formatter's output (text or JSON) with secrets in any URL shown as ***."""

    def __init__(self, fmt: str | None = TEXT_FORMAT, inner: logging.Formatter | None = None):
        super().__init__(fmt)
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        line = self.inner.format(record) if self.inner else super().format(record)
        return redact_text(line)


def configure_logging(level: str, log_format: str = "text") -> None:
    """Log to stderr, one line per event: text, or JSON objects (DIPLO_LOG_FORMAT=json).

    URL secrets are redacted in every line, tracebacks included.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter(inner=formatter(log_format)))
    logging.basicConfig(level=getattr(logging, level, logging.INFO), handlers=[handler])
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("matplotlib").setLevel(logging.WARNING)  # a line per chart bar otherwise


def settings_or_exit() -> Settings:
    """Load settings, or raise StartupError naming the variable."""
    try:
        return load_settings()
    except SettingsError as exc:
        raise StartupError(f"configuration error: {exc}") from None


def make_sender(settings: Settings, events: Events | None = None) -> Sender:
    """Slack when a bot token is set (Socket or HTTP mode), else the console."""
    if settings.slack_mode == "console" or settings.slack_bot_token is None:
        return ConsoleSender()
    from handlers.sender import SlackSender, make_web_client

    client = make_web_client(settings.slack_bot_token, settings.slack_api_url)
    return SlackSender(meter_slack_client(client, events) if events else client)


def fetch_config(settings: Settings) -> FetchConfig:
    """The fetcher's limits from the settings."""
    return FetchConfig(
        total_timeout=settings.fetch_timeout,
        max_bytes=settings.max_feed_bytes,
        concurrency=settings.fetch_concurrency,
        allow_hosts=settings.allow_hosts,
    )


def load_classifier(settings: Settings, events: Events | None = None) -> Classifier:
    """The relevance engine with the configured rules file (metered when `events` is given)."""
    try:
        rules = load_rules(settings.rules_file)
        return MeteredClassifier(rules, events) if events else Classifier(rules)
    except RulesError as exc:
        raise StartupError(f"relevance rules: {exc}") from None


def load_source_book(settings: Settings) -> SourceBook:
    """The outlets of DIPLO_SOURCES (default news/sources.toml)."""
    try:
        return load_sources(settings.sources_file) if settings.sources_file else default_sources()
    except SourcesError as exc:
        raise StartupError(f"sources: {exc}") from None


@contextmanager
def open_deps(
    settings: Settings, sender: Sender | None = None, migrate: bool = True
) -> Iterator[Deps]:
    """Engine (migrated), sessions, fetcher and classifier for one command; closed after."""
    engine = make_engine(settings.database_url)
    try:
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            if migrate:
                upgrade(engine, sources=load_source_book(settings))
        except OperationalError as exc:
            first = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise StartupError(f"cannot open the database at DATABASE_URL: {first}") from None
        except SQLAlchemyError as exc:
            raise StartupError(f"database error: {type(exc).__name__}: {exc}") from None
        events = Events()
        fetcher = MeteredFetcher(fetch_config(settings), events)
        try:
            yield Deps(
                settings=settings,
                sessions=make_sessionmaker(engine),
                fetcher=fetcher,
                classifier=load_classifier(settings, events),
                sender=sender or make_sender(settings, events),
                console_alerts=settings.slack_mode == "console",
                events=events,
                sources=load_source_book(settings),
            )
        finally:
            fetcher.close()
    finally:
        engine.dispose()
