"""Adaptive polling: the next poll time from posting frequency, cache hints and Retry-After."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from newsletter.domain.polling import (
    MAX_HINT,
    PollBounds,
    PollSignals,
    cache_max_age,
    expires_in,
    plan_next_poll,
    rss_ttl,
    weekly_entries,
)

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a fixed clock given to pure functions only
MIN = timedelta(minutes=15)
MAX = timedelta(hours=24)
BOUNDS = PollBounds(MIN, MAX, timedelta(hours=1))


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


@pytest.mark.parametrize(
    ("signals", "interval", "reason"),
    [
        # Nothing known yet: the default interval.
        (PollSignals(), minutes(60), "default interval"),
        # Posting frequency: a week over the entries of the last week, within the bounds.
        (PollSignals(weekly_entries=7), timedelta(days=1), "7 entries"),
        (PollSignals(weekly_entries=14), timedelta(hours=12), "14 entries"),
        (PollSignals(weekly_entries=168), minutes(60), "168 entries"),
        (PollSignals(weekly_entries=336), minutes(30), "336 entries"),
        (PollSignals(weekly_entries=10_000), MIN, "held to the minimum"),
        (PollSignals(weekly_entries=1), MAX, "held to the maximum"),
        (PollSignals(weekly_entries=0), MAX, "no entries in the last 7 days"),
        # A cache hint longer than the frequency's interval wins, within the maximum.
        (PollSignals(weekly_entries=336, cache_max_age=minutes(90)), minutes(90), "max-age"),
        (PollSignals(weekly_entries=336, cache_max_age=minutes(5)), minutes(30), "336 entries"),
        (PollSignals(weekly_entries=336, cache_max_age=timedelta(days=3)), MAX, "maximum"),
        (PollSignals(weekly_entries=336, expires_in=minutes(120)), minutes(120), "Expires"),
        (PollSignals(weekly_entries=336, ttl=minutes(45)), minutes(45), "RSS ttl"),
        (PollSignals(ttl=minutes(180)), minutes(180), "RSS ttl"),
        # RFC 9111 §5.3: max-age present, Expires ignored (even when Expires says longer).
        (
            PollSignals(weekly_entries=336, cache_max_age=minutes(40), expires_in=minutes(300)),
            minutes(40),
            "max-age",
        ),
        # The longer of the cache hint and the ttl.
        (
            PollSignals(weekly_entries=336, cache_max_age=minutes(40), ttl=minutes(70)),
            minutes(70),
            "RSS ttl",
        ),
        # no-cache (max-age 0) asks nothing: the frequency, held to the minimum.
        (PollSignals(weekly_entries=10_000, cache_max_age=timedelta(0)), MIN, "minimum"),
        # Retry-After is obeyed, even past the maximum: the server asked.
        (PollSignals(weekly_entries=336, retry_after=minutes(50)), minutes(50), "Retry-After"),
        (
            PollSignals(weekly_entries=336, retry_after=timedelta(days=2)),
            timedelta(days=2),
            "Retry",
        ),
        (PollSignals(weekly_entries=7, retry_after=minutes(5)), timedelta(days=1), "7 entries"),
        (PollSignals(weekly_entries=0, retry_after=timedelta(days=3)), timedelta(days=3), "Retry"),
    ],
)
def test_plan_next_poll(signals: PollSignals, interval: timedelta, reason: str) -> None:
    plan = plan_next_poll(NOW, signals, BOUNDS)
    assert plan.interval == interval
    assert plan.next_poll_at == NOW + interval
    assert reason in plan.reason
    # `newsletter feeds` shows the reason in parentheses after the time: none of its own.
    assert "(" not in plan.reason and ")" not in plan.reason


def test_the_plan_is_always_within_the_bounds_unless_the_server_asked() -> None:
    for entries in (None, 0, 1, 2, 3, 5, 50, 500, 5000):
        for hint in (None, timedelta(0), minutes(1), minutes(100), timedelta(days=40)):
            for ttl in (None, minutes(1), minutes(2000)):
                signals = PollSignals(entries, cache_max_age=hint, ttl=ttl)
                plan = plan_next_poll(NOW, signals, BOUNDS)
                assert MIN <= plan.interval <= MAX, signals
        if entries is not None:
            # One more post in the week never means a longer wait.
            fewer = plan_next_poll(NOW, PollSignals(entries), BOUNDS)
            more = plan_next_poll(NOW, PollSignals(entries + 1), BOUNDS)
            assert more.interval <= fewer.interval


def test_equal_bounds_fix_the_interval() -> None:
    fixed = PollBounds(minutes(30), minutes(30), minutes(30))
    for signals in (PollSignals(), PollSignals(0), PollSignals(9999), PollSignals(ttl=minutes(5))):
        assert plan_next_poll(NOW, signals, fixed).interval == minutes(30)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("max-age=3600", timedelta(hours=1)),
        ("public, max-age=600", minutes(10)),
        ("max-age=600, must-revalidate", minutes(10)),
        ("MAX-AGE=60", minutes(1)),
        ('max-age="120"', minutes(2)),
        ("s-maxage=600", None),  # for shared caches, not us
        ("private", None),
        ("no-cache", timedelta(0)),
        ("no-store, max-age=600", timedelta(0)),
        ("max-age=abc", None),
        ("max-age=99999999999", MAX_HINT),
        ("max-age=-5", None),
    ],
)
def test_cache_max_age(header: str | None, expected: timedelta | None) -> None:
    assert cache_max_age(header) == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("Mon, 02 Mar 2026 13:00:00 GMT", timedelta(hours=1)),
        ("Mon, 02 Mar 2026 11:00:00 GMT", timedelta(0)),  # already expired
        ("0", timedelta(0)),  # RFC 9111 §5.3: invalid means expired
        ("tomorrow", timedelta(0)),
        ("Mon, 02 Mar 2099 13:00:00 GMT", MAX_HINT),
    ],
)
def test_expires_in(header: str | None, expected: timedelta | None) -> None:
    assert expires_in(header, NOW) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("60", minutes(60)),
        (" 15 ", minutes(15)),
        ("0", timedelta(0)),
        ("sixty", None),
        ("-1", None),
        ("1.5", None),
        ("9999999999", None),
        ("999999", MAX_HINT),
    ],
)
def test_rss_ttl(value: str | None, expected: timedelta | None) -> None:
    assert rss_ttl(value) == expected


def test_weekly_entries_counts_the_last_seven_days() -> None:
    dates = [
        NOW,
        NOW - timedelta(days=1),
        NOW - timedelta(days=6, hours=23),
        NOW - timedelta(days=7, minutes=1),  # just outside
        NOW - timedelta(days=300),
        NOW + timedelta(hours=2),  # a clock a little ahead
        None,  # no date: not evidence of posting
    ]
    assert weekly_entries(dates, NOW) == 4
    assert weekly_entries([], NOW) == 0
