"""news.relevance, second round of issue 13: the error families found on a fresh blind batch
(tests/data/relevance/blind2.jsonl). Every headline here is new, written for these tests and
found in no labelled set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from news.relevance import Verdict, default_classifier

ENGINE = default_classifier()
DATA = Path(__file__).resolve().parent / "data" / "relevance"


def verdict(title: str, summary: str = "") -> Verdict:
    return ENGINE.classify(title, summary)


def is_relevant(title: str, summary: str = "") -> bool:
    return verdict(title, summary).label == "relevant"


# --- a contact denied, refused as "no rush", or cancelled -----------------------------------


@pytest.mark.parametrize(
    "title",
    [
        "Greer says no talks with Beijing are scheduled before the deadline",
        "There has been no call between Trump and Xi, Chinese embassy says",
        "China says Xi and Biden have not spoken since the balloon incident",
        "Trump says he is in no hurry to talk to Xi about the levies",
        "Trump says he would not be the one to call Xi first",
        "Trump says he would not meet Xi unless Beijing drops its curbs",
        "Rubio says it will be hard to reach a deal with Wang Yi this month",
        "Beijing cancels planned Hegseth-Dong talks after new arms package",
        "商务部：中美双方目前没有进行任何磋商",
        "中方宣布取消中美两军热线通话、防务政策协调会谈",
        "拜登表示不会在峰会期间与习近平会面",
        "特朗普称与习近平极难达成协议",
    ],
)
def test_a_denied_refused_or_cancelled_contact_is_not_relevant(title: str) -> None:
    assert not is_relevant(title), verdict(title).reasons


@pytest.mark.parametrize(
    "title",
    [
        "Trump says he may cancel his meeting with Xi over chip curbs",  # still planned
        "Trump says he will call Xi after the holiday",
        "特朗普表示，他将很快与习近平通电话",
        "美方取消部分对华关税 此前中美元首在釜山会晤",  # the halt stays in its clause
    ],
)
def test_a_threatened_or_distant_cancellation_leaves_the_contact(title: str) -> None:
    assert is_relevant(title), verdict(title).reasons


# --- actors below the executive or out of office, through the whole item -------------------


@pytest.mark.parametrize(
    ("title", "summary"),
    [
        (
            "Ex-President Bush meets Chinese vice president in Shanghai",
            "George W. Bush held talks with Vice President Han Zheng on Tuesday.",
        ),
        (
            "Former Treasury chief Paulson meets He Lifeng",
            "Henry Paulson met Vice Premier He Lifeng. Paulson urged calm over tariffs.",
        ),
        (
            "Senate Minority Leader visits Beijing, meets Premier Li",
            "Senate Minority Leader Mitch Jones and four other senators met Premier Li Qiang.",
        ),
        (
            "Xi meets Washington state governor on clean energy",
            "President Xi Jinping met the governor of Washington state, discussing U.S.-China "
            "cooperation on clean energy.",
        ),
        (
            "习近平会见美国密歇根州州长",
            "国家主席习近平会见美国密歇根州州长，就中美地方合作交换意见。",
        ),
        ("Premier Li Qiang meets US business group in Beijing", ""),
        ("Trump's son-in-law meets Chinese ambassador in Washington", ""),
        ("Biden's brother meets Chinese businessmen in Shanghai", ""),
    ],
)
def test_below_or_former_actors_do_not_make_a_contact(title: str, summary: str) -> None:
    assert not is_relevant(title, summary), verdict(title, summary).reasons


@pytest.mark.parametrize(
    "title",
    [
        "Trump and U.S. business leaders meet Xi in Beijing",
        "Xi tells Trump Beijing values firms' interests in second call",
        "Trump says US firms can sell chips to China after meeting with Xi",
    ],
)
def test_a_leader_beside_firms_or_business_still_counts(title: str) -> None:
    assert is_relevant(title), verdict(title).reasons


# --- third parties: a country's person by surname, what talks are about, "his meeting" ----


@pytest.mark.parametrize(
    ("title", "summary"),
    [
        ("Vietnam's Lam meets Xi days after Trump visit to Hanoi", ""),
        ("Japan's Ishiba at White House for talks on deterring China", ""),
        ("Australia's Albanese in Washington for talks on countering China", ""),
        (
            "Lukashenko briefs Xi by phone",
            "Belarusian leader Alexander Lukashenko told Chinese President Xi Jinping about his "
            "meeting in Minsk with U.S. envoy Keith Kellogg.",
        ),
    ],
)
def test_a_third_party_contact_with_the_other_side_only_mentioned(title: str, summary: str) -> None:
    assert not is_relevant(title, summary), verdict(title, summary).reasons


@pytest.mark.parametrize(
    "title",
    [
        "Bessent holds talks on tariffs with Vice Premier He Lifeng",  # "with" names him
        "US and China hold talks on countering fentanyl flows",
        "Trump told reporters about his meeting with Xi",
    ],
)
def test_talks_on_a_subject_with_the_other_side_still_count(title: str) -> None:
    assert is_relevant(title), verdict(title).reasons


# --- a meeting days before or after another story ------------------------------------------


@pytest.mark.parametrize(
    "title",
    [
        "Trump calls Xi 'a tough guy' a week after Busan summit",
        "Biden calls Xi a dictator again, days after Yellen's visit",
    ],
)
def test_a_meeting_some_days_away_from_the_story_is_context(title: str) -> None:
    result = verdict(title)
    assert result.label == "related", result.reasons
    assert any(reason.startswith("context:") for reason in result.reasons)


@pytest.mark.parametrize(
    "title",
    [
        "U.S. halves chip duties on China after Trump-Xi meeting",  # the talks' result
        "US, China agree to pause tariffs days after Geneva talks",  # both sides act
        "Remarks by President Trump and President Xi before their meeting",
    ],
)
def test_a_result_or_joint_remarks_keep_the_meeting(title: str) -> None:
    assert is_relevant(title), verdict(title).reasons


# --- statement verbs in Chinese, calls named by their setting, auxiliaries ------------------


@pytest.mark.parametrize(
    "title",
    ["特朗普表示，他很欣赏习近平", "拜登在记者会上指出，习近平是一位强硬的领导人"],
)
def test_what_a_statement_verb_reports_is_no_contact(title: str) -> None:
    assert not is_relevant(title), verdict(title).reasons


@pytest.mark.parametrize(
    "title",
    [
        "Xi says China is ready to work with Biden in congratulatory call",
        "Trump says Xi promised more soybean purchases in a call on Friday",
        "Trump and Xi are expected to speak by the weekend, aides say",
        "Biden and Xi are set to meet in Lima",
    ],
)
def test_calls_by_their_setting_and_events_after_auxiliaries(title: str) -> None:
    assert is_relevant(title), verdict(title).reasons


# --- the blind batch ----------------------------------------------------------------------


def test_blind2_meets_the_targets_in_each_language() -> None:
    rows = [json.loads(line) for line in (DATA / "blind2.jsonl").read_text().splitlines()]
    for lang in ("en", "zh"):
        tp = fp = fn = 0
        for row in rows:
            if row["lang"] != lang:
                continue
            gold = row["label"] == "relevant"
            got = is_relevant(row["title"], row["summary"])
            tp, fp, fn = tp + (gold and got), fp + (got and not gold), fn + (gold and not got)
        assert tp / (tp + fp) >= 0.97 and tp / (tp + fn) >= 0.97, (lang, tp, fp, fn)
