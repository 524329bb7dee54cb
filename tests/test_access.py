"""Who may do what, beyond test_commands.py and test_slack_http.py.

Feed URLs from chat users: a public-looking feed that redirects to a private, loopback,
link-local or metadata address, or a name that resolves to one, is refused when an admin
adds it with `/diplo feeds add`, and the private address is never contacted. Interactions
(button presses) need a valid signature just as slash commands do.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace

import pytest

from deps import Deps
from handlers.app import run_http
from jobs.fetch import FetchConfig, Fetcher
from models.feed import all_feeds
from models.subscription import for_channel, subscribe
from tests.fakes.feed_server import FeedServer
from tests.fakes.slack_server import FakeSlack
from tests.feedgen import rss, wire
from tests.slackbot import Bot, make_bot, post_form, sign, unsubscribe_press

sqlite_only = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)


@pytest.fixture
def public_bot(deps: Deps, slack: FakeSlack) -> Iterator[Bot]:
    """The bot with an allow-list naming only `localhost`: 127.0.0.1 counts as private."""
    with Fetcher(FetchConfig(total_timeout=3.0, allow_hosts=frozenset({"localhost"}))) as fetcher:
        yield make_bot(replace(deps, fetcher=fetcher), slack, admins=frozenset({"UADMIN"}))


def feed_urls(deps: Deps) -> list[str]:
    with deps.sessions() as s:
        return [f.url for f in all_feeds(s)]


@sqlite_only
@pytest.mark.parametrize(
    ("target", "blocked"),
    [
        ("http://127.0.0.1:{port}/private.xml", "127.0.0.1"),  # loopback, where a feed waits
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254"),  # cloud metadata
        ("http://[fe80::1]/feed.xml", "fe80::1"),  # link-local
        ("http://10.0.0.7/feed.xml", "10.0.0.7"),  # private
    ],
)
def test_feeds_add_refuses_a_redirect_to_a_private_address(
    public_bot: Bot, feed_server: FeedServer, target: str, blocked: str
) -> None:
    feed_server.serve("/private.xml", rss(wire(2)))
    location = target.format(port=feed_server.port)
    url = feed_server.redirect("/innocent.xml", location, 302)
    public = url.replace("127.0.0.1", "localhost")  # the allowed name
    reply = public_bot.command(f"feeds add {public}", user="UADMIN")
    assert "Could not add" in reply["text"] and f"blocked_address: {blocked}" in reply["text"]
    assert feed_server.hits("/innocent.xml") == 1
    assert feed_server.hits("/private.xml") == 0  # never contacted
    assert feed_urls(public_bot.deps) == []


@sqlite_only
def test_feeds_add_refuses_a_name_that_resolves_to_a_private_address(
    deps: Deps, slack: FakeSlack, feed_server: FeedServer
) -> None:
    url = feed_server.serve("/wire.xml", rss(wire(1))).replace("127.0.0.1", "localhost")
    with Fetcher(FetchConfig(total_timeout=3.0)) as fetcher:  # no allow-list at all
        bot = make_bot(replace(deps, fetcher=fetcher), slack, admins=frozenset({"UADMIN"}))
        reply = bot.command(f"feeds add {url}", user="UADMIN")
    assert "blocked_address" in reply["text"]
    assert feed_server.hits("/wire.xml") == 0
    assert feed_urls(deps) == []


@sqlite_only
@pytest.mark.parametrize("signature", ["forged", "stale", "none"])
def test_a_button_press_needs_a_valid_signature(
    deps: Deps, slack: FakeSlack, signature: str
) -> None:
    bot = make_bot(deps, slack)
    with deps.sessions.begin() as s:
        subscribe(s, "C1", ["trade"], "U1", deps.clock())
    body = unsubscribe_press("trade", "C1", "U1", slack.response_url("press"))
    headers = {
        "forged": sign(body.replace("trade", "tradf")),
        "stale": sign(body, timestamp=int(time.time()) - 600),
        "none": {},
    }[signature]
    server = run_http(bot.app, 0, host="127.0.0.1")
    try:
        assert post_form(server.port, body, headers)[0] == 401
    finally:
        server.close()
    with deps.sessions() as s:
        assert [x.topic for x in for_channel(s, "C1")] == ["trade"]  # still subscribed
    assert slack.responses("press") == []
