"""Feed date strings to UTC: the forms real feeds write besides RFC 822 and ISO 8601.

Pure and strict: each form is matched whole, so a string is either read as what it says or
left to feedparser (which knows more RFC 822 and W3C-DTF variants, but reads "2020/1/10" as
December 1st, "2024年3月15日" as November 1st and "Fri, 05/03/2019 - 15:21" not at all).
A date without an offset is local time of ``zone`` (the feed's ``timezone:``; +08:00 for a
Chinese feed; else UTC).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo

MAX_CHARS = 120  # a date is short; longer strings are not read (feed text is untrusted)

_MONTHS: dict[str, int] = {}
for _number, _names in enumerate(
    [
        "jan january janeiro enero janv janvier januar gen gennaio januari ene",
        "feb february fev fevereiro febrero fevr fév févr février februar febbraio februari",
        "mar march março marco marzo mars märz mär mrz maart mrt",
        "apr april abr abril avr avril aprile",
        "may mai maio mayo mag maggio mei",
        "jun june junho junio juin juni giu giugno",
        "jul july julho julio juil juillet juli lug luglio",
        "aug august ago agosto août aout",
        "sep sept september set setembro septiembre setiembre septembre settembre",
        "oct october out outubro octubre octobre okt oktober ott ottobre",
        "nov november novembro noviembre novembre",
        "dec december dez dezembro dic diciembre déc décembre dezember dicembre",
    ],
    start=1,
):
    for _name in _names.split():
        _MONTHS[_name] = _number
_WEEKDAY_NAMES = (
    "mon monday", "tue tues tuesday", "wed wednesday", "thu thur thurs thursday", "fri friday",
    "sat saturday", "sun sunday",
)  # fmt: skip
_WEEKDAYS = {name: index for index, names in enumerate(_WEEKDAY_NAMES) for name in names.split()}
# RFC 822 zones and a few others feeds use; CST is US Central here, China in Chinese feeds.
_ZONES = {
    "Z": 0, "UT": 0, "UTC": 0, "GMT": 0, "EST": -5, "EDT": -4, "CST": -6, "CDT": -5,
    "MST": -7, "MDT": -6, "PST": -8, "PDT": -7, "CET": 1, "CEST": 2, "BST": 1, "MSK": 3,
    "HKT": 8, "SGT": 8, "JST": 9, "KST": 9, "AEST": 10, "AEDT": 11,
}  # fmt: skip

_TIME = (
    r"(?P<H>\d{1,2})[:：h](?P<M>\d{2})(?:[:：](?P<S>\d{2})(?:[.,]\d+)?)?"
    r"(?:\s*(?P<ampm>[AaPp]\.?\s?[Mm]\.?|上午|下午|晚上))?"
)
_ZONE = r"(?P<zone>Z|[A-Za-z]{2,5}(?:[+-]\d{1,2}(?::?\d{2})?)?|[+-]\d{2}(?::?\d{2})?)"
_TAIL = rf"(?:\s*{_ZONE})?\s*$"
_WEEKDAY = r"(?:(?P<wd>[^\W\d_]{2,12})\.?,?\s+)?"
_AT = r"(?:\s*[-,@T]\s*|\s+(?:at|à|às|um|alle|a las)\s+|\s+)"
# The forms exclude each other (each is matched whole); the commonest goes first.
_FORMS: list[tuple[str, re.Pattern[str]]] = [
    # 3 May 2019 15:21, RFC 822, Seg, 24 Set 2018 19:18:49 -0300, 3 de maio de 2019
    (
        "day-month",
        re.compile(
            rf"^{_WEEKDAY}(?P<d>\d{{1,2}})(?:st|nd|rd|th|\.)?\s+(?:de\s+)?(?P<mon>[^\W\d_]{{3,10}})"
            rf"\.?,?\s+(?:de\s+)?(?P<Y>\d{{4}})(?:,?{_AT}{_TIME})?{_TAIL}"
        ),
    ),
    ("unix", re.compile(r"^(?P<ts>\d{9,10}(?:\.\d+)?|\d{12,13})$")),
    # 2019-05-03 15:21:00, 2019/5/3, 2019.05.03, ISO 8601 with or without an offset
    (
        "ymd",
        re.compile(
            rf"^{_WEEKDAY}(?P<Y>\d{{4}})(?P<sep>[-/.])(?P<m>\d{{1,2}})(?P=sep)(?P<d>\d{{1,2}})"
            rf"(?:{_AT}{_TIME})?{_TAIL}"
        ),
    ),
    # 03.05.2019, 05/03/2019 (US month first or day first: see _numeric), Fri, 05/03/2019 - 15:21
    (
        "numeric",
        re.compile(
            rf"^{_WEEKDAY}(?P<a>\d{{1,2}})(?P<sep>[-/.])(?P<b>\d{{1,2}})(?P=sep)(?P<Y>\d{{4}})"
            rf"(?:{_AT}{_TIME})?{_TAIL}"
        ),
    ),
    # May 3, 2019; Friday, January 29, 2021 04:42 PM
    (
        "month-day",
        re.compile(
            rf"^{_WEEKDAY}(?P<mon>[^\W\d_]{{3,10}})\.?\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?,?\s+"
            rf"(?P<Y>\d{{4}})(?:,?{_AT}{_TIME})?{_TAIL}"
        ),
    ),
]
# 2019年5月3日 15:21, 发布于 2024 年 3 月 15 日 10：05：30: searched, not matched whole.
_ZH_DATE = re.compile(
    r"(?P<Y>\d{4})\s*年\s*(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*[日号]"
    r"(?:\s*(?P<ampm>上午|下午|晚上)?\s*(?P<H>\d{1,2})[:：时](?P<M>\d{2})(?:[:：分](?P<S>\d{2}))?)?"
)


@dataclass(frozen=True)
class DateReading:
    """What ``read_date`` made of a string: the form it recognized (None: none of ours, let
    feedparser try) and the time in UTC (None: recognized but not a real date/time)."""

    form: str | None
    value: datetime | None = None


def read_date(
    text: str, zone: tzinfo = UTC, *, month_first: bool = True, cst_is_local: bool = False
) -> DateReading:
    """Read a feed date. ``zone`` is used when the string has no offset; ``month_first``
    settles 05/03/2019 when neither number is over 12 and no weekday tells; ``cst_is_local``
    reads "CST" as the feed's own zone (China Standard Time in a Chinese feed), not US Central."""
    text = " ".join(text.split())[:MAX_CHARS]
    if not text:
        return DateReading(None)
    match = _ZH_DATE.search(text) if "年" in text else None
    if match:
        return DateReading(
            "zh", _build(match, int(match["m"]), int(match["d"]), zone, cst_is_local)
        )
    for form, pattern in _FORMS:
        match = pattern.fullmatch(text)
        if match is None:
            continue
        if form == "unix":
            return DateReading(form, _unix(match["ts"]))
        if form == "ymd":
            return DateReading(
                form, _build(match, int(match["m"]), int(match["d"]), zone, cst_is_local)
            )
        if form == "numeric":
            return _numeric(match, zone, month_first, cst_is_local)
        month = _MONTHS.get(match["mon"].lower())
        if month is None:
            continue  # a word that is no month name we know: not this form
        return DateReading(form, _build(match, month, int(match["d"]), zone, cst_is_local))
    return DateReading(None)


def _numeric(
    match: re.Match[str], zone: tzinfo, month_first: bool, cst_is_local: bool
) -> DateReading:
    """dd.mm.yyyy is day first everywhere; with / or - the larger-than-12 number is the day,
    else the weekday decides (Fri, 05/03/2019 is May 3rd), else the feed's convention."""
    a, b = int(match["a"]), int(match["b"])
    day_first = (match["sep"] == "." or a > 12) and b <= 12
    if not day_first and not (b > 12 or a > 12):
        weekday = _WEEKDAYS.get((match["wd"] or "").lower().rstrip("."))
        if weekday is not None:
            fits = {
                order: value
                for order, (m, d) in (("dmy", (b, a)), ("mdy", (a, b)))
                if (value := _build(match, m, d, zone, cst_is_local)) is not None
                and value.astimezone(_offset(match, zone, cst_is_local) or UTC).weekday() == weekday
            }
            if len(fits) == 1:
                ((order, value),) = fits.items()
                return DateReading(f"numeric-{order}", value)
        day_first = not month_first
    month, day = (b, a) if day_first else (a, b)
    return DateReading(
        "numeric-dmy" if day_first else "numeric-mdy", _build(match, month, day, zone, cst_is_local)
    )


def _unix(digits: str) -> datetime | None:
    seconds = float(digits) / (1000 if len(digits) >= 12 else 1)
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _offset(match: re.Match[str], zone: tzinfo, cst_is_local: bool) -> tzinfo | None:
    """The zone the string names (None when it names one we do not know)."""
    name = match.groupdict().get("zone")
    if not name:
        return zone
    upper = name.upper()
    if upper == "CST" and cst_is_local:
        return zone
    return _named_zone(upper)


_NUMERIC_ZONE = re.compile(r"(?:GMT|UTC)?([+-])(\d{1,2}):?(\d{2})?")


@functools.lru_cache(maxsize=256)
def _named_zone(upper: str) -> tzinfo | None:
    """A zone abbreviation or a numeric offset as a fixed zone; None when unknown or absurd."""
    if upper in _ZONES:
        return timezone(timedelta(hours=_ZONES[upper]))
    numeric = _NUMERIC_ZONE.fullmatch(upper)
    if numeric is None:
        return None
    sign = -1 if numeric[1] == "-" else 1
    hours, minutes = int(numeric[2]), int(numeric[3] or 0)
    if hours > 14 or minutes > 59:
        return None
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _build(
    match: re.Match[str], month: int, day: int, zone: tzinfo, cst_is_local: bool
) -> datetime | None:
    """The matched date and time in UTC; None when it is no real date, time or zone."""
    groups = match.groupdict()
    hour = int(groups.get("H") or 0)
    minute = int(groups.get("M") or 0)
    second = int(groups.get("S") or 0)
    ampm = (groups.get("ampm") or "").lower().replace(".", "").replace(" ", "")
    if ampm in ("pm", "下午", "晚上") and hour < 12:
        hour += 12
    elif ampm == "am" and hour == 12:
        hour = 0
    offset = _offset(match, zone, cst_is_local)
    if offset is None:
        return None
    try:
        value = datetime(int(groups["Y"]), month, day, hour, minute, min(second, 59))
        return value.replace(tzinfo=offset).astimezone(UTC)
    except (ValueError, OverflowError):
        return None
