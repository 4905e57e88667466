"""Property tests for the editorial detectors: arbitrary text never breaks them.

Hypothesis runs derandomized and without an example database, so the suite is reproducible and
writes nothing into the working tree.
"""

from __future__ import annotations

from datetime import date

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from newsletter.editorial.amounts import find_amount
from newsletter.editorial.clusters import StoryInput, cluster_ids
from newsletter.editorial.events import detect_event, event_date
from newsletter.editorial.financing import ROUNDS, detect_financing
from newsletter.editorial.keypoints import key_points, split_sentences

PROPERTY = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Pieces of the languages the detectors parse, so random text reaches their deeper branches.
FRAGMENTS = [
    *"0123456789０１２３４５６７８９.．,，-－–~～至到和、|｜:：【】「」《》。！？；!?; \n\t",
    *"$€£¥＄",
    "US$", "HK$", "S$", "RMB", "USD", "M", "m", "bn", "B", "K", " million", " billion", " yen",
    "万", "亿", "千万", "百万", "元", "美元", "港元", "日元", "欧元", "人民币", "数亿", "数千万",
    "近", "超过", "超", "逾", "过", "亿元级", "over ", "nearly ", "more than ",
    "raises ", "secures ", "closes ", "lands ", " Series A", " Series B+", " seed", " pre-IPO",
    " round", " led by ", " co-led by ", " and ", ", with participation from ", "IPO", "fund",
    "完成", "获", "轮融资", "A轮", "Pre-A轮", "天使轮", "战略融资", "领投", "联合领投", "跟投",
    "独家投资", "本轮由", "基金", "募资", "拟", "融资租赁", "后", "距", "对话",
    "Summit", "Conference", "webinar", " online", "Boston", "上海", "峰会", "论坛", "大会",
    "直播", "线上", "回放", "圆满落幕", "recap", "register", "Join us", "将于", "举办",
    "December 3", "Dec. 3-5", "3 December", "2026", "2027年", "12月3日", "至5日", "in 3 days",
    "10 days to go", "倒计时", "天后", "tomorrow", "明天", "next Tuesday", "下周二", "Jan 5",
]  # fmt: skip

CJK = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)
CONTROL = st.characters(min_codepoint=0, max_codepoint=0x1F)
ODD = st.sampled_from(["\u200b", "\u202e", "\ufeff", "\u00a0", "\u3000", "\ud7ff", "\U0001f600"])
CHARS = st.one_of(st.characters(), CJK, CONTROL, ODD)

SHORT_TEXT = st.one_of(
    st.text(max_size=200),
    st.text(alphabet=CHARS, max_size=200),
    st.lists(st.sampled_from(FRAGMENTS), max_size=30).map("".join),
    st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(CHARS, max_size=3)), max_size=30).map(
        "".join
    ),
)


def _not_one_long_run(part: str) -> bool:
    """Runs of thousands of digits or spaces are quadratic in some regexes: a known performance
    bug with tests of its own (test_amounts.py, test_clusters.py), kept out of here for speed."""
    return bool(part.strip()) and not part.strip().isdigit()


LONG_TEXT = st.builds(
    lambda part, times: (part * times)[:5000],
    st.one_of(
        SHORT_TEXT.filter(_not_one_long_run),
        st.sampled_from(["1 a ", "A ", "万", "led by x", "12月3日", "$5M ", "融资"]),
    ),
    st.integers(min_value=1, max_value=5000),
)
TEXT = st.one_of(SHORT_TEXT, LONG_TEXT)
LANG = st.sampled_from(["en", "zh", "zh-CN", "", "fr"])
PUBLISHED = st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31))


@PROPERTY
@given(TEXT)
@example("2,000万美元")
@example("$0M")
@example("-5亿元")
@example("近0亿元")
def test_find_amount_is_sane(text: str) -> None:
    amount = find_amount(text)
    if amount is None:
        return
    assert amount.low is not None or amount.high is not None
    for value in (amount.low, amount.high):
        assert value is None or value >= 0
    if amount.low is not None and amount.high is not None:
        assert amount.low <= amount.high
    assert amount.text


@PROPERTY
@given(TEXT, TEXT, LANG)
@example("Acme raises $20M-$30M Series A led by Foo", "", "en")
@example("「X」完成2000万至3000万美元A+轮融资，由甲资本和乙资本联合领投", "", "zh")
def test_detect_financing_never_raises(title: str, summary: str, lang: str) -> None:
    fact = detect_financing(title, summary, lang)
    if fact is None:
        return
    assert fact.round in ROUNDS
    assert isinstance(fact.company, str)
    assert all(isinstance(name, str) and name for name in fact.lead_investors)
    facts = fact.to_dict()
    low, high = facts["amount_low"], facts["amount_high"]
    assert low is None or (isinstance(low, float) and low >= 0)
    assert high is None or (isinstance(high, float) and high >= 0)


@PROPERTY
@given(TEXT, TEXT, LANG, PUBLISHED)
@example("Digital Health Summit, Dec. 3-5, Boston", "", "en", date(2026, 12, 20))
@example("峰会将于1月5日在上海举行", "", "zh", date(2026, 12, 20))
@example("Medtech Forum on November 1", "Register now", "en", date(2026, 11, 10))
@example("医疗峰会倒计时2天", "", "zh", date(2100, 12, 31))
def test_detect_event_never_raises_and_is_never_in_the_past(
    title: str, summary: str, lang: str, published: date
) -> None:
    fact = detect_event(title, summary, lang, published)
    if fact is None:
        return
    assert isinstance(fact.name, str)
    assert fact.start is None or fact.start >= published
    assert fact.place is None or fact.place
    fact.to_dict()


@PROPERTY
@given(TEXT, PUBLISHED)
def test_event_date_never_raises(text: str, published: date) -> None:
    result = event_date(text, published)
    assert result is None or isinstance(result, date)


STORY = st.builds(
    StoryInput,
    id=st.integers(min_value=-(2**31), max_value=2**31),
    title=TEXT,
    summary=st.one_of(st.just(""), SHORT_TEXT),
    url=st.one_of(st.none(), st.sampled_from(["", "https://a.example/1", "https://a.example/2"])),
    financing_key=st.one_of(st.none(), st.sampled_from(["acme|a", "acme|b", "贝塔|c"])),
)


@settings(PROPERTY, max_examples=40)
@given(st.lists(STORY, max_size=8, unique_by=lambda s: s.id))
def test_cluster_ids_never_raises_and_is_order_independent(stories: list[StoryInput]) -> None:
    mapping = cluster_ids(stories)
    assert set(mapping) == {s.id for s in stories}
    assert cluster_ids(list(reversed(stories))) == mapping
    for story in stories:
        assert mapping[story.id].startswith("c")


@PROPERTY
@given(st.lists(TEXT, max_size=6), LANG)
def test_key_points_never_raises(paragraphs: list[str], lang: str) -> None:
    points = key_points(paragraphs, lang)
    assert len(points) <= 5
    for point in points:
        assert 1 <= point.paragraph <= len(paragraphs)
        assert point.text.removesuffix("…") in paragraphs[point.paragraph - 1]
    for paragraph in paragraphs:
        for sentence in split_sentences(paragraph):
            assert sentence and sentence == sentence.strip()
