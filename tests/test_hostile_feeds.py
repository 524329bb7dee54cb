"""Feeds that fight back: ONE poll cycle over a good feed and every hostile feed at once.

The catalogue, and what each feed must come to, is `tests.faults.HOSTILE_FEEDS` (shared
with `benchmarks/faults.py`): real HTTP from the feed server on 127.0.0.1, a real
database, the real classifier. Each hostile feed either fails with its error recorded on
the feed and one log line, or parses safely (capped, clean text, no entity expanded or
fetched); the good feed's items are stored either way, and the cycle ends in bounded time.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest

from deps import Deps
from handlers.sender import SlackSender, make_web_client
from jobs.poll import poll_due_feeds
from models.feed import Feed, add_feed
from tests.fakes.feed_server import FeedServer, Reply
from tests.fakes.slack_server import FakeSlack
from tests.faults import (
    HOSTILE_FEEDS,
    all_messages,
    hostile_deps,
    markup_round_trip,
    run_hostile_cycle,
)
from tests.feedgen import TRUMP_XI_CALL

sqlite_only = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
FAILING = [h for h in HOSTILE_FEEDS if h.error is not None]


@pytest.fixture
def hdeps(deps: Deps) -> Iterator[Deps]:
    """The test deps with a fetcher for hostile feeds: 1 s per fetch, 1 MiB per body."""
    hostile = hostile_deps(deps)
    yield hostile
    hostile.fetcher.close()


def test_one_cycle_survives_every_hostile_feed(
    hdeps: Deps, feed_server: FeedServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    report = run_hostile_cycle(hdeps, feed_server)

    assert report.problems == {}
    assert report.summary.feeds == len(HOSTILE_FEEDS) + 1
    assert report.summary.failed == len(FAILING)
    assert all(o.error != "store_error" for o in report.summary.outcomes)
    assert report.seconds < 15, f"the cycle took {report.seconds:.1f}s"  # ~1.3 s when idle
    assert TRUMP_XI_CALL.title in report.good_items
    assert not report.errors_logged
    # one clear line per failing feed, naming it and its error (caplog, not only our handler)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    for hostile in FAILING:
        url = report.results[hostile.name].url
        lines = [m for m in warnings if url in m]
        assert len(lines) == 1, (hostile.name, lines)
        assert hostile.error.split(":")[0] in lines[0]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@sqlite_only
def test_huge_bodies_bombs_and_5000_entries_stay_in_bounded_memory(
    hdeps: Deps, feed_server: FeedServer
) -> None:
    big = [h for h in HOSTILE_FEEDS if h.big]
    assert {h.name for h in big} >= {"body_50mb", "gzip_bomb", "entries_5000"}
    report = run_hostile_cycle(hdeps, feed_server, big, trace_memory=True)
    assert report.problems == {}
    assert report.peak_bytes is not None
    assert report.peak_bytes < 60 * 1024 * 1024, f"peak {report.peak_bytes / 2**20:.0f} MiB"
    assert report.seconds < 20  # ~3 s when idle (tracemalloc slows parsing)


@sqlite_only
@pytest.mark.parametrize(("status", "error"), [(404, "http_404"), (410, "http_410_gone")])
def test_a_missing_or_gone_feed_is_disabled_after_the_configured_failures(
    hdeps: Deps, feed_server: FeedServer, clock, status: int, error: str
) -> None:
    url = feed_server.script("/gone.xml", [Reply(status, b"gone", content_type="text/plain")])
    with hdeps.sessions.begin() as s:
        feed_id = add_feed(s, url, clock())[0].id
    for _ in range(hdeps.settings.max_failures):
        poll_due_feeds(hdeps)
        clock.advance(days=2)
    with hdeps.sessions() as s:
        feed = s.get(Feed, feed_id)
        assert feed is not None
        assert (feed.enabled, feed.last_error) == (False, error)
    poll_due_feeds(hdeps)
    assert feed_server.hits("/gone.xml") == hdeps.settings.max_failures
    assert hdeps.settings.max_failures == 3


def test_slack_markup_in_feed_text_is_posted_as_text_and_links_are_http_only(
    hdeps: Deps, feed_server: FeedServer, slack: FakeSlack
) -> None:
    sender = SlackSender(make_web_client(slack.bot_token, slack.url, timeout=5), pace=0)
    problems = markup_round_trip(dataclasses.replace(hdeps, sender=sender), feed_server, slack)
    assert problems == []
    posted = all_messages(slack, "CMARKUP")  # story messages and thread replies
    text = " ".join(str(m["text"]) + str(m["blocks"]) for m in posted)
    assert "&lt;!channel&gt;" in text and "<!channel>" not in text
    assert "&lt;https://evil.example|https://good.example&gt;" in text
    assert "<javascript:" not in text and "|javascript:" not in text
    [agree] = [m for m in posted if "agree to meet" in m["text"]]  # its link was javascript:
    first_line = agree["blocks"][0]["text"]["text"].split("\n")[0]
    assert "<" not in re.sub(r"<!date\^[^<>]*>", "", first_line)  # the title is not a link
    assert "<https://markup.example/1|" in text  # http(s) links stay links
    assert all(m["unfurl_links"] is False for m in posted)


def test_a_retry_after_feed_is_not_polled_before_its_time(
    hdeps: Deps, feed_server: FeedServer, clock
) -> None:
    url = feed_server.script("/busy.xml", [Reply(503, headers={"Retry-After": "600"})])
    with hdeps.sessions.begin() as s:
        add_feed(s, url, clock())
    poll_due_feeds(hdeps)
    clock.advance(seconds=599)
    assert poll_due_feeds(hdeps).feeds == 0
    clock.advance(seconds=timedelta(seconds=2).total_seconds())
    assert poll_due_feeds(hdeps).feeds == 1
