"""Channel settings (issue 11): settings_of, the pause state on channels, /diplo settings and tz,
the subscriber's zone from users.info, and the one time-formatting helper (DST included)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from deps import Deps
from handlers.blocks import local_time
from models.channel import (
    DEFAULT_TZ,
    paused_reasons,
    set_reminders,
    set_tz,
    settings_by_channel,
    settings_of,
)
from models.subscription import channels_for, pause_channel, subscribe
from news.zones import suggest_zones, zone_name
from settings import SettingsError, load_settings
from tests.conftest import Clock
from tests.fakes.slack_server import FakeSlack
from tests.slackbot import Bot, make_bot

sqlite_only = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
NY = ZoneInfo("America/New_York")


@pytest.fixture
def bot(deps: Deps, slack: FakeSlack) -> Bot:
    return make_bot(deps, slack)


def text_of(reply: dict[str, Any]) -> str:
    return json.dumps(reply.get("blocks") or reply["text"], ensure_ascii=False)


# --- the settings API ------------------------------------------------------------------------


def test_a_channel_without_a_row_has_every_default(deps: Deps) -> None:
    with deps.sessions() as s:
        cs = settings_of(s, "C1")
        other = settings_of(s, "C1", "Asia/Singapore")
    assert cs.zone == ZoneInfo(DEFAULT_TZ) and cs.tz is None
    assert other.zone == ZoneInfo("Asia/Singapore")
    assert (cs.threads, cs.alerts_on, cs.reminders, cs.quiet_start, cs.digest_every) == (
        True,
        True,
        (1440, 60),
        None,
        None,
    )
    assert not cs.paused and cs.flood_budget is None and cs.quiet_urgent == "all"


def test_setters_and_the_batch_read(deps: Deps, clock: Clock) -> None:
    with deps.sessions.begin() as s:
        set_tz(s, "C1", "Europe/London", clock())
        set_reminders(s, "C2", (), clock())
        pause_channel(s, "C3", "is_archived", clock())
    with deps.sessions() as s:
        got = settings_by_channel(s, ["C1", "C2", "C3", "C4"], "Asia/Tokyo")
    assert got["C1"].zone == ZoneInfo("Europe/London") and got["C1"].tz == "Europe/London"
    assert got["C2"].reminders == () and got["C2"].zone == ZoneInfo("Asia/Tokyo")
    assert got["C3"].paused_reason == "is_archived" and got["C3"].paused
    assert got["C4"] == settings_of_default("C4")


def settings_of_default(channel: str) -> Any:
    from models.channel import ChannelSettings

    return ChannelSettings(channel, ZoneInfo("Asia/Tokyo"))


def test_the_pause_state_lives_on_the_channel(deps: Deps, clock: Clock) -> None:
    with deps.sessions.begin() as s:
        subscribe(s, "C1", ["trade", "call"], "U1", clock())
        subscribe(s, "C2", ["trade"], "U1", clock())
        assert pause_channel(s, "C1", "channel_not_found", clock()) == 2
        assert pause_channel(s, "C1", "is_archived", clock()) == 0  # already paused: kept
        assert channels_for(s, ["trade"]) == ["C2"]
        assert paused_reasons(s) == {"C1": "channel_not_found"}
        subscribe(s, "C1", ["summit"], "U1", clock())  # subscribing again resumes the channel
        assert channels_for(s, ["trade"]) == ["C1", "C2"]
        assert paused_reasons(s) == {}


def test_default_tz_is_validated_at_start() -> None:
    assert load_settings({}, env_file=None).default_tz == "America/New_York"
    assert load_settings({"DIPLO_DEFAULT_TZ": "europe/london"}, env_file=None).default_tz == (
        "Europe/London"
    )
    with pytest.raises(SettingsError, match="DIPLO_DEFAULT_TZ"):
        load_settings({"DIPLO_DEFAULT_TZ": "Mars/Olympus"}, env_file=None)


def test_zone_names_and_suggestions() -> None:
    assert zone_name("asia/singapore") == "Asia/Singapore"
    assert zone_name("America/New York") == "America/New_York"
    assert zone_name("Nowhere/City") is None and zone_name("") is None
    assert suggest_zones("Europe/Londn")[0] == "Europe/London"
    assert "Asia/Singapore" in suggest_zones("singapore")


# --- one time format, DST -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("utc", "zone", "shown"),
    [
        # America/New_York falls back on 2026-11-01 at 02:00 EDT: 01:30 happens twice
        (datetime(2026, 11, 1, 5, 30, tzinfo=UTC), "America/New_York", "Sun 1 Nov, 01:30 EDT"),
        (datetime(2026, 11, 1, 6, 30, tzinfo=UTC), "America/New_York", "Sun 1 Nov, 01:30 EST"),
        # … and springs forward on 2026-03-08: 02:30 never happens
        (datetime(2026, 3, 8, 6, 59, tzinfo=UTC), "America/New_York", "Sun 8 Mar, 01:59 EST"),
        (datetime(2026, 3, 8, 7, 0, tzinfo=UTC), "America/New_York", "Sun 8 Mar, 03:00 EDT"),
        (datetime(2026, 3, 29, 1, 0, tzinfo=UTC), "Europe/London", "Sun 29 Mar, 02:00 BST"),
        (datetime(2026, 3, 29, 0, 59, tzinfo=UTC), "Europe/London", "Sun 29 Mar, 00:59 GMT"),
        (datetime(2026, 10, 30, 15, 0, tzinfo=UTC), "Asia/Seoul", "Sat 31 Oct, 00:00 KST"),
        (datetime(2026, 10, 30, 15, 0, tzinfo=UTC), "Asia/Singapore", "Fri 30 Oct, 23:00 UTC+08"),
        (datetime(2026, 10, 30, 15, 0, tzinfo=UTC), "Asia/Shanghai", "Fri 30 Oct, 23:00 Beijing"),
    ],
)
def test_local_time_names_the_zone_across_dst(utc: datetime, zone: str, shown: str) -> None:
    assert local_time(utc, ZoneInfo(zone), now=datetime(2026, 6, 1, tzinfo=UTC)) == shown


def test_local_time_puts_beijing_time_beside_contacts_in_china() -> None:
    when = datetime(2026, 10, 30, 15, 0, tzinfo=UTC)
    assert local_time(when, NY, beijing=True, now=when) == "Fri 30 Oct, 11:00 EDT (23:00 Beijing)"
    late = datetime(2026, 10, 30, 20, 0, tzinfo=UTC)  # the next day in Beijing
    assert local_time(late, NY, beijing=True, now=late).endswith("(Sat 04:00 Beijing)")
    assert (
        local_time(when, ZoneInfo("Asia/Shanghai"), beijing=True)
        == "Fri 30 Oct 2026, 23:00 Beijing"
    )


# --- /diplo tz and /diplo settings ----------------------------------------------------------


def test_tz_sets_a_valid_zone_and_announces_it(bot: Bot) -> None:
    reply = bot.command("tz europe/london")
    assert reply["response_type"] == "in_channel"
    assert "now shows times in `Europe/London`" in reply["text"]
    with bot.deps.sessions() as s:
        assert settings_of(s, "C1").tz == "Europe/London"
    assert "shows times in `Europe/London`" in text_of(bot.command("tz"))
    assert bot.command("tz default")["response_type"] == "in_channel"
    with bot.deps.sessions() as s:
        assert settings_of(s, "C1").tz is None


@sqlite_only
def test_tz_refuses_an_unknown_zone_with_a_suggestion(bot: Bot) -> None:
    reply = bot.command("tz Europe/Londn")
    assert reply["response_type"] == "ephemeral"
    shown = text_of(reply)
    assert "`Europe/Londn` is not a time zone in the IANA database" in shown
    assert "Did you mean `Europe/London`," in shown and "/diplo tz" in shown
    assert "not a time zone" in text_of(bot.command("tz <b>&amp;"))
    assert "one zone name" in text_of(bot.command("tz Europe/London Asia/Tokyo"))
    assert "channel setting" in text_of(bot.command("tz Europe/London", channel="D1"))
    with bot.deps.sessions() as s:
        assert settings_of(s, "C1").tz is None


def test_settings_shows_every_setting(bot: Bot, clock: Clock) -> None:
    with bot.deps.sessions.begin() as s:
        pause_channel(s, "C1", "is_archived", clock())
    bot.command("remind 2d 90m")
    bot.command("threads off")
    reply = bot.command("settings")
    assert reply["response_type"] == "ephemeral"
    shown = text_of(reply)
    for words in (
        "`America/New_York` (the default)",
        "Mon 30 Nov, 04:00 EST",  # the test clock: 2026-11-30 09:00 UTC
        "Quiet hours: off",
        "Digest: off",
        "Live alerts: on",
        "Reminders: 2d and 90m before",
        "Threads: off",
        "Flood budget: 20 story messages an hour (the default)",
        "paused — is_archived",
    ):
        assert words in shown, words


def test_budget_sets_shows_and_refuses(bot: Bot) -> None:
    """`/diplo budget <N>|off|default`: validated, announced, shown in settings."""
    shown = text_of(bot.command("budget"))
    assert "Flood budget in <#C1>: *20 story messages an hour (the default)*" in shown
    reply = bot.command("budget 5")
    assert reply["response_type"] == "in_channel"
    assert "now in <#C1>: *5 story messages an hour*" in text_of(reply)
    with bot.deps.sessions() as s:
        assert settings_of(s, "C1").flood_budget == 5
    assert "Flood budget: 5 story messages an hour" in text_of(bot.command("settings"))
    assert "*no budget*" in text_of(bot.command("budget off"))
    with bot.deps.sessions() as s:
        assert settings_of(s, "C1").flood_budget == 0
    for bad in ("budget -3", "budget 1001", "budget lots", "budget 5 6"):
        refused = bot.command(bad)
        assert refused["response_type"] == "ephemeral", bad
        assert "/diplo budget" in text_of(refused), bad
    assert "not a number from 1 to 1,000" in text_of(bot.command("budget 1001"))
    assert "channel setting" in text_of(bot.command("budget 3", channel="D1"))
    with bot.deps.sessions() as s:
        assert settings_of(s, "C1").flood_budget == 0  # nothing refused changed it
    assert "(the default)" in text_of(bot.command("budget default"))
    with bot.deps.sessions() as s:
        assert settings_of(s, "C1").flood_budget is None


# --- the subscriber's zone -------------------------------------------------------------------


def test_the_first_subscription_takes_the_subscribers_zone(bot: Bot) -> None:
    bot.slack.set_user_tz("U1", "Asia/Singapore")
    bot.slack.set_user_tz("U2", "Europe/London")
    reply = bot.command("subscribe trade")
    assert "`Asia/Singapore` (your Slack time zone)" in reply["text"]
    assert [c["user"] for c in bot.slack.calls("users.info")] == ["U1"]
    bot.command("subscribe call", user="U2")  # not the first: the zone stays
    with bot.deps.sessions() as s:
        assert settings_of(s, "C1").tz == "Asia/Singapore"
    assert len(bot.slack.calls("users.info")) == 1


@sqlite_only
def test_a_zone_set_before_is_kept(bot: Bot) -> None:
    bot.slack.set_user_tz("U1", "Asia/Singapore")
    bot.command("tz Europe/Paris")
    bot.command("subscribe trade")
    with bot.deps.sessions() as s:
        assert settings_of(s, "C1").tz == "Europe/Paris"
    assert bot.slack.calls("users.info") == []


@sqlite_only
@pytest.mark.parametrize("fault", ["missing_scope", "user_not_found", "bad_zone"])
def test_no_zone_from_slack_keeps_the_default(bot: Bot, fault: str) -> None:
    if fault == "bad_zone":
        bot.slack.set_user_tz("U1", "Mars/Olympus")
    else:
        bot.slack.fail_next("users.info", status=200, error=fault)
    reply = bot.command("subscribe trade")
    assert "subscribed" in reply["text"] and "your Slack time zone" not in reply["text"]
    with bot.deps.sessions() as s:
        assert settings_of(s, "C1").tz is None
        assert channels_for(s, ["trade"]) == ["C1"]


@sqlite_only
def test_a_slow_users_info_does_not_hold_the_reply_long(bot: Bot) -> None:
    bot.slack.set_user_tz("U1", "Asia/Singapore")
    bot.slack.slow_next("users.info", seconds=6)
    started = time.monotonic()
    reply = bot.command("subscribe trade")
    assert time.monotonic() - started < 5
    assert "subscribed" in reply["text"]
    with bot.deps.sessions() as s:
        assert settings_of(s, "C1").tz is None
    bot.slack.wait_idle(timeout=10)


# --- times in the channel's zone -------------------------------------------------------------


def test_latest_shows_times_in_the_channels_zone(bot: Bot) -> None:
    from tests.stories import add_story

    add_story(bot.deps, 1, [("Reuters", "Trump and Xi to talk by phone")])
    bot.command("tz Asia/Tokyo")
    shown = text_of(bot.command("latest"))
    assert "Mon 30 Nov, 18:00 JST" in shown and "<!date^" not in shown
    timeline = text_of(bot.command("story 1"))
    assert "Mon 30 Nov, 18:00 JST" in timeline


def test_why_says_the_channel_is_paused(bot: Bot, clock: Clock) -> None:
    from tests.slackbot import store_items

    store_items(bot.deps, [("Trump and Xi agree on tariff truce", "relevant", "trade")])
    with bot.deps.sessions.begin() as s:
        subscribe(s, "C1", ["trade"], "U1", clock())
        pause_channel(s, "C1", "is_archived", clock())
    assert "is paused" in text_of(bot.command("why https://wire.example/0"))


def test_every_place_region_has_a_zone() -> None:
    import tomllib
    from pathlib import Path

    from news.zones import CHINA_REGIONS, REGION_ZONES

    data = tomllib.loads((Path(__file__).parents[1] / "news" / "contact.toml").read_text())
    regions = {place.get("region", key) for key, place in data["places"].items()}
    assert regions <= set(REGION_ZONES), regions - set(REGION_ZONES)
    assert all(zone_name(z) == z for z in REGION_ZONES.values())
    assert {"beijing", "shanghai"} <= CHINA_REGIONS and "korea" not in CHINA_REGIONS
