"""newsletter.domain.assemble: window, dedupe, rank, cap, skip and subject of one issue (pure)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from newsletter.config import Config, parse_config
from newsletter.domain.assemble import (
    SUMMARY_CHARS,
    Candidate,
    IssueContent,
    assemble_issue,
    fill_placeholders,
    reader_date,
    score,
    with_briefs,
)
from newsletter.domain.content import EditorChoices
from newsletter.domain.editorial.brief import Brief, Point, PointGroup
from newsletter.domain.periods import Period, period_for_label
from tests.conftest import SECTIONS, newsletter_block

SHANGHAI = ZoneInfo("Asia/Shanghai")
PERIOD = period_for_label("2026-W48", 0, time(8, 0), SHANGHAI)  # (11-16 00:00, 11-23 00:00] UTC


def make_config(per_source_cap: int = 100, **newsletter: Any) -> Config:
    # Most tests take their items from one feed: the per-source cap is tested on its own.
    block = newsletter_block(**newsletter)
    return parse_config(
        {"newsletter": block, "sections": SECTIONS, "topic": {"per_source_cap": per_source_cap}},
        Path("/srv/feeds.yaml"),
    )


CONFIG = make_config()


def candidate(
    id: int,
    title: str | None = None,
    *,
    feed: str = "STAT News",
    weight: float = 1.0,
    url: str | None = "auto",
    published: datetime | None = None,
    section: str | None = "headlines",
    summary: str = "A summary.",
    language: str = "en",
    reason: str = "keyword 'x' in title",
    relevance: float | None = None,
    suggested: str | None = None,
    date_unknown: bool = False,
) -> Candidate:
    return Candidate(
        id=id,
        feed=feed,
        weight=weight,
        title=title or f"Story number {id}",
        url=f"https://example.com/{id}" if url == "auto" else url,
        summary=summary,
        published=published or PERIOD.end - timedelta(days=1),
        language=language,
        section=section,
        reason=reason,
        relevance=relevance,
        suggested=suggested,
        date_unknown=date_unknown,
    )


def section(content: IssueContent, section_id: str) -> Any:
    return next(s for s in content.sections if s.id == section_id)


def ids(content: IssueContent, section_id: str) -> list[int]:
    return [item.id for item in section(content, section_id).items]


# -- window -------------------------------------------------------------------------------------


def test_only_items_inside_the_window_are_used() -> None:
    second = timedelta(seconds=1)
    candidates = [
        candidate(1, published=PERIOD.start),  # exclusive start: last week's issue
        candidate(2, published=PERIOD.start + second),
        candidate(3, published=PERIOD.end),  # inclusive end
        candidate(4, published=PERIOD.end + second),  # next week's issue
        candidate(5, published=PERIOD.start - timedelta(days=30)),
    ]
    content = assemble_issue(CONFIG, PERIOD, candidates)
    assert sorted(ids(content, "headlines")) == [2, 3]
    assert content.item_count == 2
    assert content.period == "2026-W48"
    assert content.window_start == PERIOD.start.isoformat()
    assert content.window_end == PERIOD.end.isoformat()


def test_sections_follow_config_order_and_empty_ones_are_kept() -> None:
    content = assemble_issue(CONFIG, PERIOD, [candidate(1, section="reports")])
    assert [s.id for s in content.sections] == [s["id"] for s in SECTIONS]
    assert [s.title for s in content.sections] == [s["title"] for s in SECTIONS]
    assert (
        section(content, "headlines").items == [] and section(content, "headlines").available == 0
    )
    assert ids(content, "reports") == [1]


# -- caps and ranking ---------------------------------------------------------------------------


def test_each_section_is_capped_and_remembers_how_many_qualified() -> None:
    hot = [candidate(n, section="hot_topics") for n in range(1, 8)]
    content = assemble_issue(CONFIG, PERIOD, hot)
    hot_section = section(content, "hot_topics")
    assert len(hot_section.items) == 3  # max_items of hot_topics in feeds.yaml
    assert hot_section.available == 7
    assert content.item_count == 3


def test_score_is_weight_times_freshness() -> None:
    oldest = candidate(1, weight=2.0, published=PERIOD.start)
    newest = candidate(2, weight=2.0, published=PERIOD.end)
    middle = candidate(3, weight=1.0, published=PERIOD.start + (PERIOD.end - PERIOD.start) / 2)
    assert score(oldest, PERIOD) == 1.0
    assert score(newest, PERIOD) == 2.0
    assert score(middle, PERIOD) == 0.75
    future = candidate(4, weight=1.0, published=PERIOD.end + timedelta(days=3))
    assert score(future, PERIOD) == 1.0  # clamped


def test_ranking_by_weight_and_recency() -> None:
    day = timedelta(days=1)
    content = assemble_issue(
        CONFIG,
        PERIOD,
        [
            candidate(1, weight=1.0, published=PERIOD.end - 6 * day),
            candidate(2, weight=1.0, published=PERIOD.end - 1 * day),
            candidate(3, weight=1.5, published=PERIOD.end - 3 * day, feed="Heavy"),
            candidate(4, weight=0.5, published=PERIOD.end),
        ],
    )
    items = section(content, "headlines").items
    assert [i.id for i in items] == [3, 2, 1, 4]
    assert [i.score for i in items] == sorted((i.score for i in items), reverse=True)


def test_ties_are_broken_stably() -> None:
    when = PERIOD.end - timedelta(hours=5)
    shuffled = [candidate(n, published=when) for n in (7, 3, 9, 1, 5)]
    first = assemble_issue(CONFIG, PERIOD, shuffled)
    again = assemble_issue(CONFIG, PERIOD, list(reversed(shuffled)))
    assert ids(first, "headlines") == ids(again, "headlines") == [1, 3, 5, 7, 9]
    # Same score, different times (a lighter but fresher item vs a heavier older one): newer first.
    a = candidate(10, weight=1.0, published=PERIOD.start + (PERIOD.end - PERIOD.start) / 2)
    b = candidate(11, weight=0.75, published=PERIOD.end)
    assert score(a, PERIOD) == score(b, PERIOD)
    assert ids(assemble_issue(CONFIG, PERIOD, [a, b]), "headlines") == [11, 10]


def test_summaries_are_shortened() -> None:
    content = assemble_issue(CONFIG, PERIOD, [candidate(1, summary="word " * 200)])
    summary = section(content, "headlines").items[0].summary
    assert len(summary) <= SUMMARY_CHARS + 1 and summary.endswith("…")


# -- duplicate stories --------------------------------------------------------------------------


def test_same_link_across_feeds_is_shown_once_from_the_heavier_source() -> None:
    url = "https://www.statnews.com/2026/11/18/glp1/"
    content = assemble_issue(
        CONFIG,
        PERIOD,
        [
            candidate(1, "FDA approves oral GLP-1", feed="Light", weight=0.8, url=url),
            candidate(2, "FDA approves first oral GLP-1 pill", feed="STAT", weight=1.5, url=url),
            candidate(3, "Unrelated story", feed="Light", weight=0.8),
        ],
    )
    items = section(content, "headlines").items
    assert [i.id for i in items] == [2, 3]
    lead = items[0]
    assert lead.source == "STAT"
    assert lead.also_reported_by == [{"source": "Light", "url": url}]
    assert content.duplicates_dropped == 1
    assert content.item_count == 2


def test_same_title_with_punctuation_or_prefix_is_one_story() -> None:
    early = PERIOD.end - timedelta(days=2)
    content = assemble_issue(
        CONFIG,
        PERIOD,
        [
            candidate(1, "【首发】康澜生物完成2000万美元A轮融资！", feed="36氪", weight=0.8,
                      section="financing", url="https://36kr.com/p/1"),
            candidate(2, "康澜生物完成2000万美元A轮融资", feed="健康界", weight=1.2,
                      section="financing", url="https://cn-healthcare.com/a/2", published=early),
            candidate(3, "36氪 | 康澜生物完成2000万美元A轮融资", feed="和讯创投", weight=0.8,
                      section="financing", url=None),
        ],
    )  # fmt: skip
    (item,) = section(content, "financing").items
    assert item.id == 2 and item.source == "健康界"
    assert item.also_reported_by == [
        {"source": "36氪", "url": "https://36kr.com/p/1"},
        {"source": "和讯创投", "url": None},
    ]
    assert content.duplicates_dropped == 2


def test_equal_weight_duplicates_keep_the_first_report() -> None:
    content = assemble_issue(
        CONFIG,
        PERIOD,
        [
            candidate(1, "Same story", feed="B", published=PERIOD.end - timedelta(hours=1)),
            candidate(2, "Same story!", feed="A", published=PERIOD.end - timedelta(hours=9)),
        ],
    )
    (item,) = section(content, "headlines").items
    assert item.id == 2 and item.also_reported_by == [
        {"source": "B", "url": "https://example.com/1"}
    ]


def test_duplicates_within_one_feed_are_dropped_without_also_reported_by() -> None:
    content = assemble_issue(
        CONFIG, PERIOD, [candidate(1, "Repost"), candidate(2, "Repost", url="https://e.com/2")]
    )
    (item,) = section(content, "headlines").items
    assert item.also_reported_by == []
    assert content.duplicates_dropped == 1


def test_titles_without_words_do_not_merge_different_stories() -> None:
    content = assemble_issue(
        CONFIG,
        PERIOD,
        [
            candidate(1, "【直播】", feed="A"),
            candidate(2, "【直播】", feed="B"),
            candidate(3, "🎉🎉", feed="C"),
        ],
    )
    assert sorted(ids(content, "headlines")) == [1, 2, 3]
    assert content.duplicates_dropped == 0


def test_duplicates_outside_the_window_do_not_count() -> None:
    content = assemble_issue(
        CONFIG,
        PERIOD,
        [candidate(1, "Story"), candidate(2, "Story", feed="Other", published=PERIOD.start)],
    )
    assert section(content, "headlines").items[0].also_reported_by == []
    assert content.duplicates_dropped == 0


# -- skip, subject, preheader -------------------------------------------------------------------


def test_too_few_items_gives_a_skip_reason() -> None:
    config = make_config(min_items=5)
    content = assemble_issue(config, PERIOD, [candidate(1), candidate(2)])
    assert content.skipped_reason == (
        "only 2 item(s) published for issue 2026-W48 (2026-11-16 00:00 to 2026-11-23 00:00 UTC); "
        "newsletter.min_items is 5 (in feeds.yaml)"
    )
    enough = assemble_issue(config, PERIOD, [candidate(n) for n in range(1, 6)])
    assert enough.skipped_reason is None


def test_empty_issue_is_skipped_with_zero() -> None:
    content = assemble_issue(CONFIG, PERIOD, [])
    assert content.item_count == 0
    assert content.skipped_reason is not None and content.skipped_reason.startswith(
        "only 0 item(s)"
    )
    assert content.preheader == ""


def test_default_subject_speaks_to_readers() -> None:
    # The number and the send date in the newsletter's timezone; no ISO week.
    content = assemble_issue(CONFIG, PERIOD, [candidate(1)], number=12)
    assert content.subject == "Test Health Weekly · No. 12 · 23 November 2026"
    assert content.issue_label == "No. 12 · 23 November 2026"
    assert content.title == "Test Health Weekly"
    # Without a number (a preview with no database), the date alone.
    assert assemble_issue(CONFIG, PERIOD, [candidate(1)]).subject == (
        "Test Health Weekly · 23 November 2026"
    )


def test_chinese_newsletter_numbers_and_dates_in_chinese() -> None:
    config = make_config(language="zh")
    content = assemble_issue(config, PERIOD, [candidate(1)], number=3)
    assert content.issue_label == "第3期 · 2026年11月23日"
    assert "W48" not in content.subject


@pytest.mark.parametrize(
    ("day", "language", "expected"),
    [
        (date(2026, 1, 5), "en", "5 January 2026"),
        (date(2026, 12, 31), "en-GB", "31 December 2026"),
        (date(2026, 1, 5), "zh", "2026年1月5日"),
        (date(2026, 1, 5), "zh-Hans", "2026年1月5日"),
    ],
)
def test_reader_date(day: date, language: str, expected: str) -> None:
    assert reader_date(day, language) == expected


def test_subject_placeholders() -> None:
    config = make_config(
        subject="{title}: {top_title} ({period}, {date}) {unknown} {0} #{number} {date_label}"
    )
    content = assemble_issue(config, PERIOD, [candidate(1, "Top story")], number=7)
    assert content.subject == (
        "Test Health Weekly: Top story (2026-W48, 2026-11-23) {unknown} {0} #7 23 November 2026"
    )
    legacy = make_config(subject="{title} · {period_label}")
    assert assemble_issue(legacy, PERIOD, [candidate(1)]).subject == (
        "Test Health Weekly · 2026-W48 · 2026-11-23"
    )


@pytest.mark.parametrize(
    "subject",
    ["{title.__class__}", "{title.__class__.__mro__}", "{title!r}", "{title:>999}", "{title[0]}"],
)
def test_subject_format_syntax_is_not_evaluated(subject: str) -> None:
    content = assemble_issue(make_config(subject=subject), PERIOD, [candidate(1)])
    assert content.subject == subject
    assert fill_placeholders(subject, {"title": "x"}) == subject


def test_subject_from_a_hostile_title_is_one_line_and_bounded() -> None:
    config = make_config(subject="{top_title}")
    title = "Breaking\r\nBcc: victim@example.com " + "x" * 400
    content = assemble_issue(config, PERIOD, [candidate(1, title)])
    assert "\n" not in content.subject and "\r" not in content.subject
    assert len(content.subject) <= 300


def test_preheader_defaults_to_the_top_titles_and_can_be_configured() -> None:
    candidates = [
        candidate(1, "Raise news", section="financing"),
        candidate(2, "Policy news", section="hot_topics"),
        candidate(3, "Headline news", section="headlines"),
        candidate(4, "Report news", section="reports"),
    ]
    content = assemble_issue(CONFIG, PERIOD, candidates)
    # First item of the first three non-empty sections, in issue order.
    assert content.preheader == "Policy news | Headline news | Raise news"
    fixed = assemble_issue(make_config(preheader="Your weekly digest"), PERIOD, candidates)
    assert fixed.preheader == "Your weekly digest"


# -- JSON form ----------------------------------------------------------------------------------


def test_to_dict_from_dict_round_trip() -> None:
    url = "https://example.com/shared"
    content = assemble_issue(
        make_config(min_items=10),
        PERIOD,
        [
            candidate(1, "混合 story", feed="A", weight=2.0, url=url, language="zh"),
            candidate(2, "Mixed story", feed="B", url=url),
            candidate(3, section="events", url=None),
        ],
    )
    data = content.to_dict()
    via_json = json.loads(json.dumps(data, ensure_ascii=False))
    assert via_json == data
    rebuilt = IssueContent.from_dict(via_json)
    assert rebuilt == content
    assert rebuilt.to_dict() == data
    assert rebuilt.skipped_reason is not None
    assert section(rebuilt, "headlines").items[0].also_reported_by == [{"source": "B", "url": url}]
    item = data["sections"][1]["items"][0]
    assert set(item) == {
        "id",
        "title",
        "url",
        "summary",
        "source",
        "published",
        "language",
        "section_reason",
        "score",
        "also_reported_by",
        "facts",
        "cluster",
        "related_ids",
        "sources",
        "pinned",
        "key_points",
        "key_points_source",
        "relevance",
        "date_unknown",
        "blurb",
        "edited",
        "brief",
    }
    assert datetime.fromisoformat(item["published"]).utcoffset() == timedelta(0)


def test_a_brief_survives_the_json_form() -> None:
    """A stored issue gives back the brief it was built with (a typed Brief, JSON lists)."""
    content = assemble_issue(make_config(min_items=1), PERIOD, [candidate(1, section="reports")])
    made = Brief(
        insights=(Point("The first insight of the report.", 1), Point("A second one.", 3)),
        groups=(PointGroup("Market", (Point("A point about the market.", 2),), "theme"),),
    )
    content = with_briefs(content, {1: made})
    data = json.loads(json.dumps(content.to_dict(), ensure_ascii=False))
    assert data == content.to_dict()
    (reports,) = [s for s in data["sections"] if s["id"] == "reports"]
    assert reports["items"][0]["brief"]["groups"][0]["points"] == [
        {"text": "A point about the market.", "paragraph": 2}
    ]
    rebuilt = IssueContent.from_dict(data)
    assert rebuilt == content
    assert section(rebuilt, "reports").items[0].brief == made


def test_published_is_iso_utc() -> None:
    when = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)
    content = assemble_issue(CONFIG, PERIOD, [candidate(1, published=when)])
    assert section(content, "headlines").items[0].published == "2026-11-20T18:00:00+00:00"


def test_custom_period() -> None:
    custom = Period(
        label="custom",
        send_at=datetime(2026, 1, 2, tzinfo=UTC),
        start=datetime(2026, 1, 1, tzinfo=UTC),
        end=datetime(2026, 1, 2, tzinfo=UTC),
    )
    inside = candidate(1, published=datetime(2026, 1, 1, 12, tzinfo=UTC))
    outside = candidate(2, published=datetime(2026, 1, 3, tzinfo=UTC))
    assert ids(assemble_issue(CONFIG, custom, [inside, outside]), "headlines") == [1]


# -- relevance, per-source cap, unknown dates ---------------------------------------------------


def test_left_out_items_are_counted_with_their_reasons_and_never_shown() -> None:
    shown = candidate(1)
    noise = [
        candidate(2, section=None, reason="not relevant (score 0.12)", suggested="headlines"),
        candidate(3, section=None, reason="not relevant (score 0.30)", suggested="industry"),
        candidate(4, section=None, reason="excluded by rule '招聘'", suggested="industry"),
    ]
    content = assemble_issue(CONFIG, PERIOD, [shown, *noise])
    assert [i.id for s in content.sections for i in s.items] == [1]
    assert content.left_out == 3
    assert content.left_out_reasons == [["not relevant", 2], ["excluded by rule '招聘'", 1]]


def test_an_editor_restores_a_left_out_item_into_its_suggested_section() -> None:
    left = candidate(2, section=None, reason="not relevant (score 0.12)", suggested="industry")
    restored = assemble_issue(
        CONFIG, PERIOD, [candidate(1), left], EditorChoices(restores={2: None})
    )
    assert ids(restored, "industry") == [2]
    assert restored.left_out == 0
    item = section(restored, "industry").items[0]
    assert item.section_reason == "restored by the editor (not relevant (score 0.12))"
    placed = assemble_issue(
        CONFIG, PERIOD, [candidate(1), left], EditorChoices(restores={2: "headlines"})
    )
    assert ids(placed, "headlines") == [2, 1]  # restored: kept first, like a pin
    # ... but not marked pinned: an "Unpin" of it would undo nothing (the restore stays)
    assert [i.pinned for i in section(placed, "headlines").items] == [False, False]
    both = assemble_issue(
        CONFIG, PERIOD, [candidate(1), left], EditorChoices(pins={2: "headlines"})
    )
    assert [i.pinned for i in section(both, "headlines").items] == [True, False]
    # One story, one report pinned and a heavier one restored: the pinned one leads (and is
    # marked pinned, so the workbench offers to unpin it).
    url = "https://example.com/glp1"
    story = assemble_issue(
        CONFIG,
        PERIOD,
        [
            candidate(1, "FDA approves oral GLP-1", feed="Light", weight=0.8, url=url),
            candidate(2, "FDA approves first oral GLP-1 pill", feed="STAT", weight=1.5, url=url),
        ],
        EditorChoices(pins={1: None}, restores={2: None}),
    )
    (lead,) = section(story, "headlines").items
    assert (lead.id, lead.pinned, lead.related_ids) == (1, True, [2])


def test_per_source_cap_keeps_one_feed_from_filling_a_section() -> None:
    one_feed = [candidate(n, feed="Busy Account") for n in range(1, 7)]
    others = [candidate(10, feed="Other A"), candidate(11, feed="Other B")]
    content = assemble_issue(make_config(per_source_cap=3), PERIOD, one_feed + others)
    shown = section(content, "headlines").items
    assert sum(1 for i in shown if i.source == "Busy Account") == 3
    assert {10, 11} <= {i.id for i in shown}
    # A pin is the editor's choice: it is not capped.
    pinned = assemble_issue(
        make_config(per_source_cap=3), PERIOD, one_feed, EditorChoices(pins={6: None})
    )
    assert sum(1 for i in section(pinned, "headlines").items if i.source == "Busy Account") == 4


def test_an_item_with_an_unknown_date_never_leads_the_hot_topics() -> None:
    undated = candidate(1, section="hot_topics", weight=5.0, date_unknown=True)
    dated = candidate(2, section="hot_topics", weight=1.0)
    content = assemble_issue(CONFIG, PERIOD, [undated, dated])
    hot = section(content, "hot_topics").items
    assert [i.id for i in hot] == [2, 1]
    assert hot[1].date_unknown is True
    alone = assemble_issue(CONFIG, PERIOD, [undated])
    assert section(alone, "hot_topics").items == []


def test_relevance_weighs_in_the_ranking() -> None:
    sure = candidate(1, relevance=0.95)
    unsure = candidate(2, relevance=0.40)
    assert score(sure, PERIOD) > score(unsure, PERIOD)
    assert ids(assemble_issue(CONFIG, PERIOD, [unsure, sure]), "headlines") == [1, 2]


def test_a_restored_item_shows_even_in_a_full_section() -> None:
    full = [candidate(n, feed=f"Feed {n}", relevance=0.99) for n in range(1, 30)]
    left = candidate(
        99, section=None, reason="not relevant (score 0.05)", suggested="headlines", relevance=0.05
    )
    content = assemble_issue(CONFIG, PERIOD, [*full, left], EditorChoices(restores={99: None}))
    shown = section(content, "headlines").items
    assert shown[0].id == 99 and len(shown) == CONFIG.section("headlines").max_items
