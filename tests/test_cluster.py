"""news.cluster: stories from contact records — cross-language, kinds, dates, the index."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from news.cluster import (
    NEW,
    StoryIndex,
    assign,
    features,
    furthest,
    open_story,
)
from news.contact import extract_contact
from news.relevance import default_classifier
from news.sources import default_sources


def feat(title: str, summary: str = "", day: date = date(2025, 10, 30), source: str = "Reuters"):  # type: ignore[no-untyped-def]
    verdict = default_classifier().classify(title, summary)
    assert verdict.relevant, title
    c = extract_contact(title, summary, day, verdict, default_sources().recognise(source))
    return features(c, title, day)


def keys(index: StoryIndex, items: list) -> list[str]:  # type: ignore[type-arg]
    return [index.add(f).story.key for f in items]


def test_english_and_chinese_items_of_one_call_share_a_story() -> None:
    day = date(2025, 11, 24)
    index = StoryIndex()
    got = keys(
        index,
        [
            feat("Trump and Xi discuss Ukraine and trade in phone call", day=day),
            feat("习近平同美国总统特朗普通电话", day=day, source="新华社"),
            feat("Xi tells Trump Taiwan is central to ties in call", day=day, source="AP"),
            feat("特朗普称与习近平通话“非常好”", day=day + timedelta(days=1), source="环球时报"),
        ],
    )
    assert len(set(got)) == 1


def test_a_call_and_a_summit_days_apart_are_two_stories() -> None:
    index = StoryIndex()
    got = keys(
        index,
        [
            feat("Trump, Xi meet in Busan, agree to cut tariffs", day=date(2025, 10, 30)),
            feat("Trump and Xi speak by phone about Ukraine", day=date(2025, 11, 3)),
        ],
    )
    assert got[0] != got[1]


def test_a_call_that_announces_a_meeting_belongs_to_the_call() -> None:
    index = StoryIndex()
    call = index.add(
        feat("Trump, Xi hold phone call, agree to meet in April", day=date(2026, 1, 5))
    )
    same = index.add(
        feat("Trump says he will visit Beijing in April after Xi call", day=date(2026, 1, 5))
    )
    assert same.story.key == call.story.key
    assert call.story.kind == "call"


def test_planned_story_takes_the_contact_when_it_happens() -> None:
    index = StoryIndex()
    planned = index.add(feat("Biden and Xi to meet in Lima on Saturday", day=date(2024, 11, 12)))
    assert planned.story.stage == "planned" and planned.story.when is not None
    held = index.add(feat("Biden and Xi meet in Lima for last time", day=date(2024, 11, 16)))
    readout = index.add(
        feat("习近平同美国总统拜登在利马会晤", day=date(2024, 11, 17), source="新华社")
    )
    assert planned.story.key == held.story.key == readout.story.key
    assert held.advanced and readout.story.stage == "readout"


def test_an_announcement_months_ahead_joins_the_same_scheduled_contact() -> None:
    index = StoryIndex()
    first = index.add(feat("Trump to visit China in April, officials say", day=date(2025, 12, 1)))
    second = index.add(feat("China confirms Trump state visit from April 1", day=date(2026, 3, 20)))
    assert first.story.key == second.story.key


def test_different_people_same_week_are_different_stories() -> None:
    index = StoryIndex()
    got = keys(
        index,
        [
            feat("Bessent, He Lifeng hold trade talks in Kuala Lumpur", day=date(2025, 10, 26)),
            feat(
                "Hegseth meets Chinese defense minister Dong Jun in Kuala Lumpur",
                day=date(2025, 10, 31),
            ),
        ],
    )
    assert got[0] != got[1]


def test_a_later_outcome_announcement_after_the_contact_is_an_outcome() -> None:
    index = StoryIndex()
    index.add(feat("Trump and Xi meet in Busan", day=date(2025, 10, 30)))
    later = index.add(feat("Trump says he will visit China in April", day=date(2025, 10, 30)))
    assert later.stage == "outcome"


def test_stage_order() -> None:
    assert furthest("planned", "postponed") == "postponed"
    assert furthest("held", "postponed") == "held"
    assert furthest("postponed", "held") == "held"
    assert furthest("readout", "outcome") == "readout"
    assert furthest("held", "planned") == "held"


def test_lookup_is_indexed_and_expires() -> None:
    index = StoryIndex()
    base = feat("Trump and Xi speak by phone", day=date(2025, 1, 10))
    index.add(base)
    other = feat("Blinken meets Wang Yi in Vientiane", day=date(2024, 7, 26))
    index.add(other)
    assert [s.key for s in index.candidates(base)] == [index.stories()[0].key]
    far = feat("Trump and Xi speak by phone", day=date(2025, 6, 1))
    assert index.candidates(far) == []
    assert index.expire(date(2025, 3, 1)) == 2 and len(index) == 0


def test_assign_without_candidates_is_new() -> None:
    f = feat("Trump and Xi speak by phone")
    assert assign(f, []) is NEW
    story = open_story("k", f, f.stage)
    assert assign(f, [story]) == "k"


def test_features_accept_aware_datetimes() -> None:
    verdict = default_classifier().classify("习近平同特朗普通电话")
    c = extract_contact("习近平同特朗普通电话", "", datetime(2025, 11, 24, 17), verdict, None)
    f = features(c, "习近平同特朗普通电话", datetime(2025, 11, 24, 17))
    assert f.day == date(2025, 11, 25)  # 01:00 in Shanghai
