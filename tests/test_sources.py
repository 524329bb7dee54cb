"""news.sources: outlets by domain and name, aggregator attribution, readout sides, bad files."""

from __future__ import annotations

import pytest

from news.sources import SourcesError, attribute, default_sources, parse_sources

BOOK = default_sources()


@pytest.mark.parametrize(
    ("url", "name", "kind", "side"),
    [
        ("https://www.whitehouse.gov/briefings-statements/x/", "White House", "official-us", "us"),
        ("https://www.state.gov/readout", "State Department", "official-us", "us"),
        ("https://home.treasury.gov/news", "Treasury", "official-us", "us"),
        ("https://ustr.gov/about", "USTR", "official-us", "us"),
        ("https://www.fmprc.gov.cn/mfa_eng/x", "MFA", "official-china", "china"),
        ("https://www.mfa.gov.cn/web/x", "MFA", "official-china", "china"),
        ("https://www.gov.cn/yaowen/x", "Chinese government", "official-china", "china"),
        ("https://english.news.cn/20251030/x", "Xinhua", "state-media-china", "china"),
        ("http://www.xinhuanet.com/politics/x", "Xinhua", "state-media-china", "china"),
        ("https://www.chinadaily.com.cn/a/x", "China Daily", "state-media-china", "china"),
        ("https://news.cgtn.com/news/x", "CGTN", "state-media-china", "china"),
        ("http://en.people.cn/n3/x", "People's Daily", "state-media-china", "china"),
        ("https://www.globaltimes.cn/page/x", "Global Times", "state-media-china", None),
        ("https://www.reuters.com/world/china/x", "Reuters", "wire", None),
        ("https://apnews.com/article/x", "AP", "wire", None),
        ("https://www.bloomberg.com/news/x", "Bloomberg", "wire", None),
        ("https://cn.nytimes.com/x", "NYT", "major", None),
        ("https://www.scmp.com/news/x", "SCMP", "major", None),
    ],
)
def test_outlets_are_recognised_by_domain(url: str, name: str, kind: str, side: str | None) -> None:
    source = BOOK.recognise(None, url)
    assert (source.name, source.kind, source.side) == (name, kind, side)
    assert source.official is (side is not None)


@pytest.mark.parametrize(
    ("given", "name"),
    [
        ("Reuters", "Reuters"),
        ("新华社", "Xinhua"),
        ("外交部", "MFA"),
        ("China MFA", "MFA"),
        ("The New York Times", "NYT"),
        ("white house", "White House"),
        ("人民网", "People's Daily"),
        ("央视新闻", "CCTV"),
    ],
)
def test_outlets_are_recognised_by_name(given: str, name: str) -> None:
    assert BOOK.recognise(given).name == name


def test_unknown_outlet_is_other_named_as_given_or_by_host() -> None:
    assert BOOK.recognise("Kathimerini").kind == "other"
    assert BOOK.recognise("Kathimerini").name == "Kathimerini"
    unknown = BOOK.recognise(None, "https://www.example.org/story")
    assert (unknown.name, unknown.kind, unknown.domain) == ("example.org", "other", "example.org")


def test_aggregator_title_suffix_names_the_outlet_and_is_cut() -> None:
    headline, source = attribute(
        "Trump and Xi to meet in Busan on Thursday - Reuters",
        "https://news.google.com/rss/articles/CBMi",
        feed_url="https://news.google.com/rss/search?q=xi",
    )
    assert headline == "Trump and Xi to meet in Busan on Thursday"
    assert source.name == "Reuters" and source.kind == "wire"


def test_aggregator_source_element_wins_and_its_suffix_is_cut() -> None:
    headline, source = attribute(
        "习近平同美国总统特朗普通电话 - 新华网",
        "https://news.google.com/rss/articles/x",
        source_title="新华网",
        source_url="http://www.news.cn",
    )
    assert headline == "习近平同美国总统特朗普通电话"
    assert (source.name, source.side) == ("Xinhua", "china")


def test_aggregator_entry_without_source_or_suffix_is_other() -> None:
    headline, source = attribute("Trump, Xi speak by phone", "https://news.google.com/rss/x")
    assert headline == "Trump, Xi speak by phone"
    assert source.kind == "other"


def test_unknown_aggregated_outlet_keeps_its_name() -> None:
    headline, source = attribute("Xi meets Trump - The Korea Herald", "https://news.google.com/x")
    assert headline == "Xi meets Trump"
    assert (source.name, source.kind) == ("The Korea Herald", "other")


def test_a_dash_in_a_direct_feed_title_is_kept() -> None:
    headline, source = attribute("Trump - Xi summit ends", "https://www.nytimes.com/2025/x")
    assert headline == "Trump - Xi summit ends" and source.name == "NYT"


def test_readout_sides_are_configurable() -> None:
    book = parse_sources(
        '[readout]\nmajor = "us"\n\n[[source]]\nname = "CNN"\nkind = "major"\ncountry = "US"\n'
        'domains = ["cnn.com"]\n'
    )
    assert book.recognise("CNN").side == "us"


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ('[[source]]\nname = "A"\nkind = "wire"\ncountry = 3\n', 4, "country"),
        ('[[source]]\nname = "A"\nkind = "blog"\n', 3, "kind must be one of"),
        ('[[source]]\nname = "A"\nkind = "wire"\n\n[[source]]\nkind = "wire"\n', 5, "needs a name"),
        ('[[source]\nname = "A"\n', 1, ""),
        ('[readout]\nwire = "mars"\n', 1, "readout"),
        ('[[source]]\nname = "A"\nkind = "wire"\ncolour = "red"\n', 4, "unknown key"),
    ],
)
def test_malformed_file_names_the_line(text: str, line: int, words: str) -> None:
    with pytest.raises(SourcesError) as caught:
        parse_sources(text, "my-sources.toml")
    message = str(caught.value)
    assert message.startswith(f"my-sources.toml line {line}:"), message
    assert words in message and "\n" not in message


def test_settings_read_diplo_sources(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from settings import SettingsError, load_settings

    path = tmp_path / "s.toml"
    path.write_text("", encoding="utf-8")
    assert load_settings({"DIPLO_SOURCES": str(path)}, env_file=None).sources_file == path
    with pytest.raises(SettingsError, match="DIPLO_SOURCES"):
        load_settings({"DIPLO_SOURCES": str(tmp_path / "missing.toml")}, env_file=None)
