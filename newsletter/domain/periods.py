"""Issue periods: an ISO week label and the seven days that end at that week's send time.

Period ``2026-W48`` with a Monday 08:00 Asia/Shanghai schedule is sent on Monday 2026-11-23
08:00 (+08:00) and covers items published in the seven days before it:
(2026-11-16 08:00, 2026-11-23 08:00]. All instants returned here are timezone-aware UTC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from newsletter.errors import IssueError

PERIOD_RE = re.compile(r"^(\d{4})-W(\d{2})$")
_NEAR_PERIOD_RE = re.compile(r"^(\d{4})[-/ ]?[Ww]?(0?[1-9]|[1-4]\d|5[0-3])$")  # 2026-w48, 2026-48


@dataclass(frozen=True)
class Period:
    """One issue's period: label, send time and the window of publication times it covers."""

    label: str
    send_at: datetime  # UTC
    start: datetime  # UTC, exclusive
    end: datetime  # UTC, inclusive (== send_at)

    def contains(self, instant: datetime) -> bool:
        """Whether a UTC instant falls in (start, end]."""
        return self.start < instant <= self.end


def _send_at(year: int, week: int, weekday: int, at: time, tz: ZoneInfo) -> datetime:
    local_day = date.fromisocalendar(year, week, weekday + 1)
    return datetime.combine(local_day, at, tzinfo=tz).astimezone(UTC)


def period_for_label(label: str, weekday: int, at: time, tz: ZoneInfo) -> Period:
    """The period named like ``2026-W48``."""
    match = PERIOD_RE.match(label.strip())
    if not match:
        # The label is the issue's key, so it stays strict; a near miss gets the spelling.
        near = _NEAR_PERIOD_RE.match(label.strip())
        hint = ""
        if near and ("w" in label.casefold() or int(near.group(2)) > 12):  # 2026-12 is a month
            year, week = int(near.group(1)), int(near.group(2))
            try:
                date.fromisocalendar(year, week, 1)
                hint = f"; did you mean {year}-W{week:02d}?"
            except ValueError:  # 2025-w53: that year has no week 53
                hint = ""
        raise IssueError(f"period {label!r} is not an ISO week like 2026-W48{hint}")
    year, week = int(match.group(1)), int(match.group(2))
    try:
        send_at = _send_at(year, week, weekday, at, tz)
    except ValueError as exc:
        raise IssueError(f"period {label!r}: {year} has no ISO week {week}") from exc
    previous = _previous_send(year, week, weekday, at, tz)
    return Period(label=f"{year}-W{week:02d}", send_at=send_at, start=previous, end=send_at)


def _previous_send(year: int, week: int, weekday: int, at: time, tz: ZoneInfo) -> datetime:
    local_day = date.fromisocalendar(year, week, weekday + 1) - timedelta(days=7)
    return datetime.combine(local_day, at, tzinfo=tz).astimezone(UTC)


def period_containing(instant: datetime, weekday: int, at: time, tz: ZoneInfo) -> Period:
    """The period whose window (previous send, send] contains the instant: the next issue to go."""
    if instant.tzinfo is None:
        raise ValueError("instant must be timezone-aware")
    local = instant.astimezone(tz)
    iso = local.isocalendar()
    candidate = period_for_label(f"{iso.year}-W{iso.week:02d}", weekday, at, tz)
    if candidate.contains(instant):
        return candidate
    if instant > candidate.end:
        nxt = (local + timedelta(days=7)).isocalendar()
        return period_for_label(f"{nxt.year}-W{nxt.week:02d}", weekday, at, tz)
    prev = (local - timedelta(days=7)).isocalendar()
    return period_for_label(f"{prev.year}-W{prev.week:02d}", weekday, at, tz)


def latest_due_period(instant: datetime, weekday: int, at: time, tz: ZoneInfo) -> Period:
    """The most recent period whose send time is at or before the instant."""
    current = period_containing(instant, weekday, at, tz)
    if current.end <= instant:
        return current
    return period_containing(current.start, weekday, at, tz)


def period_for_date(day: date, weekday: int, at: time, tz: ZoneInfo) -> Period:
    """The issue that was next to go as of the start of a local calendar day (``--as-of``)."""
    start_of_day = datetime.combine(day, time(0, 0), tzinfo=tz)
    return period_containing(start_of_day.astimezone(UTC), weekday, at, tz)


# One-off special issues: a named period beside the weekly ones (``special-2026-asco``), with
# its own window of whole local days and its own title; weekly labels and numbers stay as they
# are.
SPECIAL_PREFIX = "special-"
SPECIAL_RE = re.compile(r"^special-[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?$")  # <= 20 characters
MAX_SPECIAL_DAYS = 93


def is_special(label: str) -> bool:
    """Whether a period label names a special issue (``special-2026-asco``)."""
    return bool(SPECIAL_RE.fullmatch(label))


def special_label(name: str) -> str:
    """The period label of a special issue's name: ``2026-asco`` or ``special-2026-asco`` give
    ``special-2026-asco`` (lowercase letters, digits and single dashes)."""
    cleaned = name.strip().lower()
    label = cleaned if cleaned.startswith(SPECIAL_PREFIX) else SPECIAL_PREFIX + cleaned
    if not is_special(label) or "--" in label:
        raise IssueError(
            f"special issue name {name!r}: use lowercase letters, digits and dashes, like "
            "2026-asco (at most 12 characters)"
        )
    return label


def special_period(label: str, first_day: date, last_day: date, tz: ZoneInfo) -> Period:
    """A special issue's period: items published from the start of ``first_day`` to the end of
    ``last_day``, local time; it may be sent once its window has ended."""
    if last_day < first_day:
        raise IssueError(f"the last day ({last_day}) is before the first day ({first_day})")
    if (last_day - first_day).days + 1 > MAX_SPECIAL_DAYS:
        raise IssueError(f"a special issue covers at most {MAX_SPECIAL_DAYS} days")
    start = datetime.combine(first_day, time(0, 0), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(last_day + timedelta(days=1), time(0, 0), tzinfo=tz).astimezone(UTC)
    return Period(label=label, send_at=end, start=start, end=end)


def any_period_label(label: str) -> bool:
    """Whether a label names a weekly (2026-W48) or a special (special-2026-asco) period."""
    return bool(PERIOD_RE.fullmatch(label)) or is_special(label)
