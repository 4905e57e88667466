"""newsletter.domain.editorial.sections.place_item with the real sections of feeds.yaml, and custom rules."""

from __future__ import annotations

import pytest

from newsletter.config import Config, SectionConfig, load_config
from newsletter.domain.editorial.sections import Placement, place_item
from tests.conftest import ROOT, SECTIONS

# The keyword stage is tested with rules of its own: in the shipped feeds.yaml the financing and
# events sections are filled by detectors (tests/test_classify.py), not keywords.
RULES = {
    # The shipped feeds.yaml keeps only a few precise rules (the section model places the rest);
    # the keyword stage is tested with the broad rules it had before.
    "hot_topics": {
        "keywords": [
            "policy",
            "regulation",
            "regulators",
            "guidance",
            "Medicare",
            "Medicaid",
            "CMS",
            "price negotiation",
            "AI Act",
            "reimbursement",
            "政策",
            "医保",
            "集采",
            "带量采购",
            "监管",
            "指导原则",
            "国家药监局",
            "国家医保局",
            "DRG",
            "DIP",
        ],
    },
    "headlines": {
        "keywords": [
            "approval",
            "approves",
            "approved",
            "clearance",
            "cleared",
            "trial",
            "Phase 1",
            "Phase 2",
            "Phase 3",
            "FDA",
            "EMA",
            "NMPA",
            "获批",
            "批准",
            "临床",
            "上市",
            "三期",
            "III期",
        ],
    },
    "industry": {
        "keywords": [
            "partnership",
            "partners with",
            "collaboration",
            "appoints",
            "names",
            "hires",
            "acquires",
            "acquisition",
            "launches",
            "opens",
            "expands",
            "recap",
            "合作",
            "战略合作",
            "发布",
            "任命",
            "收购",
            "签约",
            "投产",
            "落地",
            "圆满落幕",
            "成功举办",
        ],
    },
    "financing": {
        "keywords": ["raises", "raised", "funding round", "融资", "领投", "天使轮"],
        "patterns": [r"\bSeries [A-F]\+?(?![A-Za-z0-9])", "[A-E]\\+?轮"],
    },
    "events": {"keywords": ["conference", "summit", "webinar", "峰会", "论坛", "大会"]},
}


@pytest.fixture(scope="module")
def config() -> Config:
    shipped = load_config(ROOT / "feeds.yaml")
    sections = [
        s.model_copy(update={k: tuple(v) for k, v in RULES.get(s.id, {}).items()})
        for s in shipped.sections
    ]
    return shipped.model_copy(update={"sections": tuple(sections)})


@pytest.fixture(scope="module")
def order(config: Config) -> tuple[SectionConfig, ...]:
    return config.rule_order


def place(
    order: tuple[SectionConfig, ...],
    title: str,
    summary: str = "",
    feed: str = "Some Feed",
    default: str = "industry",
) -> Placement:
    return place_item(title, summary, feed, default, order)


def test_fixture_sections_are_the_shipped_ones(config: Config) -> None:
    assert load_config(ROOT / "feeds.yaml").section_ids == config.section_ids
    assert [s["id"] for s in SECTIONS] == list(config.section_ids)
    # Rule order: financing (10), events (20), reports (30), hot_topics (40), headlines (60)...
    assert [s.id for s in config.rule_order] == [
        "financing",
        "events",
        "reports",
        "hot_topics",
        "industry",
        "headlines",
    ]


@pytest.mark.parametrize(
    ("title", "section", "reason"),
    [
        (
            "Acme Health raises $25M Series B led by Beacon Capital",
            "financing",
            "keyword 'raises' in title",
        ),
        ("康澜生物完成2000万美元A轮融资，XX资本领投", "financing", "keyword '融资' in title"),
        ("某医疗器械公司获数千万元天使轮投资", "financing", "keyword '天使轮' in title"),
        ("2024中国数字医疗峰会将于下月在上海举行", "events", "keyword '峰会' in title"),
        ("Join our webinar on remote patient monitoring", "events", "keyword 'webinar' in title"),
        ("2024数字医疗白皮书", "reports", "keyword '白皮书' in title"),
        ("FDA approves first oral GLP-1 pill", "headlines", "keyword 'approves' in title"),
        ("国家医保局发布集采新规", "hot_topics", "keyword '医保' in title"),
        (
            "Orbis Robotics partners with City Hospital",
            "industry",
            "keyword 'partners with' in title",
        ),
    ],
)
def test_real_sections(
    order: tuple[SectionConfig, ...], title: str, section: str, reason: str
) -> None:
    assert place(order, title) == Placement(section, reason)


def test_financing_pattern_names_the_pattern(
    config: Config, order: tuple[SectionConfig, ...]
) -> None:
    series = config.section("financing").patterns[0]
    assert place(order, "Nuvola closes Series A+ to scale") == Placement(
        "financing", f"pattern {series!r} in title"
    )
    chinese_round = next(p for p in config.section("financing").patterns if "轮" in p)
    placement = place(order, "星云医疗完成B+轮")
    assert placement == Placement("financing", f"pattern {chinese_round!r} in title")


def test_higher_priority_section_wins_within_a_field(order: tuple[SectionConfig, ...]) -> None:
    # An events keyword ('summit') and a financing one ('raises'): financing is tried first.
    placement = place(order, "Startup raises $10M on the eve of the Digital Health Summit")
    assert placement == Placement("financing", "keyword 'raises' in title")
    # Reports (30) before industry (50): '发布' alone would be industry.
    assert place(order, "2024数字医疗白皮书发布").section == "reports"
    assert place(order, "新产品发布").section == "industry"


def test_title_beats_summary(order: tuple[SectionConfig, ...]) -> None:
    placement = place(
        order,
        "Digital Health Summit opens registration",
        summary="Sponsors include a startup that raised $40M last month.",
    )
    assert placement == Placement("events", "keyword 'summit' in title")


def test_summary_is_used_when_the_title_says_nothing(order: tuple[SectionConfig, ...]) -> None:
    placement = place(order, "Nuvola news", summary="The company raised $12M in a seed round.")
    assert placement == Placement("financing", "keyword 'raised' in summary")


def test_only_the_start_of_a_long_summary_is_read(order: tuple[SectionConfig, ...]) -> None:
    summary = "x " * 1000 + "raises"  # the keyword sits past the first 2000 characters
    assert place(order, "Nothing", summary=summary, feed="HIT Consultant").reason == (
        "default section of feed 'HIT Consultant'"
    )


def test_fallback_to_the_feed_default_names_the_feed(order: tuple[SectionConfig, ...]) -> None:
    placement = place(order, "Weather is nice today", "Nothing to see", "健康界", "industry")
    assert placement == Placement("industry", "default section of feed '健康界'", by_rule=False)
    assert place(order, "", "", "Empty", "headlines") == Placement(
        "headlines", "default section of feed 'Empty'", by_rule=False
    )


def test_keywords_are_case_insensitive(order: tuple[SectionConfig, ...]) -> None:
    assert place(order, "NEW WEBINAR SERIES ON CARE").section == "events"
    assert place(order, "fda clears new device").section == "headlines"


# -- custom rules --------------------------------------------------------------------------------

AI = (SectionConfig(id="ai", title="AI", keywords=("AI",)),)


@pytest.mark.parametrize(
    "title",
    ["The minister said the plan works", "Taiwan trade fair", "OpenAI", "AIs and robots", "MAIL"],
)
def test_english_keywords_match_whole_words_only(title: str) -> None:
    assert place_item(title, "", "F", "other", AI) == Placement(
        "other", "default section of feed 'F'", by_rule=False
    )


@pytest.mark.parametrize(
    "title",
    [
        "AI triage goes live",
        "How ai helps radiology",
        "AI-powered scribes",
        "(AI) notes",
        "AI医疗公司",
    ],
)
def test_english_keyword_matches_as_a_word(title: str) -> None:
    assert place_item(title, "", "F", "other", AI) == Placement("ai", "keyword 'AI' in title")


def test_multi_word_and_special_character_keywords() -> None:
    sections = (
        SectionConfig(id="pricing", title="P", keywords=("price negotiation", "C++")),
        SectionConfig(id="zh", title="Z", keywords=("集采",)),
    )
    assert place_item("Medicare price negotiation begins", "", "F", "x", sections).section == (
        "pricing"
    )
    assert place_item("Tools in C++ for EHRs", "", "F", "x", sections).reason == (
        "keyword 'C++' in title"
    )
    assert place_item("price negotiations", "", "F", "x", sections).section == "x"
    # Chinese keywords match anywhere, even inside longer words.
    assert place_item("第十批国家集采结果公布", "", "F", "x", sections).section == "zh"


def test_sections_are_tried_in_the_order_given() -> None:
    first = SectionConfig(id="first", title="1", keywords=("trial",))
    second = SectionConfig(id="second", title="2", keywords=("trial",))
    assert place_item("Phase 3 trial", "", "F", "x", (first, second)).section == "first"
    assert place_item("Phase 3 trial", "", "F", "x", (second, first)).section == "second"


def test_keywords_before_patterns_within_a_section() -> None:
    section = SectionConfig(id="s", title="S", keywords=("round",), patterns=(r"\$\d+M",))
    assert place_item("$5M round", "", "F", "x", (section,)).reason == "keyword 'round' in title"
    assert (
        place_item("$5M raise", "", "F", "x", (section,)).reason == r"pattern '\\$\\d+M' in title"
    )
