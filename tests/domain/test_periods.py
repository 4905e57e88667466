"""newsletter.domain.periods: ISO-week labels, windows (previous send, send] in UTC, DST and year ends."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from newsletter.domain.periods import (
    Period,
    latest_due_period,
    period_containing,
    period_for_date,
    period_for_label,
)
from newsletter.errors import IssueError

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
MONDAY = 0
SUNDAY = 6
EIGHT = time(8, 0)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_docstring_example() -> None:
    """2026-W48, Monday 08:00 Asia/Shanghai: (2026-11-16 08:00, 2026-11-23 08:00] +08:00."""
    period = period_for_label("2026-W48", MONDAY, EIGHT, SHANGHAI)
    assert period == Period(
        label="2026-W48",
        send_at=utc(2026, 11, 23, 0, 0),
        start=utc(2026, 11, 16, 0, 0),
        end=utc(2026, 11, 23, 0, 0),
    )
    assert period.send_at.tzinfo is UTC and period.start.tzinfo is UTC
    assert period.send_at.astimezone(SHANGHAI) == datetime(2026, 11, 23, 8, 0, tzinfo=SHANGHAI)


def test_window_is_start_exclusive_end_inclusive() -> None:
    period = period_for_label("2026-W48", MONDAY, EIGHT, SHANGHAI)
    tick = timedelta(microseconds=1)
    assert not period.contains(period.start)
    assert period.contains(period.start + tick)
    assert period.contains(period.end)
    assert not period.contains(period.end + tick)


def test_label_is_normalized_and_whitespace_tolerated() -> None:
    assert period_for_label(" 2026-W05\n", MONDAY, EIGHT, SHANGHAI).label == "2026-W05"


@pytest.mark.parametrize(
    ("label", "meant"),
    [
        ("2026-w48", "2026-W48"),
        ("2026-48", "2026-W48"),
        ("2018-w6", "2018-W06"),
        ("2026W05", "2026-W05"),
    ],
)
def test_a_near_miss_label_is_refused_with_its_spelling(label: str, meant: str) -> None:
    with pytest.raises(IssueError) as info:
        period_for_label(label, MONDAY, EIGHT, SHANGHAI)
    assert str(info.value).endswith(f"is not an ISO week like 2026-W48; did you mean {meant}?")


def test_a_label_far_from_a_week_gets_no_guess() -> None:
    # 2026-12 and 2018-6 read as months (December, June), not weeks; 2025 has no week 53.
    for label in ("W48", "2026-W99", "next week", "2026-12", "2018-6", "202612", "2025-w53"):
        with pytest.raises(IssueError) as info:
            period_for_label(label, MONDAY, EIGHT, SHANGHAI)
        assert "did you mean" not in str(info.value)


@pytest.mark.parametrize(
    "label", ["2026-48", "2026-W4", "W48", "2026-W48x", "", "2026-w48", "26-W48", "2026-W048"]
)
def test_malformed_labels_raise_issue_error(label: str) -> None:
    with pytest.raises(IssueError) as info:
        period_for_label(label, MONDAY, EIGHT, SHANGHAI)
    assert repr(label) in str(info.value) and "ISO week like 2026-W48" in str(info.value)


@pytest.mark.parametrize(("label", "year", "week"), [("2021-W53", 2021, 53), ("2026-W00", 2026, 0)])
def test_weeks_a_year_does_not_have(label: str, year: int, week: int) -> None:
    with pytest.raises(IssueError, match=rf"period '{label}': {year} has no ISO week {week}"):
        period_for_label(label, MONDAY, EIGHT, SHANGHAI)


def test_week_one_can_start_in_the_previous_calendar_year() -> None:
    period = period_for_label("2026-W01", MONDAY, EIGHT, SHANGHAI)
    # ISO 2026-W01 starts on Monday 2025-12-29.
    assert period.send_at.astimezone(SHANGHAI).date() == date(2025, 12, 29)
    assert period.start.astimezone(SHANGHAI).date() == date(2025, 12, 22)


def test_week_53_and_the_week_after() -> None:
    w53 = period_for_label("2020-W53", MONDAY, EIGHT, SHANGHAI)
    w01 = period_for_label("2021-W01", MONDAY, EIGHT, SHANGHAI)
    assert w53.send_at.astimezone(SHANGHAI).date() == date(2020, 12, 28)
    assert w01.send_at.astimezone(SHANGHAI).date() == date(2021, 1, 4)
    assert w01.start == w53.end  # consecutive windows touch, no gap and no overlap


def test_instants_around_new_year_belong_to_the_next_send() -> None:
    new_years_day = datetime(2021, 1, 1, 12, 0, tzinfo=SHANGHAI)  # inside ISO week 2020-W53
    assert period_containing(new_years_day, MONDAY, EIGHT, SHANGHAI).label == "2021-W01"
    new_years_eve = datetime(2025, 12, 31, 23, 59, tzinfo=SHANGHAI)
    assert period_containing(new_years_eve, MONDAY, EIGHT, SHANGHAI).label == "2026-W02"
    before_send = datetime(2025, 12, 29, 7, 59, tzinfo=SHANGHAI)
    assert period_containing(before_send, MONDAY, EIGHT, SHANGHAI).label == "2026-W01"


def test_dst_fall_back_week_is_an_hour_longer() -> None:
    # America/New_York leaves DST on Sunday 2024-11-03.
    period = period_for_label("2024-W45", MONDAY, EIGHT, NEW_YORK)
    assert period.start == utc(2024, 10, 28, 12, 0)  # 08:00 EDT
    assert period.end == utc(2024, 11, 4, 13, 0)  # 08:00 EST
    assert period.end - period.start == timedelta(days=7, hours=1)
    for instant in (period.start, period.end):
        assert instant.astimezone(NEW_YORK).time() == EIGHT


def test_dst_spring_forward_week_is_an_hour_shorter() -> None:
    # DST starts on Sunday 2024-03-10.
    period = period_for_label("2024-W11", MONDAY, EIGHT, NEW_YORK)
    assert period.end - period.start == timedelta(days=6, hours=23)
    assert period.end.astimezone(NEW_YORK).time() == EIGHT


def test_send_time_in_the_repeated_hour_is_one_instant() -> None:
    # Sunday 01:30 happens twice on 2024-11-03 in New York; the period uses the first one.
    period = period_for_label("2024-W44", SUNDAY, time(1, 30), NEW_YORK)
    assert period.send_at == utc(2024, 11, 3, 5, 30)  # 01:30 EDT
    nxt = period_for_label("2024-W45", SUNDAY, time(1, 30), NEW_YORK)
    assert nxt.start == period.end
    assert nxt.end == utc(2024, 11, 10, 6, 30)  # 01:30 EST


@pytest.mark.parametrize(
    ("tz", "weekday", "at"),
    [(NEW_YORK, MONDAY, EIGHT), (SHANGHAI, MONDAY, EIGHT), (NEW_YORK, SUNDAY, time(2, 30))],
)
def test_consecutive_periods_tile_time_for_years(tz: ZoneInfo, weekday: int, at: time) -> None:
    """Every instant belongs to exactly one period: each window starts where the last ended."""
    label_day = date(2019, 12, 30)
    previous: Period | None = None
    while label_day < date(2027, 1, 10):
        iso = label_day.isocalendar()
        period = period_for_label(f"{iso.year}-W{iso.week:02d}", weekday, at, tz)
        if previous is not None:
            assert period.start == previous.end, period.label
        assert (
            timedelta(days=6, hours=22) <= period.end - period.start <= timedelta(days=7, hours=2)
        )
        previous = period
        label_day += timedelta(days=7)


@pytest.mark.parametrize("tz", [SHANGHAI, NEW_YORK])
def test_period_containing_agrees_with_contains(tz: ZoneInfo) -> None:
    instant = utc(2024, 10, 20, 0, 0)
    while instant < utc(2025, 1, 20):
        period = period_containing(instant, MONDAY, EIGHT, tz)
        assert period.contains(instant), (instant, period)
        instant += timedelta(hours=7, minutes=13)


def test_period_containing_at_the_boundaries() -> None:
    period = period_for_label("2026-W48", MONDAY, EIGHT, SHANGHAI)
    assert period_containing(period.end, MONDAY, EIGHT, SHANGHAI) == period
    after = period_containing(period.end + timedelta(seconds=1), MONDAY, EIGHT, SHANGHAI)
    assert after.label == "2026-W49" and after.start == period.end
    # Monday 00:30 local is still before that Monday's 08:00 send.
    early_monday = datetime(2026, 11, 23, 0, 30, tzinfo=SHANGHAI)
    assert period_containing(early_monday, MONDAY, EIGHT, SHANGHAI) == period


def test_period_containing_with_a_late_sunday_schedule() -> None:
    # Sunday 23:00: a Monday belongs to the coming Sunday's issue of the same ISO week.
    monday = datetime(2026, 11, 16, 9, 0, tzinfo=SHANGHAI)
    period = period_containing(monday, SUNDAY, time(23, 0), SHANGHAI)
    assert period.label == "2026-W47"
    assert period.end.astimezone(SHANGHAI) == datetime(2026, 11, 22, 23, 0, tzinfo=SHANGHAI)


def test_period_containing_refuses_naive_instants() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        period_containing(datetime(2026, 11, 20, 12, 0), MONDAY, EIGHT, SHANGHAI)


def test_latest_due_period() -> None:
    w48 = period_for_label("2026-W48", MONDAY, EIGHT, SHANGHAI)
    assert latest_due_period(w48.end, MONDAY, EIGHT, SHANGHAI) == w48
    a_second_early = w48.end - timedelta(seconds=1)
    assert latest_due_period(a_second_early, MONDAY, EIGHT, SHANGHAI).label == "2026-W47"
    mid_week = w48.end + timedelta(days=3)
    assert latest_due_period(mid_week, MONDAY, EIGHT, SHANGHAI) == w48


def test_period_for_date_is_the_next_issue_as_of_that_morning() -> None:
    # Monday 2026-11-23 starts before that day's 08:00 send: that send is the next to go.
    assert period_for_date(date(2026, 11, 23), MONDAY, EIGHT, SHANGHAI).label == "2026-W48"
    assert period_for_date(date(2026, 11, 24), MONDAY, EIGHT, SHANGHAI).label == "2026-W49"
    assert period_for_date(date(2026, 11, 29), MONDAY, EIGHT, SHANGHAI).label == "2026-W49"
    # A midnight send on Monday: Monday 00:00 is exactly that send (end is inclusive).
    midnight = period_for_date(date(2026, 11, 23), MONDAY, time(0, 0), SHANGHAI)
    assert midnight.label == "2026-W48"
    assert midnight.end.astimezone(SHANGHAI) == datetime(2026, 11, 23, 0, 0, tzinfo=SHANGHAI)
