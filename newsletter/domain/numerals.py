"""Numbers written in Chinese numerals (一 to 九, 十 百 千, 万 亿, 点): one reader for amounts
(三千五百万元, 三点五亿) and dates (六月二十日, 倒计时五天)."""

from __future__ import annotations

CN_DIGITS = {
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_SMALL_UNIT = {"十": 10, "百": 100, "千": 1000}
CN_UNITS = {
    "万": 10_000,
    "亿": 100_000_000,
    "千万": 10_000_000,
    "百万": 1_000_000,
    "十亿": 1_000_000_000,
}


def chinese_number(numeral: str) -> float | None:
    """A number written in Chinese numerals with its 万 and 亿 (五千万, 三千五百万, 一亿两千万,
    一百二十亿, 三点五亿), or None when the run is no such number."""
    whole, point, rest = numeral.partition("点")
    if point:  # 三点五亿: the digits after 点, then the unit of the whole number
        digits = ""
        for ch in rest:
            if ch not in CN_DIGITS and ch != "零":
                break
            digits += ch
        units = rest[len(digits) :]
        head = chinese_number(whole) if whole and "万" not in whole and "亿" not in whole else None
        if head is None or not digits or units not in CN_UNITS:
            return None
        fraction = float("0." + "".join(str(CN_DIGITS.get(ch, 0)) for ch in digits))
        return (head + fraction) * CN_UNITS[units]
    total = wan = section = 0
    number: int | None = None
    for ch in numeral:
        if ch in CN_DIGITS or ch == "零":
            if number is not None and ch != "零":
                return None  # two digits in a row (五五万) is no number
            number = CN_DIGITS.get(ch, 0) if ch != "零" else None
        elif ch in _SMALL_UNIT:
            section += (number if number is not None else 1) * _SMALL_UNIT[ch]
            number = None
        elif ch == "万":
            wan += (section + (number or 0)) * 10_000
            section, number = 0, None
        elif ch == "亿":
            total += (wan + section + (number or 0)) * 100_000_000
            wan = section = 0
            number = None
        else:
            return None
    value = total + wan + section + (number or 0)
    return float(value) if value else None
