"""newsletter.domain.editorial.amounts.find_amount: money amounts as (low, high, currency).

Conventions (from tests/data/editorial_eval.jsonl): amounts are in whole currency units; an
exact figure has low == high; "over"/超/逾/过 is open-ended (high None); "nearly"/近 is
90 %..100 % of the figure; 数亿 is 1亿..10亿 (and 数千万, 数百万 alike); 亿元级 is 1亿..10亿;
元 without another currency is CNY. A bare price ("100元", "$5") is not an amount.
"""

from __future__ import annotations

from typing import Any

import pytest

from newsletter.domain.editorial.amounts import Amount, find_amount, normalize

M = 1_000_000
YI = 100_000_000  # 亿
WAN = 10_000  # 万


def case(text: str, low: float | None, high: float | None, currency: str | None) -> Any:
    return pytest.param(text, low, high, currency, id=text)


def bug(text: str, low: float | None, high: float | None, currency: str | None, why: str) -> Any:
    return pytest.param(
        text, low, high, currency, id=text, marks=pytest.mark.xfail(strict=True, reason=why)
    )


ENGLISH = [
    case("$25M", 25 * M, 25 * M, "USD"),
    case("$25m", 25 * M, 25 * M, "USD"),
    case("$25 million", 25 * M, 25 * M, "USD"),
    case("$19.5 million", 19.5 * M, 19.5 * M, "USD"),
    case("US$1.2bn", 1200 * M, 1200 * M, "USD"),
    case("$1.2B", 1200 * M, 1200 * M, "USD"),
    case("$500K", 500_000, 500_000, "USD"),
    case("$1,500,000", 1.5 * M, 1.5 * M, "USD"),
    case("USD 10 million", 10 * M, 10 * M, "USD"),
    case("€10 million", 10 * M, 10 * M, "EUR"),
    case("€8m", 8 * M, 8 * M, "EUR"),
    case("£5m", 5 * M, 5 * M, "GBP"),
    case("£18 million", 18 * M, 18 * M, "GBP"),
    case("HK$80 million", 80 * M, 80 * M, "HKD"),
    case("HK$1.1 billion", 1100 * M, 1100 * M, "HKD"),
    case("S$10 million", 10 * M, 10 * M, "SGD"),
    case("RMB 50 million", 50 * M, 50 * M, "CNY"),
    case("500 million yen", 500 * M, 500 * M, "JPY"),
    case("1.5 billion yen", 1500 * M, 1500 * M, "JPY"),
    case("10 million dollars", 10 * M, 10 * M, "USD"),
    case("$20M-$30M", 20 * M, 30 * M, "USD"),
    case("$20-30 million", 20 * M, 30 * M, "USD"),
    case("$20 to $30 million", 20 * M, 30 * M, "USD"),
    case("$900M-$1.2B", 900 * M, 1200 * M, "USD"),
    case("over $100 million", 100 * M, None, "USD"),
    case("more than $50 million", 50 * M, None, "USD"),
    case("nearly $50M", 45 * M, 50 * M, "USD"),
    case("about $10 million", 10 * M, 10 * M, "USD"),
    case("raises $12M Series A", 12 * M, 12 * M, "USD"),
    case("Series A of $22 million", 22 * M, 22 * M, "USD"),
    case("20-30 million dollars", 20 * M, 30 * M, "USD"),
    case("$30M-$20M", 20 * M, 30 * M, "USD"),
]

CHINESE = [
    case("2000万美元", 2000 * WAN, 2000 * WAN, "USD"),
    case("1.2亿美元", 1.2 * YI, 1.2 * YI, "USD"),
    case("3亿元", 3 * YI, 3 * YI, "CNY"),
    case("3 亿元", 3 * YI, 3 * YI, "CNY"),
    case("3亿元人民币", 3 * YI, 3 * YI, "CNY"),
    case("2亿人民币", 2 * YI, 2 * YI, "CNY"),
    case("4000万元", 4000 * WAN, 4000 * WAN, "CNY"),
    case("数亿元", 1 * YI, 10 * YI, "CNY"),
    case("数亿美元", 1 * YI, 10 * YI, "USD"),
    case("数千万元", 1000 * WAN, 1 * YI, "CNY"),
    case("数千万美元", 1000 * WAN, 1 * YI, "USD"),
    case("数百万美元", 100 * WAN, 1000 * WAN, "USD"),
    case("数百万元", 100 * WAN, 1000 * WAN, "CNY"),
    case("数十亿元", 10 * YI, 100 * YI, "CNY"),
    case("近亿元", 0.9 * YI, 1 * YI, "CNY"),
    case("近1亿元", 0.9 * YI, 1 * YI, "CNY"),
    case("将近1亿元", 0.9 * YI, 1 * YI, "CNY"),
    case("近5000万元", 4500 * WAN, 5000 * WAN, "CNY"),
    case("超过1亿元", 1 * YI, None, "CNY"),
    case("超1亿美元", 1 * YI, None, "USD"),
    case("超亿元", 1 * YI, None, "CNY"),
    case("过亿元", 1 * YI, None, "CNY"),
    case("上亿元", 1 * YI, None, "CNY"),
    case("逾2亿元", 2 * YI, None, "CNY"),
    case("融资额逾1亿", 1 * YI, None, "CNY"),
    case("获超1亿融资", 1 * YI, None, "CNY"),
    case("完成数千万A轮融资", 1000 * WAN, 1 * YI, "CNY"),
    case("亿元级", 1 * YI, 10 * YI, "CNY"),
    case("2000万至3000万美元", 2000 * WAN, 3000 * WAN, "USD"),
    case("1-2亿元", 1 * YI, 2 * YI, "CNY"),
    case("1至2亿元", 1 * YI, 2 * YI, "CNY"),
    case("5000万-1亿元", 5000 * WAN, 1 * YI, "CNY"),
    case("5亿港元", 5 * YI, 5 * YI, "HKD"),
    case("1亿港币", 1 * YI, 1 * YI, "HKD"),
    case("10亿日元", 10 * YI, 10 * YI, "JPY"),
    case("1000万欧元", 1000 * WAN, 1000 * WAN, "EUR"),
    case("完成1.5亿元B轮融资", 1.5 * YI, 1.5 * YI, "CNY"),
    # Figures in Chinese numerals (the text kept as written), 近千万, 亿级, 数千万元级.
    case("完成近六亿元B轮融资", 5.4 * YI, 6 * YI, "CNY"),
    case("五千万美元", 5000 * WAN, 5000 * WAN, "USD"),
    # a whole run of numerals is one number, never its last group
    case("康泰医疗完成三千五百万元A轮融资", 3500 * WAN, 3500 * WAN, "CNY"),
    case("获一亿两千万元B轮融资", 1.2 * YI, 1.2 * YI, "CNY"),
    case("完成两亿五千万美元C轮融资", 2.5 * YI, 2.5 * YI, "USD"),
    case("完成一百二十亿元融资", 120 * YI, 120 * YI, "CNY"),
    case("完成三点五亿元B轮融资", 3.5 * YI, 3.5 * YI, "CNY"),
    case("完成十亿元融资", 10 * YI, 10 * YI, "CNY"),
    case("三千万元A轮", 3000 * WAN, 3000 * WAN, "CNY"),
    case("二十五亿元", 25 * YI, 25 * YI, "CNY"),
    case("超五亿元", 5 * YI, None, "CNY"),
    case("一亿元", 1 * YI, 1 * YI, "CNY"),
    case("近千万美金", 900 * WAN, 1000 * WAN, "USD"),
    case("获亿级B轮融资", 1 * YI, 10 * YI, "CNY"),
    case("累计规模达数千万元级", 1000 * WAN, 1 * YI, "CNY"),
    case("1000亿韩元", 1000 * YI, 1000 * YI, "KRW"),
    case(
        "2,000万美元",
        2000 * WAN,
        2000 * WAN,
        "USD",
    ),
    case(
        "2,500万美元",
        2500 * WAN,
        2500 * WAN,
        "USD",
    ),
]

FULL_WIDTH = [
    case("２０００万美元", 2000 * WAN, 2000 * WAN, "USD"),
    case("３亿元", 3 * YI, 3 * YI, "CNY"),
    case("＄２５Ｍ", 25 * M, 25 * M, "USD"),
    case("１－２亿元", 1 * YI, 2 * YI, "CNY"),
    case("２０００万～３０００万美元", 2000 * WAN, 3000 * WAN, "USD"),
    case("１．２亿美元", 1.2 * YI, 1.2 * YI, "USD"),
]


@pytest.mark.parametrize(("text", "low", "high", "currency"), ENGLISH + CHINESE + FULL_WIDTH)
def test_find_amount(text: str, low: float | None, high: float | None, currency: str) -> None:
    amount = find_amount(text)
    assert amount is not None
    assert (amount.low, amount.high, amount.currency) == (low, high, currency)


@pytest.mark.parametrize(
    "text",
    [
        "100元",
        "售价100元",
        "5000元",
        "1,000元",
        "$5",
        "$100",
        "price $5 per month",
        "2026年12月3日",
        "Phase 3 trial enrolls 300 patients",
        "",
        "服务数千万用户",
        "平台用户超1亿人",
        "覆盖近亿人群",
        "一亿用户",  # Chinese numerals without a currency or a funding word: a head count
        "服务三千万家庭",
    ],
)
def test_not_an_amount(text: str) -> None:
    assert find_amount(text) is None


def test_chinese_numerals_keep_the_text_as_written() -> None:
    amount = find_amount("先声诊断完成近六亿元B轮融资")
    assert amount is not None and amount.text == "近六亿元"
    vague = find_amount("累计规模达数千万元级")
    assert vague is not None and vague.text == "数千万元级"


def test_first_amount_wins() -> None:
    amount = find_amount("Acme raises $100M Series C at a $1B valuation")
    assert amount is not None
    assert (amount.low, amount.currency) == (100 * M, "USD")
    zh = find_amount("「X」完成2亿元B轮融资，此前曾获5000万美元A轮")
    assert zh is not None
    assert (zh.low, zh.currency) == (2 * YI, "CNY")


def test_amount_text_and_dict() -> None:
    amount = find_amount("Acme raises US$1.2bn in new funding")
    assert amount == Amount(1200 * M, 1200 * M, "USD", "US$1.2bn")
    assert amount.to_dict() == {
        "low": 1200 * M,
        "high": 1200 * M,
        "currency": "USD",
        "text": "US$1.2bn",
    }


def test_normalize() -> None:
    assert normalize("２０２６ＡＢｃ") == "2026ABc"
    assert normalize("1－2～3—4") == "1-2-3-4"
    assert normalize("$1,500,000") == "$1500000"
    assert normalize("a\u00a0b") == "a b"


def test_long_digit_run_is_no_amount() -> None:
    # Its speed (no catastrophic backtracking) is timed in bench/bench_limits.py.
    assert find_amount("1" * 2000) is None
