"""The financing table over stories (issue 12): one row per round across outlets and languages,
totals without a double count, and a dropped row never lets another report of a story in.
Facts come from the real detectors on constructed titles."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from newsletter.config import parse_config
from newsletter.domain.assemble import Candidate, assemble_issue, financing_rows
from newsletter.domain.content import EditorChoices, IssueContent
from newsletter.domain.editorial.financing import detect_financing, detect_financings
from tests.conftest import SECTIONS, newsletter_block
from tests.domain.test_assemble import CONFIG, PERIOD, candidate, ids, section

ZH = "松果医疗Pinecone完成2亿元人民币B轮融资，红杉中国领投"
EN = "Pinecone Medical raises $28M Series B led by Sequoia China"
OTHER = [
    ("云杉生物完成5000万美元A轮融资", "zh"),
    ("Larchwood Diagnostics lands $12M seed round", "en"),
    ("白桦医疗完成3亿元C轮融资", "zh"),
]


def financing_candidate(n: int, title: str, lang: str, feed: str, hours: int = 0) -> Candidate:
    fact = detect_financing(title, "", lang)
    assert fact is not None, title
    return replace(
        candidate(
            n,
            title,
            feed=feed,
            language=lang,
            section="financing",
            published=PERIOD.end - timedelta(days=1, hours=hours),
        ),
        facts={"financing": fact.to_dict()},
    )


def week() -> list[Candidate]:
    items = [
        financing_candidate(1, ZH, "zh", "投资界"),
        financing_candidate(2, EN, "en", "Fierce Biotech", hours=3),
    ]
    items += [
        financing_candidate(10 + n, title, lang, f"Feed {n}", hours=n + 5)
        for n, (title, lang) in enumerate(OTHER)
    ]
    return items


def test_same_round_in_english_and_chinese_is_one_row_counted_once() -> None:
    content = assemble_issue(CONFIG, PERIOD, week())
    rows = section(content, "financing").items
    pinecone = [row for row in rows if row.id in (1, 2)]
    assert len(pinecone) == 1
    assert len(pinecone[0].also_reported_by) == 1  # the other outlet is named, not listed
    assert len(rows) == 1 + len(OTHER)
    assert sum(total["rounds"] for total in content.financing_totals) == len(rows)
    # The CNY total holds the 2亿元 once, whichever report leads the row.
    cny = next(t for t in content.financing_totals if t["currency"] == "CNY")
    lead = pinecone[0].facts["financing"]
    expected_cny = 3e8 + (2e8 if lead["currency"] == "CNY" else 0)
    assert cny["low"] == expected_cny


def test_dropping_a_row_never_brings_a_duplicate_of_a_row_in() -> None:
    items = week()
    shown = ids(assemble_issue(CONFIG, PERIOD, items), "financing")
    for dropped in shown:
        after = assemble_issue(CONFIG, PERIOD, items, EditorChoices(drops=frozenset({dropped})))
        rows = ids(after, "financing")
        assert dropped not in rows
        # Neither the dropped round from the other outlet nor two reports of one round.
        assert not ({1, 2} & set(rows) and dropped in (1, 2))
        assert len({1, 2} & set(rows)) <= 1
        assert sum(t["rounds"] for t in after.financing_totals) == len(rows)


def test_a_pinned_report_of_a_dropped_row_stays() -> None:
    # The editor drops one outlet's report and pins the other: the pin wins.
    choices = EditorChoices(drops=frozenset({1}), pins={2: "financing"})
    rows = ids(assemble_issue(CONFIG, PERIOD, week(), choices), "financing")
    assert 2 in rows and 1 not in rows


def test_rounds_of_two_companies_with_the_same_sum_stay_two_rows() -> None:
    a = financing_candidate(1, "松果医疗完成2亿元B轮融资", "zh", "投资界")
    b = financing_candidate(2, "Cedar Medical raises $28M Series B", "en", "Fierce Biotech")
    rows = ids(assemble_issue(CONFIG, PERIOD, [a, b]), "financing")
    assert sorted(rows) == [1, 2]


# --- two deals in one title (issue 12): each its own row, counted once ---------------------

TWO_DEALS = "康宁医疗完成1亿元B轮融资，安远生物获数千万元天使轮"


def deals_candidate(n: int, title: str, lang: str, feed: str, hours: int = 0) -> Candidate:
    """A financing item with every deal the real detector finds in its title."""
    facts = detect_financings(title, "", lang)
    assert facts, title
    stored: dict[str, object] = {"financing": facts[0].to_dict()}
    if len(facts) > 1:
        stored["financing_more"] = [f.to_dict() for f in facts[1:]]
    return replace(
        candidate(
            n,
            title,
            feed=feed,
            language=lang,
            section="financing",
            published=PERIOD.end - timedelta(days=1, hours=hours),
        ),
        facts=stored,
    )


def table(content: IssueContent) -> list[tuple[str, str]]:
    return [
        (fin["company"], fin["round"])
        for item in section(content, "financing").items
        for fin in financing_rows(item.facts)
    ]


def test_two_deals_in_one_title_are_two_rows_and_both_in_the_total() -> None:
    content = assemble_issue(CONFIG, PERIOD, [deals_candidate(1, TWO_DEALS, "zh", "投资界")])
    assert table(content) == [("康宁医疗", "b"), ("安远生物", "angel")]
    cny = next(t for t in content.financing_totals if t["currency"] == "CNY")
    # 1亿元 plus 数千万元 (10 million to 100 million): two rounds, each counted once.
    assert (cny["rounds"], cny["low"], cny["high"]) == (2, 1e8 + 1e7, 1e8 + 1e8)


def test_a_second_outlet_reporting_one_of_the_deals_adds_no_row() -> None:
    items = [
        deals_candidate(1, TWO_DEALS, "zh", "投资界"),
        deals_candidate(2, "安远生物获数千万元天使轮融资", "zh", "动脉网", hours=2),
        deals_candidate(3, "云杉生物完成5000万美元A轮融资", "zh", "36氪", hours=4),
    ]
    content = assemble_issue(CONFIG, PERIOD, items)
    rows = table(content)
    assert sorted(rows) == sorted([("康宁医疗", "b"), ("安远生物", "angel"), ("云杉生物", "a")])
    # The outlet whose only round is already a row is named on that row's item.
    lead = section(content, "financing").items[0]
    assert lead.id == 1 and [o["source"] for o in lead.also_reported_by] == ["动脉网"]
    assert sum(t["rounds"] for t in content.financing_totals) == len(rows) == 3
    cny = next(t for t in content.financing_totals if t["currency"] == "CNY")
    assert cny["low"] == 1e8 + 1e7  # the 天使轮 once, not twice


def test_a_deal_outside_the_topic_is_no_row_and_not_in_the_total() -> None:
    config = parse_config(
        {
            "newsletter": newsletter_block(),
            "sections": SECTIONS,
            "topic": {"per_source_cap": 100, "financing_sector": "healthcare"},
        },
        Path("/srv/feeds.yaml"),
    )
    title = "康宁医疗完成1亿元B轮融资；星驰汽车获10亿元C轮融资"
    item = deals_candidate(1, title, "zh", "投资界")
    assert [f["sector"] for f in financing_rows(item.facts)] == ["healthcare", "other"]
    content = assemble_issue(config, PERIOD, [item])
    assert table(content) == [("康宁医疗", "b")]
    assert [(t["currency"], t["low"], t["rounds"]) for t in content.financing_totals] == [
        ("CNY", 1e8, 1)
    ]
