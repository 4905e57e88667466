"""newsletter.domain.editorial.clusters.cluster_ids: one story from several feeds, deterministically."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import pytest

from newsletter.domain.editorial.clusters import (
    StoryInput,
    cluster_ids,
    financing_key,
    financing_ref,
    normalized_title,
    ordinals,
    procurement_batches,
    rare_entities,
    story_input,
    tokens,
)

S = StoryInput
ROOT = Path(__file__).resolve().parents[3]

# Unrelated stories: what a real weekly batch looks like around the pairs under test.
BACKGROUND = [
    S(101, "CMS finalizes 2027 physician fee schedule", "The rule cuts the conversion factor."),
    S(102, "Harlow Pharma reports Q3 earnings; revenue up 12%", "Oncology sales grew."),
    S(103, "国家医保局发布2026年医保目录调整结果", "新增药品91种。"),
    S(104, "Senate bill would cap pharmacy benefit manager fees", "The bill has support."),
    S(105, "Arden Bio halts Phase 3 study after interim futility analysis", "Shares fell."),
    S(106, "第十一批国家药品集采开标，平均降价56%", "涉及多个品种。"),
]


def grouped(a: StoryInput, b: StoryInput, *others: StoryInput) -> bool:
    mapping = cluster_ids([a, b, *others])
    return mapping[a.id] == mapping[b.id]


@pytest.mark.parametrize(
    ("a", "b"),
    [
        pytest.param(
            S(1, "FDA approves Acme's heart drug", url="https://news.example.com/a"),
            S(2, "Acme wins US nod for cardiology therapy", url="https://news.example.com/a"),
            id="same link",
        ),
        pytest.param(
            S(1, "FDA Approves Tessaro's Once-Monthly Schizophrenia Injection"),
            S(2, "FDA approves Tessaro’s once-monthly schizophrenia injection."),
            id="punctuation and case",
        ),
        pytest.param(
            S(1, "「安济医疗」完成1.2亿元A+轮融资！"),
            S(2, "安济医疗完成1.2亿元A+轮融资"),
            id="zh punctuation",
        ),
        pytest.param(
            S(1, "【首发】「晶算智药」完成1500万美元A轮融资"),
            S(2, "晶算智药完成1500万美元A轮融资"),
            id="prefix 首发",
        ),
        pytest.param(
            S(1, "速递 | 合源医疗完成近亿元A轮融资"),
            S(2, "合源医疗完成近亿元A轮融资"),
            id="prefix 速递",
        ),
        pytest.param(
            S(1, "Exclusive: Wenrui Medical raises $30M Series C"),
            S(2, "Wenrui Medical raises $30M Series C"),
            id="prefix Exclusive",
        ),
        pytest.param(
            S(1, "Wenrui Medical raises $30M Series C to expand surgical robots"),
            S(2, "Wenrui Medical lands $30M Series C to expand its surgical robots"),
            id="en a few words different",
        ),
        pytest.param(
            S(1, "合源医疗完成近亿元A轮融资，加速布局县域市场"),
            S(2, "合源医疗完成近亿元A轮融资，加快布局县域市场"),
            id="zh a few words different",
        ),
        pytest.param(
            S(1, "Acme lands cash for heart monitors", financing_key="acme health|a"),
            S(2, "Series A for Acme Health as market cools", financing_key="acme health|a"),
            id="same financing key",
        ),
    ],
)
def test_same_story_is_grouped(a: StoryInput, b: StoryInput) -> None:
    assert grouped(a, b)
    assert grouped(a, b, *BACKGROUND)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        pytest.param(
            S(1, "FDA approves Corbin Pharma's RSV antibody for infants", "The FDA approved it."),
            S(2, "FDA approves Lumen's once-weekly insulin", "The FDA approved the insulin."),
            id="two FDA approvals",
        ),
        pytest.param(
            S(1, "Acme Health raises $25M Series A", "The round was led by Foo Ventures."),
            S(2, "Beta Bio raises $40M Series A", "The round was led by Bar Capital."),
            id="two Series A rounds",
        ),
        pytest.param(
            S(1, "「安济医疗」完成1.2亿元A轮融资", "本轮由海川资本领投。"),
            S(2, "「赛维康生物」完成2.5亿元A轮融资", "本轮由泰和资本领投。"),
            id="two 融资",
        ),
        pytest.param(
            S(1, "心脉智联获2000万美元B+轮融资", "本轮融资由明岳资本领投。"),
            S(2, "「澜海生物」完成1亿美元D轮融资", "本轮由新桥资本领投。"),
            id="two 美元融资",
        ),
        pytest.param(
            S(1, "「明德医药」完成数亿元C轮融资"),
            S(2, "「精导医疗」完成数亿元C轮融资"),
            id="two 数亿元C轮融资 in a batch (each opens with its own company)",
        ),
        pytest.param(
            S(1, "「启辰医疗」完成天使轮融资，金额未披露"),
            S(2, "「迈科思」完成B轮融资，金额未披露"),
            id="two 融资 金额未披露 (eval zh-025, zh-029; each opens with its own company)",
        ),
        pytest.param(
            S(1, "「澜海生物」完成1亿美元D轮融资", financing_key="澜海生物|d"),
            S(2, "独家 | 瑞博生物完成1.2亿美元C轮融资", financing_key="瑞博生物|c"),
            id="two 亿美元融资 with different financing keys (eval zh-088, zh-106)",
        ),
        pytest.param(
            S(1, "Acme lands $10M", financing_key="acme|a"),
            S(2, "Acme lands $30M Series B to expand", financing_key="acme|b"),
            id="same company, another round",
        ),
        pytest.param(
            S(1, "Acme raises $10M", url="https://a.example.com/1"),
            S(2, "Bolt raises $12M", url="https://a.example.com/2"),
            id="different links",
        ),
    ],
)
def test_different_stories_on_one_topic_are_not_grouped(a: StoryInput, b: StoryInput) -> None:
    assert not grouped(a, b)
    assert not grouped(a, b, *BACKGROUND)


@pytest.mark.xfail(
    strict=True,
    reason="given titles and summaries only (no facts), TF-IDF cosine and generic capitalized "
    "words still join different stories of this constructed set: 326 items in 302 groups "
    "(287 before the subject, digest and place-word rules; 323 with the detectors' facts)",
)
def test_labelled_set_stories_stay_apart() -> None:
    rows = [
        json.loads(line)
        for line in (ROOT / "tests" / "data" / "editorial_eval.jsonl")
        .read_text("utf-8")
        .splitlines()
        if line.strip()
    ]
    items = [S(n, row["title"], row["summary"]) for n, row in enumerate(rows)]
    mapping = cluster_ids(items)
    assert len(set(mapping.values())) == len(items)


def test_financing_key_groups_differently_worded_titles() -> None:
    a = S(1, "Acme Health raises $25M Series A led by Foo", financing_key="Acme Health|a")
    b = S(2, "Heart-monitoring startup closes round", financing_key="Acme Health|a")
    c = S(3, "Heart-monitoring startup closes round", financing_key=None, url="https://x/3")
    mapping = cluster_ids([a, b, c, *BACKGROUND])
    assert mapping[1] == mapping[2]


def test_reworded_story_in_a_realistic_batch() -> None:
    a = S(
        1,
        "Wenrui Medical raises $30M Series C led by Cedarline Capital",
        "Wenrui Medical, a surgical robotics company, will use the money to expand robot sales "
        "in Southeast Asia.",
    )
    b = S(
        2,
        "Surgical robot maker Wenrui Medical raises $30M in Series C",
        "The Series C round for Wenrui Medical was led by Cedarline Capital; proceeds fund sales "
        "in Southeast Asia.",
    )
    assert grouped(a, b, *BACKGROUND)


def test_reworded_story_grouping_does_not_depend_on_unrelated_items() -> None:
    # A shared rare name ("Wenrui", in no other title) ties the two reports whatever else is
    # in the batch (it used to depend on TF-IDF weights from unrelated items).
    a = S(
        1,
        "Wenrui Medical raises $30M Series C led by Cedarline Capital",
        "Wenrui Medical, a surgical robotics company, will use the money to expand robot sales "
        "in Southeast Asia.",
    )
    b = S(
        2,
        "Surgical robot maker Wenrui Medical raises $30M in Series C",
        "The Series C round for Wenrui Medical was led by Cedarline Capital; proceeds fund sales "
        "in Southeast Asia.",
    )
    assert grouped(a, b) == grouped(a, b, BACKGROUND[0])


def test_transitive_groups_and_singletons() -> None:
    a = S(5, "Acme raises $10M Series A", url="https://x/1")
    b = S(9, "Totally reworded headline", url="https://x/1", financing_key="acme|a")
    c = S(7, "Another headline again", financing_key="acme|a")
    d = S(3, "FDA approves Lumen's once-weekly insulin")
    mapping = cluster_ids([a, b, c, d])
    assert mapping[5] == mapping[9] == mapping[7] != mapping[3]
    assert set(mapping) == {3, 5, 7, 9}


def test_cluster_id_is_derived_from_smallest_member() -> None:
    mapping = cluster_ids([S(12, "Same title here", url="u"), S(4, "Other", url="u")])
    expected = "c" + hashlib.sha1(b"4").hexdigest()[:10]
    assert mapping == {12: expected, 4: expected}


def test_deterministic_under_reordering() -> None:
    items = [
        S(1, "Exclusive: Wenrui Medical raises $30M Series C"),
        S(2, "Wenrui Medical raises $30M Series C"),
        S(3, "【首发】「晶算智药」完成1500万美元A轮融资"),
        S(4, "晶算智药完成1500万美元A轮融资"),
        S(5, "FDA approves Lumen's once-weekly insulin"),
        S(6, "Acme lands cash", financing_key="acme|a"),
        S(7, "Series A for Acme", financing_key="acme|a"),
        *BACKGROUND,
    ]
    expected = cluster_ids(items)
    rng = random.Random(20261110)
    for _ in range(10):
        shuffled = items[:]
        rng.shuffle(shuffled)
        assert cluster_ids(shuffled) == expected
    assert cluster_ids(tuple(reversed(items))) == expected
    assert len(set(expected.values())) == len(items) - 3


@pytest.mark.parametrize("unrelated_id", [1, 15, 99])
def test_cluster_id_does_not_depend_on_unrelated_items(unrelated_id: int) -> None:
    a = S(10, "Exclusive: Wenrui Medical raises $30M Series C")
    b = S(20, "Wenrui Medical raises $30M Series C")
    alone = cluster_ids([a, b])
    assert alone[10] == alone[20]
    other = S(unrelated_id, "国家医保局发布2026年医保目录调整结果", "新增药品91种。")
    with_other = cluster_ids([other, a, b])
    assert with_other[10] == with_other[20] == alone[10]
    assert with_other[unrelated_id] != alone[10]
    with_batch = cluster_ids([*BACKGROUND, other, b, a])
    assert with_batch[10] == with_batch[20] == alone[10]


def test_empty_and_single() -> None:
    assert cluster_ids([]) == {}
    single = cluster_ids([S(1, "")])
    assert list(single) == [1]


def test_tokens() -> None:
    assert tokens("Exclusive: Acme Raises $30M") == tokens("Acme Raises $30M")
    assert tokens("【首发】晶算智药") == tokens("速递 | 晶算智药") == ["晶算", "算智", "智药"]
    assert tokens("药") == ["药"]
    assert tokens("the of and") == []


def test_long_whitespace_title_is_its_own_story() -> None:
    # Its speed (no catastrophic backtracking) is timed in bench/bench_limits.py.
    ids = cluster_ids([S(1, " " * 1500 + "a"), S(2, "b")])
    assert ids[1] != ids[2]


def _fin(company: str, round_name: str, low: float, currency: str) -> dict[str, object]:
    return {
        "financing": {
            "company": company,
            "round": round_name,
            "amount_low": low,
            "amount_high": low,
            "currency": currency,
            "amount_text": None,
        }
    }


def _story(n: int, title: str, facts: dict[str, object]) -> S:
    return S(n, title, financing_key=financing_key(facts), financing=financing_ref(facts))


def test_same_round_across_languages_is_one_story() -> None:
    # Round, amount in dollars (CNY at the fixed rate) and a shared Latin name.
    zh = _story(1, "松果医疗Pinecone完成2亿元B轮融资", _fin("松果医疗Pinecone", "b", 2e8, "CNY"))
    en = _story(
        2, "Pinecone Medical raises $28M Series B", _fin("Pinecone Medical", "b", 28e6, "USD")
    )
    assert len(set(cluster_ids([zh, en]).values())) == 1


@pytest.mark.parametrize(
    ("zh_facts", "en_facts"),
    [
        # another round
        (_fin("松果医疗Pinecone", "a", 2e8, "CNY"), _fin("Pinecone Medical", "b", 28e6, "USD")),
        # another sum
        (_fin("松果医疗Pinecone", "b", 5e8, "CNY"), _fin("Pinecone Medical", "b", 28e6, "USD")),
        # the same round and sum but no name in common: two companies' rounds stay apart
        (_fin("松果医疗", "b", 2e8, "CNY"), _fin("Cedar Medical", "b", 28e6, "USD")),
    ],
)
def test_different_rounds_across_languages_stay_apart(
    zh_facts: dict[str, object], en_facts: dict[str, object]
) -> None:
    zh = _story(1, "松果医疗完成B轮融资", zh_facts)
    en = _story(2, "Medical startup raises Series B", en_facts)
    assert len(set(cluster_ids([zh, en]).values())) == 2


def test_a_name_that_extends_another_is_the_same_company() -> None:
    a = _story(1, "宇航生物完成2000万美元A轮融资", _fin("宇航生物", "a", 2e7, "USD"))
    b = _story(2, "宇航生物Nutmeg Bio完成A轮融资", _fin("宇航生物Nutmeg Bio", "a", 2e7, "USD"))
    assert len(set(cluster_ids([a, b]).values())) == 1


def test_shared_book_title_ties_reworded_policy_reports() -> None:
    a = S(1, "医保局：《药品价格管理条例》征求意见")
    b = S(2, "重磅！《药品价格管理条例》要来了，药企违规将被重罚")
    c = S(3, "某医院开展义诊活动")
    mapping = cluster_ids([a, b, c])
    assert mapping[1] == mapping[2] != mapping[3]


# --- issue 12: precision first, and events across languages --------------------------------


def _event(n: int, title: str, start: str | None, place: str | None, precision: str = "day") -> S:
    facts = {"event": {"name": title, "start": start, "place": place, "precision": precision}}
    return story_input(n, title, "", None, facts)


def test_same_event_across_languages_is_one_story() -> None:
    # Two feeds, one in each language: the day, the city (上海 = Shanghai) and a Latin name.
    zh = _event(1, "BioCentury中国医疗健康投资峰会6月24日上海举行，报名开启", "2030-06-24", "上海")
    en = _event(
        2, "BioCentury China Healthcare Summit: June 24, Shanghai", "2030-06-24", "Shanghai"
    )
    assert grouped(zh, en)
    assert grouped(zh, en, *BACKGROUND)


@pytest.mark.parametrize(
    ("zh", "en"),
    [
        pytest.param(  # same day and city, no name in common
            ("细胞治疗产业沙龙6月24日上海举行", "2030-06-24", "上海"),
            ("Digital Pharmacy Meetup: June 24, Shanghai", "2030-06-24", "Shanghai"),
            id="same day and city",
        ),
        pytest.param(  # a name in common, another day
            ("BioCentury中国投资峰会6月24日上海举行", "2030-06-24", "上海"),
            ("BioCentury Europe Summit: June 25, Shanghai", "2030-06-25", "Shanghai"),
            id="another day",
        ),
        pytest.param(  # a name in common, another city
            ("BioCentury中国投资峰会6月24日上海举行", "2030-06-24", "上海"),
            ("BioCentury Summit: June 24, Boston", "2030-06-24", "Boston"),
            id="another city",
        ),
    ],
)
def test_different_events_stay_apart(zh: tuple[str, str, str], en: tuple[str, str, str]) -> None:
    a, b = _event(1, *zh), _event(2, *en)
    assert not grouped(a, b)
    assert not grouped(a, b, *BACKGROUND)


def test_two_events_of_one_series_in_two_cities_stay_apart() -> None:
    # One organiser's template, two cities: alike titles, two events.
    a = _event(1, "走进杭州 | 药物研发创新技术专题研讨会", None, "杭州")
    b = _event(2, "走进成都 | 肿瘤药物研发专题研讨会", None, "成都")
    assert not grouped(a, b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        pytest.param(
            S(1, "甲乙制药PD-1新适应症获批：一线治疗鼻咽癌"),
            S(2, "丙丁生物PD-1第3项适应症获批，一线治疗肺癌"),
            id="two approvals, each opens with its own company",
        ),
        pytest.param(
            S(1, "Sarno Pharma's ADC meets primary endpoint in Phase 3 lung cancer trial"),
            S(2, "Veltra's obesity drug cuts weight by 18% in Phase 3 trial"),
            id="two trials (Phase is no name)",
        ),
        pytest.param(
            S(1, "戊己胺在韩国获准专利保护期延长"),
            S(2, "庚辛韦酯在韩国获准专利保护期延长"),
            id="two drugs, one template",
        ),
        pytest.param(
            S(1, "医保局：《药品价格管理条例》征求意见"),
            S(2, "医保局：《医疗器械监督条例》征求意见"),
            id="two different policies",
        ),
        pytest.param(
            S(1, "医药行业一周投融资动态：青禾医疗获新一轮2亿美元融资"),
            S(2, "青禾医疗获新一轮2亿美元融资"),
            id="a weekly digest is not one of its stories",
        ),
    ],
)
def test_alike_titles_of_different_subjects_stay_apart(a: StoryInput, b: StoryInput) -> None:
    assert not grouped(a, b)
    assert not grouped(a, b, *BACKGROUND)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        pytest.param(
            S(1, "重磅！《药品价格管理条例（征求意见稿）》发布"),
            S(2, "《药品价格管理条例》征求意见，药企违规将被重罚"),
            id="a draft's note in brackets is the same document",
        ),
        pytest.param(
            S(1, "遗憾！Kestrel mRNA疫苗三期失利，有效率不到50%"),
            S(2, "Kestrel股价腰斩：mRNA疫苗保护率仅47%"),
            id="an opener before the subject",
        ),
    ],
)
def test_the_same_subject_reworded_is_still_grouped(a: StoryInput, b: StoryInput) -> None:
    assert grouped(a, b)


def test_a_third_item_never_joins_two_different_rounds() -> None:
    # Each round agrees with the two-headline item's text, but the rounds differ: one story
    # may not hold both (never two companies' rounds).
    a = _story(1, "青禾医疗完成2亿元B轮融资", _fin("青禾医疗", "b", 2e8, "CNY"))
    b = _story(2, "远岳医疗完成2亿元B轮融资", _fin("远岳医疗", "b", 2e8, "CNY"))
    c = S(3, "青禾医疗完成2亿元B轮融资；远岳医疗完成2亿元B轮融资")
    mapping = cluster_ids([a, b, c])
    assert mapping[1] != mapping[2]


def test_city_and_month_words_tie_no_stories() -> None:
    a = S(1, "Registration opens for the clinic network expansion in Boston this December")
    b = S(2, "Layoffs hit biotech lab suppliers in Boston this December")
    assert rare_entities(a.title) & rare_entities(b.title) == set()


# --- issue 12, third round: numbered programmes and lists -----------------------------------


def test_aliases_fold_procurement_and_regulator_names() -> None:
    assert normalized_title("第九批国采开标") == "第九批集采开标"
    assert normalized_title("国家组织药品集中带量采购") == "国家组织药品集采"
    assert normalized_title("国家药品监督管理局批准") == "国家药监局批准"
    assert normalized_title("国家医疗保障局：") == "国家医保局:"
    assert tokens("中央纪委：劳务费") == tokens("中纪委：劳务费")


def test_ordinals_and_procurement_batches() -> None:
    assert ordinals("CDE发布第四十三批参比制剂目录") == {"batch": {43}}
    assert ordinals("2030第5届细胞治疗峰会") == {"edition": {5}}
    assert ordinals("集采中选药品临床等效") == {}
    assert procurement_batches("第九批国采，百家药企大战在即") == {"集采#9"}
    assert procurement_batches("第九轮集采展望系列之三") == {"集采#9"}
    assert procurement_batches("昔日大品种在第九次集采中失声") == {"集采#9"}
    assert procurement_batches("第九批国家组织药品集中采购文件发布") == {"集采#9"}
    assert procurement_batches("第三批国家组织高值医用耗材集采开标") == {"集采#耗材3"}
    # a regional alliance's batch is another programme than the national one of that number
    assert procurement_batches("华东联盟第九批集采报量") == {"集采#9@regional"}
    assert procurement_batches("某某省第九批集采报量") == {"集采#9@regional"}
    assert procurement_batches("上市药企第九批国采中标一览") == {"集采#9"}


@pytest.mark.parametrize(
    ("a", "b"),
    [
        pytest.param(
            S(1, "第九轮集采展望系列之二：某吸入剂的价格杀手是谁？"),
            S(2, "第九批国采，百家药企「大战」在即"),
            id="analysis series and news of one batch",
        ),
        pytest.param(
            S(1, "昔日大品种在第九次集采中的失声"),
            S(2, "官宣：第九批国采目录发布，附明细"),
            id="批, 轮 and 次 count the same batch",
        ),
        pytest.param(
            S(1, "第九批国家组织药品集中采购文件正式发布"),
            S(2, "第九批集采各产品限价、报量分析（第一篇）"),
            id="the full programme name and its short name",
        ),
    ],
)
def test_reports_of_one_procurement_batch_are_one_story(a: StoryInput, b: StoryInput) -> None:
    assert grouped(a, b)
    assert grouped(a, b, *BACKGROUND)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        pytest.param(
            S(1, "第九批国采开标，平均降价50%"),
            S(2, "第十批国采开标，平均降价50%"),
            id="two batches",
        ),
        pytest.param(
            S(1, "第九批国采开标，平均降价50%"),
            S(2, "华东联盟第九批集采开标，平均降价50%"),
            id="a regional alliance's batch",
        ),
        pytest.param(
            S(1, "华东联盟第九批集采启动"),
            S(2, "华南联盟第九批集采：报量开始"),
            id="two regional alliances' batches are never tied by their number",
        ),
        pytest.param(
            S(1, "第三批国家组织高值医用耗材集采开标"),
            S(2, "第三批国家组织药品集采开标"),
            id="devices and drugs are two programmes",
        ),
        pytest.param(
            S(1, "CDE发布第十二批化学仿制药参比制剂目录"),
            S(2, "CDE发布第十三批化学仿制药参比制剂目录"),
            id="two instalments of one list (their words alike enough to be joined)",
        ),
        pytest.param(
            S(1, "细胞治疗工艺发展峰会第五届开幕"),
            S(2, "细胞治疗工艺发展峰会第六届开幕"),
            id="two editions of one summit (their words alike enough to be joined)",
        ),
    ],
)
def test_numbered_instalments_stay_apart(a: StoryInput, b: StoryInput) -> None:
    assert not grouped(a, b)
    assert not grouped(a, b, *BACKGROUND)


def test_a_procurement_batch_never_joins_two_companies_rounds() -> None:
    # Rounds are compared as rounds first: naming one batch does not make them one story.
    a = _story(1, "青禾医药完成2亿元B轮，布局第九批国采品种", _fin("青禾医药", "b", 2e8, "CNY"))
    b = _story(2, "远岳医药完成2亿元B轮，瞄准第九批国采", _fin("远岳医药", "b", 2e8, "CNY"))
    assert not grouped(a, b)


def test_a_law_and_its_draft_share_a_rare_name() -> None:
    draft = "国家医保局关于《药品价格管理条例（征求意见稿）》公开征求意见的公告"
    assert "《药品价格管理条例》" in rare_entities(draft)
    assert rare_entities(draft) & rare_entities(
        "重磅！《药品价格管理条例》要来了！药企违规将被重罚"
    )


def test_a_province_carrying_out_a_national_batch_is_the_national_batch() -> None:
    assert procurement_batches("湖北省医保局：第十批国采今日起落地执行") == {"集采#10"}
    assert procurement_batches("市值千亿药企第五批集采中标") == {"集采#5"}
    assert grouped(
        S(1, "湖北省医保局：第十批国采今日起落地执行"),
        S(2, "第十批国采今日起落地执行，附中选结果"),
    )


def test_two_companies_results_in_one_batch_stay_two_stories() -> None:
    assert not grouped(
        S(1, "青禾医药第十批集采中标5个品种"),
        S(2, "远岳生物第十批集采全部落选"),
    )


@pytest.mark.parametrize(
    ("round_a", "round_b", "one"),
    [
        ("b3", "b", True),  # an outlet drops the tranche number
        ("a/a+", "a+", True),  # or one of two rounds announced together
        ("b", "c", False),
        ("b1", "b2", False),  # two tranches of one round are two deals
    ],
)
def test_tranches_and_two_round_announcements_of_one_deal(
    round_a: str, round_b: str, one: bool
) -> None:
    a = _story(1, "青禾医药完成2亿元融资", _fin("青禾医药", round_a, 2e8, "CNY"))
    b = _story(2, "青禾医药宣布完成2亿元新一轮融资", _fin("青禾医药", round_b, 2e8, "CNY"))
    assert grouped(a, b) is one


# --- issue 12, fourth round: a marked brand names one product ---------------------------------


def test_a_registered_mark_is_a_rare_name() -> None:
    assert "普生®" in rare_entities("肝癌1类新药！禾川制药禾普生®成功获批")
    assert "veltrex®" in rare_entities("Sarno Launches Veltrex® in Europe")
    assert rare_entities("远岳生物安沃®获批上市") & rare_entities("远岳生物安沃™获批") == {"安沃®"}


def test_two_reports_of_one_marked_brand_are_one_story() -> None:
    assert grouped(
        S(1, "肝癌1类新药！禾川制药禾普生®成功获批"),
        S(2, "禾普生®获批上市，肝癌一线治疗迎来国产新药"),
    )


def test_two_marked_brands_stay_two_stories() -> None:
    assert not grouped(
        S(1, "肝癌1类新药！禾川制药禾普生®成功获批"),
        S(2, "眼科新药远岳生物安沃®成功获批"),
    )


def test_a_marked_brand_needs_its_mark_and_long_titles_stay_cheap() -> None:
    assert "opdivo®" in rare_entities("Opdivo® wins approval")
    assert not any(e.endswith("®") for e in rare_entities("Opdivo wins approval"))
    # A mark names the word it follows, from the word's start.
    assert "x-ray9®" in rare_entities("the X-Ray9™ system") and "ray9®" not in rare_entities(
        "the X-Ray9™ system"
    )
