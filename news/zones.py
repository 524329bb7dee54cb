"""Time zones: IANA names checked against the zone database, and the zone of a contact's place.

Pure (zoneinfo reads the installed tzdata). A contact's region (news/contact.toml groups
places into regions) has one zone; contacts in mainland China are shown with Beijing time.
"""

from __future__ import annotations

import difflib
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

BEIJING = "Asia/Shanghai"
MAX_NAME = 64  # channels.tz is String(64)

# region (news/contact.toml) -> its IANA zone
REGION_ZONES = {
    "korea": "Asia/Seoul",
    "beijing": BEIJING,
    "tianjin": BEIJING,
    "shanghai": BEIJING,
    "guangzhou": BEIJING,
    "hangzhou": BEIJING,
    "washington": "America/New_York",
    "new-york": "America/New_York",
    "florida": "America/New_York",
    "bay-area": "America/Los_Angeles",
    "sunnylands": "America/Los_Angeles",
    "hawaii": "Pacific/Honolulu",
    "alaska": "America/Anchorage",
    "peru": "America/Lima",
    "argentina": "America/Argentina/Buenos_Aires",
    "brazil": "America/Sao_Paulo",
    "japan": "Asia/Tokyo",
    "indonesia": "Asia/Makassar",  # Bali (WITA)
    "malaysia": "Asia/Kuala_Lumpur",
    "singapore": "Asia/Singapore",
    "laos": "Asia/Vientiane",
    "thailand": "Asia/Bangkok",
    "vietnam": "Asia/Ho_Chi_Minh",
    "switzerland": "Europe/Zurich",
    "uk": "Europe/London",
    "sweden": "Europe/Stockholm",
    "spain": "Europe/Madrid",
    "malta": "Europe/Malta",
    "italy": "Europe/Rome",
    "austria": "Europe/Vienna",
    "france": "Europe/Paris",
    "south-africa": "Africa/Johannesburg",
}
CHINA_REGIONS = frozenset(r for r, z in REGION_ZONES.items() if z == BEIJING)


@cache
def _names() -> dict[str, str]:
    """Every zone the database knows, by its case-folded name."""
    return {name.casefold(): name for name in available_timezones()}


def zone_name(raw: str) -> str | None:
    """The IANA name `raw` spells (case-insensitive, spaces as `_`), or None when unknown."""
    wanted = "_".join(raw.strip().split()).casefold()
    if not wanted or len(wanted) > MAX_NAME:
        return None
    return _names().get(wanted)


def suggest_zones(raw: str, n: int = 3) -> list[str]:
    """Known zone names close to `raw` ("Europe/Londn" → Europe/London), best first."""
    wanted = "_".join(raw.strip().split()).casefold()[:MAX_NAME]
    names = _names()
    close = difflib.get_close_matches(wanted, names, n=n, cutoff=0.6)
    if not close and "/" not in wanted:  # a bare city: "london" → Europe/London
        cities = {k.rsplit("/", 1)[-1]: k for k in names}
        close = [cities[c] for c in difflib.get_close_matches(wanted, cities, n=n, cutoff=0.7)]
    return [names[c] for c in close]


def zone(name: str | None, default: str) -> ZoneInfo:
    """The ZoneInfo of `name`, or of `default` when `name` is None or unknown."""
    for candidate in (name, default):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def region_zone(region: str | None) -> str | None:
    """The IANA zone of a contact's region, when known."""
    return REGION_ZONES.get(region or "")


def in_china(region: str | None) -> bool:
    """Whether a contact's region is in mainland China (its times get Beijing time beside)."""
    return region in CHINA_REGIONS
