"""newsletter.domain.editorial.keypoints: 3-5 extracted sentences in article order, with citations."""

from __future__ import annotations

from collections import Counter

import pytest

from newsletter.domain.editorial.keypoints import (
    MAX_CHARS,
    KeyPoint,
    key_points,
    split_paragraphs,
    split_sentences,
)

EN = [
    "Acme Health raised $25 million in a Series A round led by Foo Ventures. The company builds "
    "remote monitoring software for heart failure patients. It was founded in 2021 in Boston.",
    "The new funding will be used to expand the remote monitoring platform to 50 hospitals. "
    "Acme Health also plans to hire 40 engineers and clinicians next year.",
    "Heart failure affects more than six million adults in the United States. Remote monitoring "
    "can cut readmissions for heart failure patients by a quarter, according to studies.",
    "Foo Ventures partner Jane Doe will join the Acme Health board. She said remote monitoring "
    "is the fastest-growing part of cardiology.",
    "Acme Health previously raised a $5 million seed round in 2022.",
]

ZH = [
    "合源医疗宣布完成近亿元A轮融资，本轮由远澜投资领投。公司专注于县域医共体的远程心电监测服务。",
    "本轮融资将用于远程心电监测产品的研发和县域市场的拓展。公司计划明年覆盖全国300家县级医院！",
    "据统计，我国心血管病患者约3.3亿人。远程心电监测可以显著提升基层医院的诊断能力。",
    "远澜投资合伙人表示，县域医疗市场是未来十年最重要的增长点之一？这一判断得到多位专家认同。",
    "合源医疗此前曾获得数千万元天使轮融资，投资方为星桥天使。",
]

ONE_PARAGRAPH = [
    "Acme Health raised $25 million for heart monitoring. The heart monitoring market is growing "
    "fast. Acme Health sells heart monitoring to hospitals. Hospitals buy heart monitoring from "
    "Acme Health. Heart monitoring saves hospitals money every single year."
]


def check_points(points: list[KeyPoint], paragraphs: list[str]) -> None:
    for point in points:
        assert 1 <= point.paragraph <= len(paragraphs)
        text = point.text.removesuffix("…")
        assert text
        assert text in paragraphs[point.paragraph - 1]
    # article order: paragraph numbers, then position inside the paragraph, never go back
    positions = [
        (p.paragraph, paragraphs[p.paragraph - 1].index(p.text.removesuffix("…"))) for p in points
    ]
    assert positions == sorted(positions)
    assert len(set(positions)) == len(positions)
    assert max(Counter(p.paragraph for p in points).values(), default=0) <= 2


@pytest.mark.parametrize(("paragraphs", "lang"), [(EN, "en"), (ZH, "zh"), (ZH, "zh-CN")])
def test_key_points_cite_paragraphs_in_order(paragraphs: list[str], lang: str) -> None:
    points = key_points(paragraphs, lang)
    assert 3 <= len(points) <= 5
    check_points(points, paragraphs)


def test_limit_and_minimum() -> None:
    many = EN * 3
    assert len(key_points(many, "en")) == 5
    assert len(key_points(many, "en", limit=3)) == 3
    check_points(key_points(many, "en"), many)


def test_lead_paragraph_is_cited() -> None:
    points = key_points(EN, "en")
    assert points[0].paragraph == 1
    assert "Series A" in points[0].text


def test_at_most_two_points_from_one_paragraph() -> None:
    points = key_points(ONE_PARAGRAPH, "en")
    assert len(points) == 2
    check_points(points, ONE_PARAGRAPH)


@pytest.mark.parametrize(
    "paragraphs",
    [
        [],
        [""],
        ["   "],
        ["。！？"],
        ["Short."],
        ["One sentence only that is reasonably long for testing purposes."],
        ["只有一句话的中文段落内容。"],
        ["First paragraph sentence here.", "Second paragraph sentence here."],
        # three sentences, but one is too short to be body text
        ["First paragraph sentence here.", "Second paragraph sentence here.", "Read more."],
    ],
)
def test_fewer_than_three_body_sentences_give_no_key_points(paragraphs: list[str]) -> None:
    assert key_points(paragraphs, "en") == []


def test_three_body_sentences_are_enough() -> None:
    paragraphs = [
        "Acme Health raised $25 million in a Series A round.",
        "The money will expand its remote monitoring platform.",
        "It plans to hire 40 engineers next year.",
    ]
    points = key_points(paragraphs, "en")
    assert len(points) == 3
    check_points(points, paragraphs)
    assert [p.paragraph for p in points] == [1, 2, 3]


# A WeChat bridge item (../shared/corpus/wechat): content:encoded repeats the title.
WECHAT_TITLE = "重磅！国家医保局：2021年医保目录调整工作方案公布，这些药有望进入目录？"


@pytest.mark.parametrize(
    "paragraphs",
    [
        [WECHAT_TITLE],  # the title as the only text
        [WECHAT_TITLE, WECHAT_TITLE],
        [
            "重磅！",
            "国家医保局：2021年医保目录调整工作方案公布，",
            "这些药有望进入目录？",
        ],  # split in pieces
        [WECHAT_TITLE + "（来源：医药魔方）"],  # the title plus a source tag
    ],
)
def test_no_key_point_is_made_of_the_title(paragraphs: list[str]) -> None:
    assert key_points(paragraphs, "zh", title=WECHAT_TITLE) == []


def test_title_sentences_are_left_out_of_real_text() -> None:
    title = "FDA approves Acme's heart failure drug"
    paragraphs = [
        "FDA approves Acme's heart failure drug.",
        *EN,
    ]
    points = key_points(paragraphs, "en", title=title)
    assert points
    assert all("FDA approves" not in p.text for p in points)
    assert min(p.paragraph for p in points) >= 2
    check_points(points, paragraphs)


def test_very_long_sentence_is_shortened_with_ellipsis() -> None:
    long_sentence = "Acme Health " + "remote monitoring platform " * 30 + "expands."
    paragraphs = [
        long_sentence,
        "Acme Health remote monitoring is used in 50 hospitals.",
        "Acme Health remote monitoring will reach 80 hospitals next year.",
    ]
    points = key_points(paragraphs, "en")
    long_points = [p for p in points if p.paragraph == 1]
    assert long_points
    assert len(long_points[0].text) == MAX_CHARS
    assert long_points[0].text.endswith("…")
    check_points(points, paragraphs)


def test_key_point_to_dict() -> None:
    assert KeyPoint("A point.", 2).to_dict() == {"text": "A point.", "paragraph": 2}


@pytest.mark.parametrize(
    ("paragraph", "sentences"),
    [
        ("第一句。第二句！第三句？第四句", ["第一句。", "第二句！", "第三句？", "第四句"]),
        ("融资完成；资金到位。", ["融资完成；资金到位。"]),  # a short sentence keeps its ；
        ("First one. Second one. Third one.", ["First one.", "Second one.", "Third one."]),
        ("It raised $2.5 million. Next it hires.", ["It raised $2.5 million.", "Next it hires."]),
        ("Sales rose. 2026 was strong.", ["Sales rose.", "2026 was strong."]),
        ("Really? Yes! Fine.", ["Really?", "Yes!", "Fine."]),
        ("e.g. this stays whole", ["e.g. this stays whole"]),
        ("version 2.0 ships", ["version 2.0 ships"]),
        ("中英混排。Then English. 2 more.", ["中英混排。", "Then English.", "2 more."]),
        ("", []),
        ("   ", []),
    ],
)
def test_split_sentences(paragraph: str, sentences: list[str]) -> None:
    assert split_sentences(paragraph) == sentences


def test_split_paragraphs() -> None:
    text = (
        "First paragraph is long enough.\n\nSecond paragraph is long enough.\n"
        "short\nThird one is long enough too."
    )
    assert split_paragraphs(text) == [
        "First paragraph is long enough.",
        "Second paragraph is long enough.",
        "Third one is long enough too.",
    ]
