"""The financing table over stories (issue 12): one row per round across outlets and languages,
totals without a double count, and a dropped row never lets another report of a story in.
Facts come from the real detectors on constructed titles."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from newsletter.domain.assemble import Candidate, assemble_issue
from newsletter.domain.content import EditorChoices
from newsletter.domain.editorial.financing import detect_financing
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
