"""newsletter.domain.sentences: English by nupunkt, Chinese by rules; real-looking news sentences."""

from __future__ import annotations

import pytest

from newsletter.domain.sentences import ZH_LONG, split_chinese, split_sentences

ENGLISH = [
    (
        "The U.S. Food and Drug Administration approved the drug on Friday. Shares rose 4.5% in early trading.",
        [
            "The U.S. Food and Drug Administration approved the drug on Friday.",
            "Shares rose 4.5% in early trading.",
        ],
    ),
    (
        "Dr. Jane Smith, chief executive of Acme Inc., said the trial met its goal. The company will file in 2025.",
        [
            "Dr. Jane Smith, chief executive of Acme Inc., said the trial met its goal.",
            "The company will file in 2025.",
        ],
    ),
    (
        "Acme Inc. raised $25.5 million. The round was led by Foo Ventures.",
        ["Acme Inc. raised $25.5 million.", "The round was led by Foo Ventures."],
    ),
    (
        "Some drugs, e.g. GLP-1 agonists, cut weight by 15%. Others do not.",
        ["Some drugs, e.g. GLP-1 agonists, cut weight by 15%.", "Others do not."],
    ),
    (
        "Sales rose in the U.S. The company expects more growth in Europe.",
        ["Sales rose in the U.S.", "The company expects more growth in Europe."],
    ),
    (
        "Mr. Lee and Ms. Park met on Jan. 5 at 10 a.m. in Washington. They discussed the deal.",
        [
            "Mr. Lee and Ms. Park met on Jan. 5 at 10 a.m. in Washington.",
            "They discussed the deal.",
        ],
    ),
    (
        "Revenue was $1.2 billion vs. $1.1 billion a year ago. Margins held at 21.5%.",
        ["Revenue was $1.2 billion vs. $1.1 billion a year ago.", "Margins held at 21.5%."],
    ),
    (
        '"This is a turning point," said Dr. Smith. "We will start phase 3 soon." The shares jumped.',
        [
            '"This is a turning point," said Dr. Smith.',
            '"We will start phase 3 soon."',
            "The shares jumped.",
        ],
    ),
    (
        "Gilead Sciences, Inc. (Nasdaq: GILD) today announced results. The data will be presented at ASCO.",
        [
            "Gilead Sciences, Inc. (Nasdaq: GILD) today announced results.",
            "The data will be presented at ASCO.",
        ],
    ),
    (
        "Is this the end? Analysts are not sure! They expect news in 2025.",
        ["Is this the end?", "Analysts are not sure!", "They expect news in 2025."],
    ),
    (
        "It was approved in the E.U. in 2023. U.K. approval followed.",
        ["It was approved in the E.U. in 2023.", "U.K. approval followed."],
    ),
    ("version 2.0 ships", ["version 2.0 ships"]),
    ("", []),
    ("   ", []),
]

CHINESE = [
    # a closing quote stays with the sentence it closes
    (
        "他表示：“这是公司发展的重要里程碑。”随后公司股价上涨。",
        ["他表示：“这是公司发展的重要里程碑。”", "随后公司股价上涨。"],
    ),
    (
        "他说：「我们会继续加大研发投入。」外界普遍看好。",
        ["他说：「我们会继续加大研发投入。」", "外界普遍看好。"],
    ),
    (
        "文件名为『关于推进集采的意见。』各地随即跟进。",
        ["文件名为『关于推进集采的意见。』", "各地随即跟进。"],
    ),
    # closing brackets and book-title marks too
    (
        "公司完成A轮融资（由红杉中国领投。）本轮资金将用于研发。",
        ["公司完成A轮融资（由红杉中国领投。）", "本轮资金将用于研发。"],
    ),
    ("他推荐了《原则。》这本书很受欢迎。", ["他推荐了《原则。》", "这本书很受欢迎。"]),
    # runs of marks, the six-dot ellipsis
    ("真的吗？！当然是真的。", ["真的吗？！", "当然是真的。"]),
    (
        "业内人士表示，集采仍将继续……“我们需要提前做好准备。”",
        ["业内人士表示，集采仍将继续……", "“我们需要提前做好准备。”"],
    ),
    # decimals and English words are no sentence ends
    (
        "营收增长3.5%至12.8亿元。净利润为1.2亿元，同比增长20%。",
        ["营收增长3.5%至12.8亿元。", "净利润为1.2亿元，同比增长20%。"],
    ),
    (
        "公司与Pfizer Inc.达成合作。交易金额未披露。",
        ["公司与Pfizer Inc.达成合作。", "交易金额未披露。"],
    ),
    # a short sentence keeps its semicolon
    ("融资完成；资金到位。", ["融资完成；资金到位。"]),
    # no end mark at all
    ("国家医保局发布通知", ["国家医保局发布通知"]),
    # an English stretch in a Chinese paragraph is split as English
    ("中英混排。Then English. 2 more.", ["中英混排。", "Then English.", "2 more."]),
]


@pytest.mark.parametrize(("paragraph", "expected"), ENGLISH)
def test_english(paragraph: str, expected: list[str]) -> None:
    assert split_sentences(paragraph, "en") == expected


@pytest.mark.parametrize(("paragraph", "expected"), CHINESE)
def test_chinese(paragraph: str, expected: list[str]) -> None:
    assert split_sentences(paragraph, "zh") == expected


def test_a_long_enumeration_is_split_at_its_semicolons() -> None:
    sentence = (
        "会议明确了下一阶段的重点任务：一是加快推进药品集中带量采购常态化制度化，进一步扩大采购覆盖范围；"
        "二是完善医保支付标准与集中采购价格协同机制，促进医疗机构优先合理使用中选产品；"
        "三是加强中选产品的质量监管和供应保障，确保临床用药安全稳定。"
    )
    assert len(sentence) > ZH_LONG
    parts = split_chinese(sentence)
    assert len(parts) == 3
    assert parts[0].endswith("；") and parts[1].startswith("二是") and parts[2].startswith("三是")
    assert "".join(parts) == sentence


def test_chinese_text_in_an_english_feed_uses_the_chinese_rules() -> None:
    assert split_sentences("第一句话。第二句话！", "en") == ["第一句话。", "第二句话！"]


@pytest.mark.parametrize("paragraph", [p for p, _ in ENGLISH + CHINESE])
def test_sentences_are_substrings_in_order(paragraph: str) -> None:
    position = 0
    for sentence in split_sentences(paragraph):
        found = paragraph.find(sentence, position)
        assert found >= 0
        position = found + len(sentence)
