"""Dates that news text mentions ("on Oct 31", "next week", "early 2026", "下月", "10月30日").

Each phrase is resolved against the item's published time, in the zone of the writer: Chinese
text in Asia/Shanghai, other text in the published time's own zone (UTC when naive). A month
and day without a year is the occurrence nearest the published day that lies between a week
before it and eleven months after it. Hand rules, not a date library: none resolves "early
2026", "下月" or a bare "10月31日" right. Everything here is pure and never raises.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import cache
from typing import Literal
from zoneinfo import ZoneInfo

Precision = Literal["day", "days", "week", "part-of-month", "month", "part-of-year", "year"]
MAX_CHARS = 20_000
SHANGHAI = "Asia/Shanghai"

MONTHS = {
    name: number
    for number, names in enumerate(
        (
            (),
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sept", "sep"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        )
    )
    for name in names
}
WEEKDAYS = {
    name: number
    for number, names in enumerate(
        (
            ("monday", "mon"),
            ("tuesday", "tue", "tues"),
            ("wednesday", "wed"),
            ("thursday", "thu", "thurs"),
            ("friday", "fri"),
            ("saturday", "sat"),
            ("sunday", "sun"),
        )
    )
    for name in names
}
_ZH_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
_ZH_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6}
_ZH_DIGITS |= {"七": 7, "八": 8, "九": 9}


@dataclass(frozen=True, slots=True)
class When:
    """A date or span the text names: first and last day, how precise, and the words used."""

    start: date
    end: date
    precision: Precision
    text: str

    def iso(self) -> str:
        """The first day, ISO 8601 (what the stories CLI prints)."""
        return self.start.isoformat()

    def display(self) -> str:
        """The words used, made absolute where needed ("early March 2026", "2025年11月")."""
        text, zh = self.text, not self.text.isascii()
        if not any(c.isdigit() for c in text) and not _MONTH_WORD.search(text):
            if self.precision in ("day", "days"):  # "tomorrow", "明天"
                return (
                    f"{self.start.year}年{self.start.month}月{self.start.day}日"
                    if zh
                    else f"{calendar.month_abbr[self.start.month]} {self.start.day}, "
                    f"{self.start.year}"
                )
            if self.precision == "week":
                return (
                    f"{self.start.year}年{self.start.month}月{self.start.day}日起的一周"
                    if zh
                    else (
                        f"week of {calendar.month_abbr[self.start.month]} {self.start.day}, "
                        f"{self.start.year}"
                    )
                )
            if self.precision in ("month", "part-of-month"):
                return (
                    f"{text}（{self.start.year}年{self.start.month}月）"
                    if zh
                    else (f"{text} ({calendar.month_name[self.start.month]} {self.start.year})")
                )
            return text
        if self.precision in ("day", "days", "part-of-month", "month") and not _HAS_YEAR.search(
            text
        ):
            return f"{self.start.year}年{text}" if zh else f"{text} {self.start.year}"
        return text


_MONTH = (
    r"(?P<month>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?(?!-)"
)
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
_DAY2 = r"(?:\s*(?:-|to|and|through)\s*(?P<day2>[0-3]?\d)(?:st|nd|rd|th)?)?"
_YEAR = r"(?:,?\s+(?P<year>(?:19|20)\d\d))?"
_PART = (
    r"(?P<part>early|earlier|mid|middle of|late|later|end of|the end of|beginning of"
    r"|the beginning of|start of|the start of)"
)
_WD = r"(?P<wd>monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_ZH_NUM = r"[0-9〇零一二两三四五六七八九十]{1,3}"

_EN = [
    ("md", re.compile(rf"\b{_MONTH}\s+{_DAY}\b{_DAY2}{_YEAR}", re.IGNORECASE)),
    ("dm", re.compile(rf"\b{_DAY}{_DAY2}\s+(?:of\s+)?{_MONTH}{_YEAR}\b", re.IGNORECASE)),
    ("pm", re.compile(rf"\b{_PART}[-\s]+{_MONTH}{_YEAR}\b", re.IGNORECASE)),
    (
        "m",
        re.compile(
            rf"\b(?P<prep>in|by|during|until|till|this|next|for|from|before|after|since)\s+"
            rf"{_MONTH}{_YEAR}\b",
            re.IGNORECASE,
        ),
    ),
    ("my", re.compile(rf"\b{_MONTH}\s+(?P<year>(?:19|20)\d\d)\b", re.IGNORECASE)),
    (
        "py",
        re.compile(
            r"\b(?P<part>early|earlier|mid|middle of|late|later|end of|the end of|beginning of|"
            r"the beginning of|start of|first half of|the first half of|second half of|"
            r"the second half of|spring|summer|autumn|fall|winter)[-\s]+"
            r"(?:(?P<year>(?:19|20)\d\d)|(?P<rel>this|next|last)\s+year)\b",
            re.IGNORECASE,
        ),
    ),
    (
        "ye",
        re.compile(
            r"\b(?:by\s+)?(?:year[-\s]end|(?:the\s+)?end\s+of\s+(?:the|this)\s+year)\b",
            re.IGNORECASE,
        ),
    ),
    ("y", re.compile(r"\b(?:in|by|during)\s+(?P<year>(?:19|20)\d\d)\b", re.IGNORECASE)),
    ("ry", re.compile(r"\b(?P<rel>next)\s+year\b", re.IGNORECASE)),
    (
        "rw",
        re.compile(
            r"\b(?P<part>early|earlier|later|late|end of|the end of)?\s*(?P<rel>this|next|last|"
            r"coming)\s+(?P<unit>week|weekend|month)\b",
            re.IGNORECASE,
        ),
    ),
    ("rm", re.compile(r"\b(?P<part>end|the end|start|beginning) of the month\b", re.IGNORECASE)),
    ("rd", re.compile(r"\b(?P<rel>today|tonight|tomorrow|yesterday)\b", re.IGNORECASE)),
    ("wd", re.compile(rf"\b(?:(?P<rel>this|next|last|on)\s+)?{_WD}\b", re.IGNORECASE)),
]
_ZH = [
    (
        "zymd",
        re.compile(
            rf"(?P<year>(?:19|20)\d\d)年(?P<month>{_ZH_NUM})月(?P<day>{_ZH_NUM})[日号]"
            rf"(?:(?:至|到|-|—|~)(?P<day2>{_ZH_NUM})[日号])?"
        ),
    ),
    (
        "zmd",
        re.compile(
            rf"(?P<rel>明年|今年|去年)?(?P<month>{_ZH_NUM})月(?P<day>{_ZH_NUM})[日号]"
            rf"(?:(?:至|到|-|—|~)(?:(?P<month2>{_ZH_NUM})月)?(?P<day2>{_ZH_NUM})[日号])?"
        ),
    ),
    (
        "zm",
        re.compile(
            rf"(?:(?P<year>(?:19|20)\d\d)年|(?P<rel>明年|今年|去年))?(?P<month>{_ZH_NUM})月份?"
            r"(?P<part>上旬|中旬|下旬|初|底|末|中)?"
        ),
    ),
    (
        "zy",
        re.compile(
            r"(?P<rel>明年|今年|(?P<year>(?:19|20)\d\d)年)(?P<part>年初|初|年底|底|年末|末|上半年|下半年|晚些时候|春季|春天|夏季|夏天|秋季|秋天|冬季|冬天)?"
        ),
    ),
    (
        "zrm",
        re.compile(
            r"(?P<rel>下个?月|本月|这个月|当月|上个?月)(?P<part>初|中旬|下旬|底|末|晚些时候)?"
        ),
    ),
    (
        "zrw",
        re.compile(
            r"(?P<rel>下周|下星期|下个星期|本周|这周|这个星期|上周)(?P<wd>[一二三四五六日天])?(?P<end>末)?"
        ),
    ),
    ("zrd", re.compile(r"(?P<rel>今天|今日|明天|明日|后天|昨天|昨日|今晚|明晚)")),
    ("zwd", re.compile(r"(?:周|星期|礼拜)(?P<wd>[一二三四五六日天])")),
    ("zme", re.compile(r"(?P<part>月底|月初|年底|年初|年内)")),
]
_HAS_YEAR = re.compile(r"(?:19|20)\d\d")
_MONTH_WORD = re.compile(
    r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b", re.IGNORECASE
)
_AMBIGUOUS = frozenset({"may", "mar", "march", "jan", "sun", "sat", "dec"})
_CJK = re.compile(r"[\u4e00-\u9fff]")


HORIZON = timedelta(days=730)  # farther from the published day: not a contact's date


def find_dates(
    text: str,
    published: datetime | date,
    tz: str | tzinfo | None = None,
    ahead: bool = False,
) -> list[When]:
    """Every date phrase in `text`, in text order, resolved against `published`.

    A bare weekday ("Saturday") is the one nearest the published day, or with `ahead` the
    next one from it (for a contact known to be still to come). Dates more than HORIZON
    from the published day ("the 2049 goals", a history recalled) are not contact dates
    and are left out.
    """
    try:
        found = _find(text, published, tz, ahead)
    except (ValueError, OverflowError, KeyError):  # a rule met text it does not fit: no date
        return []
    day = published.date() if isinstance(published, datetime) else published
    return [w for w in found if day - HORIZON <= w.start and w.end <= day + HORIZON]


def scheduled(text: str, published: datetime | date, tz: str | tzinfo | None = None) -> When | None:
    """The first date in `text` that is not over by the published day (a contact's date)."""
    today = local_day(published, tz, text)
    for when in find_dates(text, published, tz, ahead=True):
        if when.end >= today:
            return when
    return None


def local_day(published: datetime | date, tz: str | tzinfo | None = None, text: str = "") -> date:
    """The published day in the writer's zone (see the module docstring)."""
    if not isinstance(published, datetime):
        return published
    zone = _zone(tz, text, published)
    if published.tzinfo is None:
        published = published.replace(tzinfo=UTC)
    return published.astimezone(zone).date()


def _zone(tz: str | tzinfo | None, text: str, published: datetime) -> tzinfo:
    if isinstance(tz, tzinfo):
        return tz
    if isinstance(tz, str):
        return _zoneinfo(tz)
    if _CJK.search(text[:2000]):
        return _zoneinfo(SHANGHAI)
    return published.tzinfo or UTC


@cache
def _zoneinfo(name: str) -> tzinfo:
    return ZoneInfo(name)


def _find(
    text: str, published: datetime | date, tz: str | tzinfo | None, ahead: bool
) -> list[When]:
    if not isinstance(text, str) or not text:
        return []
    text = text[:MAX_CHARS]
    today = local_day(published, tz, text)
    found: list[tuple[int, int, When]] = []
    taken: list[tuple[int, int]] = []
    rules = _ZH if _CJK.search(text) else []
    for name, pattern in [*rules, *_EN]:
        for match in pattern.finditer(text):
            start, end = match.span()
            if start == end or any(start < b and a < end for a, b in taken):
                continue
            when = _resolve(name, match, today, ahead)
            if when is not None and when.start > when.end:  # "early this month" on the 20th
                when = When(when.end, when.end, when.precision, when.text)
            if when is not None:
                found.append((start, end, when))
                taken.append((start, end))
    found.sort(key=lambda f: f[0])
    return [when for _, _, when in found]


def _resolve(name: str, m: re.Match[str], today: date, ahead: bool = False) -> When | None:
    g = m.groupdict()
    said = m.group().strip()
    if g.get("month") and g["month"].lower().rstrip(".") in _AMBIGUOUS and g["month"][0].islower():
        return None  # "may", "march": words before they are months
    if name in ("md", "dm", "zymd", "zmd"):
        month = _month(g["month"])
        day = _number(g["day"])
        if not month or not day or day > 31:
            return None
        year = _year(g, today)
        start = _fit_day(year, month, day, today) if year is None else _date(year, month, day)
        if start is None:
            return None
        end = start
        if g.get("day2"):
            month2 = _month(g["month2"]) if g.get("month2") else month
            day2 = _number(g["day2"])
            if day2 and (month2 != month or day2 > day):
                year2 = start.year + (month2 < month)
                end = _date(year2, month2, day2) or start
        return When(start, end, "days" if end > start else "day", said)
    if name in ("pm", "m", "my", "zm"):
        month = _month(g["month"])
        if not month:
            return None
        year = _year(g, today)
        if name == "m" and (g.get("prep") or "").lower() == "next":
            year = year or (today.year + (month <= today.month))
        if year is None:
            year = _fit_month(month, today)
        start, end = date(year, month, 1), _month_end(year, month)
        part = (g.get("part") or "").lower()
        if part:
            start, end = _part_of_month(part, start, end)
            return When(start, end, "part-of-month", said)
        return When(start, end, "month", said)
    if name in ("py", "zy", "ye"):
        year = _year(g, today) or today.year
        part = (g.get("part") or "").lower()
        if name == "ye":
            return When(date(year, 10, 1), date(year, 12, 31), "part-of-year", said)
        if not part:
            return When(date(year, 1, 1), date(year, 12, 31), "year", said)
        span = _part_of_year(part, year)
        if span is None:
            return None
        if part in ("晚些时候", "later"):
            span = (max(span[0], today), span[1])
        return When(span[0], span[1], "part-of-year", said)
    if name in ("y", "ry"):
        year = _year(g, today) or today.year
        return When(date(year, 1, 1), date(year, 12, 31), "year", said)
    if name == "rw":
        rel, unit = g["rel"].lower(), g["unit"].lower()
        shift = {"this": 0, "coming": 1, "next": 1, "last": -1}[rel]
        part = (g.get("part") or "").lower()
        if unit == "month":
            year, month = _add_months(today.year, today.month, shift)
            start, end = date(year, month, 1), _month_end(year, month)
            if part:
                start, end = _part_of_month(part, start, end)
                return When(max(start, today) if shift == 0 else start, end, "part-of-month", said)
            return When(start, end, "month", said)
        monday = today - timedelta(days=today.weekday()) + timedelta(weeks=shift)
        if unit == "weekend":
            return When(monday + timedelta(days=5), monday + timedelta(days=6), "days", said)
        start, end = monday, monday + timedelta(days=6)
        if part in ("early", "earlier"):
            end = monday + timedelta(days=2)
        elif part in ("later", "late", "end of", "the end of"):
            start = monday + timedelta(days=3)
        if shift == 0:
            start = max(start, today)
        return When(start, max(start, end), "week", said)
    if name in ("rm", "zme"):
        part = (g.get("part") or "").lower()
        if part in ("年底", "年初", "年内"):
            span = _part_of_year({"年底": "end of", "年初": "early", "年内": ""}[part], today.year)
            if span is None:
                return When(today, date(today.year, 12, 31), "part-of-year", said)
            return When(max(span[0], today), span[1], "part-of-year", said)
        start, end = date(today.year, today.month, 1), _month_end(today.year, today.month)
        key = {"月底": "end of", "月初": "beginning of"}.get(part, part)
        start, end = _part_of_month(key, start, end)
        return When(start, end, "part-of-month", said)
    if name == "zrm":
        rel = g["rel"]
        shift = 1 if rel.startswith("下") else -1 if rel.startswith("上") else 0
        year, month = _add_months(today.year, today.month, shift)
        start, end = date(year, month, 1), _month_end(year, month)
        part = g.get("part") or ""
        if part:
            key = {"初": "early", "中旬": "mid", "下旬": "late", "底": "end of", "末": "end of"}
            if part == "晚些时候":
                return When(max(start, today), end, "part-of-month", said)
            start, end = _part_of_month(key[part], start, end)
            return When(start, end, "part-of-month", said)
        return When(start, end, "month", said)
    if name == "zrw":
        rel = g["rel"]
        shift = 1 if rel.startswith("下") else -1 if rel.startswith("上") else 0
        monday = today - timedelta(days=today.weekday()) + timedelta(weeks=shift)
        if g.get("wd"):
            on = monday + timedelta(days=_ZH_WEEKDAYS[g["wd"]])
            return When(on, on, "day", said)
        if g.get("end"):
            return When(monday + timedelta(days=5), monday + timedelta(days=6), "days", said)
        start = max(monday, today) if shift == 0 else monday
        return When(start, monday + timedelta(days=6), "week", said)
    if name in ("rd", "zrd"):
        rel = g["rel"].lower()
        shift = {
            "today": 0,
            "tonight": 0,
            "tomorrow": 1,
            "yesterday": -1,
            "今天": 0,
            "今日": 0,
            "今晚": 0,
            "明天": 1,
            "明日": 1,
            "明晚": 1,
            "后天": 2,
            "昨天": -1,
            "昨日": -1,
        }[rel]
        on = today + timedelta(days=shift)
        return When(on, on, "day", said)
    if name in ("wd", "zwd"):
        weekday = WEEKDAYS[g["wd"].lower()] if name == "wd" else _ZH_WEEKDAYS[g["wd"]]
        rel = (g.get("rel") or "").lower()
        delta = (weekday - today.weekday()) % 7
        if rel == "next":
            on = today + timedelta(days=delta or 7)
        elif rel == "last":
            on = today - timedelta(days=(today.weekday() - weekday) % 7 or 7)
        elif ahead:
            on = today + timedelta(days=delta)
        else:  # "on Monday", "Monday": the one nearest the published day, in this week's sense
            on = today + timedelta(days=delta if delta <= 3 else delta - 7)
        return When(on, on, "day", said)
    return None


def _number(text: str | None) -> int:
    if not text:
        return 0
    if text.isdigit():
        return int(text)
    if text == "十":
        return 10
    if "十" in text:
        tens, _, units = text.partition("十")
        return (_ZH_DIGITS.get(tens, 0) if tens else 1) * 10 + (_ZH_DIGITS.get(units, 0))
    if len(text) == 1 and text in _ZH_DIGITS:
        return _ZH_DIGITS[text]
    return 0


def _month(text: str | None) -> int:
    if not text:
        return 0
    key = text.lower().rstrip(".")
    if key in MONTHS:
        return MONTHS[key]
    number = _number(text)
    return number if 1 <= number <= 12 else 0


def _year(g: dict[str, str | None], today: date) -> int | None:
    if g.get("year"):
        return int(g["year"] or 0)
    rel = (g.get("rel") or "").strip().lower()
    if rel in ("明年", "next"):
        return today.year + 1
    if rel in ("今年", "this"):
        return today.year
    if rel in ("去年", "last"):
        return today.year - 1
    return None


def _date(year: int, month: int, day: int) -> date | None:
    if not 1 <= month <= 12 or not 1 <= day <= calendar.monthrange(year, month)[1]:
        return None
    return date(year, month, day)


def _fit_day(year: int | None, month: int, day: int, today: date) -> date | None:
    """The month/day nearest `today` within a week before it .. eleven months after it."""
    options = [
        d for y in (today.year - 1, today.year, today.year + 1) if (d := _date(y, month, day))
    ]
    if not options:
        return None
    inside = [d for d in options if -7 <= (d - today).days <= 335]
    pool = inside or options
    return min(pool, key=lambda d: abs((d - today).days))


def _fit_month(month: int, today: date) -> int:
    """The year of a bare month: from a month and a half back to eleven months ahead."""
    for year in (today.year, today.year + 1, today.year - 1):
        start = date(year, month, 1)
        if -45 <= (start - today).days <= 335:
            return year
    return today.year


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _add_months(year: int, month: int, shift: int) -> tuple[int, int]:
    index = year * 12 + month - 1 + shift
    return index // 12, index % 12 + 1


def _part_of_month(part: str, start: date, end: date) -> tuple[date, date]:
    part = part.lower()
    if part in (
        "early",
        "earlier",
        "beginning of",
        "the beginning of",
        "start of",
        "the start of",
        "初",
        "上旬",
    ):
        return start, start.replace(day=10)
    if part in ("mid", "middle of", "中旬", "中"):
        return start.replace(day=11), start.replace(day=20)
    if part in ("late", "later", "end of", "the end of", "下旬", "底", "末"):
        return start.replace(day=21), end
    return start, end


def _part_of_year(part: str, year: int) -> tuple[date, date] | None:
    part = part.lower()
    spans = {
        "early": (1, 4),
        "earlier": (1, 4),
        "beginning of": (1, 3),
        "the beginning of": (1, 3),
        "start of": (1, 3),
        "年初": (1, 3),
        "初": (1, 4),
        "mid": (5, 8),
        "middle of": (5, 8),
        "late": (9, 12),
        "later": (1, 12),
        "晚些时候": (1, 12),
        "end of": (10, 12),
        "the end of": (10, 12),
        "年底": (10, 12),
        "底": (10, 12),
        "年末": (10, 12),
        "末": (10, 12),
        "first half of": (1, 6),
        "the first half of": (1, 6),
        "上半年": (1, 6),
        "second half of": (7, 12),
        "the second half of": (7, 12),
        "下半年": (7, 12),
        "spring": (3, 5),
        "春季": (3, 5),
        "春天": (3, 5),
        "summer": (6, 8),
        "夏季": (6, 8),
        "夏天": (6, 8),
        "autumn": (9, 11),
        "fall": (9, 11),
        "秋季": (9, 11),
        "秋天": (9, 11),
        "winter": (12, 12),
        "冬季": (12, 12),
        "冬天": (12, 12),
    }
    if part not in spans:
        return None
    first, last = spans[part]
    return date(year, first, 1), _month_end(year, last)
