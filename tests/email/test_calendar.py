"""newsletter.email.calendar: one valid .ics per upcoming event, read back with icalendar."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import icalendar

from newsletter.domain.content import IssueContent, IssueItem, IssueSection
from newsletter.email.calendar import (
    calendar_attachments,
    calendar_links,
    event_calendar,
    event_ics,
    ics_name,
)

STAMP = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
HOSTILE = 'Summit; Hall, "A"\\B\r\nEND:VEVENT\nBEGIN:VEVENT\nSUMMARY:phish 医疗大会 ' + "x" * 120


def event_item(item_id: int, start: str, **event: Any) -> IssueItem:
    return IssueItem(
        id=item_id,
        title=event.pop("title", "BIO Asia 2026 opens in Shanghai"),
        url=event.pop("url", "https://example.com/events/bio-asia?a=1,2;b"),
        summary="",
        source="Example",
        published="2026-11-20T08:00:00+00:00",
        language="en",
        section_reason="",
        score=1.0,
        facts={"event": {"start": start, **event}},
    )


def read_event(data: bytes) -> icalendar.Event:
    calendar = icalendar.Calendar.from_ical(data)
    events = calendar.walk("VEVENT")
    assert len(events) == 1
    event: icalendar.Event = events[0]
    return event


def test_event_has_uid_all_day_date_summary_and_location() -> None:
    item = event_item(7, "2026-12-03", name="BIO Asia", place="Shanghai, China")
    data = event_ics(item, "news.example.com", STAMP)
    assert data.startswith(b"BEGIN:VCALENDAR\r\n") and data.endswith(b"END:VCALENDAR\r\n")
    assert all(len(line) <= 75 for line in data.split(b"\r\n"))  # RFC 5545 §3.1 folding
    event = read_event(data)
    assert str(event["uid"]) == "event-7@news.example.com"
    assert event.decoded("dtstart") == date(2026, 12, 3)
    assert event.decoded("dtend") == date(2026, 12, 4)
    assert event.decoded("dtstamp") == STAMP
    assert str(event["summary"]) == "BIO Asia"
    assert str(event["location"]) == "Shanghai, China"
    assert str(event["url"]) == "https://example.com/events/bio-asia?a=1,2;b"
    assert str(event["description"]) == "BIO Asia 2026 opens in Shanghai"


def test_hostile_text_stays_inside_its_property() -> None:
    """Feed text with ; , \\ and line breaks cannot end the event or add a property."""
    item = event_item(8, "2026-12-03", name=HOSTILE, place=HOSTILE, title=HOSTILE)
    data = event_ics(item, "news.example.com", STAMP)
    lines = data.decode("utf-8").split("\r\n")
    assert lines.count("BEGIN:VEVENT") == 1 and lines.count("END:VEVENT") == 1
    assert not any(line.startswith("SUMMARY:phish") for line in lines)
    event = read_event(data)
    expected = HOSTILE.replace("\r\n", "\n")
    assert str(event["summary"]) == expected
    assert str(event["location"]) == expected
    assert str(event["description"]) == expected


def test_event_without_place_or_name_uses_the_title() -> None:
    event = read_event(event_ics(event_item(9, "2026-12-03", url=None), "d.example", STAMP))
    assert str(event["summary"]) == "BIO Asia 2026 opens in Shanghai"
    assert "location" not in event and "url" not in event


def test_attachments_only_for_upcoming_events_and_stable_bytes() -> None:
    window_end = STAMP.isoformat()
    items = [
        event_item(1, "2026-11-20", name="Past"),
        event_item(2, "2026-11-23", name="Today"),
        event_item(3, "2026-12-01", name="Later"),
    ]
    content = IssueContent(
        period="2026-W48",
        window_start=(STAMP - timedelta(days=7)).isoformat(),
        window_end=window_end,
        title="Weekly",
        subject="Weekly",
        preheader="",
        sections=[IssueSection("events", "Events", items, len(items))],
        item_count=len(items),
        duplicates_dropped=0,
    )
    files = calendar_attachments(content, "news.example.com")
    assert [f.filename for f in files] == [ics_name(2), ics_name(3)]
    assert all(f.content_type == "text/calendar" for f in files)
    assert files == calendar_attachments(content, "news.example.com")
    assert [str(read_event(f.data)["summary"]) for f in files] == ["Today", "Later"]


def test_calendar_links_carry_the_event_and_escape_feed_text() -> None:
    item = event_item(7, "2026-12-02", name=HOSTILE, place="上海 & Hall <A>")
    links = calendar_links(item, "https://news.example.com/archive/2026-W48/events/7.ics")
    assert links.ics == "https://news.example.com/archive/2026-W48/events/7.ics"
    google = urlsplit(links.google)
    assert (google.scheme, google.netloc) == ("https", "calendar.google.com")
    query = parse_qs(google.query)
    assert query["action"] == ["TEMPLATE"] and query["dates"] == ["20261202/20261203"]
    assert query["text"] == [HOSTILE] and query["location"] == ["上海 & Hall <A>"]
    assert query["details"] == ["https://example.com/events/bio-asia?a=1,2;b"]
    outlook = parse_qs(urlsplit(links.outlook).query)
    assert outlook["startdt"] == ["2026-12-02"] and outlook["enddt"] == ["2026-12-03"]
    assert outlook["allday"] == ["true"] and outlook["subject"] == [HOSTILE]
    # Nothing of the feed text can leave its parameter or the URL.
    assert all(c not in links.google + links.outlook for c in ' "<>\r\n')


def test_event_calendar_serves_only_upcoming_events_of_the_issue() -> None:
    content = IssueContent(
        period="2026-W48",
        window_start="2026-11-16T00:00:00+00:00",
        window_end="2026-11-23T00:00:00+00:00",
        title="T",
        subject="T",
        preheader="",
        sections=[
            IssueSection(
                "events",
                "Events",
                [event_item(1, "2026-12-02"), event_item(2, "2026-11-01")],
                2,
            )
        ],
        item_count=2,
        duplicates_dropped=0,
        issue_date="2026-11-23",
    )
    served = event_calendar(content, 1, "news.example.com")
    assert served is not None and read_event(served)["uid"] == "event-1@news.example.com"
    assert event_calendar(content, 2, "news.example.com") is None  # past
    assert event_calendar(content, 3, "news.example.com") is None  # not in the issue
