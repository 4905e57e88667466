"""What readers did with an issue, in editors' words: each tracked link named by the story it
belongs to (not its raw URL), the newsletter's own links (view in browser, unsubscribe,
preferences, add to calendar) named as such and kept out of the stories, and click rates
(unique clickers over delivered messages). Pure: the frozen content, the link counts and the
site's own URL prefixes in; labelled rows out."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qs, urlsplit

# Where the "Add to calendar" links of an event lead besides our own hosted .ics file.
CALENDAR_HOSTS = ("calendar.google.com", "outlook.live.com", "outlook.office.com")


class LinkKind(StrEnum):
    """What a tracked link of an issue is."""

    STORY = "story"  # an item's link (its own, or another source reporting the same story)
    CALENDAR = "calendar"  # "Add to calendar" of an event
    VIEW_IN_BROWSER = "view_in_browser"
    UNSUBSCRIBE = "unsubscribe"
    PREFERENCES = "preferences"
    SUBSCRIBE = "subscribe"
    OTHER = "other"  # a link in the viewpoint, or anything else


@dataclass(frozen=True, slots=True)
class LinkLabel:
    """A link's kind and what editors read for it; ``item_id`` for a story's links."""

    kind: LinkKind
    label: str
    item_id: int | None = None


@dataclass(frozen=True, slots=True)
class SiteLink:
    """One of the newsletter's own URLs (a prefix), and what to call links under it."""

    prefix: str
    kind: LinkKind
    label: str


@dataclass(frozen=True, slots=True)
class LinkCount:
    """One tracked link of an issue and its clicks (all of them, counted by the redirect)."""

    link_id: int
    url: str
    clicks: int


@dataclass(frozen=True, slots=True)
class StoryClicks:
    """Clicks on one story of an issue (its links summed), most clicked first."""

    item_id: int
    title: str
    section: str
    clicks: int
    unique_clickers: int | None  # None when no click of the issue names its reader
    links: int  # how many tracked links of the story there were
    click_rate: float | None  # unique clickers / delivered


@dataclass(frozen=True, slots=True)
class OtherClicks:
    """Clicks on a link that is not a story: labelled by kind, the URL kept for reference."""

    kind: LinkKind
    label: str
    url: str
    clicks: int
    unique_clickers: int | None


def rate(part: int | None, whole: int) -> float | None:
    """``part / whole``, or None when either is unknown or there is nothing to divide by."""
    if part is None or whole <= 0:
        return None
    return part / whole


def story_links(content: Mapping[str, Any]) -> dict[str, LinkLabel]:
    """Every link of the frozen content's items: the item's own URL and the URLs of the other
    sources of the same story, each labelled with the item's title (as sent, edits included).
    A URL shared by two items belongs to the first one in the issue's order."""
    found: dict[str, LinkLabel] = {}
    for section in content.get("sections") or []:
        if not isinstance(section, Mapping):
            continue
        for item in section.get("items") or []:
            if not isinstance(item, Mapping) or not isinstance(item.get("id"), int):
                continue
            title = item.get("title") if isinstance(item.get("title"), str) else ""
            label = LinkLabel(LinkKind.STORY, title or f"item {item['id']}", item["id"])
            urls = [item.get("url")]
            urls += [
                o.get("url") for o in item.get("also_reported_by") or [] if isinstance(o, dict)
            ]
            for url in urls:
                if isinstance(url, str) and url:
                    found.setdefault(url.strip(), label)
    return found


def story_sections(content: Mapping[str, Any]) -> dict[int, str]:
    """The section title of every item of the frozen content."""
    found: dict[int, str] = {}
    for section in content.get("sections") or []:
        if not isinstance(section, Mapping):
            continue
        title = str(section.get("title") or section.get("id") or "")
        for item in section.get("items") or []:
            if isinstance(item, Mapping) and isinstance(item.get("id"), int):
                found.setdefault(item["id"], title)
    return found


def classify_link(
    url: str,
    stories: Mapping[str, LinkLabel],
    site: Sequence[SiteLink],
    calendar_items: Mapping[str, LinkLabel] | None = None,
) -> LinkLabel:
    """What a tracked URL is: a story's link, one of the newsletter's own pages (the longest
    matching prefix of ``site``), an "Add to calendar" link, or another link (named by its host
    and path, never run or fetched)."""
    known = stories.get(url)
    if known is not None:
        return known
    if calendar_items and url in calendar_items:
        return calendar_items[url]
    for entry in sorted(site, key=lambda entry: len(entry.prefix), reverse=True):
        if url == entry.prefix or url.startswith(entry.prefix.rstrip("/") + "/"):
            return LinkLabel(entry.kind, entry.label)
    try:
        parts = urlsplit(url)
    except ValueError:
        return LinkLabel(LinkKind.OTHER, url[:120])
    host = (parts.hostname or "").lower()
    if host in CALENDAR_HOSTS:
        # The web calendars' links carry the event's title (Google: text=, Outlook: subject=).
        query = parse_qs(parts.query)
        title = " ".join((query.get("text") or query.get("subject") or [""])[0].split())[:200]
        where = "Google" if host.startswith("calendar.google") else "Outlook.com"
        return LinkLabel(
            LinkKind.CALENDAR, f"Add to calendar ({where})" + (f": {title}" if title else "")
        )
    shown = f"{host}{parts.path}" if parts.path not in ("", "/") else host
    return LinkLabel(LinkKind.OTHER, shown[:120] or url[:120])


def _distinct(pairs: Iterable[tuple[int, int]], links: set[int]) -> int:
    return len({subscriber for link, subscriber in pairs if link in links})


def clicks_by_story(
    counts: Sequence[LinkCount],
    labels: Mapping[int, LinkLabel],
    sections: Mapping[int, str],
    clickers: Sequence[tuple[int, int]] | None,
    delivered: int,
) -> tuple[list[StoryClicks], list[OtherClicks]]:
    """The clicks of an issue's links summed per story, and the other links one by one.
    ``labels`` names each link (by link id); ``clickers`` are the distinct (link id,
    subscriber id) pairs of the clicks that name their reader, or None when no click does
    (then unique clickers and rates are unknown, never guessed from the raw clicks)."""
    per_story: dict[int, list[LinkCount]] = {}
    titles: dict[int, str] = {}
    others: list[OtherClicks] = []
    for count in counts:
        label = labels.get(count.link_id) or LinkLabel(LinkKind.OTHER, count.url[:120])
        if label.kind is LinkKind.STORY and label.item_id is not None:
            per_story.setdefault(label.item_id, []).append(count)
            titles.setdefault(label.item_id, label.label)
            continue
        unique = None if clickers is None else _distinct(clickers, {count.link_id})
        others.append(OtherClicks(label.kind, label.label, count.url, count.clicks, unique))
    stories = []
    for item_id, story in per_story.items():
        unique = None if clickers is None else _distinct(clickers, {c.link_id for c in story})
        stories.append(
            StoryClicks(
                item_id=item_id,
                title=titles[item_id],
                section=sections.get(item_id, ""),
                clicks=sum(c.clicks for c in story),
                unique_clickers=unique,
                links=len(story),
                click_rate=rate(unique, delivered),
            )
        )
    stories.sort(key=lambda s: (-s.clicks, s.title))
    others.sort(key=lambda o: (-o.clicks, o.kind, o.label))
    return stories, others


__all__ = [
    "CALENDAR_HOSTS",
    "LinkCount",
    "LinkKind",
    "LinkLabel",
    "OtherClicks",
    "SiteLink",
    "StoryClicks",
    "classify_link",
    "clicks_by_story",
    "rate",
    "story_links",
    "story_sections",
]
