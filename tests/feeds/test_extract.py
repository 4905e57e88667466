"""newsletter.feeds.extract: an article page to its paragraphs and list items, in page order."""

from __future__ import annotations

import pytest

from newsletter.domain.paragraphs import TextBlock, join_article, split_article
from newsletter.errors import FeedError
from newsletter.feeds.extract import article_blocks, article_paragraphs

PAGE = """<html><head><title>FDA approves Acme drug</title></head><body>
<nav><a href="/">Home</a> · <a href="/news">News</a></nav>
<article>
<h1>FDA approves Acme's heart failure drug</h1>
<p>WASHINGTON (Reuters) - The U.S. Food and Drug Administration approved Acme Inc.'s drug for
adults with heart failure on Friday. Shares rose 4.5% in early trading.</p>
<h2>Key findings</h2>
<p>The study enrolled 1,200 patients across 40 sites in the United States and Europe.
Results were consistent across subgroups.</p>
<ul><li>The primary endpoint was met with a hazard ratio of 0.72.</li>
<li>No new safety signals were seen in the treated group.</li></ul>
<p>Dr. Jane Smith, who led the trial, said the results were<br>"a turning point for patients."</p>
<p>(Reporting by Jane Doe; Editing by Bill Berkrot)</p>
</article><footer>© Site 2024</footer></body></html>"""


def test_paragraphs_and_list_items_in_order() -> None:
    paragraphs = article_paragraphs(PAGE.encode(), "https://news.example.com/a")
    assert paragraphs == [
        "The U.S. Food and Drug Administration approved Acme Inc.'s drug for adults with heart "
        "failure on Friday. Shares rose 4.5% in early trading.",
        "The study enrolled 1,200 patients across 40 sites in the United States and Europe. "
        "Results were consistent across subgroups.",
        "The primary endpoint was met with a hazard ratio of 0.72.",
        "No new safety signals were seen in the treated group.",
        'Dr. Jane Smith, who led the trial, said the results were "a turning point for patients."',
    ]


ZH_PAGE = """<html><head><title>国家医保局发布通知</title></head><body><div class="rich_media_content">
<h1>国家医保局发布2021年医保目录调整方案</h1>
<p>（来源：国家医保局）6月18日，国家医保局发布《2021年国家医保药品目录调整工作方案》，明确了调整范围和程序。</p>
<p><strong>一、调整范围</strong></p>
<p>本次调整将重点考虑新冠肺炎治疗用药、国家重大公共卫生用药以及罕见病用药等。</p>
<p>业内人士表示：“这是医保目录连续第四年动态调整。”多家药企已开始准备申报材料。</p>
<p>编辑：张三 审核：李四</p>
</div></body></html>"""


def test_a_chinese_page() -> None:
    paragraphs = article_paragraphs(ZH_PAGE.encode(), "https://news.example.cn/a")
    assert paragraphs[0].startswith("6月18日，国家医保局发布")
    assert "一、调整范围" not in paragraphs  # a heading, not a paragraph
    assert paragraphs[-1].startswith("业内人士表示")
    assert not any("编辑" in p for p in paragraphs)


@pytest.mark.parametrize(
    "body", [b"", b"<html><body><nav>Home</nav></body></html>", b"\x00\x01\x02"]
)
def test_no_text_is_a_feed_error(body: bytes) -> None:
    with pytest.raises(FeedError):
        article_paragraphs(body, "https://news.example.com/a")


def test_blocks_keep_the_subheadings_between_paragraphs() -> None:
    blocks = article_blocks(PAGE.encode(), "https://news.example.com/a")
    assert [b.text for b in blocks if b.kind != "heading"] == article_paragraphs(
        PAGE.encode(), "https://news.example.com/a"
    )
    kinds = [(b.kind, b.text[:12]) for b in blocks]
    assert ("heading", "Key findings") in kinds
    assert kinds.index(("heading", "Key findings")) == 1  # after the first paragraph
    # the headline (h1) is no subheading
    assert not any(b.kind == "heading" and "approves" in b.text for b in blocks)


def test_a_chinese_bold_line_is_a_subheading() -> None:
    blocks = article_blocks(ZH_PAGE.encode(), "https://news.example.cn/a")
    assert TextBlock("一、调整范围", "heading") in blocks


def test_stored_text_keeps_headings_and_cannot_be_forged() -> None:
    # (a page of its own: trafilatura's deduplicate option drops text it has seen in the
    # process a few times before)
    page = (
        "<html><body><article><p>The board approved the hospital merger on Tuesday evening.</p>"
        "<h2>Terms of the deal</h2><p>\ue002The combined system will run twelve hospitals in "
        "three states.</p><p>\ue002\ue000Staff contracts stay in place for two years.</p>"
        "</article></body></html>"
    )
    blocks = article_blocks(page.encode(), "https://news.example.com/b")
    assert [b.kind for b in blocks] == ["paragraph", "heading", "paragraph", "paragraph"]
    assert not any("\ue002" in b.text or "\ue000" in b.text for b in blocks)
    stored = join_article(blocks)
    assert split_article(stored) == blocks
    # texts stored before headings were kept: paragraphs only
    assert split_article("First paragraph.\n\nSecond paragraph.") == [
        TextBlock("First paragraph."),
        TextBlock("Second paragraph."),
    ]
