"""HTTP mode end to end: signed form POSTs to the real threaded server from `run_http`.

Transport only, so SQLite only; the commands themselves run on both databases in
test_commands.py.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest

from deps import Deps
from handlers.app import HttpServer, SlackAuthError, build_app, check_auth, run_http
from tests.fakes.feed_server import FeedServer
from tests.fakes.slack_server import FakeSlack
from tests.faults import bot_env, bot_process
from tests.feedgen import rss, wire
from tests.slackbot import SECRET, Bot, make_bot, post_form, sign, slash_form, wait_for
from tests.slackbot import sqlite_engine as engine  # noqa: F401  (transport only)


@pytest.fixture
def bot(deps: Deps, slack: FakeSlack) -> Bot:
    return make_bot(deps, slack)


@pytest.fixture
def server(bot: Bot) -> Iterator[HttpServer]:
    http = run_http(bot.app, 0, host="127.0.0.1")
    try:
        yield http
    finally:
        http.close()  # what bot.py calls


def command_body(slack: FakeSlack, text: str, key: str) -> str:
    return urlencode(slash_form(text, "C1", "U1", slack.response_url(key)))


def test_signed_command_is_acked_and_answered_at_the_response_url(
    server: HttpServer, slack: FakeSlack
) -> None:
    body = command_body(slack, "topics", "k1")
    started = time.monotonic()
    status, _ = post_form(server.port, body, sign(body))
    assert status == 200
    assert time.monotonic() - started < 3  # Slack's deadline for the ack
    reply = wait_for(lambda: slack.responses("k1"))[0]
    assert reply["response_type"] == "ephemeral"
    assert "`taiwan`" in json.dumps(reply["blocks"])


def test_bad_input_is_still_acked(server: HttpServer, slack: FakeSlack) -> None:
    body = command_body(slack, "latest 999 <!channel>", "k2")
    assert post_form(server.port, body, sign(body))[0] == 200
    assert "not a number from 1 to 20" in wait_for(lambda: slack.responses("k2"))[0]["text"]


def _stale(body: str) -> dict[str, str]:
    return sign(body, timestamp=int(time.time()) - 6 * 60)


@pytest.mark.parametrize(
    "headers_for",
    [
        pytest.param(lambda body: sign(body + "&text=status"), id="forged"),
        pytest.param(lambda body: sign(body, secret="not-the-secret"), id="wrong-secret"),
        pytest.param(_stale, id="stale"),
        pytest.param(lambda body: {}, id="unsigned"),
    ],
)
def test_unverified_requests_are_refused(
    server: HttpServer, slack: FakeSlack, headers_for: Callable[[str], dict[str, str]]
) -> None:
    body = command_body(slack, "help", "k3")
    status, _ = post_form(server.port, body, headers_for(body))
    assert status == 401
    time.sleep(0.2)
    assert slack.responses("k3") == []


def test_healthz_and_unknown_paths(server: HttpServer) -> None:
    with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/healthz", timeout=5) as r:
        assert (r.status, r.read()) == (200, b"ok")
    assert post_form(server.port, "x=1", {}, path="/elsewhere")[0] == 404


def test_oversized_body_is_refused_before_it_is_read(server: HttpServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.putrequest("POST", "/slack/events")
    conn.putheader("Content-Length", str(2 * 1024 * 1024))
    conn.endheaders()  # the body is never sent: the answer must not wait for it
    assert conn.getresponse().status == 413
    conn.close()


def test_build_app_calls_nothing_and_check_auth_names_the_bot(deps: Deps, slack: FakeSlack) -> None:
    bot = make_bot(deps, slack)
    assert slack.requests() == []
    assert check_auth(bot.app.client) == "U_BOT"


def test_a_rejected_token_stops_start_up_with_one_line(deps: Deps, slack: FakeSlack) -> None:
    bot = make_bot(deps, slack, slack_bot_token="xoxb-wrong")
    expected = r"^SLACK_BOT_TOKEN was rejected by Slack: invalid_auth$"
    with pytest.raises(SlackAuthError, match=expected):
        check_auth(bot.app.client)
    slack.stop()
    with pytest.raises(SlackAuthError, match="could not reach Slack"):
        check_auth(build_app(bot.deps).client)
    slack.restart()


def test_a_half_sent_request_is_closed_after_the_idle_timeout(bot: Bot) -> None:
    server = run_http(bot.app, 0, host="127.0.0.1", idle_timeout=1)
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Length: 99\r\n\r\n")
            started = time.monotonic()
            assert sock.recv(1024) == b""  # closed by the server, without an answer
            assert time.monotonic() - started < 5
    finally:
        server.close()


def test_the_server_header_names_no_software_or_version(server: HttpServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    for method, path in [("GET", "/healthz"), ("POST", "/slack/events"), ("GET", "/nowhere")]:
        conn.request(method, path, body=b"" if method == "POST" else None)
        response = conn.getresponse()
        response.read()
        assert response.getheader("Server") == "diplo", response.getheaders()
        headers = " ".join(f"{k}: {v}" for k, v in response.getheaders()).lower()
        assert "waitress" not in headers and "python" not in headers and "wsgi" not in headers
    conn.close()


# --- a real `python bot.py` in HTTP mode under a flood of stalled connections ----------------

STALLED = int(os.environ.get("DIPLO_TEST_STALLED", "300"))  # more for the README figures


def _threads(pid: int) -> tuple[int, int]:
    """(threads, RSS in KiB) of a process, from /proc."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return int(fields["Threads"]), int(fields["VmRSS"].split()[0])


def _wait_listening(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(log.read_text(errors="replace")[-3000:])
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1),
        ):
            return
        time.sleep(0.05)
    raise AssertionError("bot did not listen: " + log.read_text(errors="replace")[-3000:])


@pytest.mark.slow
def test_stalled_connections_hold_no_threads_and_signed_requests_are_answered(
    bot_runs: None, slack: FakeSlack, feed_server: FeedServer, tmp_path: Path
) -> None:
    feeds = [feed_server.serve("/wire.xml", rss(wire(1)))]
    env = bot_env(f"sqlite:///{tmp_path / 'diplo.db'}", feeds, slack, SLACK_SIGNING_SECRET=SECRET)
    port, log = int(env["PORT"]), tmp_path / "bot.log"
    with bot_process(env, log) as proc:
        _wait_listening(port, proc, log)
        idle_threads, idle_kib = _threads(proc.pid)
        stalled: list[socket.socket] = []
        try:
            for _ in range(STALLED):  # half a POST each: headers promise a body never sent
                sock = socket.create_connection(("127.0.0.1", port), timeout=5)
                sock.sendall(
                    b"POST /slack/events HTTP/1.1\r\nHost: x\r\n"
                    b"Content-Type: application/x-www-form-urlencoded\r\n"
                    b"Content-Length: 500\r\n\r\ntoken=half"
                )
                stalled.append(sock)
            time.sleep(float(os.environ.get("DIPLO_TEST_STALL_WAIT", "0.5")))
            body = command_body(slack, "help", "stalled")
            started = time.monotonic()
            status, _ = post_form(port, body, sign(body))
            took = time.monotonic() - started
            reply = wait_for(lambda: slack.responses("stalled"), timeout=10)
            threads, flooded_kib = _threads(proc.pid)
        finally:
            for sock in stalled:
                sock.close()
        assert status == 200 and took < 3, (status, took)
        assert reply[0]["response_type"] == "ephemeral"
        assert threads <= idle_threads + 12, (idle_threads, threads)  # bounded: not one per socket
        print(  # the README's figures (pytest -s)
            f"stalled connections: {STALLED} sockets, threads {idle_threads} -> {threads}, "
            f"RSS {idle_kib} -> {flooded_kib} KiB, signed /diplo help answered in {took:.3f}s"
        )
        proc.terminate()
        proc.wait(timeout=15)
