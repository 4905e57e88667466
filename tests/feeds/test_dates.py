"""newsletter.feeds.dates and the entry's date: the forms real feeds write, read in the feed's zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from newsletter.feeds.dates import read_date
from newsletter.feeds.parse import Entry, parse_feed

CHINA = timezone(timedelta(hours=8))
NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # prof18 feed-test-time.xml (Drupal): US month/day, the weekday agrees (May 3 is a Friday)
        ("Fri, 05/03/2019 - 15:21", utc(2019, 5, 3, 15, 21)),
        # prof18 feed-test-hindi-channel-image.xml
        ("Friday, January 29, 2021 04:42 PM", utc(2021, 1, 29, 16, 42)),
        # netnewswire kc0011.rss (a Chinese forum; feedparser reads it as 2020-12-01)
        ("2020/1/10 14:33:00", utc(2020, 1, 10, 14, 33)),
        # rss-parser uolNoticias.rss: Portuguese day and month names, RFC 822 otherwise
        ("Seg, 24 Set 2018 19:18:49 -0300", utc(2018, 9, 24, 22, 18, 49)),
        ("2019-05-03 15:21:00", utc(2019, 5, 3, 15, 21)),
        ("2019/05/03", utc(2019, 5, 3)),
        ("2019.05.03", utc(2019, 5, 3)),
        ("03.05.2019", utc(2019, 5, 3)),  # dotted: day first everywhere
        ("03.05.2019 15:21", utc(2019, 5, 3, 15, 21)),
        ("May 3, 2019", utc(2019, 5, 3)),
        ("May 3rd, 2019 at 3:21 pm", utc(2019, 5, 3, 15, 21)),
        ("3 May 2019 15:21", utc(2019, 5, 3, 15, 21)),
        ("3 de maio de 2019", utc(2019, 5, 3)),
        ("2019-05-03T15:21:00", utc(2019, 5, 3, 15, 21)),
        ("2019-05-03T15:21:00.452Z", utc(2019, 5, 3, 15, 21)),
        ("2019-05-03T15:21:00+08:00", utc(2019, 5, 3, 7, 21)),
        ("Tue, 15 Nov 2022 20:15:04 Z", utc(2022, 11, 15, 20, 15, 4)),
        ("Wed, 17 Jan 2018 15:50:00 EST", utc(2018, 1, 17, 20, 50)),
        ("Fri, 17 May 2019 22:34:00 BST", utc(2019, 5, 17, 21, 34)),  # feedparser ignores BST
        ("1556896860", utc(2019, 5, 3, 15, 21)),  # Unix seconds
        ("1556896860000", utc(2019, 5, 3, 15, 21)),  # Unix milliseconds
    ],
)
def test_forms_real_feeds_use(raw: str, expected: datetime) -> None:
    reading = read_date(raw, UTC)
    assert reading.form is not None, raw
    assert reading.value == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2019年5月3日 15:21", utc(2019, 5, 3, 7, 21)),
        ("2019年5月3日", utc(2019, 5, 2, 16, 0)),
        ("发布时间：2019年05月03日 下午3:21", utc(2019, 5, 3, 7, 21)),
        ("2019-05-03 15:21", utc(2019, 5, 3, 7, 21)),
        ("Fri, 03 May 2019 15:21:00 CST", utc(2019, 5, 3, 7, 21)),  # China Standard Time
    ],
)
def test_dates_without_an_offset_are_the_feeds_local_time(raw: str, expected: datetime) -> None:
    assert read_date(raw, CHINA, cst_is_local=True).value == expected


def test_a_zone_with_summer_time_is_applied_on_the_date() -> None:
    assert read_date("2019-07-01 12:00", NEW_YORK).value == utc(2019, 7, 1, 16, 0)
    assert read_date("2019-01-01 12:00", NEW_YORK).value == utc(2019, 1, 1, 17, 0)


def test_slashed_dates_month_or_day_first() -> None:
    # A number over 12 settles it; else the weekday; else the feed's convention.
    assert read_date("25/12/2019", UTC).value == utc(2019, 12, 25)
    assert read_date("12/25/2019", UTC, month_first=False).value == utc(2019, 12, 25)
    assert read_date("Tue, 05/03/2019", UTC).value == utc(2019, 3, 5)  # March 5 was a Tuesday
    assert read_date("05/03/2019", UTC, month_first=True).value == utc(2019, 5, 3)
    assert read_date("05/03/2019", UTC, month_first=False).value == utc(2019, 3, 5)


@pytest.mark.parametrize(
    "raw",
    [
        "2024年13月45日",
        "2019-02-30",
        "31/31/2019",
        "2019-05-03 25:61",
        "Fri, 3 May 2019 10:00 +9900",
    ],
)
def test_recognized_but_impossible_dates_give_no_value(raw: str) -> None:
    reading = read_date(raw, UTC)
    assert reading.form is not None and reading.value is None


@pytest.mark.parametrize(
    "raw", ["", "yesterday-ish", "Fri, 03 May 19 15:21:00 GMT", "3 Foo 2019", "x" * 5000]
)
def test_other_strings_are_left_to_feedparser(raw: str) -> None:
    assert read_date(raw, UTC).form is None


def _entry(pub: str, language: str = "en") -> Entry:
    doc = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
        f"<item><title>x</title><guid>g</guid>{pub}</item></channel></rss>"
    )
    feed = parse_feed(
        doc.encode(), url="https://news.example.com/feed.xml", language=language, now=NOW
    )
    return feed.entries[0]


def test_entry_date_read_by_our_reader_then_feedparser() -> None:
    entry = _entry("<pubDate>Fri, 05/03/2019 - 15:21</pubDate>")
    assert entry.published == utc(2019, 5, 3, 15, 21)
    assert not entry.date_unknown and entry.date_note is None
    # a two-digit year is no form of ours: feedparser reads it
    assert _entry("<pubDate>Fri, 03 May 19 15:21:00 GMT</pubDate>").published == utc(
        2019, 5, 3, 15, 21
    )


@pytest.mark.parametrize(
    ("pub", "note"),
    [
        ("", "no date in the feed"),
        ("<pubDate>sometime last week</pubDate>", "unreadable date 'sometime last week'"),
        ("<pubDate>2024年13月45日</pubDate>", "unreadable date '2024年13月45日'"),
        ("<pubDate>Fri, 15 Mar 2199 10:00:00 GMT</pubDate>", "implausible date"),
    ],
)
@pytest.mark.filterwarnings("ignore:To avoid breaking existing software:DeprecationWarning")
def test_an_unknown_date_is_flagged_with_its_reason(pub: str, note: str) -> None:
    entry = _entry(pub)
    assert entry.published is None and entry.date_unknown
    assert entry.date_note is not None and entry.date_note.startswith(note)


def test_a_later_field_is_used_when_the_first_is_unreadable() -> None:
    entry = _entry(
        "<pubDate>soon</pubDate><atom:updated xmlns:atom='http://www.w3.org/2005/Atom'>"
        "2019-05-03T15:21:00Z</atom:updated>"
    )
    assert entry.published == utc(2019, 5, 3, 15, 21)
