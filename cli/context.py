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
from jobs.fetch import FetchConfig, Fetcher
from models.db import make_engine, make_sessionmaker
from models.migrate import upgrade
from news.relevance import Classifier
from news.rules import RulesError, load_rules
from news.urls import redact_text
from settings import Settings, SettingsError, load_settings


class StartupError(Exception):
    """Something the user must fix before diplo can start; the message is one line."""


class RedactingFormatter(logging.Formatter):
    """The standard line, with secrets in any URL it holds (tracebacks too) shown as ***."""

    def format(self, record: logging.LogRecord) -> str:
        return redact_text(super().format(record))


def configure_logging(level: str) -> None:
    """Log to stderr, one line per event; URL secrets are redacted in every line."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=getattr(logging, level, logging.INFO), handlers=[handler])
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def settings_or_exit() -> Settings:
    """Load settings, or raise StartupError naming the variable."""
    try:
        return load_settings()
    except SettingsError as exc:
        raise StartupError(f"configuration error: {exc}") from None


def make_sender(settings: Settings) -> Sender:
    """Slack when a bot token is set (Socket or HTTP mode), else the console."""
    if settings.slack_mode == "console" or settings.slack_bot_token is None:
        return ConsoleSender()
    from handlers.sender import SlackSender, make_web_client

    return SlackSender(make_web_client(settings.slack_bot_token, settings.slack_api_url))


def fetch_config(settings: Settings) -> FetchConfig:
    """The fetcher's limits from the settings."""
    return FetchConfig(
        total_timeout=settings.fetch_timeout,
        max_bytes=settings.max_feed_bytes,
        concurrency=settings.fetch_concurrency,
        allow_hosts=settings.allow_hosts,
    )


def load_classifier(settings: Settings) -> Classifier:
    """The relevance engine with the configured rules file."""
    try:
        return Classifier(load_rules(settings.rules_file))
    except RulesError as exc:
        raise StartupError(f"relevance rules: {exc}") from None


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
                upgrade(engine)
        except OperationalError as exc:
            first = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise StartupError(f"cannot open the database at DATABASE_URL: {first}") from None
        except SQLAlchemyError as exc:
            raise StartupError(f"database error: {type(exc).__name__}: {exc}") from None
        fetcher = Fetcher(fetch_config(settings))
        try:
            yield Deps(
                settings=settings,
                sessions=make_sessionmaker(engine),
                fetcher=fetcher,
                classifier=load_classifier(settings),
                sender=sender or make_sender(settings),
                console_alerts=settings.slack_mode == "console",
            )
        finally:
            fetcher.close()
    finally:
        engine.dispose()
