"""newsletter.domain.paragraphs: feed HTML keeps its paragraphs and list items; source tags and
glued heading runs are dropped."""

from __future__ import annotations

import pytest

from newsletter.domain.paragraphs import (
    MAX_BLOCKS,
    TextBlock,
    blocks_text,
    body_paragraphs,
    clean_paragraph,
    html_blocks,
    text_blocks,
)
from newsletter.domain.text import clean_html

# A full-text feed item as long-form health sites send it (div soup, h2, a bold lead-in, a list).
ARTICLE = """
<div class="field-body"><h2>Key findings</h2></div>
<div>WASHINGTON (Reuters) - The U.S. Food and Drug Administration approved the drug on Friday.
Shares rose 4.5% in early trading.</div>
<p><strong>Why it matters:</strong> The approval opens a market worth $2 billion a year.</p>
<ul><li>The trial enrolled 1,200 patients.</li><li>No new safety signals were seen.</li></ul>
<p>By Jane Doe | Dr. Smith said the data were <b>robust</b>.</p>
<p>Photo: A nurse prepares an injection.</p>
<p><b>Acme Health</b> raised $25 million last year.</p>
"""


def test_blocks_of_a_full_text_item() -> None:
    assert html_blocks(ARTICLE) == [
        TextBlock("Key findings", "heading"),
        TextBlock(
            "The U.S. Food and Drug Administration approved the drug on Friday. "
            "Shares rose 4.5% in early trading.",
            "paragraph",
        ),
        TextBlock("Why it matters:", "heading"),
        TextBlock("The approval opens a market worth $2 billion a year.", "paragraph"),
        TextBlock("The trial enrolled 1,200 patients.", "item"),
        TextBlock("No new safety signals were seen.", "item"),
        TextBlock("Dr. Smith said the data were robust.", "paragraph"),
        TextBlock("Acme Health raised $25 million last year.", "paragraph"),
    ]


def test_the_same_blocks_survive_sanitizing() -> None:
    """parse.py stores clean_html(..., keep_blocks=True); articles.py reads blocks from it."""
    assert html_blocks(clean_html(ARTICLE, keep_blocks=True)) == html_blocks(ARTICLE)


def test_without_keep_blocks_divs_run_together() -> None:
    """Why keep_blocks exists: the allow-list drops div and h2 with their structure."""
    flat = html_blocks(clean_html("<h2>Key findings</h2><div>The study found a drop.</div>"))
    assert flat == [TextBlock("Key findingsThe study found a drop.")]


ZH_ARTICLE = """
<section><p>（来源：新华社）国家医保局6月18日发布通知，明确了2021年医保目录调整方案。</p></section>
<section><strong>一、行业概况</strong></section>
<section><span>据统计，我国心血管病患者约3.3亿人。（来源：动脉网）</span></section>
<p>文/记者 张三 李四 6月18日，多家药企表示将积极参与。</p>
<p>【导读】本文梳理了集采以来的主要政策。</p>
<p>编辑：王五 审核：赵六</p>
<p>点击阅读原文</p>
"""


def test_blocks_of_a_chinese_item() -> None:
    assert html_blocks(ZH_ARTICLE) == [
        TextBlock("国家医保局6月18日发布通知，明确了2021年医保目录调整方案。"),
        TextBlock("一、行业概况", "heading"),
        TextBlock("据统计，我国心血管病患者约3.3亿人。"),
        TextBlock("6月18日，多家药企表示将积极参与。"),
        TextBlock("本文梳理了集采以来的主要政策。"),
    ]


def test_br_lines_are_blocks_and_source_newlines_are_spaces() -> None:
    html = "<p>First line of the\nsame sentence here.<br>Second line.<br/><br />Third.</p>"
    assert [b.text for b in html_blocks(html)] == [
        "First line of the same sentence here.",
        "Second line.",
        "Third.",
    ]


def test_body_and_summary_text() -> None:
    blocks = html_blocks(ARTICLE)
    body = body_paragraphs(blocks)
    assert "Key findings" not in body and "Why it matters:" not in body
    assert len(body) == 6
    assert blocks_text(blocks).startswith("The U.S. Food and Drug Administration approved")
    # a one-line description that looks like a heading is still the text
    one = html_blocks("<p><strong>Acme raises $25M for heart monitoring</strong></p>")
    assert blocks_text(one) == "Acme raises $25M for heart monitoring"


@pytest.mark.parametrize(
    ("paragraph", "expected"),
    [
        # source tags and bylines at the start
        ("（来源：新华社）国家医保局发布通知。", "国家医保局发布通知。"),
        ("(来源: 动脉网) 国家医保局发布通知。", "国家医保局发布通知。"),
        ("文/记者 张三 6月18日，国家医保局发布通知。", "6月18日，国家医保局发布通知。"),
        ("WASHINGTON (Reuters) - The FDA approved the drug.", "The FDA approved the drug."),
        (
            "NEW YORK, June 3 (Reuters) - Pfizer Inc said on Monday it would buy Seagen.",
            "Pfizer Inc said on Monday it would buy Seagen.",
        ),
        (
            "(Reuters Health) - Obesity rates rose again in 2023.",
            "Obesity rates rose again in 2023.",
        ),
        ("By Jane Doe | The FDA approved the drug.", "The FDA approved the drug."),
        (
            "By Jane Doe and John Roe, STAT — The FDA approved the drug.",
            "The FDA approved the drug.",
        ),
        ("Source: Reuters | The FDA approved the drug.", "The FDA approved the drug."),
        # and at the end
        (
            "国家医保局发布通知，明确了调整方案（来源：国家医保局）。",
            "国家医保局发布通知，明确了调整方案。",
        ),
        ("The FDA approved the drug. (Source: FDA)", "The FDA approved the drug."),
        ("(Source: FDA) The agency will hold a webinar.", "The agency will hold a webinar."),
        # a paragraph that is only a credit line or boilerplate
        ("来源：新华社", ""),
        ("编辑：张三 审核：李四", ""),
        ("Source: Reuters", ""),
        ("By Jane Doe", ""),
        ("(Reporting by Jane Doe; Editing by Bill Berkrot)", ""),
        ("Read more", ""),
        ("阅读原文", ""),
        # glued heading runs
        (
            "Key findings The study found a 20% drop in events.",
            "The study found a 20% drop in events.",
        ),
        (
            "New Drug Approvals In 2023, the FDA approved 55 drugs.",
            "In 2023, the FDA approved 55 drugs.",
        ),
        ("一、行业概况 据统计，我国有3亿患者。", "据统计，我国有3亿患者。"),
        ("【导读】本文介绍了集采。", "本文介绍了集采。"),
        ("（来源：动脉网）【重磅】国家医保局发布通知。", "国家医保局发布通知。"),
    ],
)
def test_clean_paragraph_drops_tags_and_glued_headings(paragraph: str, expected: str) -> None:
    assert clean_paragraph(paragraph) == expected


@pytest.mark.parametrize(
    "paragraph",
    [
        # sentences that only look like it: left whole
        "Researchers said The Lancet study was flawed.",
        "Doctors at The Johns Hopkins Hospital said the trial was stopped.",
        "Acme Health raised $25 million last year.",
        "President Biden said on Monday that prices would fall.",
        "Source code for the model was released on GitHub, the company said in a long statement that followed.",
        "来源于临床的数据显示，该药物有效。",
        "国家医保局近日发布通知。",
        "By the end of 2023, the FDA had approved 55 new drugs.",
    ],
)
def test_clean_paragraph_keeps_real_sentences(paragraph: str) -> None:
    assert clean_paragraph(paragraph) == paragraph


def test_plain_text_blocks() -> None:
    text = "（来源：新华社）第一段。\n\n\nKey findings\nThe study found a drop in events at all sites.\n"
    assert text_blocks(text) == [
        TextBlock("第一段。"),
        TextBlock("Key findings", "heading"),
        TextBlock("The study found a drop in events at all sites."),
    ]


def test_hostile_input() -> None:
    # markers cannot be forged by feed text; script and style content never becomes text
    forged = "<p>\ue002Fake heading\ue000x\ue001</p><script>alert(1)\n</script><style>p{}</style>"
    assert html_blocks(forged) == [TextBlock("Fake headingx")]
    # the work is bounded
    many = "<p>A sentence of text here.</p>" * 10_000
    assert len(html_blocks(many)) <= MAX_BLOCKS
    assert html_blocks("<p>" + "x" * 1_000_000) != []


# ---- sanitized HTML: tags dropped without parsing it again ---------------------------------
SANITIZED_CASES = [
    ARTICLE,
    "<p>Plain &amp; simple &lt;not a tag&gt; 5 &gt; 3, caf&eacute; a&nbsp;b</p>",
    '<p>See <a href="https://example.com/a?x=1&y=2" title="a > b &quot;q&quot;">the study</a>.</p>',
    '<p><a title="<p>inside</p>" href="/x">link</a> after</p>',  # a tag in an attribute value
    '<p>x="y" <em>z</em> "quoted" <strong>bold</strong></p>',
    "<h1>Big</h1><h4>Small</h4><p>Text<br>line<br/>two</p><pre>\ncode</pre><code>a<b</code>",
    "<ul><li><strong>Lead:</strong> rest</li><LI>upper</LI></ul><B>bold</B> text",
    "no markup at all, & a lone ampersand \r\n and a line break",
    "<!-- comment --><script>evil()</script><style>p{}</style><p>kept</p>",
    "<table><tr><td>cell</td><td>two</td></tr></table>",
    "\ue000forged\ue002 markers <p>\ue003x</p>",
]


@pytest.mark.parametrize("raw", SANITIZED_CASES)
@pytest.mark.parametrize("clean_first", [None, 3])
def test_sanitized_fragments_give_the_blocks_nh3_gives(raw: str, clean_first: int | None) -> None:
    """html_blocks(sanitized=True) drops clean_html's tags without parsing the fragment again:
    the same blocks as through nh3, also where a tag sits in an attribute value and where
    clean_html's length limit cuts a tag short (then it asks nh3)."""
    for limit in (20_000, len(raw) // 2, 17, 5):
        html = clean_html(raw, max_chars=limit, base="https://example.com/feed", keep_blocks=True)
        assert html_blocks(html, clean_first, sanitized=True) == html_blocks(html, clean_first)
