"""news.contact: parties, kind, stage, place and date of a relevant item (new headlines)."""

from __future__ import annotations

from datetime import date

import pytest

from news.contact import extract_contact, load_contact_rules
from news.relevance import default_classifier
from news.sources import default_sources

DAY = date(2025, 10, 27)


def contact(title: str, summary: str = "", source: str | None = None, day: date = DAY):  # type: ignore[no-untyped-def]
    verdict = default_classifier().classify(title, summary)
    return extract_contact(title, summary, day, verdict, default_sources().recognise(source))


@pytest.mark.parametrize(
    ("title", "summary", "source", "stage"),
    [
        ("Trump and Xi to meet in Gyeongju next week", "", "Reuters", "planned"),
        ("White House confirms Trump-Xi meeting at APEC", "", "AP", "planned"),
        ("Xi expected to travel to Washington in the spring", "", "Bloomberg", "planned"),
        ("习近平将同特朗普举行会晤", "", "Reuters", "planned"),
        ("Trump, Xi meet for 100 minutes at air base", "", "Reuters", "held"),
        ("Trump and Xi spoke by phone on Monday, White House says", "", "CNN", "held"),
        ("特朗普与习近平通电话", "", "路透社", "held"),
        ("习近平同美国总统特朗普通电话", "", "新华社", "readout"),
        ("Readout of the President's call with President Xi", "", "White House", "readout"),
        ("Xi tells Trump China will not bow to pressure in phone call", "", "AP", "readout"),
        ("Trump and Xi agree to pause tariffs for a year after talks", "", "Reuters", "outcome"),
        ("中美元首会晤后 双方达成一致", "", "Reuters", "outcome"),
        ("Trump postpones trip to Beijing", "", "Reuters", "postponed"),
        ("Biden-Xi call delayed amid balloon row", "", "AP", "postponed"),
        ("中方推迟中美经贸磋商", "", "Reuters", "postponed"),
        ("Trump says he will visit China after 'great' call with Xi", "", "AP", "held"),
        ("Trump and Xi talk by phone as tariff truce nears expiry", "", "Reuters", "held"),
    ],
)
def test_stage(title: str, summary: str, source: str, stage: str) -> None:
    assert contact(title, summary, source).stage == stage


@pytest.mark.parametrize(
    ("title", "kind"),
    [
        ("Trump and Xi speak by phone", "call"),
        ("Biden, Xi hold video call on Taiwan", "call"),
        ("习近平同拜登视频通话", "call"),
        ("Trump, Xi meet in Busan", "meeting"),
        ("习近平同特朗普在釜山举行会晤", "meeting"),
        ("Xi arrives in Washington for state visit", "visit"),
        ("Bessent, He Lifeng hold trade talks in Geneva", "talks"),
        ("Trump says he will meet Xi in April after phone call", "call"),
    ],
)
def test_kind(title: str, kind: str) -> None:
    assert contact(title).kind == kind


def test_english_and_chinese_names_are_one_key() -> None:
    english = contact("Trump, Xi meet in Busan")
    chinese = contact("习近平同特朗普在釜山举行会晤")
    assert english.parties_us == chinese.parties_us == ("trump",)
    assert english.parties_china == chinese.parties_china == ("xi",)
    assert english.place == chinese.place == "busan" and chinese.where == "Busan"


def test_offices_resolve_to_the_holder_on_the_published_day() -> None:
    early = contact("U.S. Secretary of State meets Chinese foreign minister", day=date(2019, 5, 1))
    late = contact("U.S. Secretary of State meets Chinese foreign minister", day=date(2024, 5, 1))
    assert (early.parties_us, early.parties_china) == (("pompeo",), ("wang-yi",))
    assert late.parties_us == ("blinken",)
    heads = contact("中美元首通话", day=date(2022, 3, 18))
    assert (heads.parties_us, heads.parties_china) == (("biden",), ("xi",))


def test_people_in_a_context_clause_are_not_parties() -> None:
    c = contact(
        "Biden meets China's Wang Yi as sides prepare for Xi summit", day=date(2023, 10, 27)
    )
    assert (c.parties_us, c.parties_china) == (("biden",), ("wang-yi",))


def test_planned_contact_carries_its_date_and_official_source_side() -> None:
    c = contact(
        "Foreign Ministry announces Xi's meeting with Trump",
        "President Xi Jinping will meet President Trump in Busan on October 30.",
        "外交部",
    )
    assert c.stage == "planned" and c.when is not None and c.when.start == date(2025, 10, 30)
    assert c.side == "china"
    held = contact("Trump, Xi meet in Busan", "The leaders met on Thursday.", "Reuters")
    assert held.when is None and held.side is None


def test_call_has_no_place() -> None:
    assert contact("Trump and Xi speak by phone from Busan").where is None


def test_broken_rules_file_raises_one_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from news.contact import ContactRulesError

    path = tmp_path / "c.toml"
    path.write_text("[people\n", encoding="utf-8")
    with pytest.raises(ContactRulesError) as caught:
        load_contact_rules(path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)
