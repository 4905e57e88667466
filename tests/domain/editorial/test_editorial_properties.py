"""Property tests for the editorial detectors: arbitrary text never breaks them.

Hypothesis runs derandomized and without an example database, so the suite is reproducible and
writes nothing into the working tree.
"""

from __future__ import annotations

import re
from datetime import date

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from newsletter.domain.editorial.amounts import find_amount, normalize
from newsletter.domain.editorial.clusters import StoryInput, cluster_ids
from newsletter.domain.editorial.events import detect_event, event_date
from newsletter.domain.editorial.financing import detect_financing, is_round
from newsletter.domain.editorial.keypoints import key_points, split_sentences

PROPERTY = settings(
    max_examples=100,
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
NUMBER = st.one_of(
    st.integers(min_value=0, max_value=99_999).map(str),
    st.decimals(min_value=0, max_value=9999, places=2, allow_nan=False).map(str),
    st.sampled_from(["1,500", "2,000", "１．２", "２０００", "0", "00", "1.", ".5"]),
)
QUALIFIER = st.sampled_from(
    ["", "", "over ", "nearly ", "more than ", "近", "超过", "超", "逾", "约"]
)
EN_AMOUNT = st.builds(
    lambda q, sym, a, unit, rng: f"{q}{sym}{a}{unit}{rng}",
    QUALIFIER,
    st.sampled_from(["$", "US$", "HK$", "€", "£", "¥", "RMB ", "S$", ""]),
    NUMBER,
    st.sampled_from(["M", "m", " million", "bn", " billion", "K", "", " yen", " dollars"]),
    st.one_of(st.just(""), st.builds(lambda b, u: f"-{b}{u}", NUMBER, st.sampled_from(["M", "m"]))),
)
ZH_AMOUNT = st.one_of(
    st.builds(
        lambda q, a, unit, rng, cur: f"{q}{a}{unit}{rng}{cur}",
        QUALIFIER,
        NUMBER,
        st.sampled_from(["万", "亿", "千万", "百万", ""]),
        st.one_of(
            st.just(""), st.builds(lambda b, u: f"至{b}{u}", NUMBER, st.sampled_from(["万", "亿"]))
        ),
        st.sampled_from(["元", "美元", "港元", "日元", "欧元", "人民币", "元人民币", ""]),
    ),
    st.sampled_from(
        ["数亿元", "数千万美元", "数百万元", "近亿元", "超亿元", "过亿元", "亿元级", "上亿"]
    ),
)
NAME = st.one_of(
    st.sampled_from(["Acme Health", "「安济医疗」", "Boston-based Nova Bio", "合源医疗"]),
    st.text(CHARS, max_size=12),
)
STRUCTURED = st.one_of(
    st.builds(
        lambda n, v, a, r, lead, noise: f"{n} {v} {a} {r}{lead}{noise}",
        NAME,
        st.sampled_from(["raises", "secures", "closes", "lands", "completes", "in talks to raise"]),
        EN_AMOUNT,
        st.sampled_from(["Series A", "Series B+", "seed round", "pre-IPO round", "", "IPO"]),
        st.sampled_from(["", " led by Foo Ventures", " co-led by Foo and Bar", " led by "]),
        st.text(CHARS, max_size=20),
    ),
    st.builds(
        lambda n, v, a, r, lead, noise: f"{n}{v}{a}{r}{lead}{noise}",
        NAME,
        st.sampled_from(["完成", "获", "宣布完成", "拟", "完成A轮融资后"]),
        ZH_AMOUNT,
        st.sampled_from(
            ["A轮融资", "B+轮融资", "Pre-IPO轮融资", "战略融资", "天使轮融资", "融资租赁"]
        ),
        st.sampled_from(["", "，由甲资本领投", "，本轮由甲资本和乙资本联合领投", "，乙资本跟投"]),
        st.text(CHARS, max_size=20),
    ),
    st.builds(
        lambda n, k, w, c, noise: f"{n} {k} {w} {c}{noise}",
        NAME,
        st.sampled_from(
            ["Summit", "Conference", "webinar", "峰会", "论坛", "大会", "直播", "recap"]
        ),
        st.sampled_from(
            ["December 3-5, 2026", "Dec. 3", "3 December", "12月3日至5日", "2026年12月3日",
             "in 3 days", "10 days to go", "倒计时2天", "3天后", "tomorrow", "明天", "next Tuesday",
             "下周二", "January 5", "2月30日", "Feb 30", "0月0日", "9999年12月31日", "in 999 days"]
        ),
        st.sampled_from(
            ["in Boston", "在上海举行", "online", "线上", "", "圆满落幕", "register now"]
        ),
        st.text(CHARS, max_size=20),
    ),
)  # fmt: skip
TEXT = st.one_of(SHORT_TEXT, LONG_TEXT, STRUCTURED, EN_AMOUNT, ZH_AMOUNT)
LANG = st.sampled_from(["en", "zh", "zh-CN", "", "fr"])
PUBLISHED = st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31))


# "$30M-$20M", "1万至0万元": a range as written, possibly high-to-low (a known bug, next test).
_WRITTEN_RANGE = re.compile(r"\d\D{0,8}?(?:-|至|到|\bto\b)\D{0,8}?\d", re.IGNORECASE)


@PROPERTY
@given(TEXT)
@example("2,000万美元")
@example("$0M")
@example("-5亿元")
@example("近0亿元")
def test_find_amount_is_sane(text: str) -> None:
    amount = find_amount(text)
    event(f"amount: {amount is not None}")
    if amount is None:
        return
    assert amount.text
    assert amount.low is not None or amount.high is not None
    for value in (amount.low, amount.high):
        assert value is None or value >= 0
    low, high = amount.low, amount.high
    if low is not None and high is not None and not _WRITTEN_RANGE.search(normalize(amount.text)):
        assert low <= high  # ranges as written: see the next test


@PROPERTY
@given(TEXT)
@example("$30M-$20M")
@example("3-2亿元")
def test_find_amount_ranges_are_ordered(text: str) -> None:
    amount = find_amount(text)
    if amount is not None and amount.low is not None and amount.high is not None:
        assert amount.low <= amount.high


AMOUNT_FORMATS = [
    # (format, currency, unit, open-ended)
    ("${a}M", "USD", 1_000_000, False),
    ("US${a} million", "USD", 1_000_000, False),
    ("€{a}m", "EUR", 1_000_000, False),
    ("£{a} million", "GBP", 1_000_000, False),
    ("HK${a} million", "HKD", 1_000_000, False),
    ("{a} million yen", "JPY", 1_000_000, False),
    ("over ${a} million", "USD", 1_000_000, True),
    ("{a}万美元", "USD", 10_000, False),
    ("{a}万元", "CNY", 10_000, False),
    ("{a}亿元人民币", "CNY", 100_000_000, False),
    ("{a}亿港元", "HKD", 100_000_000, False),
    ("{a}亿日元", "JPY", 100_000_000, False),
    ("超过{a}亿元", "CNY", 100_000_000, True),
    ("逾{a}亿元", "CNY", 100_000_000, True),
]
RANGE_FORMATS = [
    ("${a}M-${b}M", "USD", 1_000_000),
    ("${a}-{b} million", "USD", 1_000_000),
    ("€{a} to €{b} million", "EUR", 1_000_000),
    ("{a}万至{b}万美元", "USD", 10_000),
    ("{a}-{b}亿元", "CNY", 100_000_000),
]


@PROPERTY
@given(
    st.integers(min_value=1, max_value=9999), st.sampled_from(AMOUNT_FORMATS), st.text(max_size=5)
)
def test_find_amount_reads_back_what_was_written(
    a: int, fmt: tuple[str, str, int, bool], tail: str
) -> None:
    template, currency, unit, open_ended = fmt
    amount = find_amount(f"完成 {template.format(a=a)}。{tail}")
    assert amount is not None
    assert amount.low == a * unit
    assert amount.high == (None if open_ended else a * unit)
    assert amount.currency == currency


@PROPERTY
@given(
    st.integers(min_value=1, max_value=9999),
    st.integers(min_value=0, max_value=9999),
    st.sampled_from(RANGE_FORMATS),
)
def test_find_amount_reads_back_ranges(a: int, extra: int, fmt: tuple[str, str, int]) -> None:
    template, currency, unit = fmt
    b = a + extra
    amount = find_amount(template.format(a=a, b=b))
    assert amount is not None
    assert (amount.low, amount.high, amount.currency) == (a * unit, b * unit, currency)


@PROPERTY
@given(TEXT, TEXT, LANG)
@example("Acme raises $20M-$30M Series A led by Foo", "", "en")
@example("「X」完成2000万至3000万美元A+轮融资，由甲资本和乙资本联合领投", "", "zh")
def test_detect_financing_never_raises(title: str, summary: str, lang: str) -> None:
    fact = detect_financing(title, summary, lang)
    event(f"financing: {fact is not None}")
    if fact is None:
        return
    assert is_round(fact.round)
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
    event(f"event: {fact is not None}")
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
    event(f"date: {result is not None}")
    assert result is None or isinstance(result, date)


STORY = st.builds(
    StoryInput,
    id=st.integers(min_value=-(2**31), max_value=2**31),
    title=TEXT,
    summary=st.one_of(st.just(""), SHORT_TEXT),
    url=st.one_of(st.none(), st.sampled_from(["", "https://a.example/1", "https://a.example/2"])),
    financing_key=st.one_of(st.none(), st.sampled_from(["acme|a", "acme|b", "贝塔|c"])),
)


@settings(PROPERTY, max_examples=50)
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
    event(f"points: {len(points)}")
    assert len(points) <= 5
    for point in points:
        assert 1 <= point.paragraph <= len(paragraphs)
        assert point.text.removesuffix("…") in paragraphs[point.paragraph - 1]
    for paragraph in paragraphs:
        for sentence in split_sentences(paragraph):
            assert sentence and sentence == sentence.strip()
