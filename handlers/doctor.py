"""`bot.py doctor`'s Slack checks: the bot token (auth.test), its scopes, the app token.

The scopes the app needs are read from manifest.yml (`oauth_config.scopes.bot`), so a
missing one is named with the manifest line that asks for it. The Socket Mode check calls
`apps.connections.open` and never opens the websocket it is handed. No token is printed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from news.urls import redact_url
from ops.doctor import Check
from settings import Settings

MANIFEST = Path(__file__).resolve().parent.parent / "manifest.yml"
TIMEOUT = 10  # seconds per Slack call
_ERROR_CODE = re.compile(r"^[a-z_]{1,60}$")
_REINSTALL = (
    "reinstall the app (api.slack.com/apps → OAuth & Permissions) and copy the Bot User "
    "OAuth Token (xoxb-…) into SLACK_BOT_TOKEN"
)


class ManifestError(ValueError):
    """manifest.yml cannot be read or lists no bot scopes."""


def needed_scopes(path: Path = MANIFEST) -> dict[str, int]:
    """The bot scopes manifest.yml asks for → the line that lists each (1-based)."""
    try:
        raw = path.read_text(encoding="utf-8")
        data = yaml.safe_load(raw)
        scopes = data["oauth_config"]["scopes"]["bot"]
    except (OSError, UnicodeDecodeError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise ManifestError(f"{path.name}: no oauth_config.scopes.bot ({exc})") from None
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise ManifestError(f"{path.name}: oauth_config.scopes.bot is not a list of scopes")
    lines: dict[str, int] = {}
    for number, line in enumerate(raw.splitlines(), start=1):
        found = re.match(r"\s*-\s*([\w:.-]+)", line)
        if found and found[1] in scopes and found[1] not in lines:
            lines[found[1]] = number
    return {scope: lines.get(scope, 0) for scope in scopes}


def _client(settings: Settings, token: str | None = None) -> WebClient:
    return WebClient(
        token=token, base_url=settings.slack_api_url, timeout=TIMEOUT, retry_handlers=[]
    )


def _slack_error(exc: SlackApiError) -> str:
    data = exc.response.data if isinstance(exc.response.data, dict) else {}
    error = str(data.get("error") or "")
    return error if _ERROR_CODE.match(error) else f"HTTP {exc.response.status_code}"


def _header(headers: Any, name: str) -> str | None:
    for key, value in dict(headers or {}).items():
        if str(key).lower() == name:
            return str(value)
    return None


def check_bot_token(settings: Settings) -> tuple[Check, frozenset[str] | None]:
    """auth.test with SLACK_BOT_TOKEN; the token's scopes when Slack said them."""
    name = "Slack bot token"
    if not settings.slack_bot_token:
        return Check(
            name,
            "warn",
            "SLACK_BOT_TOKEN is not set: console mode, alerts are printed here",
            "create the app from manifest.yml and set SLACK_BOT_TOKEN and SLACK_APP_TOKEN",
        ), None
    try:
        response = _client(settings, settings.slack_bot_token).auth_test()
    except SlackApiError as exc:
        return Check(name, "fail", f"rejected by Slack: {_slack_error(exc)}", _REINSTALL), None
    except (SlackClientError, OSError) as exc:
        where = redact_url(settings.slack_api_url)
        return Check(
            name,
            "fail",
            f"could not reach Slack at {where}: {type(exc).__name__}",
            "check the network (and SLACK_API_URL if set)",
        ), None
    who = f"{response.get('user')} ({response.get('user_id')})"
    team = f"{response.get('team')} ({response.get('team_id')})"
    header = _header(response.headers, "x-oauth-scopes")
    scopes = frozenset(s.strip() for s in header.split(",") if s.strip()) if header else None
    return Check(name, "ok", f"valid: bot {who} in {team}"), scopes


def check_scopes(granted: frozenset[str] | None, manifest: Path = MANIFEST) -> Check:
    """Every bot scope manifest.yml asks for is granted to the token."""
    name = "Slack scopes"
    try:
        needed = needed_scopes(manifest)
    except ManifestError as exc:
        return Check(name, "warn", str(exc), "restore manifest.yml from the repository")
    if granted is None:
        return Check(
            name,
            "warn",
            "Slack did not list the token's scopes (no x-oauth-scopes header)",
            f"compare OAuth & Permissions with {manifest.name}",
        )
    missing = [scope for scope in needed if scope not in granted]
    if missing:
        listed = ", ".join(f"{s} ({manifest.name} line {needed[s]})" for s in missing)
        return Check(
            name,
            "fail",
            f"missing {listed}",
            f"add the scopes under OAuth & Permissions (or paste {manifest.name} again), "
            "then reinstall the app",
        )
    return Check(name, "ok", f"all {len(needed)} scopes of {manifest.name} granted")


def check_app_token(settings: Settings) -> Check:
    """Socket Mode: apps.connections.open with SLACK_APP_TOKEN (the websocket is not opened)."""
    name = "Socket Mode app token"
    if settings.slack_mode == "http":
        return Check(name, "ok", "HTTP mode: SLACK_SIGNING_SECRET is set, no app token needed")
    if not settings.slack_app_token:
        if settings.slack_bot_token:
            return Check(
                name,
                "warn",
                "neither SLACK_APP_TOKEN nor SLACK_SIGNING_SECRET is set: console mode",
                "set SLACK_APP_TOKEN (Basic Information → App-Level Tokens, connections:write)",
            )
        return Check(name, "warn", "SLACK_APP_TOKEN is not set: console mode", "")
    try:
        _client(settings).apps_connections_open(app_token=settings.slack_app_token)
    except SlackApiError as exc:
        return Check(
            name,
            "fail",
            f"rejected by Slack: {_slack_error(exc)}",
            "create an app-level token with connections:write (Basic Information → "
            "App-Level Tokens), put it in SLACK_APP_TOKEN, and enable Socket Mode",
        )
    except (SlackClientError, OSError) as exc:
        return Check(
            name,
            "fail",
            f"could not reach Slack at {redact_url(settings.slack_api_url)}: {type(exc).__name__}",
            "check the network (and SLACK_API_URL if set)",
        )
    return Check(name, "ok", "valid: Slack issued a Socket Mode URL (not connected)")
