"""newsletter.domain.editorial.financing.detect_financing: funding rounds in, everything else out.

Round names follow the labelled set (tests/data/editorial_eval.jsonl): "a", "b+", "pre-a",
"pre-ipo", "seed", "angel", "strategic", "undisclosed" (no round named); Series A-1 / A1轮 is
the tranche "a1", and A轮及A+轮 (two rounds announced together) is "a/a+".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from newsletter.domain.editorial.financing import FinancingFact, detect_financing, is_round

ROOT = Path(__file__).resolve().parents[3]
M = 1_000_000
YI = 100_000_000  # 亿
WAN = 10_000  # 万


def xfail(why: str) -> Any:
    return pytest.mark.xfail(strict=True, reason=why)


def pos(
    title: str,
    summary: str,
    lang: str,
    round_name: str,
    low: float | None,
    high: float | None,
    currency: str | None,
) -> Any:
    return pytest.param(title, summary, lang, round_name, low, high, currency, id=title[:60])


POSITIVES = [
    # --- English
    pos("Ardent Surgical raises $19.5 million Series A", "", "en", "a", 19.5 * M, 19.5 * M, "USD"),
    pos(
        "Clarivant Bio emerges from stealth with $90M Series A",
        "",
        "en",
        "a",
        90 * M,
        90 * M,
        "USD",
    ),
    pos(
        "Boston-based Acme Health secures $10M seed round", "", "en", "seed", 10 * M, 10 * M, "USD"
    ),
    pos("Acme Bio raises $5M pre-seed", "", "en", "seed", 5 * M, 5 * M, "USD"),
    pos("Careloop secures $3.5M angel round", "", "en", "angel", 3.5 * M, 3.5 * M, "USD"),
    pos("Pinewood AI raises Series A+ of $22 million", "", "en", "a+", 22 * M, 22 * M, "USD"),
    pos("Orbis Dx raises Series A-1 financing of $18M", "", "en", "a1", 18 * M, 18 * M, "USD"),
    pos("Vitaline raises $4M Pre-A round", "", "en", "pre-a", 4 * M, 4 * M, "USD"),
    pos("Tessel Bio bags $75M Series B+", "", "en", "b+", 75 * M, 75 * M, "USD"),
    pos("Acme Bio closes $120 million Series C", "", "en", "c", 120 * M, 120 * M, "USD"),
    pos("Nuvexa raises $120 million Series D", "", "en", "d", 120 * M, 120 * M, "USD"),
    pos("Brightmoor raises $250M Series E", "", "en", "e", 250 * M, 250 * M, "USD"),
    pos("Ruibo Biopharma completes $70M pre-IPO round", "", "en", "pre-ipo", 70 * M, 70 * M, "USD"),
    pos("MedBridge raises HK$80 million pre-IPO round", "", "en", "pre-ipo", 80 * M, 80 * M, "HKD"),
    pos("Kelvra Therapeutics closes €30 million Series A", "", "en", "a", 30 * M, 30 * M, "EUR"),
    pos("Pembury Health raises £18 million Series A", "", "en", "a", 18 * M, 18 * M, "GBP"),
    pos("Medora Labs secures £5m to scale", "", "en", "undisclosed", 5 * M, 5 * M, "GBP"),
    pos("Kizuna Care raises 1.5 billion yen in Series A", "", "en", "a", 1500 * M, 1500 * M, "JPY"),
    pos(
        "Rosalind Dx gets 500 million yen strategic investment from Tanaka Pharmaceutical",
        "",
        "en",
        "strategic",
        500 * M,
        500 * M,
        "JPY",
    ),
    pos("Xinkang raises RMB 50 million Pre-A round", "", "en", "pre-a", 50 * M, 50 * M, "CNY"),
    pos("Fenwick raises $20M-$30M in Series A, filing shows", "", "en", "a", 20 * M, 30 * M, "USD"),
    pos("Fenwick raises $20-30 million Series A", "", "en", "a", 20 * M, 30 * M, "USD"),
    pos("Arclight raises more than $100 million in Series C", "", "en", "c", 100 * M, None, "USD"),
    pos("Songhe raises over $50 million in Series B", "", "en", "b", 50 * M, None, "USD"),
    pos("Acme raises nearly $50M Series B", "", "en", "b", 45 * M, 50 * M, "USD"),
    pos("Meldrum AI raises $3M to help hospitals", "", "en", "undisclosed", 3 * M, 3 * M, "USD"),
    pos("Ameno Health raises Series B of undisclosed size", "", "en", "b", None, None, None),
    pos("Nimbus Rx raises seed round of undisclosed size", "", "en", "seed", None, None, None),
    pos("Exclusive: Wenrui Medical raises $30M Series C", "", "en", "c", 30 * M, 30 * M, "USD"),
    pos(
        "Acme Health announces $30 million Series B financing", "", "en", "b", 30 * M, 30 * M, "USD"
    ),
    pos(
        "Acme lands strategic investment from Meridian Health",
        "",
        "en",
        "strategic",
        None,
        None,
        None,
    ),
    pos(
        "Ostara Health raises $12M to build care network",
        "The Series A was led by Foo.",
        "en",
        "a",
        12 * M,
        12 * M,
        "USD",
    ),
    # --- Chinese
    pos("心脉智联获2000万美元B+轮融资", "", "zh", "b+", 2000 * WAN, 2000 * WAN, "USD"),
    pos("「安济医疗」完成1.2亿元A+轮融资", "", "zh", "a+", 1.2 * YI, 1.2 * YI, "CNY"),
    pos("「康澜生物」完成3亿元B轮融资", "", "zh", "b", 3 * YI, 3 * YI, "CNY"),
    pos("「宜康达」完成3亿元人民币C轮融资", "", "zh", "c", 3 * YI, 3 * YI, "CNY"),
    pos("精导医疗完成数亿元C轮融资", "", "zh", "c", 1 * YI, 10 * YI, "CNY"),
    pos("「青禾基因」完成新一轮数千万元融资", "", "zh", "undisclosed", 1000 * WAN, YI, "CNY"),
    pos("「行知医疗」获数百万美元种子轮融资", "", "zh", "seed", 100 * WAN, 1000 * WAN, "USD"),
    pos("速递 | 合源医疗完成近亿元A轮融资", "", "zh", "a", 0.9 * YI, YI, "CNY"),
    pos("「妍创医疗」完成近1亿元Pre-A轮融资", "", "zh", "pre-a", 0.9 * YI, YI, "CNY"),
    pos("「小鹿健康」完成B轮融资，规模超过1亿元", "", "zh", "b", YI, None, "CNY"),
    pos("「神启科技」完成超亿元天使轮融资", "", "zh", "angel", YI, None, "CNY"),
    pos("「禾安健康」完成过亿元B轮融资", "", "zh", "b", YI, None, "CNY"),
    pos("「锐刃医疗」完成E轮融资，融资额逾2亿元", "", "zh", "e", 2 * YI, None, "CNY"),
    pos("「康途医疗」完成亿元级B轮融资", "", "zh", "b", YI, 10 * YI, "CNY"),
    pos(
        "「碳元生物」完成2000万至3000万美元A+轮融资", "", "zh", "a+", 2000 * WAN, 3000 * WAN, "USD"
    ),
    pos("「康源医疗」完成1-2亿元B轮融资", "", "zh", "b", YI, 2 * YI, "CNY"),
    pos("「华岭医药」完成5亿港元Pre-IPO轮融资", "", "zh", "pre-ipo", 5 * YI, 5 * YI, "HKD"),
    pos("中日合资「睿心医疗」完成10亿日元A轮融资", "", "zh", "a", 10 * YI, 10 * YI, "JPY"),
    pos("「康博安」完成1000万欧元A轮融资", "", "zh", "a", 1000 * WAN, 1000 * WAN, "EUR"),
    pos("「惠康医药」获1亿港元战略融资", "", "zh", "strategic", YI, YI, "HKD"),
    pos("安宁医药获九州康药业战略投资", "", "zh", "strategic", None, None, None),
    pos("「启辰医疗」完成天使轮融资，金额未披露", "", "zh", "angel", None, None, None),
    pos("「明视医疗」完成A1轮融资", "", "zh", "a1", None, None, None),
    pos("「心语健康」完成新一轮融资", "", "zh", "undisclosed", None, None, None),
    pos("【首发】「晶算智药」完成1500万美元A轮融资", "", "zh", "a", 1500 * WAN, 1500 * WAN, "USD"),
    pos(
        "「承启医疗」完成A轮融资",
        "本轮金额为2000万美元。",
        "zh",
        "a",
        2000 * WAN,
        2000 * WAN,
        "USD",
    ),
    pos("「心脉智联」完成２０００万美元Ｂ轮融资", "", "zh", "b", 2000 * WAN, 2000 * WAN, "USD"),
]


@pytest.mark.parametrize(
    ("title", "summary", "lang", "round_name", "low", "high", "currency"), POSITIVES
)
def test_financing_round_and_amount(
    title: str,
    summary: str,
    lang: str,
    round_name: str,
    low: float | None,
    high: float | None,
    currency: str | None,
) -> None:
    fact = detect_financing(title, summary, lang)
    assert fact is not None
    assert is_round(fact.round)
    facts = fact.to_dict()
    assert (facts["round"], facts["amount_low"], facts["amount_high"], facts["currency"]) == (
        round_name,
        low,
        high,
        currency,
    )


@pytest.mark.parametrize(
    ("title", "summary", "lang", "company"),
    [
        ("Ardent Surgical raises $19.5 million Series A", "", "en", "Ardent Surgical"),
        ("Boston-based Acme Health secures $10M seed round", "", "en", "Acme Health"),
        ("Digital health startup Careloop raises $3M", "", "en", "Careloop"),
        ("Exclusive: Wenrui Medical raises $30M Series C", "", "en", "Wenrui Medical"),
        ("Funding: Nova Care raises $8M Series A", "", "en", "Nova Care"),
        ("速递 | 合源医疗完成近亿元A轮融资", "", "zh", "合源医疗"),
        ("细胞治疗公司恒济生物完成5亿元C轮融资", "", "zh", "恒济生物"),
        ("独家 | 瑞博生物完成1.2亿美元C轮融资", "", "zh", "瑞博生物"),
        ("安宁医药获九州康药业战略投资", "", "zh", "安宁医药"),
        pytest.param(
            "「安济医疗」完成1.2亿元A+轮融资",
            "",
            "zh",
            "安济医疗",
        ),
        pytest.param(
            "AI制药公司「晶算智药」完成1500万美元A轮融资",
            "",
            "zh",
            "晶算智药",
        ),
        pytest.param(
            "微创介入器械商宁康医疗完成数亿元D轮融资",
            "",
            "zh",
            "宁康医疗",
        ),
        pytest.param(
            "Zhiyuan Biotech raises $100M Series C",
            "",
            "en",
            "Zhiyuan Biotech",
        ),
        pytest.param(
            "London's Medora Labs secures £5m",
            "",
            "en",
            "Medora Labs",
        ),
    ],
)
def test_financing_company(title: str, summary: str, lang: str, company: str) -> None:
    fact = detect_financing(title, summary, lang)
    assert fact is not None
    assert fact.company == company


@pytest.mark.parametrize(
    ("title", "summary", "lang", "leads"),
    [
        ("Brevant raises $55M Series A led by Atlas Creek", "", "en", ["Atlas Creek"]),
        (
            "Helixor raises $33M in Series B funding co-led by Amber Road and Stillwater",
            "",
            "en",
            ["Amber Road", "Stillwater"],
        ),
        (
            "Acme Health raises $25 million Series A",
            "The round was co-led by Foo Ventures and Bar Capital, with participation from Baz.",
            "en",
            ["Foo Ventures", "Bar Capital"],
        ),
        (
            "Acme Bio closes $120 million Series C",
            "The financing was led by Foo Partners, alongside existing investors.",
            "en",
            ["Foo Partners"],
        ),
        ("Careloop secures $3.5M angel round", "Angels from health systems joined.", "en", []),
        ("「安济医疗」完成1.2亿元A+轮融资，由海川资本领投", "", "zh", ["海川资本"]),
        (
            "「晶算智药」完成1500万美元A轮融资",
            "本轮由长河资本领投，老股东跟投。",
            "zh",
            ["长河资本"],
        ),
        (
            "「X生物」完成2亿元B轮融资",
            "本轮融资由红杉中国领投，高瓴创投、启明创投跟投。",
            "zh",
            ["红杉中国"],
        ),
        (
            "「精导医疗」完成数亿元C轮融资",
            "本轮由国风投资与海峡资本联合领投，云石资本跟投。",
            "zh",
            ["国风投资", "海峡资本"],
        ),
        (
            "「康途医疗」完成亿元级B轮融资",
            "本轮融资由丰泽资本和朗川投资共同领投。",
            "zh",
            ["丰泽资本", "朗川投资"],
        ),
        ("「元启生物」完成数百万元种子轮融资", "本轮由初心创投独家投资。", "zh", ["初心创投"]),
        ("「知心医疗」获500万美元天使轮融资", "公司未披露投资方。", "zh", []),
        (
            "Pembury Health raises £18 million Series A led by Kingsgate Ventures",
            "The Leeds-based virtual ward provider plans to work with 30 NHS trusts by 2028.",
            "en",
            ["Kingsgate Ventures"],
        ),
        (
            "Acme Therapeutics raises $30M Series A led by Foo Capital",
            "The company plans to expand.",
            "en",
            ["Foo Capital"],
        ),
        pytest.param(
            "Tidewell Therapeutics secures $85M Series C",
            "Ironbark Partners led the round.",
            "en",
            ["Ironbark Partners"],
        ),
        pytest.param(
            "Ameno Health raises Series B of undisclosed size",
            "The round was led by Cardale Ventures, the venture arm of insurer Cardale Health.",
            "en",
            ["Cardale Ventures"],
        ),
        pytest.param(
            "「赛维康生物」完成2.5亿元B+轮融资",
            "本轮由泰和资本领投，润禾投资跟投。",
            "zh",
            ["泰和资本"],
        ),
        pytest.param(
            "「X生物」完成2亿元B轮融资",
            "本轮融资由红杉中国、高瓴创投联合领投。",
            "zh",
            ["红杉中国", "高瓴创投"],
        ),
        pytest.param(
            "「蓝鲸医学」获数亿元战略融资",
            "本轮战略融资由康华集团领投。",
            "zh",
            ["康华集团"],
        ),
        pytest.param(
            "「妍创医疗」完成近1亿元Pre-A轮融资",
            "领投方为凯岚资本。",
            "zh",
            ["凯岚资本"],
        ),
    ],
)
def test_financing_lead_investors(title: str, summary: str, lang: str, leads: list[str]) -> None:
    fact = detect_financing(title, summary, lang)
    assert fact is not None
    assert fact.lead_investors == leads


def neg(title: str, lang: str, summary: str = "") -> Any:
    return pytest.param(title, summary, lang, id=title[:60])


NEGATIVES = [
    # IPOs, listings, placements
    neg("Helmstone Bio's IPO raises $200M after pricing at top of range", "en"),
    neg("Acme Health prices IPO, raising $150 million", "en"),
    neg("Acme Health files for IPO to raise $100 million", "en"),
    neg("Acme Health goes public via SPAC, raising $100M", "en"),
    neg("Medwell Group debuts on London's AIM, raising £40m", "en"),
    neg("Pellin raises $60 million through private placement of shares", "en"),
    neg("Corvane Surgical raises $85M in follow-on offering", "en"),
    neg("「云康医药」港股IPO募资10亿港元", "zh"),
    neg("「瑞德生物」登陆港交所，IPO募资净额8.6亿港元", "zh"),
    neg("港股IPO｜「康博医疗」启动招股，拟募资约15亿港元", "zh"),
    neg("「远大康」完成配售新股，募资约3亿港元", "zh"),
    neg("「泰安药业」完成定增，募资20亿元", "zh"),
    neg("「XY医疗」获1亿元港股IPO基石投资", "zh"),
    # acquisitions and mergers
    neg("Acme acquires Beta Health for $300 million", "en"),
    neg("Medico Holdings to buy Series B-backed startup Carefold for $300 million", "en"),
    neg("Norvale completes acquisition of Bexley Diagnostics", "en"),
    neg("「中远药业」完成对「天源生物」的全资收购", "zh"),
    neg("「康达医药」收购B轮企业「智研生物」，交易对价约8亿元", "zh"),
    # licensing with upfront payments
    neg("Eden Biologics to receive $40M upfront in out-licensing deal", "en"),
    neg("Acme secures $20 million upfront payment in licensing pact", "en"),
    neg("「嘉锐生物」授权引进ROR1 ADC，首付款3000万美元", "zh"),
    neg("「云杉生物」获海外药企1亿美元首付款，达成全球授权协议", "zh"),
    # a VC fund raising its own fund
    neg("Foo Ventures closes $300M Fund III", "en"),
    neg("Harborview Health Ventures closes $300M fund to back early-stage medtech", "en"),
    neg("Norrland Bio Ventures raises €200 million for new European biotech fund", "en"),
    neg("「青松资本」新一期天使基金完成募集，规模5亿元", "zh"),
    neg("「星河资本」生物医药基金完成最终关账，总规模50亿元", "zh"),
    neg("「远澜投资」二期美元基金完成首轮关账，规模3亿美元", "zh"),
    # trend commentary
    neg("Digital health funding fell 20% in Q3 to $2.1 billion, report finds", "en"),
    neg("Healthcare VC funding dropped in Q3", "en"),
    neg("三季度医疗健康融资报告：融资总额同比下降20%", "zh"),
    neg("10月医疗健康投融资月报：共发生68起融资", "zh"),
    # plans to raise
    neg("Nuvola Health in talks to raise $100M at $1B valuation", "en"),
    neg("Ambria Care plans to raise $50 million Series B", "en"),
    neg("Kestrel Bio seeks to raise up to $80 million in Series C", "en"),
    neg("「美年康」拟融资10亿元扩张体检网络", "zh"),
    neg("「博思医疗」计划募资5亿元建设新生产基地", "zh"),
    neg("「知康科技」正洽谈新一轮融资", "zh"),
    neg("「安诺生物」启动B轮融资，目标金额2亿元", "zh"),
    # mentions of a past round
    neg("Curae lays off 30% of staff a year after raising $50M Series B", "en"),
    neg("「晶算智药」完成A轮融资后首个AI设计分子进入临床", "zh"),
    neg("「安宁医药」裁员30%，距完成战略融资仅一年", "zh"),
    neg("对话刚完成A轮融资的创业者", "zh"),
    neg("专访｜刚完成A轮融资的XY医疗CEO", "zh"),
    # 融资租赁 (finance leases), credit lines, contracts, grants
    neg("「瑞康医院集团」与租赁公司签署5亿元融资租赁协议", "zh"),
    neg("XY医院获得3亿元融资租赁支持", "zh"),
    neg("「宁康医疗」获银行10亿元授信额度", "zh"),
    neg("Nuvia Care wins $45 million contract from Veterans Affairs", "en"),
    neg("Acme receives $3 million NIH grant", "en"),
    neg("Kinsale Health raises prices on insulin pens by 4%", "en"),
    neg("FDA approves Tessaro's once-monthly schizophrenia injection", "en"),
]


@pytest.mark.parametrize(("title", "summary", "lang"), NEGATIVES)
def test_not_financing(title: str, summary: str, lang: str) -> None:
    assert detect_financing(title, summary, lang) is None


@pytest.mark.parametrize(
    ("title", "lang"),
    [
        ("「某公司」完成新一轮融资，投后估值达50亿元", "zh"),
        ("Acme raises Series C at $1B valuation", "en"),
    ],
)
def test_valuation_is_not_the_amount(title: str, lang: str) -> None:
    fact = detect_financing(title, "", lang)
    assert fact is not None
    assert fact.amount is None


def test_financing_to_dict() -> None:
    fact = detect_financing("Brevant Neuro raises $55M Series A led by Atlas Creek", "", "en")
    assert isinstance(fact, FinancingFact)
    assert fact.to_dict() == {
        "company": "Brevant Neuro",
        "round": "a",
        "amount_low": 55 * M,
        "amount_high": 55 * M,
        "currency": "USD",
        "amount_text": "$55M",
        "lead_investors": ["Atlas Creek"],
        "company_confidence": 1.0,
        "sector": "healthcare",
    }


def test_labelled_set_is_substantial(figures: dict[str, float]) -> None:
    assert figures["items"] >= 300


@pytest.mark.parametrize("measure", ["financing_precision", "financing_recall"])
def test_labelled_set_financing_detection(figures: dict[str, float], measure: str) -> None:
    assert figures[measure] >= 0.95, figures


@pytest.mark.parametrize("measure", ["round_exact", "amount_exact", "currency_exact"])
def test_labelled_set_financing_fields(figures: dict[str, float], measure: str) -> None:
    assert figures[measure] >= 0.90, figures
