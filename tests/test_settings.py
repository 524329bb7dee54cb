"""settings.load_settings: environment over .env, one clear error per bad value."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from settings import Settings, SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[1]


def test_defaults() -> None:
    settings = load_settings({}, env_file=None)
    assert settings == Settings()
    assert settings.database_url == "sqlite:///diplo.db"
    assert settings.poll_seconds == 300
    assert settings.slack_mode == "console"


def test_environment_beats_env_file(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("DIPLO_POLL_SECONDS=60\nDIPLO_FEEDS=https://a.example/rss\n")
    settings = load_settings({"DIPLO_POLL_SECONDS": "120"}, env_file=env)
    assert settings.poll_seconds == 120
    assert settings.feeds == ("https://a.example/rss",)


@pytest.mark.parametrize(
    ("env", "mode"),
    [
        ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1"}, "socket"),
        ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}, "http"),
        ({}, "console"),
    ],
)
def test_slack_mode(env: dict[str, str], mode: str) -> None:
    assert load_settings(env, env_file=None).slack_mode == mode


def test_the_lease_is_a_minute_unless_set() -> None:
    assert load_settings({}, env_file=None).lease == timedelta(seconds=60)
    assert load_settings({"DIPLO_LEASE_SECONDS": "3"}, env_file=None).lease == timedelta(seconds=3)


def test_reminders_and_digests_are_looked_for_every_30_seconds_unless_set() -> None:
    assert load_settings({}, env_file=None).schedule_seconds == 30
    assert load_settings({"DIPLO_SCHEDULE_SECONDS": "1"}, env_file=None).schedule_seconds == 1


def test_postgres_urls_get_the_psycopg_driver() -> None:
    for raw in ("postgres://u@h/db", "postgresql://u@h/db"):
        assert load_settings({"DATABASE_URL": raw}, env_file=None).database_url == (
            "postgresql+psycopg://u@h/db"
        )


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"DIPLO_POLL_SECONDS": "five"}, "DIPLO_POLL_SECONDS"),
        ({"DIPLO_POLL_SECONDS": "0"}, "DIPLO_POLL_SECONDS"),
        ({"DATABASE_URL": "mysql://x/y"}, "DATABASE_URL"),
        ({"DIPLO_FEEDS": "https://ok.example/rss, notaurl"}, "DIPLO_FEEDS"),
        ({"SLACK_API_URL": "slack.com/api"}, "SLACK_API_URL"),
        ({"PORT": "70000"}, "PORT"),
        ({"SLACK_BOT_TOKEN": "xoxp-user-token"}, "SLACK_BOT_TOKEN"),
        ({"SLACK_APP_TOKEN": "xapp-1"}, "SLACK_BOT_TOKEN"),
        ({"DIPLO_ALLOW_HOSTS": "10.0.0.0/33"}, "DIPLO_ALLOW_HOSTS"),
        ({"LOG_LEVEL": "loud"}, "LOG_LEVEL"),
        ({"DIPLO_RETENTION_DAYS": "a year"}, "DIPLO_RETENTION_DAYS"),
        ({"DIPLO_RETENTION_DAYS": "-1"}, "DIPLO_RETENTION_DAYS"),
        ({"DIPLO_LEASE_SECONDS": "1"}, "DIPLO_LEASE_SECONDS"),
        ({"DIPLO_LEASE_SECONDS": "a minute"}, "DIPLO_LEASE_SECONDS"),
        ({"DIPLO_SCHEDULE_SECONDS": "0"}, "DIPLO_SCHEDULE_SECONDS"),
        ({"DIPLO_SCHEDULE_SECONDS": "30s"}, "DIPLO_SCHEDULE_SECONDS"),
        ({"DIPLO_HTTP_HOST": "localhost"}, "DIPLO_HTTP_HOST"),
        ({"DIPLO_RULES": "/nonexistent/topics.toml"}, "DIPLO_RULES"),
        ({"DIPLO_FEEDS_FILE": "/nonexistent/feeds.opml"}, "DIPLO_FEEDS_FILE"),
        ({"DIPLO_FEEDS_FILE": str(ROOT / "pyproject.toml")}, "DIPLO_FEEDS_FILE"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], names: str) -> None:
    with pytest.raises(SettingsError, match=names):
        load_settings(env, env_file=None)


def test_secrets_are_not_in_repr() -> None:
    settings = load_settings(
        {"SLACK_BOT_TOKEN": "xoxb-secret", "SLACK_SIGNING_SECRET": "shh"}, env_file=None
    )
    assert "xoxb-secret" not in repr(settings) and "shh" not in repr(settings)


def test_no_secret_in_repr_or_str() -> None:
    settings = load_settings(
        {
            "SLACK_BOT_TOKEN": "xoxb-SECRETBOT",
            "SLACK_APP_TOKEN": "xapp-SECRETAPP",
            "SLACK_SIGNING_SECRET": "SECRETSIGNING",
            "DATABASE_URL": "postgresql://diplo:SECRETDBPW@db.example:5432/diplo",
            "DIPLO_FEEDS": "https://u:SECRETFEEDPW@feeds.example/rss?token=SECRETFEEDTOKEN",
        },
        env_file=None,
    )
    for text in (repr(settings), str(settings), f"{settings}", f"{[settings]}"):
        assert "SECRET" not in text, text
        assert "postgresql+psycopg://***@db.example:5432/diplo" in text  # still useful
        assert "feeds.example/rss?token=***" in text
    assert settings.database_url == "postgresql+psycopg://diplo:SECRETDBPW@db.example:5432/diplo"


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://diplo:SECRETDBPW@db.example:notaport/diplo",
        "postgresql://diplo:SECRETDBPW@[::1/diplo",
        "postgresql+nosuchdriver://diplo:SECRETDBPW@db.example/diplo",
    ],
)
def test_a_malformed_database_url_is_one_line_without_the_password(url: str) -> None:
    with pytest.raises(SettingsError, match=r"^DATABASE_URL: ") as raised:
        load_settings({"DATABASE_URL": url}, env_file=None)
    assert "SECRET" not in str(raised.value) and "\n" not in str(raised.value)


def test_bot_py_with_a_malformed_database_url_exits_2_with_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DIPLO_", "DATA"))}
    env["DATABASE_URL"] = "postgresql://diplo:SECRETDBPW@127.0.0.1:notaport/diplo"
    result = subprocess.run(
        [sys.executable, str(ROOT / "bot.py")],
        env=env,
        cwd=tmp_path,  # no .env here
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "DATABASE_URL: " in lines[0], result.stderr
    assert "SECRET" not in result.stderr + result.stdout


def test_env_example_documents_every_variable() -> None:
    source = (ROOT / "settings.py").read_text()
    example = (ROOT / ".env.example").read_text()
    import re

    for name in set(re.findall(r'get\("([A-Z_]+)"\)', source)):
        assert f"\n{name}=" in example, f"{name} is missing from .env.example"
