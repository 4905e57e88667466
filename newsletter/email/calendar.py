"""Calendar files (RFC 5545, written by the icalendar package) for the issue's upcoming events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlencode

import icalendar

from newsletter.domain.content import IssueContent, IssueItem

PRODID = "-//newsletter//events//EN"


@dataclass(frozen=True)
class Attachment:
    """A file sent with every copy of the issue (the events' calendar files)."""

    filename: str
    content_type: str
    data: bytes


def ics_name(item_id: int) -> str:
    """The attachment name of an event's calendar file."""
    return f"event-{item_id}.ics"


def event_ics(item: IssueItem, domain: str, stamp: datetime) -> bytes:
    """An all-day VEVENT for an upcoming event item (its date is the same in every timezone).

    icalendar escapes and folds the text values (RFC 5545 §3.3.11 and §3.1), so feed text
    cannot end the event or add a property.
    """
    details = item.facts.get("event") or {}
    start = date.fromisoformat(details["start"])
    event = icalendar.Event()
    event.add("uid", f"event-{item.id}@{domain}")
    event.add("dtstamp", stamp.astimezone(UTC))
    event.add("dtstart", start)
    event.add("dtend", start + timedelta(days=1))
    event.add("summary", str(details.get("name") or item.title))
    if details.get("place"):
        event.add("location", str(details["place"]))
    if item.url and item.url.isprintable():  # a URI value may not hold a line break
        event.add("url", item.url)
    event.add("description", item.title)
    calendar = icalendar.Calendar()
    calendar.add("version", "2.0")
    calendar.add("prodid", PRODID)
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add_component(event)
    data: bytes = calendar.to_ical()
    return data


@dataclass(frozen=True)
class CalendarLinks:
    """ "Add to calendar" links for one event: the hosted .ics file (Apple Calendar, Outlook and
    most apps open it) and the web calendars' own "new event" pages."""

    ics: str
    google: str
    outlook: str


def calendar_links(item: IssueItem, ics_url: str) -> CalendarLinks:
    """Links that add an upcoming event item (an all-day event on its date) to a calendar."""
    details = item.facts.get("event") or {}
    start = date.fromisoformat(details["start"])
    end = start + timedelta(days=1)
    name = str(details.get("name") or item.title)
    place = str(details.get("place") or "")
    about = item.url or item.title
    google = {"action": "TEMPLATE", "text": name, "dates": f"{start:%Y%m%d}/{end:%Y%m%d}"}
    outlook = {
        "path": "/calendar/action/compose",
        "rru": "addevent",
        "subject": name,
        "startdt": start.isoformat(),
        "enddt": end.isoformat(),
        "allday": "true",
    }
    if place:
        google["location"] = outlook["location"] = place
    google["details"] = outlook["body"] = about
    return CalendarLinks(
        ics=ics_url,
        google="https://calendar.google.com/calendar/render?" + urlencode(google),
        outlook="https://outlook.live.com/calendar/0/deeplink/compose?" + urlencode(outlook),
    )


def upcoming_events(content: IssueContent) -> list[IssueItem]:
    """The issue's items announcing an event on or after the issue's date."""
    issue_date = content.issue_date or content.window_end[:10]
    return [
        item
        for section in content.sections
        for item in section.items
        if str((item.facts.get("event") or {}).get("start") or "") >= issue_date
        # A month-only date has no day to put in a calendar.
        and (item.facts.get("event") or {}).get("precision", "day") == "day"
    ]


def calendar_attachments(content: IssueContent, domain: str) -> list[Attachment]:
    """One .ics file per upcoming event in the issue (the same bytes every time)."""
    stamp = datetime.fromisoformat(content.window_end)
    return [
        Attachment(ics_name(item.id), "text/calendar", event_ics(item, domain, stamp))
        for item in upcoming_events(content)
    ]


def event_calendar(content: IssueContent, item_id: int, domain: str) -> bytes | None:
    """The calendar file of one upcoming event of the issue (what its link serves), or None."""
    stamp = datetime.fromisoformat(content.window_end)
    for item in upcoming_events(content):
        if item.id == item_id:
            return event_ics(item, domain, stamp)
    return None
