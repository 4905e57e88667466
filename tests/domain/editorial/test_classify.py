"""newsletter.domain.editorial.classify: relevance (rules, then the model), facts and sections."""

from __future__ import annotations

from datetime import date

import pytest

from newsletter.config import Config, SectionConfig, TopicConfig, load_config
from newsletter.domain.editorial.classify import (
    FeedRules,
    ItemText,
    ReadingRules,
    exclusion,
    read_item,
    read_items,
)
from newsletter.domain.editorial.textmodel import N_FEATURES, LinearModel, ReadingModel, _bucket
from newsletter.learning.store import load_model, shipped_path
from tests.conftest import ROOT

DAY = date(2021, 6, 16)
FEED = FeedRules("健康界", "industry")


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config(ROOT / "feeds.yaml")


@pytest.fixture(scope="module")
def shipped(config: Config) -> ReadingRules:
    return ReadingRules(config.rule_order, config.topic, load_model(shipped_path()))


def _model(word: str, weight: float) -> ReadingModel:
    """A relevance model that likes one whole word and nothing else."""
    bucket = _bucket(f"w{word}", N_FEATURES)
    return ReadingModel(
        "test", LinearModel(("no", "yes"), ({bucket: weight * 10},), (-2.0,)), 0.5, None
    )


def test_a_hard_exclude_leaves_an_item_out_with_the_rule_as_reason(config: Config) -> None:
    topic = TopicConfig(exclude=("招聘",), exclude_patterns=(r"^\d+月\d+日医药早报",))
    rules = ReadingRules(config.rule_order, topic, None)
    reading = read_item("【招聘】某药企诚聘医学经理", "", "zh", DAY, FEED, rules)
    assert reading.section is None and not reading.relevant
    assert reading.reason == "excluded by rule '招聘'"
    assert reading.suggested == "industry"  # where an editor's restore puts it
    bulletin = read_item("6月16日医药早报：集采、医保、融资", "", "zh", DAY, FEED, rules)
    assert bulletin.reason == "excluded by rule '^\\\\d+月\\\\d+日医药早报'"


def test_feed_filters_include_and_exclude(config: Config) -> None:
    rules = ReadingRules(config.rule_order, TopicConfig(), None)
    only_pharma = FeedRules("36氪", "industry", include=("医疗", "医药"))
    assert read_item("新能源车企完成B轮融资", "", "zh", DAY, only_pharma, rules).reason == (
        "not matched by the include filter of feed '36氪'"
    )
    assert read_item("医疗AI公司完成B轮融资", "", "zh", DAY, only_pharma, rules).relevant
    no_ads = FeedRules("A", "industry", exclude=("sponsored",))
    assert exclusion("Sponsored: our webinar", "", no_ads, TopicConfig()) == (
        "excluded by rule 'sponsored' of feed 'A'"
    )


def test_rules_are_tried_on_title_and_summary_apart(config: Config) -> None:
    # A title-only feed repeats the title in the summary: a pattern must not see it twice.
    topic = TopicConfig(exclude_patterns=(r"^[^；]{4,}；[^；]{4,}；",))
    title = "FDA批准阿杜卡努单抗上市；售价高昂"
    assert exclusion(title, title, FEED, topic) is None
    assert exclusion("甲公司获批上市；乙公司完成融资；丙公司发布年报", "", FEED, topic) is not None


def test_the_model_score_below_the_threshold_leaves_an_item_out(config: Config) -> None:
    rules = ReadingRules(config.rule_order, TopicConfig(), _model("biotech", 4.0))
    kept = read_item("A biotech raises money", "", "en", DAY, FEED, rules)
    assert kept.relevant and kept.relevance is not None and kept.relevance >= 0.5
    left = read_item("Ten dating tips", "", "en", DAY, FEED, rules)
    assert left.section is None and left.reason.startswith("not relevant (score 0.")
    # The topic's threshold wins over the model's; use_model: false turns the model off.
    lenient = ReadingRules(
        config.rule_order, TopicConfig(relevance_threshold=0.0), _model("biotech", 4.0)
    )
    assert read_item("Ten dating tips", "", "en", DAY, FEED, lenient).relevant
    off = ReadingRules(config.rule_order, TopicConfig(use_model=False), _model("biotech", 4.0))
    reading = read_item("Ten dating tips", "", "en", DAY, FEED, off)
    assert reading.relevant and reading.relevance is None


def test_facts_are_kept_on_a_left_out_item(config: Config) -> None:
    rules = ReadingRules(config.rule_order, TopicConfig(exclude=("汽车",)), None)
    reading = read_item("汽车品牌极速完成5亿元B轮融资", "", "zh", DAY, FEED, rules)
    assert reading.section is None and "financing" in reading.facts
    assert reading.suggested == "financing"


def test_a_section_exclude_sends_the_item_elsewhere(config: Config) -> None:
    sections = tuple(
        s.model_copy(update={"exclude": ("战略投资",)}) if s.id == "financing" else s
        for s in config.rule_order
    )
    rules = ReadingRules(sections, TopicConfig(), None)
    reading = read_item("药企宣布战略投资，康泰医疗完成B轮融资", "", "zh", DAY, FEED, rules)
    assert "financing" in reading.facts  # the round is still read
    assert reading.section == "industry" and reading.reason == "default section of feed '健康界'"


def test_an_editor_rule_comes_before_the_section_model(config: Config) -> None:
    sections = tuple(
        s.model_copy(update={"keywords": ("Orbis",)}) if s.id == "headlines" else s
        for s in config.rule_order
    )
    model = load_model(shipped_path())
    rules = ReadingRules(sections, TopicConfig(relevance_threshold=0.0), model)
    reading = read_item("Orbis Robotics partners with City Hospital", "", "en", DAY, FEED, rules)
    assert reading.section == "headlines" and reading.reason == "keyword 'Orbis' in title"


def test_read_items_pulls_a_vague_title_towards_its_feed(shipped: ReadingRules) -> None:
    trade = [
        ItemText(title, "", "zh", DAY)
        for title in (
            "恒瑞医药PD-1新适应症获批上市",
            "国家医保局：2021年医保目录调整方案公布",
            "迈瑞医疗发布新一代超声平台",
            "一图读懂",
        )
    ]
    alone = read_item("一图读懂", "", "zh", DAY, FEED, shipped).relevance
    together = read_items(trade, FEED, shipped)[-1].relevance
    assert alone is not None and together is not None and together > alone


@pytest.mark.parametrize(
    ("title", "relevant"),
    [
        ("国家药监局批准首个国产PD-1/VEGF双抗上市", True),
        ("康泰医疗完成3000万美元B轮融资，启明创投领投", True),
        ("今晚A股怎么走？三大指数集体收跌", False),
        ("夏天到了，这样吃西瓜最健康", False),
    ],
)
def test_the_shipped_model_on_plain_cases(
    shipped: ReadingRules, title: str, relevant: bool
) -> None:
    # Clear cases written for this test (not from the labelled data); the measured figures on
    # real feeds are in docs/editorial.md.
    assert read_item(title, "", "zh", DAY, FEED, shipped).relevant is relevant


def test_sections_config_accepts_exclude() -> None:
    section = SectionConfig(id="reports", title="Reports", exclude=(" 广告 ",))
    assert section.exclude == ("广告",)


def test_exclude_patterns_keep_their_own_flags_and_groups(config: Config) -> None:
    # Each pattern is compiled on its own, as it was validated: inline flags, named groups and
    # back-references mean what they say.
    topic = TopicConfig(
        exclude_patterns=(r"(?i)^sponsored:", r"(?P<w>\w+) (?P=w) again", r"(?P<w>x)y", r"(a)\1")
    )
    assert (
        exclusion("SPONSORED: a webinar", "", FEED, topic) == "excluded by rule '(?i)^sponsored:'"
    )
    assert (
        exclusion("buy buy again", "", FEED, topic)
        == "excluded by rule '(?P<w>\\\\w+) (?P=w) again'"
    )
    assert exclusion("an aa battery", "", FEED, topic) == "excluded by rule '(a)\\\\1'"
    assert exclusion("FDA approves a drug", "", FEED, topic) is None


def test_an_excluded_default_section_falls_to_the_first_allowed_one(config: Config) -> None:
    sections = tuple(
        s.model_copy(update={"exclude": ("广告",)}) if s.id == "reports" else s
        for s in config.rule_order
    )
    rules = ReadingRules(sections, TopicConfig(), None)
    reading = read_item("某公司广告投放", "", "zh", DAY, FeedRules("F", "reports"), rules)
    assert reading.section == sections[0].id != "reports"
    assert "excludes it: first allowed section" in reading.reason


def test_a_title_whose_second_deal_is_in_the_sector_goes_to_financing(config: Config) -> None:
    rules = ReadingRules(config.rule_order, TopicConfig(financing_sector="healthcare"), None)
    both = read_item(
        "星驰汽车获10亿元C轮融资；康宁医疗完成1亿元B轮融资", "", "zh", DAY, FEED, rules
    )
    assert both.section == "financing"
    assert [f["sector"] for f in [both.facts["financing"], *both.facts["financing_more"]]] == [
        "other",
        "healthcare",
    ]
    cars = read_item(
        "星驰汽车获10亿元C轮融资；云途出行完成1亿元B轮融资", "", "zh", DAY, FEED, rules
    )
    assert cars.section != "financing" and len(cars.facts["financing_more"]) == 1


def test_a_round_outside_the_topic_sector_is_left_out(
    config: Config, shipped: ReadingRules
) -> None:
    """With ``financing_sector: healthcare`` (the shipped feeds.yaml), a round of a company
    whose title names no healthcare activity is left out whatever the model says, keeps its
    facts, and is still given a section for an editor's restore; a healthcare round is kept."""
    assert shipped.topic.financing_sector == "healthcare"
    bakery = "某连锁烘焙品牌完成2亿元B轮融资，将新开300家门店"
    reading = read_item(bakery, "", "zh", DAY, FEED, shipped)
    assert reading.section is None and reading.reason == "funding round outside healthcare"
    assert reading.facts["financing"]["sector"] == "other" and reading.suggested is not None
    biotech = read_item(
        "某创新药公司完成2亿元B轮融资，推进肿瘤新药临床", "", "zh", DAY, FEED, shipped
    )
    assert biotech.section == "financing"
    every_round = ReadingRules(config.rule_order, TopicConfig(), None)
    assert read_item(bakery, "", "zh", DAY, FEED, every_round).section == "financing"


def test_a_title_with_one_healthcare_round_among_others_is_kept(shipped: ReadingRules) -> None:
    title = "某连锁烘焙品牌完成2亿元B轮融资；某创新药公司完成3亿元C轮融资"
    reading = read_item(title, "", "zh", DAY, FEED, shipped)
    sectors = [reading.facts["financing"]["sector"]] + [
        r["sector"] for r in reading.facts.get("financing_more", [])
    ]
    assert "healthcare" in sectors and "other" in sectors, reading.facts
    assert reading.reason != "funding round outside healthcare"


def test_no_item_goes_to_the_events_section_without_an_upcoming_event(config: Config) -> None:
    """The events section shows upcoming events only: an item that its feed's default (or a
    keyword, or the model) would put there, but with no event found in it, goes where it would
    go without that section, and says why; it used to vanish from the issue (a new user's
    report: an item of the section model's `events` shown nowhere)."""
    rules = ReadingRules(config.rule_order, TopicConfig(), None)
    conferences = FeedRules("Conference news", "events")
    report = read_item(
        "Insurer expands coverage for GLP-1 obesity drugs", "", "en", DAY, conferences, rules
    )
    special = ("financing", "events", "reports")
    general = [s.id for s in config.rule_order if s.id not in special][-1]
    assert general == "headlines"  # the last of the shipped rule order: the most general
    assert report.relevant and report.section == general  # not financing, not reports
    assert report.reason == (
        "the most general section (the feed's default is events); no upcoming event in it "
        "for events (default section of feed 'Conference news')"
    )
    invitation = read_item(
        "Register now: Digital Health Summit on July 12, 2021 in Boston",
        "",
        "en",
        DAY,
        conferences,
        rules,
    )
    assert invitation.section == "events" and "event" in invitation.facts


def test_the_events_fallback_respects_a_section_s_exclude() -> None:
    """Where every other section excludes the item, it stays where the rules put it."""
    events = SectionConfig(id="events", title="Events", keywords=("webinar",))
    headlines = SectionConfig(id="headlines", title="Headlines", exclude=("webinar",))
    rules = ReadingRules((events, headlines), TopicConfig(), None)
    recap = read_item(
        "Webinar recap: what we learned about hospital AI",
        "",
        "en",
        DAY,
        FeedRules("Blog", "headlines"),
        rules,
    )
    assert recap.section == "events" and recap.reason == "keyword 'webinar' in title"
