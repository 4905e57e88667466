"""Naming an issue's tracked links by story and summing clicks per story (pure)."""

from __future__ import annotations

from newsletter.domain.engagement import (
    LinkCount,
    LinkKind,
    LinkLabel,
    SiteLink,
    classify_link,
    clicks_by_story,
    rate,
    story_links,
    story_sections,
)

BASE = "https://news.example.com"
SITE = [
    SiteLink(f"{BASE}/archive/2026-W48/events", LinkKind.CALENDAR, "Add to calendar"),
    SiteLink(f"{BASE}/archive", LinkKind.VIEW_IN_BROWSER, "View in browser"),
    SiteLink(f"{BASE}/unsubscribe", LinkKind.UNSUBSCRIBE, "Unsubscribe"),
]
CONTENT = {
    "sections": [
        {
            "id": "headlines",
            "title": "Headlines",
            "items": [
                {
                    "id": 7,
                    "title": "FDA approves a pill",
                    "url": "https://a.example/fda",
                    "also_reported_by": [{"source": "B", "url": "https://b.example/fda"}],
                },
                {"id": 8, "title": "Second story", "url": "https://a.example/two"},
            ],
        },
        {
            "id": "industry",
            "title": "Industry",
            "items": [{"id": 9, "title": "Same link again", "url": "https://a.example/two"}],
        },
    ]
}


def test_story_links_name_every_source_of_a_story_by_its_title() -> None:
    found = story_links(CONTENT)
    assert found["https://a.example/fda"] == LinkLabel(LinkKind.STORY, "FDA approves a pill", 7)
    assert found["https://b.example/fda"] == found["https://a.example/fda"]
    assert found["https://a.example/two"].item_id == 8  # the first item with that link
    assert story_sections(CONTENT) == {7: "Headlines", 8: "Headlines", 9: "Industry"}


def test_the_newsletters_own_links_are_named_not_counted_as_stories() -> None:
    stories = story_links(CONTENT)
    view = classify_link(f"{BASE}/archive/2026-W48", stories, SITE)
    assert view == LinkLabel(LinkKind.VIEW_IN_BROWSER, "View in browser")
    ics = classify_link(f"{BASE}/archive/2026-W48/events/9.ics", stories, SITE)
    assert ics.kind is LinkKind.CALENDAR  # the longer prefix wins over /archive
    assert classify_link(f"{BASE}/unsubscribe/tok", stories, SITE).kind is LinkKind.UNSUBSCRIBE
    google = classify_link(
        "https://calendar.google.com/calendar/render?action=TEMPLATE&text=Health+Summit",
        stories,
        SITE,
    )
    assert google == LinkLabel(LinkKind.CALENDAR, "Add to calendar (Google): Health Summit")
    outlook = classify_link(
        "https://outlook.live.com/calendar/0/deeplink/compose?x=1", stories, SITE
    )
    assert outlook == LinkLabel(LinkKind.CALENDAR, "Add to calendar (Outlook.com)")
    other = classify_link("https://elsewhere.example/path/page?q=secret", stories, SITE)
    assert other == LinkLabel(LinkKind.OTHER, "elsewhere.example/path/page")
    # A look-alike host is not the site.
    assert classify_link(f"{BASE}.evil.example/archive", stories, SITE).kind is LinkKind.OTHER


def test_clicks_are_summed_per_story_with_unique_clickers_over_delivered() -> None:
    counts = [
        LinkCount(1, "https://a.example/fda", 3),
        LinkCount(2, "https://b.example/fda", 2),
        LinkCount(3, "https://a.example/two", 1),
        LinkCount(4, f"{BASE}/archive/2026-W48", 5),
    ]
    stories = story_links(CONTENT)
    labels = {c.link_id: classify_link(c.url, stories, SITE) for c in counts}
    # Reader 100 clicked both links of the FDA story: one unique clicker for it, not two.
    pairs = [(1, 100), (2, 100), (2, 101), (3, 101), (4, 102)]
    by_story, others = clicks_by_story(counts, labels, story_sections(CONTENT), pairs, 4)
    assert [(s.title, s.clicks, s.unique_clickers, s.links) for s in by_story] == [
        ("FDA approves a pill", 5, 2, 2),
        ("Second story", 1, 1, 1),
    ]
    assert by_story[0].click_rate == 0.5 and by_story[0].section == "Headlines"
    assert [(o.kind, o.label, o.clicks, o.unique_clickers) for o in others] == [
        (LinkKind.VIEW_IN_BROWSER, "View in browser", 5, 1)
    ]


def test_without_named_clicks_rates_are_unknown_not_guessed() -> None:
    counts = [LinkCount(1, "https://a.example/fda", 3)]
    labels = {1: classify_link(counts[0].url, story_links(CONTENT), SITE)}
    (story,), _ = clicks_by_story(counts, labels, {}, None, 10)
    assert (story.clicks, story.unique_clickers, story.click_rate) == (3, None, None)
    assert rate(None, 10) is None and rate(3, 0) is None and rate(1, 4) == 0.25


def test_hostile_content_shapes_are_skipped() -> None:
    content = {"sections": [None, {"items": [None, {"id": "x"}, {"id": 3, "title": None}]}]}
    assert story_links(content) == {}
    assert story_links({"sections": [{"items": [{"id": 3, "url": "https://x.example/"}]}]})[
        "https://x.example/"
    ] == LinkLabel(LinkKind.STORY, "item 3", 3)
