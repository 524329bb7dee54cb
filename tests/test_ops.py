"""Operations: /metrics, /healthz, /readyz of real processes, JSON logs, Docker and compose."""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from ops.metrics import Events, code
from ops.server import OpsServer
from settings import SettingsError, load_settings
from tests.conftest import _drop_postgres_database
from tests.fakes.feed_server import FeedServer
from tests.fakes.slack_server import FakeSlack
from tests.faults import ROOT, bot_env, bot_process, free_port, prime
from tests.feedgen import rss, wire
from tests.test_fleet import console_env, relevant, stop, wait_for

UNBOUNDED = {"channel", "channel_id", "feed", "url", "feed_url", "title", "item"}


def get(url: str, timeout: float = 10) -> tuple[int, str]:
    """GET url; (status, body) also for 4xx/5xx answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def scrape(port: int) -> dict[str, list[tuple[dict[str, str], float, str]]]:
    """Scrape /metrics on 127.0.0.1 and parse it: family -> [(labels, value, sample name)]."""
    status, text = get(f"http://127.0.0.1:{port}/metrics")
    assert status == 200
    return {
        family.name: [(s.labels, s.value, s.name) for s in family.samples]
        for family in text_string_to_metric_families(text)
    }


def value(families: dict, name: str, sample: str | None = None, **labels: str) -> float:
    """The sum of a family's samples (named `sample`, if given) with these labels."""
    return sum(
        v
        for got, v, sample_name in families.get(name, [])
        if (sample is None or sample_name == sample)
        and all(got.get(k) == w for k, w in labels.items())
    )


def wait_until(check, timeout: float = 15.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.usefixtures("bot_runs")
def test_metrics_of_a_running_bot_parse_and_count_polls_items_alerts_and_slack_calls(
    tmp_path: Path, feed_server: FeedServer, slack: FakeSlack
) -> None:
    database_url = f"sqlite:///{tmp_path / 'diplo.db'}"
    path = "/m.xml"
    url = feed_server.serve(path, rss(wire(3)), etag='"v0"')
    prime(database_url, url)
    port = free_port()
    env = bot_env(database_url, [url], slack, DIPLO_METRICS_PORT=str(port))
    log = tmp_path / "bot.log"
    slack.fail_next("chat.postMessage", status=429, headers={"Retry-After": "0"})
    with bot_process(env, log) as proc:
        assert wait_for(log, "diplo running", proc), log.read_text()
        assert get(f"http://127.0.0.1:{port}/healthz") == (200, "ok\n")
        feed_server.serve(path, rss([relevant(1), *wire(3)]), etag='"v1"')
        assert wait_until(lambda: len(slack.messages("CKILL")) == 1), log.read_text()
        polls = "diplo_feed_polls"
        assert wait_until(lambda: value(scrape(port), polls, outcome="not_modified") >= 1)
        families = scrape(port)
        ready = get(f"http://127.0.0.1:{port}/readyz")
        assert stop(proc)[0] == 0
    assert ready == (200, "ready\n")
    assert all(name.startswith("diplo_") for name in families), sorted(families)
    labels = {k for samples in families.values() for got, _, _ in samples for k in got}
    assert not labels & UNBOUNDED, labels
    assert value(families, "diplo_feed_polls", outcome="ok") >= 1
    assert value(families, "diplo_feed_polls", outcome="not_modified") >= 1
    fetches = "diplo_feed_fetch_duration_seconds"
    assert value(families, fetches, f"{fetches}_count") >= 2
    assert value(families, "diplo_items_stored") == 1
    assert value(families, "diplo_relevant_items", topic="call") >= 1
    classify = "diplo_classification_duration_seconds"
    assert value(families, classify, f"{classify}_count") == 1  # the one new item
    cycle = "diplo_poll_cycle_duration_seconds"
    assert value(families, cycle, f"{cycle}_count") >= 2
    assert value(families, "diplo_slack_api_calls", method="auth.test", error="none") == 1
    posts = {"method": "chat.postMessage"}
    assert value(families, "diplo_slack_api_calls", **posts, error="none") == 1
    assert value(families, "diplo_slack_api_calls", **posts, error="ratelimited") == 1
    assert value(families, "diplo_slack_rate_limited", **posts) == 1
    outbox = {got["state"]: v for got, v, _ in families["diplo_outbox_alerts"]}
    assert outbox == {"pending": 0, "sending": 0, "failed": 0}


@pytest.mark.usefixtures("bot_runs")
@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_readyz_turns_503_when_the_database_is_dropped(
    database_url: str, tmp_path: Path, feed_server: FeedServer
) -> None:
    port = free_port()
    url = feed_server.serve("/r.xml", rss(wire(2)))
    env = console_env(database_url, [url], DIPLO_METRICS_PORT=str(port))
    log = tmp_path / "bot.log"
    with bot_process(env, log) as proc:
        assert wait_for(log, "diplo running", proc), log.read_text()
        assert get(f"http://127.0.0.1:{port}/readyz") == (200, "ready\n")
        _drop_postgres_database(database_url.rpartition("/")[2])
        status, body = get(f"http://127.0.0.1:{port}/readyz")
        health = get(f"http://127.0.0.1:{port}/healthz")
        families = scrape(port)  # still answers, from the last values it read
        code_, _ = stop(proc)
    assert (status, body) == (503, "not ready: database\n"), log.read_text()
    assert health == (200, "ok\n")
    assert "diplo_outbox_alerts" in families
    assert code_ == 0, log.read_text()


@pytest.mark.usefixtures("bot_runs")
@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_http_mode_serves_readyz_on_its_port_too(
    database_url: str, tmp_path: Path, feed_server: FeedServer, slack: FakeSlack
) -> None:
    """Without DIPLO_METRICS_PORT, a load balancer in front of HTTP mode can still ask."""
    env = bot_env(database_url, [feed_server.serve("/h.xml", rss(wire(2)))], slack)
    base = f"http://127.0.0.1:{env['PORT']}"
    log = tmp_path / "bot.log"
    with bot_process(env, log) as proc:
        assert wait_for(log, "diplo running", proc), log.read_text()
        assert get(f"{base}/readyz") == (200, "ready")
        _drop_postgres_database(database_url.rpartition("/")[2])
        dropped = get(f"{base}/readyz")
        health = get(f"{base}/healthz")
        stop(proc)
    assert dropped == (503, "not ready: database"), log.read_text()
    assert health == (200, "ok")


def test_readyz_names_every_failing_check_and_a_hung_check_fails_in_time() -> None:
    hang = threading.Event()
    checks = {"database": lambda: True, "slack": lambda: False, "slow": lambda: hang.wait(30)}
    server = OpsServer("127.0.0.1", 0, Events().registry, checks)
    try:
        started = time.monotonic()
        status, body = get(f"http://127.0.0.1:{server.port}/readyz")
        assert (status, body) == (503, "not ready: slack, slow\n")
        assert time.monotonic() - started < 8
        assert get(f"http://127.0.0.1:{server.port}/nope")[0] == 404
    finally:
        hang.set()
        server.close()


def test_label_values_are_bounded_codes() -> None:
    assert code("http_429") == "http_429"
    assert code("connect_error: [Errno 111] refused") == "connect_error"
    assert code("<script>alert(1)</script>") == "other"
    assert code("https://evil.example/?q=1") == "https"  # the detail after ":" is dropped
    assert code(None) == "none"
    events = Events()
    events.slack_call("chat.postMessage", "Bad Error With Spaces", 200)
    events.item_classified(0.001, True, [])
    names = {s.labels.get("error") for m in events.registry.collect() for s in m.samples}
    assert "other" in names


# --- logs -------------------------------------------------------------------------------------


@pytest.mark.usefixtures("bot_runs")
def test_json_logs_are_one_object_per_line_with_context(tmp_path: Path) -> None:
    refused = f"http://127.0.0.1:{free_port()}/gone.xml"
    env = console_env(f"sqlite:///{tmp_path / 'diplo.db'}", [refused], DIPLO_LOG_FORMAT="json")
    log = tmp_path / "bot.log"
    with bot_process(env, log) as proc:
        assert wait_for(log, "failed (1 in a row", proc), log.read_text()
        assert stop(proc)[0] == 0
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    assert any(r["message"].startswith("diplo running") for r in records)
    [failure] = [r for r in records if "failed (1 in a row" in r["message"]]
    assert failure["level"] == "WARNING" and failure["logger"] == "jobs.poll"
    assert isinstance(failure["feed_id"], int)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", failure["time"])


@pytest.mark.usefixtures("bot_runs")
def test_plain_text_logs_by_default(tmp_path: Path) -> None:
    env = console_env(f"sqlite:///{tmp_path / 'diplo.db'}", DIPLO_FEEDS="http://127.0.0.1:9/x")
    log = tmp_path / "bot.log"
    with bot_process(env, log) as proc:
        assert wait_for(log, "diplo running", proc), log.read_text()
        assert stop(proc)[0] == 0
    first = log.read_text().splitlines()[0]
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO ", first), first


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DIPLO_METRICS_PORT": "metrics"}, "DIPLO_METRICS_PORT must be a whole number"),
        ({"DIPLO_METRICS_PORT": "70000"}, "DIPLO_METRICS_PORT must be between 0 and 65535"),
        ({"DIPLO_METRICS_HOST": "local host"}, "DIPLO_METRICS_HOST must be an IP address"),
        ({"DIPLO_LOG_FORMAT": "xml"}, "DIPLO_LOG_FORMAT must be text or json, got 'xml'"),
    ],
)
def test_ops_settings_fail_with_the_variable_name(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(message)):
        load_settings(env, env_file=None)


def test_ops_settings_defaults_and_values() -> None:
    default = load_settings({}, env_file=None)
    assert (default.metrics_port, default.metrics_host, default.log_format) == (
        None,
        "127.0.0.1",
        "text",
    )
    custom = load_settings(
        {"DIPLO_METRICS_PORT": "9464", "DIPLO_METRICS_HOST": "0.0.0.0", "DIPLO_LOG_FORMAT": "JSON"},
        env_file=None,
    )
    assert (custom.metrics_port, custom.metrics_host, custom.log_format) == (
        9464,
        "0.0.0.0",
        "json",
    )


# --- Docker ------------------------------------------------------------------------------------


def test_compose_runs_postgres_and_two_replicas_with_readiness_checks() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert "postgres" in services
    replicas = [s for s in services.values() if s.get("build") or s.get("image") == "diplo"]
    assert len(replicas) == 2
    for replica in replicas:
        env = replica["environment"]
        assert "@postgres:5432/" in env["DATABASE_URL"]
        assert env["DIPLO_METRICS_HOST"] == "0.0.0.0"
        assert "/readyz" in " ".join(replica["healthcheck"]["test"])
        assert replica["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])


def test_dockerfile_is_small_non_root_hash_checked_and_copies_files_that_exist() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim", text, re.M)
    assert "--require-hashes" in text and "requirements.lock" in text
    user = re.findall(r"^USER (\S+)", text, re.M)
    assert user and user[-1] not in ("root", "0")
    copied = [
        part
        for line in re.findall(r"^COPY (?!--from)(.+)$", text, re.M)
        for part in line.split()[:-1]
        if not part.startswith("--")
    ]
    assert copied, text
    missing = [p for p in copied if not (ROOT / p).exists()]
    assert missing == [], missing
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".env" in ignored and ".git" in ignored


@pytest.mark.usefixtures("bot_runs")
def test_readyz_in_socket_mode_checks_the_slack_connection(
    tmp_path: Path, slack: FakeSlack
) -> None:
    port = free_port()
    env = bot_env(
        f"sqlite:///{tmp_path / 'diplo.db'}",
        ["http://127.0.0.1:9/x.xml"],
        slack,
        SLACK_APP_TOKEN=slack.app_token,
        DIPLO_METRICS_PORT=str(port),
    )
    env.pop("SLACK_SIGNING_SECRET")
    log = tmp_path / "bot.log"
    readyz = f"http://127.0.0.1:{port}/readyz"
    with bot_process(env, log) as proc:
        assert wait_for(log, "diplo running", proc), log.read_text()
        assert "socket mode" in log.read_text()
        assert wait_until(lambda: get(readyz) == (200, "ready\n")), log.read_text()
        assert stop(proc)[0] == 0
    # The "slack" check is SocketModeClient.is_connected(); a connection that dies silently
    # flips it only when pings fail (about 25 s), too slow to wait for here.
