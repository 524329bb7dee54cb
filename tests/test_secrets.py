"""Secrets never appear in logs, errors or replies, whatever fails.

Recognisable secrets (bot token, app token, signing secret, a DATABASE_URL password) go
through the failure paths: a token Slack rejects at start, Slack answering 500, feeds
that fail, a database that cannot be reached, commands that fail, a forged request. Logs
are captured at DEBUG (caplog in process, stderr/stdout of real `python bot.py` runs).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_sdk import WebClient

from cli.context import RedactingFormatter
from deps import Deps
from handlers.app import SlackAuthError, check_auth, run_http, run_socket_mode
from handlers.commands import parse_command, run_command
from handlers.sender import SlackSender, make_web_client
from jobs.deliver import deliver_pending
from jobs.poll import poll_due_feeds
from models.feed import add_feed, get_by_url, make_all_due
from models.subscription import subscribe
from tests.conftest import _drop_postgres_database, _fresh_postgres_database
from tests.fakes.feed_server import FeedServer, Reply
from tests.fakes.slack_server import FakeSlack
from tests.faults import ROOT, bot_env, bot_process, free_port, queue_alert
from tests.feedgen import Story, rss, wire
from tests.slackbot import make_bot, post_form, sign, slash_form, wait_for

BOT_TOKEN = "xoxb-4242-SECRETBOTTOKEN-f00d"
APP_TOKEN = "xapp-1-A1-SECRETAPPTOKEN-beef"
SIGNING_SECRET = "SECRETSIGNINGSECRET-c0ffee"
DB_PASSWORD = "SECRETDBPASSWORD-1234"
MARKS = ("SECRETBOTTOKEN", "SECRETAPPTOKEN", "SECRETSIGNINGSECRET", "SECRETDBPASSWORD")


def leaks(text: str) -> list[str]:
    """Which secrets appear in `text`."""
    return [mark for mark in MARKS if mark in text]


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    """A fake Slack that knows the secret tokens."""
    server = FakeSlack(bot_token=BOT_TOKEN, app_token=APP_TOKEN)
    try:
        yield server
    finally:
        server.close()


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_failures_in_process_log_and_reply_without_secrets(
    deps: Deps, slack: FakeSlack, feed_server: FeedServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    said: list[str] = []
    bot = make_bot(
        deps,
        slack,
        slack_signing_secret=SIGNING_SECRET,
        slack_app_token=APP_TOKEN,
        admins=frozenset({"UADMIN"}),
    )
    deps = bot.deps
    assert SIGNING_SECRET not in repr(deps.settings) and BOT_TOKEN not in repr(deps.settings)

    # start-up: the bot token and the app token rejected, then Slack unreachable
    with pytest.raises(SlackAuthError) as rejected:
        check_auth(WebClient(token="xoxb-4242-SECRETBOTTOKEN-wrong", base_url=slack.url))
    said.append(str(rejected.value))
    with pytest.raises(SlackAuthError) as rejected_app:
        run_socket_mode(bot.app, "xapp-1-A1-SECRETAPPTOKEN-wrong")
    said.append(str(rejected_app.value))
    handler = run_socket_mode(bot.app, APP_TOKEN, ping_interval=0.5)  # and a good connection
    slack.wait_connections(1)
    handler.close()

    # feeds that fail, and Slack answering 500 / dropping the connection while posting
    with deps.sessions.begin() as s:
        for path, reply in [("/404.xml", Reply(404)), ("/reset.xml", Reply(reset=True))]:
            add_feed(s, feed_server.script(path, [reply]), deps.clock())
        subscribe(s, "C1", ["all"], "U1", deps.clock())
    poll_due_feeds(deps)
    sender = SlackSender(make_web_client(BOT_TOKEN, slack.url, timeout=2), pace=0)
    posting = dataclasses.replace(deps, sender=sender)
    queue_alert(posting, ["C1", "C2"], "Trump and Xi speak by phone")
    slack.fail_next("chat.postMessage", 1, status=500, error="internal_error")
    slack.drop_next("chat.postMessage")
    deliver_pending(posting)
    slack.set_token_revoked(True)
    queue_alert(posting, ["C3"], "Trump and Xi speak again")
    deliver_pending(posting)
    slack.set_token_revoked(False)

    # commands: failing ones, a crash, and requests over HTTP (signed, forged, unsigned)
    for text in ("status", "feeds", f"feeds add {feed_server.url('/404.xml')}", "feeds add x"):
        said.append(json.dumps(bot.command(text, user="UADMIN")))
    client = WebClient(token=BOT_TOKEN, base_url=slack.url)
    broken = dataclasses.replace(deps, sessions=None)  # any bug below the command table
    crashed = run_command(broken, parse_command("latest", "C1", "U1"), client)
    said.append(crashed.text)
    server = run_http(bot.app, 0, host="127.0.0.1")
    try:
        body = urlencode(slash_form("status", "C1", "U1", slack.response_url("http")))
        for headers in (sign(body, SIGNING_SECRET), sign(body, "wrong"), {}):
            said.append(_post(server.port, body, headers))
        wait_for(lambda: slack.responses("http"))
    finally:
        server.close()

    said += [json.dumps(r.body) for r in slack.requests() if r.method.startswith("response/")]
    assert leaks(caplog.text) == []
    assert leaks("\n".join(said)) == []
    assert "token_revoked" in caplog.text and "invalid_auth" in "\n".join(said)


def _post(port: int, body: str, headers: dict[str, str]) -> str:
    status, reply = post_form(port, body, headers)
    return f"{status} {reply.decode(errors='replace')}"


# --- real processes ---------------------------------------------------------------------------


def start_bot(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    """`python bot.py ARGS`, its output captured."""
    return subprocess.Popen(
        [sys.executable, str(ROOT / "bot.py"), *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def secret_env(
    slack: FakeSlack, database_url: str, feeds: list[str], **extra: str
) -> dict[str, str]:
    """bot_env with the secrets, at DEBUG."""
    env = bot_env(
        database_url, feeds, slack, SLACK_SIGNING_SECRET=SIGNING_SECRET, LOG_LEVEL="DEBUG"
    )
    env.update(extra)
    return env


def test_start_up_failures_print_no_secrets(
    bot_runs: None, slack: FakeSlack, feed_server: FeedServer, tmp_path: Path
) -> None:
    feeds = [feed_server.serve("/wire.xml", rss(wire(1)))]
    sqlite = f"sqlite:///{tmp_path / 'diplo.db'}"
    wrong_bot = secret_env(slack, sqlite, feeds, SLACK_BOT_TOKEN="xoxb-4242-SECRETBOTTOKEN-old")
    wrong_app = secret_env(slack, sqlite, feeds, SLACK_APP_TOKEN="xapp-1-A1-SECRETAPPTOKEN-old")
    no_db = secret_env(
        slack, f"postgresql://diplo:{DB_PASSWORD}@127.0.0.1:{free_port()}/diplo", feeds
    )
    bad_db = secret_env(slack, f"mysql://diplo:{DB_PASSWORD}@127.0.0.1/diplo", feeds)
    with socket.create_server(("0.0.0.0", 0)) as taken:
        port_taken = secret_env(slack, sqlite, feeds, PORT=str(taken.getsockname()[1]))
        cases = [
            (wrong_bot, "SLACK_BOT_TOKEN was rejected by Slack: invalid_auth"),
            (wrong_app, "SLACK_APP_TOKEN was rejected by Slack: invalid_auth"),
            (no_db, "cannot open the database at DATABASE_URL"),
            (bad_db, "DATABASE_URL must start with"),
            (port_taken, "cannot listen on PORT="),
        ]
        runs = [start_bot(env) for env, _ in cases]  # side by side: each is mostly start-up
        for (_, expected), proc in zip(cases, runs, strict=True):
            stdout, stderr = proc.communicate(timeout=60)
            assert proc.returncode == 2, stderr
            assert expected in stderr and "Traceback" not in stderr
            assert leaks(stdout + stderr) == [], stderr


def test_a_running_bot_through_failures_prints_no_secrets(
    bot_runs: None, slack: FakeSlack, feed_server: FeedServer, tmp_path: Path
) -> None:
    """HTTP mode at DEBUG, on PostgreSQL with a password when the server is there."""
    database_url, name = f"sqlite:///{tmp_path / 'diplo.db'}", None
    try:
        url, name = _fresh_postgres_database()
        base, _, db = url.rpartition("/")
        user_host = base.split("://", 1)[1]
        if "@" in user_host and ":" not in user_host.split("@")[0]:  # trust auth ignores it
            user, host = user_host.split("@", 1)
            database_url = f"postgresql://{user}:{DB_PASSWORD}@{host}/{db}"
    except pytest.skip.Exception:
        pass
    try:
        feeds = [
            feed_server.script("/gone.xml", [Reply(410)]),
            feed_server.script("/reset.xml", [Reply(reset=True)]),
            feed_server.serve("/wire.xml", rss(wire(2))),
        ]
        env = secret_env(slack, database_url, feeds)
        slack.fail_next("chat.postMessage", 3, status=500, error="internal_error")
        log = tmp_path / "bot.log"
        with bot_process(env, log) as proc:
            _wait_running(log, proc)
            port = int(env["PORT"])
            body = urlencode(slash_form("status", "C1", "U1", slack.response_url("run")))
            replies = [_post(port, body, h) for h in (sign(body, SIGNING_SECRET), sign(body, "x"))]
            replies.append(json.dumps(wait_for(lambda: slack.responses("run"), timeout=10)))
            proc.terminate()
            proc.wait(timeout=15)
        output = log.read_text(errors="replace")
        assert "diplo running" in output and "gone" in output
        if name:
            assert DB_PASSWORD not in output and "***" in output  # the URL is shown masked
        assert leaks(output) == []
        assert leaks("\n".join(replies)) == []
    finally:
        if name:
            _drop_postgres_database(name)


def _wait_running(log: Path, proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(log.read_text(errors="replace")[-3000:])
        if log.exists() and "diplo running" in log.read_text(errors="replace"):
            time.sleep(1.0)  # let the first poll and its failures happen
            return
        time.sleep(0.05)
    raise AssertionError("the bot did not start: " + log.read_text(errors="replace")[-3000:])


# --- feed URLs with credentials: shown redacted everywhere, stored and used as given ----------

FEED_MARKS = ("SECRETFEEDPW", "SECRETFEEDTOKEN", "SECRETFEEDKEY")


def _with_secrets(url: str, query: str, userinfo: str = "") -> str:
    """http://127.0.0.1:P/x.xml → http://[userinfo@]127.0.0.1:P/x.xml?query."""
    return url.replace("http://", f"http://{userinfo}", 1) + "?" + query


def _open_home(bot: Any, user: str) -> None:
    body = {
        "type": "event_callback",
        "team_id": "T1",
        "api_app_id": "A1",
        "event_id": "EvHome",
        "event_time": 1,
        "event": {"type": "app_home_opened", "user": user, "channel": "D1", "tab": "home"},
        "authorizations": [{"team_id": "T1", "user_id": "U_BOT", "is_bot": True}],
    }
    assert bot.dispatch(json.dumps(body), content_type="application/json").status == 200


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)  # the CLI reads the same file
def test_feed_url_secrets_never_reach_replies_home_cli_or_logs(
    deps: Deps, slack: FakeSlack, feed_server: FeedServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bot = make_bot(deps, slack, admins=frozenset({"UADMIN"}))
    deps = dataclasses.replace(
        bot.deps, sender=SlackSender(make_web_client(slack.bot_token, slack.url, timeout=2), pace=0)
    )
    first = Story("Trump and Xi speak by phone", link="/story/1", guid="g1")  # a relative link
    second = Story("Trump and Xi agree to meet in Beijing", link="/story/2", guid="g2")
    ok = _with_secrets(
        feed_server.serve("/ok.xml", rss([first])),
        "token=SECRETFEEDTOKEN&page=1",
        "feeduser:SECRETFEEDPW@",
    )
    failing = _with_secrets(feed_server.script("/fail.xml", [Reply(500)]), "api_key=SECRETFEEDKEY")
    refused = _with_secrets(f"http://127.0.0.1:{free_port()}/x.xml", "access_token=SECRETFEEDTOKEN")
    with deps.sessions.begin() as s:
        for url in (ok, failing, refused):
            add_feed(s, url, deps.clock())
        subscribe(s, "C1", ["all"], "U1", deps.clock())
    poll_due_feeds(deps)  # primes ok.xml; the other two fail
    feed_server.serve("/ok.xml", rss([first, second]))
    with deps.sessions.begin() as s:
        make_all_due(s, deps.clock.advance(hours=1))  # type: ignore[attr-defined]
    poll_due_feeds(deps)  # the second story: an alert
    deliver_pending(deps)

    with deps.sessions() as s:  # stored as given, and polling with it works
        assert get_by_url(s, ok) is not None and get_by_url(s, ok).status == "ok"  # type: ignore[union-attr]
        assert get_by_url(s, failing).status == "failing"  # type: ignore[union-attr]
        database_url = s.get_bind().url.render_as_string(hide_password=False)
    assert any(  # the credentials are used: HTTP Basic
        r.path.startswith("/ok.xml?token=SECRETFEEDTOKEN") and "authorization" in r.headers
        for r in feed_server.requests
    )
    posted = [r for r in slack.requests() if r.method == "chat.postMessage"]
    assert len(posted) == 1 and "/story/2" in json.dumps(posted[0].body)

    new_feed = _with_secrets(feed_server.serve("/new.xml", rss(wire(1))), "sig=SECRETFEEDKEY")
    gone = _with_secrets(feed_server.url("/nothing.xml"), "key=SECRETFEEDKEY", "u:SECRETFEEDPW@")
    replies = [
        bot.command(text, user="UADMIN")
        for text in (
            "feeds",
            "status",
            f"feeds add {new_feed}",
            f"feeds add {gone}",
            f"feeds remove {new_feed}",
            f"feeds remove {gone}",
        )
    ]
    slack.set_member_of("UADMIN", "C1")
    _open_home(bot, "UADMIN")
    view = wait_for(lambda: slack.views.get("UADMIN"))
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DIPLO_", "DATABASE"))
    }
    env.update(
        DATABASE_URL=database_url,
        DIPLO_FEEDS=",".join((ok, failing)),
        DIPLO_ALLOW_HOSTS="127.0.0.1",
    )
    cli = [
        subprocess.run(
            [sys.executable, str(ROOT / "bot.py"), *args],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        for args in (("feeds", "list"), ("poll", "--once"), ("feeds", "remove", failing))
    ]

    shown = {
        "replies": json.dumps(replies),
        "slack": json.dumps([r.body for r in slack.requests()]),
        "home": json.dumps(view),
        "cli": "\n".join(r.stdout + r.stderr for r in cli),
        "logs": caplog.text,
    }
    assert {where: [m for m in FEED_MARKS if m in text] for where, text in shown.items()} == {
        where: [] for where in shown
    }
    assert "token=***" in shown["replies"] and "***@127.0.0.1" in shown["replies"]
    assert "api_key=***" in shown["home"] and "api_key=***" in shown["cli"]
    assert "fail.xml?api_key=***" in caplog.text  # the failure is still logged, redacted
    assert [r.returncode for r in cli] == [0, 0, 0], shown["cli"]


def test_log_lines_and_tracebacks_are_redacted_by_the_formatter() -> None:
    """The last line of defence: the stderr formatter redacts URLs in any line or traceback."""
    formatter = RedactingFormatter("%(levelname)s %(message)s")
    try:
        raise ValueError("GET https://u:SECRETFEEDPW@h.example/f?token=SECRETFEEDTOKEN: boom")
    except ValueError:
        record = logging.LogRecord(
            "x", logging.ERROR, __file__, 1, "feed %s", ("http://h/?key=SECRETFEEDKEY",), None
        )
        record.exc_info = sys.exc_info()
    line = formatter.format(record)
    assert [m for m in FEED_MARKS if m in line] == []
    assert "http://h/?key=***" in line and "https://***@h.example/f?token=***: boom" in line
