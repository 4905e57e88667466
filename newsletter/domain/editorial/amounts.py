"""Money amounts in English and Chinese trade news, as a low/high range with a currency."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from newsletter.domain.editorial.prefilter import prefiltered
from newsletter.domain.numerals import CN_UNITS, chinese_number

# Full-width digits and punctuation are normalized before matching (see normalize()).
_CN_UNIT = CN_UNITS
_EN_UNIT = {
    "k": 1_000, "thousand": 1_000,
    "m": 1_000_000, "mn": 1_000_000, "mm": 1_000_000, "mln": 1_000_000, "million": 1_000_000,
    "millions": 1_000_000,
    "b": 1_000_000_000, "bn": 1_000_000_000, "bln": 1_000_000_000, "billion": 1_000_000_000,
}  # fmt: skip
_CN_CURRENCY = {
    "美元": "USD",
    "美金": "USD",
    "元": "CNY",
    "人民币": "CNY",
    "元人民币": "CNY",
    "欧元": "EUR",
    "港元": "HKD",
    "港币": "HKD",
    "日元": "JPY",
    "英镑": "GBP",
    "新加坡元": "SGD",
    "韩元": "KRW",
}
_SYMBOL = {
    "US$": "USD",
    "$": "USD",
    "USD": "USD",
    "€": "EUR",
    "EUR": "EUR",
    "£": "GBP",
    "GBP": "GBP",
    "HK$": "HKD",
    "HKD": "HKD",
    "¥": "CNY",
    "RMB": "CNY",
    "CNY": "CNY",
    "S$": "SGD",
    "JPY": "JPY",
}
_VAGUE_CN = {
    # 数亿 = "several hundred million": 1亿 to 10亿, and so on.
    "数十亿": (1_000_000_000, 10_000_000_000), "数亿": (100_000_000, 1_000_000_000),
    "数千万": (10_000_000, 100_000_000), "数百万": (1_000_000, 10_000_000),
    "亿元级": (100_000_000, 1_000_000_000), "千万级": (10_000_000, 100_000_000),
    "上亿": (100_000_000, None), "过亿": (100_000_000, None), "超亿": (100_000_000, None),
    "逾亿": (100_000_000, None),
    "近亿": (90_000_000, 100_000_000), "近千万": (9_000_000, 10_000_000),
    "亿级": (100_000_000, 1_000_000_000), "百万级": (1_000_000, 10_000_000),
    # A bare unit with a currency is about one of it: 千万美元, 亿元, 百万美元.
    "两亿": (200_000_000, 200_000_000), "十亿": (1_000_000_000, 1_000_000_000),
    "千万": (10_000_000, 10_000_000), "百万": (1_000_000, 1_000_000), "亿": (100_000_000, 100_000_000),
}  # fmt: skip
# Bare units are money only with a currency right after them ("千万用户" is a head count).
_BARE_UNITS = frozenset({"两亿", "十亿", "千万", "百万", "亿"})


@dataclass(frozen=True)
class Amount:
    """A range in whole currency units; ``high`` None means open-ended ("over $100M")."""

    low: float | None
    high: float | None
    currency: str | None
    text: str

    def to_dict(self) -> dict[str, object]:
        """JSON form."""
        return {"low": self.low, "high": self.high, "currency": self.currency, "text": self.text}


_WIDE = {
    code: code - 0xFEE0
    for r in ((0xFF10, 0xFF19), (0xFF21, 0xFF3A), (0xFF41, 0xFF5A))
    for code in range(r[0], r[1] + 1)
}
_TRANSLATE = {
    **_WIDE,
    **{ord(c): "-" for c in "－—–~～〜"},
    ord("．"): ".",
    ord("＄"): "$",
    0xA0: " ",
}
# What normalize changes: a character it translates, or a digit, a comma and a digit (looked
# for from the comma, a literal the regex engine skips to, then the digits around it).
_TRANSLATED = re.compile("[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a－—–~～〜．＄\u00a0]")
_DIGIT_COMMA_DIGIT = re.compile(r",(?<=\d,)(?=\d)")


@lru_cache(maxsize=256)
def normalize(text: str) -> str:
    """Full-width digits/letters to ASCII, unify dashes and spaces inside numbers. Cached: the
    detectors normalize each title and summary, and find_amount the same texts again."""
    if not _TRANSLATED.search(text) and not _DIGIT_COMMA_DIGIT.search(text):
        return text  # the common case, checked in C
    text = text.translate(_TRANSLATE)
    # "2,000万美元" and "$1,500,000": thousands separators go (before 万/亿 too).
    return re.sub(r"(?<=\d),(?=\d{3}(?!\d))", "", text)


# A qualifier and its spaces are optional together ("(?:over\s*)?$5M", not "(?:over)?\s*$5M"): a
# match then never starts on a space, which on a long run of spaces was tried to the run's end
# from each of them (seconds on a 6,000-space title).
# At most 12 digits, starting a digit run: a long run of digits cannot make matching quadratic.
_NUM = r"(?<![\d.])\d{1,12}(?:\.\d{1,6})?(?!\d)"
_CN_CURR = "|".join(sorted(_CN_CURRENCY, key=len, reverse=True))
_CN_AMOUNT = re.compile(
    rf"(?:(?P<qual>近|超过|超|逾|过|约|达|近乎|将近)\s*)?(?P<a>{_NUM})\s*(?P<ua>千万|百万|十亿|万|亿)?"
    rf"(?:\s*(?:-|至|到)\s*(?P<b>{_NUM})\s*(?P<ub>千万|百万|十亿|万|亿))?"
    rf"\s*(?P<cur>{_CN_CURR})"
)
# A whole run of numerals, read as one number (三千五百万, 一亿两千万, 一百二十亿, 三点五亿); the
# lookbehind keeps a match from starting inside a run (五百万 of 三千五百万).
_CN_NUMERAL = re.compile(
    rf"(?P<qual>近|超过|超|逾|过|约|达|将近)?(?<![数第零一二两三四五六七八九十百千万亿点])"
    rf"(?P<n>[零一二两三四五六七八九十百千万亿点]+)(?P<cur>{_CN_CURR})?(?:级)?"
)
_CN_UNIT_ONLY = re.compile(
    rf"(?P<qual>近|超过|超|逾|过)?(?P<a>{_NUM})\s*(?P<ua>千万|百万|十亿|万|亿)(?P<cur>{_CN_CURR})?"
)
# A vague or bare 亿 amount counts as money only with a currency, or right before 融资/投资/轮:
# "用户超1亿" is a head count.
_FUNDING_AFTER = (
    r"(?=\s*(?:的)?\s*(?:[A-Za-z+\-]{0,6}\s*轮|(?:天使|种子)\+?\s*(?:轮|投资|融资)|融资|投资|战略))"
)
_MONEY_BEFORE = re.compile(r"(?:融资|金额|募资|投资|估值|规模)[额为达约]{0,2}\s*$")
_CN_VAGUE = re.compile(
    rf"(?P<v>{'|'.join(sorted(_VAGUE_CN, key=len, reverse=True))})(?P<cur>{_CN_CURR})?(?:级)?"
)
_SYM = r"(?:US\$|HK\$|S\$|\$|€|£|¥|USD|EUR|GBP|HKD|RMB|CNY|JPY)"
_EN_AMOUNT = prefiltered(
    rf"(?:(?P<qual>over|more than|upwards of|north of|tops|topped|exceeds|exceeded|surpasses|above|nearly|"
    rf"almost|about|around|approximately|up to)\s*)?"
    rf"(?P<sym>{_SYM})\s?(?P<a>{_NUM})\s*(?P<ua>million|millions|billion|thousand|mln|bln|mn|bn|mm|[mbk])?\b"
    rf"(?:\s*(?:-|to)\s*(?:{_SYM})?\s?(?P<b>{_NUM})\s*(?P<ub>million|billion|thousand|mln|bln|mn|bn|mm|[mbk])\b)?",
    re.IGNORECASE,
)
_EN_WORD_CURRENCY = prefiltered(
    rf"(?:(?P<qual>over|more than|nearly|about)\s*)?(?:(?P<lo>{_NUM})\s*(?:-|to)\s*)?(?P<a>{_NUM})\s*"
    rf"(?P<ua>million|billion)\s+(?P<cur>dollars|euros|pounds|yuan|RMB|yen)",
    re.IGNORECASE,
)
_WORD_CURRENCY = {
    "dollars": "USD",
    "euros": "EUR",
    "pounds": "GBP",
    "yuan": "CNY",
    "rmb": "CNY",
    "yen": "JPY",
}


def _open_or_near(qual: str | None, value: float) -> tuple[float | None, float | None]:
    qual = (qual or "").lower()
    if qual in (
        "超过",
        "超",
        "逾",
        "过",
        "over",
        "more than",
        "upwards of",
        "north of",
        "tops",
        "topped",
        "exceeds",
        "exceeded",
        "surpasses",
        "above",
    ):
        return value, None
    if qual in ("近", "将近", "近乎", "nearly", "almost"):
        return round(value * 0.9, 2), value
    return value, value


def _scale(number: str, unit: str | None, table: dict[str, int]) -> float:
    value = float(number) * (table.get(unit.lower() if unit else "", 1) if unit else 1)
    return float(round(value, 2))


@lru_cache(maxsize=256)
def find_amount(text: str) -> Amount | None:
    """The first money amount in the text, or None. Cached (an Amount is immutable): the
    financing detector asks for the amount of the same summary for each of its clauses."""
    text = normalize(text)
    candidates: list[tuple[int, Amount]] = []
    if not text.isascii():
        # Every Chinese pattern needs a Chinese currency, numeral or unit: none in ASCII text.
        _chinese_amounts(text, candidates)
    _english_amounts(text, candidates)
    # A valuation is not the round's size: "投后估值达50亿元", "at a $1B valuation".
    candidates = [
        (start, amount)
        for start, amount in candidates
        if not re.search(r"估值[为达约超逾近]{0,2}\s*$", text[max(0, start - 6) : start])
        and not re.match(
            r"\s*(?:post-money |pre-money )?valuation",
            text[text.find(amount.text, start) + len(amount.text) :],
            re.I,
        )
        and not re.search(
            r"\bvalu(?:ation|ed) (?:of |at )?$", text[max(0, start - 16) : start], re.I
        )
    ]
    if not candidates:
        return None
    candidates.sort(key=lambda pair: pair[0])
    return _ordered(candidates[0][1])


def _chinese_amounts(text: str, candidates: list[tuple[int, Amount]]) -> None:
    """Add the Chinese amounts of the text (start, amount) to candidates."""
    for m in _CN_AMOUNT.finditer(text):
        unit_a = m.group("ua")
        unit_b = m.group("ub")
        if not unit_a and not unit_b and m.group("cur") in ("元", "人民币", "元人民币"):
            continue  # a bare "100元" is a price, not a round
        unit_a = unit_a or unit_b
        cur = _CN_CURRENCY[m.group("cur")]
        low: float | None
        high: float | None
        if m.group("b"):
            low = _scale(m.group("a"), unit_a, _CN_UNIT)
            high = _scale(m.group("b"), unit_b, _CN_UNIT)
        else:
            low, high = _open_or_near(m.group("qual"), _scale(m.group("a"), unit_a, _CN_UNIT))
        candidates.append((m.start(), Amount(low, high, cur, m.group(0).strip())))

    def is_money(m: re.Match[str]) -> bool:
        # Without a currency, 数千万 / 超1亿 is money only next to a funding word: "用户超1亿" is not.
        return bool(
            re.match(_FUNDING_AFTER, text[m.end() :]) or _MONEY_BEFORE.search(text[: m.start()])
        )

    for m in _CN_NUMERAL.finditer(text):
        if not m.group("n").endswith(("万", "亿")):  # 三千元 is a price, 五个 no amount
            continue
        number = chinese_number(m.group("n"))
        if number is None or not (m.group("cur") or is_money(m)):
            continue
        value = number
        low, high = _open_or_near(m.group("qual"), value)
        cur = _CN_CURRENCY[m.group("cur")] if m.group("cur") else "CNY"
        candidates.append((m.start(), Amount(low, high, cur, m.group(0))))

    for m in _CN_VAGUE.finditer(text):
        if not m.group("cur") and "元" not in m.group("v") and not is_money(m):
            continue
        if m.group("v") in _BARE_UNITS and (
            not m.group("cur") or re.search(r"[\d数近超过上逾]$", text[: m.start()])
        ):
            continue
        low_v, high_v = _VAGUE_CN[m.group("v")]
        cur = _CN_CURRENCY[m.group("cur")] if m.group("cur") else "CNY"
        candidates.append(
            (m.start(), Amount(float(low_v), float(high_v) if high_v else None, cur, m.group(0)))
        )
    for m in re.finditer(
        # _NUM: a digit run is read from its start only (an unbounded \d+ tried from each digit
        # of a 6,000-digit run took seconds)
        rf"(近|超过|超|逾|过)?({_NUM})\s*(千万|百万|万|亿)(?!\s*(?:美元|元|人民币|欧元|港元|日元|英镑|美金))",
        text,
    ):
        if not is_money(m):
            continue
        value = _scale(m.group(2), m.group(3), _CN_UNIT)
        low, high = _open_or_near(m.group(1), value)
        candidates.append((m.start(), Amount(low, high, "CNY", m.group(0))))


def _english_amounts(text: str, candidates: list[tuple[int, Amount]]) -> None:
    """Add the English amounts of the text (start, amount) to candidates."""
    low: float | None
    high: float | None
    for m in _EN_AMOUNT.finditer(text):
        sym = m.group("sym").upper() if m.group("sym").isalpha() else m.group("sym")
        currency = _SYMBOL.get(sym) or _SYMBOL.get(m.group("sym"), "USD")
        unit_a, unit_b = m.group("ua"), m.group("ub")
        if m.group("b"):
            low = _scale(m.group("a"), unit_a or unit_b, _EN_UNIT)
            high = _scale(m.group("b"), unit_b, _EN_UNIT)
        else:
            if not unit_a and float(m.group("a")) < 10_000:
                continue  # "$5" alone is not a funding amount
            low, high = _open_or_near(m.group("qual"), _scale(m.group("a"), unit_a, _EN_UNIT))
        candidates.append((m.start(), Amount(low, high, currency, m.group(0).strip())))
    for m in _EN_WORD_CURRENCY.finditer(text):
        value = _scale(m.group("a"), m.group("ua"), _EN_UNIT)
        if m.group("lo"):  # "20-30 million dollars"
            low, high = _scale(m.group("lo"), m.group("ua"), _EN_UNIT), value
        else:
            low, high = _open_or_near(m.group("qual"), value)
        candidates.append(
            (
                m.start(),
                Amount(low, high, _WORD_CURRENCY[m.group("cur").lower()], m.group(0).strip()),
            )
        )


def _ordered(amount: Amount) -> Amount:
    """A range written high-to-low ("$30M-$20M") is still low..high."""
    if amount.low is not None and amount.high is not None and amount.low > amount.high:
        return Amount(amount.high, amount.low, amount.currency, amount.text)
    return amount
