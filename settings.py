"""Configuration: read once from the environment (over a `.env` file), frozen afterwards."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import dotenv_values

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")


class SettingsError(ValueError):
    """A configuration value is wrong; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    """Everything diplo can be configured with (see `.env.example`)."""

    database_url: str = "sqlite:///diplo.db"
    feeds: tuple[str, ...] = ()
    feeds_file: Path | None = None
    poll_seconds: int = 300
    deliver_seconds: float = 5.0
    max_failures: int = 10
    fetch_timeout: float = 20.0
    max_feed_bytes: int = 5 * 1024 * 1024
    fetch_concurrency: int = 64
    flood_items: int = 50  # new relevant items in one poll that make a feed "too active"
    allow_hosts: frozenset[str] = frozenset()
    rules_file: Path | None = None
    sources_file: Path | None = None
    slack_bot_token: str | None = field(default=None, repr=False)
    slack_app_token: str | None = field(default=None, repr=False)
    slack_signing_secret: str | None = field(default=None, repr=False)
    slack_api_url: str = DEFAULT_SLACK_API_URL
    port: int = 3000
    http_host: str = "0.0.0.0"
    admins: frozenset[str] = frozenset()
    log_level: str = "INFO"
    metrics_port: int | None = None  # /metrics, /healthz, /readyz; None: off
    metrics_host: str = "127.0.0.1"
    log_format: str = "text"  # or "json": one JSON object per line
    retention_days: int = 365  # irrelevant items older than this are pruned; 0: keep all
    lease_seconds: int = 60  # a claimed feed or alert is this process's for this long (renewed)
    default_tz: str = "America/New_York"  # a channel's zone until it has one (IANA name)
    catchup_after: int = 3600  # seconds: a longer backlog comes as one catch-up message
    flood_budget: int = 20  # story messages per channel per hour; beyond: "more stories"
    schedule_seconds: int = 30  # how often due reminders and digests are looked for

    def __repr__(self) -> str:
        """Every setting, with tokens left out and passwords or URL secrets as ***."""
        from news.urls import redact_url

        def shown(value: object) -> object:
            if isinstance(value, str):
                return redact_url(value)
            if isinstance(value, tuple):
                return tuple(shown(v) for v in value)
            return value

        parts = [f"{f.name}={shown(getattr(self, f.name))!r}" for f in fields(self) if f.repr]
        return f"Settings({', '.join(parts)})"

    __str__ = __repr__

    @property
    def lease(self) -> timedelta:
        """How long a claim on a feed or an alert lasts unless renewed (DIPLO_LEASE_SECONDS)."""
        return timedelta(seconds=self.lease_seconds)

    @property
    def slack_mode(self) -> str:
        """`socket`, `http` or `console`, from which tokens are set."""
        if self.slack_bot_token and self.slack_app_token:
            return "socket"
        if self.slack_bot_token and self.slack_signing_secret:
            return "http"
        return "console"


def _int(name: str, raw: str, low: int, high: int) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _float(name: str, raw: str, low: float, high: float) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name} must be between {low} and {high}, got {value}")
    return value


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _duration(name: str, raw: str, low: int, high: int) -> int:
    """Seconds from `3600`, `90m`, `1h` or `2d`, within [low, high]."""
    text = raw.strip().lower()
    unit = _UNITS.get(text[-1:], 0)
    number = text[:-1] if unit else text
    if not number.isdigit():
        raise SettingsError(f"{name} must be seconds or a duration like 90m or 1h, got {raw!r}")
    seconds = int(number) * (unit or 1)
    if not low <= seconds <= high:
        raise SettingsError(f"{name} must be between {low} s and {high} s, got {raw!r}")
    return seconds


def _list(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.replace("\n", ",").split(",") if part.strip())


def _http_url(name: str, raw: str) -> str:
    parts = urlsplit(raw.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingsError(f"{name} must be an http(s) URL, got {raw!r}")
    return raw.strip()


def _database_url(raw: str) -> str:
    url = raw.strip()
    scheme = url.split("://", 1)[0] if "://" in url else ""
    base = scheme.split("+", 1)[0]
    if base not in ("sqlite", "postgresql", "postgres"):
        raise SettingsError(
            f"DATABASE_URL must start with sqlite:/// or postgresql://, got scheme {scheme!r}"
        )
    if base == "postgres":
        url = "postgresql" + url[len("postgres") :]
    if base in ("postgres", "postgresql") and "+" not in scheme:
        url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:  # parse it as the engine will, so a bad one is this one line, not a traceback
        make_url(url).get_dialect()
    except (NoSuchModuleError, ImportError):
        raise SettingsError(f"DATABASE_URL: unknown database driver {scheme!r}") from None
    except (ArgumentError, ValueError):  # the message would quote the URL, password and all
        raise SettingsError(
            "DATABASE_URL: not a valid database URL (check the host, the port and any "
            "special character in the password, which must be %-encoded)"
        ) from None
    return url


def _allow_hosts(raw: str) -> frozenset[str]:
    hosts = _list(raw)
    for host in hosts:
        if "/" in host:
            try:
                ipaddress.ip_network(host, strict=False)
            except ValueError:
                raise SettingsError(f"DIPLO_ALLOW_HOSTS: {host!r} is not a valid CIDR") from None
    return frozenset(h.lower() for h in hosts)


def _feeds_file(raw: str) -> Path:
    from news.opml import OpmlError, read_opml

    path = Path(raw.strip())
    try:
        feeds = read_opml(path.read_bytes())
    except OSError as exc:
        raise SettingsError(f"DIPLO_FEEDS_FILE: cannot read {raw!r}: {exc.strerror}") from None
    except OpmlError as exc:
        raise SettingsError(f"DIPLO_FEEDS_FILE: {raw!r}: {exc}") from None
    if not feeds:
        raise SettingsError(f"DIPLO_FEEDS_FILE: {raw!r} lists no http(s) feed (xmlUrl)")
    return path


def _host(name: str, raw: str) -> str:
    """An IP address or a host name to bind to."""
    host = raw.strip()
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    if len(host) > 253 or not _HOSTNAME.fullmatch(host):
        raise SettingsError(f"{name} must be an IP address or a host name, got {raw!r}")
    return host


def _zone(name: str, raw: str) -> str:
    """An IANA time zone name the zone database knows ("Europe/London")."""
    from news.zones import zone_name

    found = zone_name(raw)
    if found is None:
        raise SettingsError(f"{name} must be an IANA time zone like America/New_York, got {raw!r}")
    return found


def _token(name: str, raw: str, prefix: str) -> str:
    value = raw.strip()
    if not value.startswith(prefix):
        raise SettingsError(f"{name} must start with {prefix!r}")
    return value


def load_settings(
    environ: Mapping[str, str] | None = None, env_file: str | Path | None = ".env"
) -> Settings:
    """Read settings once; the environment beats `.env`; a bad value raises SettingsError."""
    env: dict[str, str] = {}
    if env_file is not None and Path(env_file).is_file():
        env.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    env.update(os.environ if environ is None else environ)

    def get(name: str) -> str | None:
        value = env.get(name)
        return value if value is not None and value.strip() != "" else None

    kwargs: dict[str, object] = {}
    if (v := get("DATABASE_URL")) is not None:
        kwargs["database_url"] = _database_url(v)
    if (v := get("DIPLO_FEEDS")) is not None:
        kwargs["feeds"] = tuple(_http_url("DIPLO_FEEDS", u) for u in _list(v))
    if (v := get("DIPLO_FEEDS_FILE")) is not None:
        kwargs["feeds_file"] = _feeds_file(v)
    if (v := get("DIPLO_POLL_SECONDS")) is not None:
        kwargs["poll_seconds"] = _int("DIPLO_POLL_SECONDS", v, 1, 86400)
    if (v := get("DIPLO_DELIVER_SECONDS")) is not None:
        kwargs["deliver_seconds"] = _float("DIPLO_DELIVER_SECONDS", v, 0.1, 3600)
    if (v := get("DIPLO_MAX_FAILURES")) is not None:
        kwargs["max_failures"] = _int("DIPLO_MAX_FAILURES", v, 1, 10000)
    if (v := get("DIPLO_FETCH_TIMEOUT")) is not None:
        kwargs["fetch_timeout"] = _float("DIPLO_FETCH_TIMEOUT", v, 0.1, 600)
    if (v := get("DIPLO_MAX_FEED_BYTES")) is not None:
        kwargs["max_feed_bytes"] = _int("DIPLO_MAX_FEED_BYTES", v, 1024, 1024**3)
    if (v := get("DIPLO_FETCH_CONCURRENCY")) is not None:
        kwargs["fetch_concurrency"] = _int("DIPLO_FETCH_CONCURRENCY", v, 1, 256)
    if (v := get("DIPLO_FLOOD_ITEMS")) is not None:
        kwargs["flood_items"] = _int("DIPLO_FLOOD_ITEMS", v, 1, 100000)
    if (v := get("DIPLO_ALLOW_HOSTS")) is not None:
        kwargs["allow_hosts"] = _allow_hosts(v)
    if (v := get("DIPLO_RULES")) is not None:
        path = Path(v)
        if not path.is_file():
            raise SettingsError(f"DIPLO_RULES: no such file {v!r}")
        kwargs["rules_file"] = path
    if (v := get("DIPLO_SOURCES")) is not None:
        path = Path(v)
        if not path.is_file():
            raise SettingsError(f"DIPLO_SOURCES: no such file {v!r}")
        kwargs["sources_file"] = path
    if (v := get("SLACK_BOT_TOKEN")) is not None:
        kwargs["slack_bot_token"] = _token("SLACK_BOT_TOKEN", v, "xoxb-")
    if (v := get("SLACK_APP_TOKEN")) is not None:
        kwargs["slack_app_token"] = _token("SLACK_APP_TOKEN", v, "xapp-")
    if (v := get("SLACK_SIGNING_SECRET")) is not None:
        kwargs["slack_signing_secret"] = v.strip()
    if (v := get("SLACK_API_URL")) is not None:
        url = _http_url("SLACK_API_URL", v)
        kwargs["slack_api_url"] = url if url.endswith("/") else url + "/"
    if (v := get("PORT")) is not None:
        kwargs["port"] = _int("PORT", v, 1, 65535)
    if (v := get("DIPLO_HTTP_HOST")) is not None:
        try:
            kwargs["http_host"] = str(ipaddress.ip_address(v.strip()))
        except ValueError:
            raise SettingsError(f"DIPLO_HTTP_HOST must be an IP address, got {v!r}") from None
    if (v := get("DIPLO_ADMINS")) is not None:
        kwargs["admins"] = frozenset(_list(v))
    if (v := get("LOG_LEVEL")) is not None:
        level = v.strip().upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise SettingsError(f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {v!r}")
        kwargs["log_level"] = level
    if (v := get("DIPLO_METRICS_PORT")) is not None:
        kwargs["metrics_port"] = _int("DIPLO_METRICS_PORT", v, 0, 65535)
    if (v := get("DIPLO_METRICS_HOST")) is not None:
        kwargs["metrics_host"] = _host("DIPLO_METRICS_HOST", v)
    if (v := get("DIPLO_LOG_FORMAT")) is not None:
        log_format = v.strip().lower()
        if log_format not in ("text", "json"):
            raise SettingsError(f"DIPLO_LOG_FORMAT must be text or json, got {v!r}")
        kwargs["log_format"] = log_format
    if (v := get("DIPLO_RETENTION_DAYS")) is not None:
        kwargs["retention_days"] = _int("DIPLO_RETENTION_DAYS", v, 0, 36500)
    if (v := get("DIPLO_LEASE_SECONDS")) is not None:
        kwargs["lease_seconds"] = _int("DIPLO_LEASE_SECONDS", v, 2, 3600)
    if (v := get("DIPLO_DEFAULT_TZ")) is not None:
        kwargs["default_tz"] = _zone("DIPLO_DEFAULT_TZ", v)
    if (v := get("DIPLO_CATCHUP_AFTER")) is not None:
        kwargs["catchup_after"] = _duration("DIPLO_CATCHUP_AFTER", v, 60, 7 * 86400)
    if (v := get("DIPLO_FLOOD_BUDGET")) is not None:
        kwargs["flood_budget"] = _int("DIPLO_FLOOD_BUDGET", v, 0, 10000)
    if (v := get("DIPLO_SCHEDULE_SECONDS")) is not None:
        kwargs["schedule_seconds"] = _int("DIPLO_SCHEDULE_SECONDS", v, 1, 3600)
    settings = Settings(**kwargs)  # type: ignore[arg-type]
    if settings.slack_app_token and not settings.slack_bot_token:
        raise SettingsError("SLACK_APP_TOKEN is set but SLACK_BOT_TOKEN is missing")
    if settings.slack_signing_secret and not settings.slack_bot_token:
        raise SettingsError("SLACK_SIGNING_SECRET is set but SLACK_BOT_TOKEN is missing")
    return settings
