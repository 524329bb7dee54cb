"""A bounded fuzz run over the feed path (`./dev fuzz SECONDS` runs it for longer)."""

from __future__ import annotations

from tests.fuzz_feeds import run


def test_five_seconds_of_mutated_feeds_find_nothing() -> None:
    report = run(5.0, seed=20261130)
    assert report.findings == [], "\n\n".join(report.findings[:5])
    assert report.inputs >= 50, report  # the run really ran
    assert report.outcomes["parsed"] and report.entries
