"""`bot.py doctor` against the fake Slack, local feeds on 127.0.0.1 and real databases."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine

from cli.doctor import report, run_checks
from cli.terminal import show
from models.db import make_engine
from models.migrate import upgrade
from ops.doctor import Check
from tests.fakes.feed_server import FeedServer
from tests.fakes.slack_server import MANIFEST, FakeSlack, manifest_scopes
from tests.feedgen import rss, wire

ROOT = Path(__file__).resolve().parents[1]


def url_of(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def environment(slack: FakeSlack, database_url: str, feeds: list[str]) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "DIPLO_FEEDS": ",".join(feeds),
        "DIPLO_ALLOW_HOSTS": "127.0.0.1",
        "DIPLO_FETCH_TIMEOUT": "5",
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_APP_TOKEN": slack.app_token,
        "SLACK_API_URL": slack.url,
    }


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


def text_of(checks: list[Check]) -> str:
    out = io.StringIO()
    show(lambda console: report(console, checks), out)
    return out.getvalue()


@pytest.fixture
def good_feed(feed_server: FeedServer) -> str:
    return feed_server.serve("/wire.xml", rss(wire(3)))


def test_a_healthy_deployment_is_all_ok(engine: Engine, slack: FakeSlack, good_feed: str) -> None:
    checks = run_checks(environment(slack, url_of(engine), [good_feed]), env_file=None)
    named = by_name(checks)
    assert [c.status for c in checks] == ["ok"] * len(checks), text_of(checks)
    assert list(named)[:7] == [
        "configuration",
        "relevance rules",
        "sources",
        "contact cues",
        "database",
        "Slack bot token",
        "Slack scopes",
    ]
    assert "Socket Mode" in named["configuration"].detail
    assert "reachable, migrated" in named["database"].detail
    assert "diplo (U_BOT) in Diplo Test (T1)" in named["Slack bot token"].detail
    assert f"all {len(manifest_scopes())} scopes" in named["Slack scopes"].detail
    assert "not connected" in named["Socket Mode app token"].detail
    feed = named[f"feed {good_feed}"]
    assert feed.detail.startswith("3 items in ") and feed.seconds is not None
    assert slack.calls("apps.connections.open") and slack.connection_count == 0
    auth = slack.requests("auth.test")
    assert auth[0].headers["authorization"] == f"Bearer {slack.bot_token}"


def test_bad_feeds_fail_each_on_its_own_line(
    engine: Engine, slack: FakeSlack, feed_server: FeedServer, good_feed: str
) -> None:
    missing = feed_server.url("/gone.xml")
    page = feed_server.serve(
        "/page.html", b"<html><body><p>Not a feed</p></body></html>", content_type="text/html"
    )
    checks = run_checks(
        environment(slack, url_of(engine), [good_feed, missing, page]), env_file=None
    )
    named = by_name(checks)
    assert named[f"feed {good_feed}"].status == "ok"
    gone = named[f"feed {missing}"]
    assert (gone.status, gone.detail.split()[0]) == ("fail", "http_404")
    assert "feeds remove" in gone.fix
    html = named[f"feed {page}"]
    assert html.status == "fail" and "not a feed" in html.detail and "RSS/Atom" in html.fix
    assert [c.name for c in checks if c.status == "fail"] == [f"feed {missing}", f"feed {page}"]
    lines = text_of(checks).splitlines()
    assert len(lines) == len(checks) + 1  # one line per check, then the tally
    assert lines[-1].startswith(f"doctor: {len(checks) - 2} ok, 0 warnings, 2 failed")
    assert all("\x1b" not in line for line in lines)


def test_a_missing_scope_is_named_with_its_manifest_line(
    engine: Engine, slack: FakeSlack, good_feed: str
) -> None:
    granted = [s for s in manifest_scopes() if s != "channels:join"]
    slack.set_scopes(slack.bot_token, granted)
    named = by_name(run_checks(environment(slack, url_of(engine), [good_feed]), env_file=None))
    scopes = named["Slack scopes"]
    line = next(
        n
        for n, text in enumerate(MANIFEST.read_text().splitlines(), 1)
        if "- channels:join" in text
    )
    assert scopes.status == "fail"
    assert scopes.detail == f"missing channels:join (manifest.yml line {line})"
    assert "reinstall" in scopes.fix
    assert named["Slack bot token"].status == "ok"


def test_a_revoked_bot_token_and_a_wrong_app_token_fail(
    engine: Engine, slack: FakeSlack, good_feed: str
) -> None:
    slack.set_token_revoked()
    env = environment(slack, url_of(engine), [good_feed]) | {"SLACK_APP_TOKEN": "xapp-not-ours"}
    checks = run_checks(env, env_file=None)
    named = by_name(checks)
    assert named["Slack bot token"].status == "fail"
    assert named["Slack bot token"].detail == "rejected by Slack: token_revoked"
    assert "Slack scopes" not in named  # nothing to read the scopes from
    app = named["Socket Mode app token"]
    assert (app.status, app.detail) == ("fail", "rejected by Slack: invalid_auth")
    shown = text_of(checks)
    assert slack.bot_token not in shown and "xapp-not-ours" not in shown


def test_console_mode_only_warns(tmp_path: Path, slack: FakeSlack, good_feed: str) -> None:
    db = f"sqlite:///{tmp_path / 'new.db'}"
    env = {"DATABASE_URL": db, "DIPLO_FEEDS": good_feed, "DIPLO_ALLOW_HOSTS": "127.0.0.1"}
    named = by_name(run_checks(env, env_file=None))
    assert named["Slack bot token"].status == "warn"
    assert named["Socket Mode app token"].status == "warn"
    assert named["database"].status == "warn" and "does not exist yet" in named["database"].detail
    assert not (tmp_path / "new.db").exists()  # the doctor never creates the database
    assert "console mode" in named["configuration"].detail


def test_pending_migrations_are_named(tmp_path: Path, slack: FakeSlack, good_feed: str) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    upgrade(engine, "0005")
    engine.dispose()
    database = by_name(run_checks(environment(slack, url, [good_feed]), env_file=None))["database"]
    assert database.status == "warn"
    # every migration after 0005 is named, in order (the list grows with the project)
    assert "pending migrations: 0006 (sources), 0007 (search), 0008 (" in database.detail
    assert "db upgrade" in database.fix


def test_an_unreachable_database_and_a_bad_rules_file_fail(
    tmp_path: Path, slack: FakeSlack, good_feed: str
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text('[topics.trade]\ndescription = "Trade"\nterms = ["tariff"\n')
    env = environment(slack, "postgresql://diplo:s3cret@127.0.0.1:1/none", [good_feed])
    checks = run_checks(env | {"DIPLO_RULES": str(rules)}, env_file=None)
    named = by_name(checks)
    assert named["database"].status == "fail" and "DATABASE_URL" in named["database"].fix
    assert named["relevance rules"].status == "fail"
    assert "rules.toml line" in named["relevance rules"].detail
    assert "s3cret" not in text_of(checks)


def test_feed_secrets_are_redacted(
    engine: Engine, slack: FakeSlack, feed_server: FeedServer
) -> None:
    feed_server.serve("/private.xml", rss(wire(1)))
    secret = feed_server.url("/private.xml").replace("http://", "http://me:hunter2@")
    checks = run_checks(environment(slack, url_of(engine), [secret + "?token=abc"]), env_file=None)
    shown = text_of(checks)
    assert "hunter2" not in shown and "token=abc" not in shown
    assert any(c.name.startswith("feed ") and c.status == "ok" for c in checks)


def bot(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    environ = {
        k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DIPLO_", "DATABASE_"))
    }
    return subprocess.run(
        [sys.executable, str(ROOT / "bot.py"), *args],
        capture_output=True,
        text=True,
        env=environ | env | {"FORCE_COLOR": "1"},  # a pipe still gets no colour codes
        cwd=ROOT,
        timeout=60,
    )


def test_bot_py_doctor_exit_codes(
    tmp_path: Path, slack: FakeSlack, feed_server: FeedServer, good_feed: str
) -> None:
    url = f"sqlite:///{tmp_path / 'diplo.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    healthy = bot("doctor", env=environment(slack, url, [good_feed]))
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert "\x1b" not in healthy.stdout
    assert healthy.stdout.splitlines()[0].split()[:2] == ["ok", "configuration"]
    assert "ready" in healthy.stdout.splitlines()[-1]
    assert slack.bot_token not in healthy.stdout + healthy.stderr

    broken = environment(slack, url, [good_feed, feed_server.url("/missing.xml")])
    failed = bot("doctor", "--json", env=broken)
    assert failed.returncode == 1
    report = json.loads(failed.stdout)
    assert report["status"] == "fail"
    assert {c["status"] for c in report["checks"]} == {"ok", "fail"}
    assert set(report["checks"][0]) == {"name", "status", "detail", "fix", "seconds"}

    bad_config = bot("doctor", env={"DATABASE_URL": url, "DIPLO_POLL_SECONDS": "soon"})
    assert bad_config.returncode == 1
    first = bad_config.stdout.splitlines()[0]
    assert first.startswith("fail") and "DIPLO_POLL_SECONDS" in first
