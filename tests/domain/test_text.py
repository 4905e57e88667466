"""newsletter.domain.text: a summary that only repeats its title is no summary (real examples)."""

from __future__ import annotations

import pytest

from newsletter.domain.text import summary_repeats_title, summary_without_title

# (title, summary) pairs as real feeds send them: ../shared/corpus (wechat/, feeds/).
REPEATS = [
    # WeChat bridge: content:encoded is the title itself
    (
        "姜超对话姜诚：如何挖掘未来10年的投资机会（续）",
        "姜超对话姜诚：如何挖掘未来10年的投资机会（续）",
    ),
    # the same, with other spacing and full-width punctuation
    ("三十而已，感恩，再出发", "三十而已, 感恩, 再出发"),
    # a piece of the title (a teaser cut short)
    (
        "对于控制地方债务率及摊余债基攀升的思考——海通固收利率债周报",
        "对于控制地方债务率及摊余债基攀升的思考",
    ),
    # the title plus a source tag or an account name
    (
        "集采趋势 | 后集采时代本土药企何去何从？",
        "集采趋势 | 后集采时代本土药企何去何从？（来源：动脉网）",
    ),
    ("Pediatric Drooling", "Dr. Piera Taylor: Pediatric Drooling"),  # netnewswire expertopinionent
    (
        "FDA approves first RSV vaccine for older adults",
        "FDA approves first RSV vaccine for older adults - Reuters",
    ),
    # the title merely extended by a few words (rss-parser encoding.rss)
    (
        "Hugo Miguel é o árbitro escolhido para apitar o Benfica-Sporting",
        "Hugo Miguel é o árbitro escolhido para apitar o Benfica-Sporting, esta quarta-feira à noite.",
    ),
    # case only (miniflux small_atom commit titles)
    ("Update changeLog", "update changelog"),
    # no letters at all
    ("Acme raises $25M", "…"),
]

KEEPS = [
    # real teasers of WeChat accounts: a sentence of their own
    ("快速老龄化下的中国医药工业是否朝阳依旧？", "老龄化=有效医药市场么？"),
    (
        "十四五规划与医药健康相关的条款解读",
        "令人瞩目的十四五规划正式公布了。涉及到医药健康相关的主要有两条。",
    ),
    (
        "重磅文件 | 快速解读《国务院办公厅关于推动药品集中带量采购工作常态化制度化开展的意见》",
        "重磅文件 | 快速解读【国办发〔2021〕2号】",
    ),
    ("FDA approves drug", "The agency approved the drug for adults with heart failure on Friday."),
]


@pytest.mark.parametrize(("title", "summary"), REPEATS)
def test_a_summary_that_repeats_its_title_is_none(title: str, summary: str) -> None:
    assert summary_repeats_title(summary, title)
    assert summary_without_title(summary, title) == ""


@pytest.mark.parametrize(("title", "summary"), KEEPS)
def test_a_summary_with_its_own_words_is_kept(title: str, summary: str) -> None:
    assert not summary_repeats_title(summary, title)
    assert summary_without_title(summary, title) == summary


@pytest.mark.parametrize(
    ("title", "summary", "expected"),
    [
        # miniflux small_atom: the commit title, then its message
        (
            "Make use of HashFromBytes everywhere",
            "Make use of HashFromBytes everywhere It feels a bit silly to have a function and to not make use of it.",
            "It feels a bit silly to have a function and to not make use of it.",
        ),
        # netnewswire phpxml: the title, a dash, then the text
        (
            "MATCHDAY Jong FC Utrecht – Telstar",
            "MATCHDAY Jong FC Utrecht – Telstar - 20.00 uur Vandaag staat de Keuken Kampioen Divisie wedstrijd op het programma.",
            "20.00 uur Vandaag staat de Keuken Kampioen Divisie wedstrijd op het programma.",
        ),
        # kc0011 (GB2312 forum): decorations differ, the body stays whole
        (
            "★★低出爱藏MS66评级币★★",
            "★★★低出爱藏MS66评级币★★★ 12506916----12506930其中含标十1个一起24枚MS66价格200元通走",
            "12506916----12506930其中含标十1个一起24枚MS66价格200元通走",
        ),
        # an opening quote begins the rest
        (
            "Acme wins approval",
            "Acme wins approval: “We will launch in May,” the chief executive said on a call with analysts.",
            "“We will launch in May,” the chief executive said on a call with analysts.",
        ),
    ],
)
def test_a_summary_that_opens_with_its_title_keeps_the_rest(
    title: str, summary: str, expected: str
) -> None:
    assert summary_without_title(summary, title) == expected


def test_an_empty_title_takes_nothing_away() -> None:
    assert summary_without_title("Some text here.", "") == "Some text here."
    assert not summary_repeats_title("Some text here.", "")


def test_shorten_to_width_counts_a_chinese_character_as_two_columns() -> None:
    from newsletter.domain.text import display_width, shorten, shorten_to_width

    assert display_width("融资 round") == 4 + 6
    chinese = "创新药从获批到进入医保的速度进一步加快，" * 20  # 400 characters, 760 columns
    cut = shorten_to_width(chinese, 280)
    assert cut.endswith("…") and chinese.startswith(cut[:-1].rstrip("，"))
    assert display_width(cut[:-1]) <= 280 and len(cut) > 130
    english = "word " * 100
    assert shorten_to_width(english, 280) == shorten(english, 280)  # English as before
    assert shorten_to_width("短的摘要", 280) == "短的摘要"
    # Mixed text still breaks at a space near the end.
    mixed = "Acme 完成 B 轮融资 " * 40
    cut = shorten_to_width(mixed, 280)
    assert cut.endswith("…") and mixed.startswith(cut[:-1] + " ")


def test_the_dropped_block_pattern_matches_what_it_did_before_its_first_letter_test() -> None:
    """clean_html's pattern for the blocks nh3 drops tests the names' first letter first: the
    same matches as the names alone, for every character (re.I's equivalences such as the
    long s and the Kelvin sign included) in the place of each first letter."""
    import re

    from newsletter.domain import text

    before = re.compile(
        r"</?(?:div|section|article|header|footer|main|aside|figure|figcaption|table|thead|"
        r"tbody|tfoot|tr|td|th|dl|dt|dd|address|details|summary)(?=[\s/>])[^>]*>",
        re.IGNORECASE,
    )
    for name in ("div", "section", "aside", "header", "figure", "main", "thead"):
        for code in range(0x30000):
            tag = f"<{chr(code)}{name[1:]} x>"
            assert bool(text._DROPPED_BLOCK.match(tag)) == bool(before.match(tag)), hex(code)


@pytest.mark.parametrize(
    "unit",
    [
        "e\u0301",  # e + combining acute accent
        "\U0001f468\u200d\U0001f469\u200d\U0001f467",  # family: three emoji joined by ZWJ
        "\U0001f44d\U0001f3fd",  # thumbs up with a skin tone
        "\U0001f1e8\U0001f1f3",  # a flag: two regional indicators
        "\u2764\ufe0f",  # heart with the emoji variation selector
        "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",  # tag flag
    ],
)
def test_a_cut_never_splits_a_character_cluster(unit: str) -> None:
    """Whatever the limit, the cut text ends with whole clusters: the text before the ellipsis
    is some number of whole units, never an accent without its letter or half a flag."""
    from newsletter.domain.text import shorten, shorten_to_width

    value = unit * 40
    for limit in range(1, 60):
        for cut in (shorten(value, limit), shorten_to_width(value, limit)):
            kept = cut.removesuffix("…")
            assert len(kept) % len(unit) == 0 and value.startswith(kept), (limit, cut)


def test_a_cut_between_clusters_is_unchanged() -> None:
    from newsletter.domain.text import shorten

    assert shorten("abcdefghij", 5) == "abcde…"
    assert shorten("é" * 10, 5) == "é" * 5 + "…"  # precomposed: one character each
