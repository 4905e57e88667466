"""The reader's language for the email's own words (its "chrome"): message catalogs
(gettext .po files under newsletter/email/locale, read with Babel), round names, amounts in
万/亿 for Chinese, and dates as readers write them. Feed text is never translated."""

from __future__ import annotations

import gettext
import io
from datetime import date
from functools import lru_cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from newsletter.domain.rounds import is_follow_on, is_tranche

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"

ROUNDS_EN = {
    "seed": "Seed", "angel": "Angel", "pre-a": "Pre-A", "a": "Series A", "a+": "Series A+",
    "pre-b": "Pre-B", "b": "Series B", "b+": "Series B+", "c": "Series C", "c+": "Series C+",
    "d": "Series D", "d+": "Series D+", "e": "Series E", "e+": "Series E+",
    "pre-c": "Pre-C", "f": "Series F", "f+": "Series F+",
    "pre-ipo": "Pre-IPO", "ipo": "IPO", "strategic": "Strategic", "undisclosed": "Undisclosed",
}  # fmt: skip
ROUNDS_ZH = {
    "seed": "种子轮", "angel": "天使轮", "pre-a": "Pre-A轮", "a": "A轮", "a+": "A+轮",
    "pre-b": "Pre-B轮", "b": "B轮", "b+": "B+轮", "c": "C轮", "c+": "C+轮", "d": "D轮",
    "d+": "D+轮", "e": "E轮", "e+": "E+轮", "pre-c": "Pre-C轮", "f": "F轮", "f+": "F+轮", "pre-ipo": "Pre-IPO轮", "ipo": "IPO",
    "strategic": "战略融资", "undisclosed": "轮次未披露",
}  # fmt: skip
# How Chinese writes a currency after the number (9.9亿元, 2500万美元).
CURRENCY_ZH = {
    "CNY": "元", "USD": "美元", "HKD": "港元", "EUR": "欧元", "GBP": "英镑", "JPY": "日元",
    "SGD": "新加坡元", "KRW": "韩元", "CHF": "瑞士法郎", "AUD": "澳元", "CAD": "加元",
}  # fmt: skip
WEEKDAYS_ZH = "一二三四五六日"


def N_(message: str) -> str:
    """Marks a message for the catalog where it is defined; it is translated where shown."""
    return message


def is_chinese(language: str | None) -> bool:
    """True for zh, zh-CN, zh-Hans and the like."""
    return bool(language) and str(language).lower().split("-")[0].split("_")[0] == "zh"


def catalog_language(language: str | None) -> str:
    """The catalog a language uses: "zh" for every Chinese variant, else English (no catalog)."""
    return "zh" if is_chinese(language) else "en"


WEB_DOMAIN = "web"  # the subscriber-facing web pages' own words (templates/web)


@lru_cache(maxsize=8)
def translations(language: str | None, domain: str = DOMAIN) -> gettext.NullTranslations:
    """The gettext translations for a language; English (the msgids) when there is no catalog.

    ``domain`` is the catalog: DOMAIN for the email, WEB_DOMAIN for the web pages."""
    po = LOCALE_DIR / catalog_language(language) / "LC_MESSAGES" / f"{domain}.po"
    if not po.is_file():
        return gettext.NullTranslations()
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=catalog_language(language))
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def round_label(round_id: str | None, language: str | None) -> str:
    """A funding round as readers of the language name it ("Series B" / "B轮"); a numbered
    tranche ("b3": "Series B3" / "B3轮") and two rounds together ("a/a+": "Series A/A+" /
    "A轮/A+轮") too."""
    key = str(round_id or "undisclosed")
    chinese = is_chinese(language)
    names = ROUNDS_ZH if chinese else ROUNDS_EN
    if key in names:
        return names[key]
    if is_tranche(key) or (is_follow_on(key) and not key.startswith("pre-")):
        return f"{key.upper()}轮" if chinese else f"Series {key.upper()}"
    if is_follow_on(key):  # pre-a+: "Pre-A+" / "Pre-A+轮"
        label = "Pre-" + key.removeprefix("pre-").upper()
        return f"{label}轮" if chinese else label
    parts = key.split("/")
    if len(parts) != 2 or not all(p in names or is_tranche(p) or is_follow_on(p) for p in parts):
        return key
    labels = [round_label(p, language) for p in parts]
    if chinese:
        return "/".join(labels)  # A轮/A+轮
    if all(label.startswith("Series ") for label in labels):  # Series A/A+
        return "Series " + "/".join(label.removeprefix("Series ") for label in labels)
    return "/".join(labels)  # Angel/Pre-A


def _zh_number(value: float) -> str:
    """A whole amount in 万 or 亿, as Chinese writes it: 9.9亿, 2500万, 3000."""
    if value >= 1e8:
        return f"{value / 1e8:.2f}".rstrip("0").rstrip(".") + "亿"
    if value >= 1e4:
        return f"{value / 1e4:.1f}".rstrip("0").rstrip(".") + "万"
    return f"{value:.0f}"


def money(low: float | None, high: float | None, currency: str | None, language: str) -> str:
    """A compact amount: "USD 25.0M", "CNY 100.0M–1,000.0M", "USD 100.0M+" in English;
    "2500万美元", "1亿–10亿元", "1亿美元以上" in Chinese; "undisclosed" / "未披露" without one."""
    if low is None or not currency:
        return "未披露" if is_chinese(language) else "undisclosed"
    if is_chinese(language):
        unit = CURRENCY_ZH.get(currency, currency)
        text = _zh_number(low)
        if high is None:
            return f"{text}{unit}以上"
        if high != low:
            text += f"–{_zh_number(high)}"
        return text + unit
    text = f"{currency} {low / 1e6:,.1f}M"
    if high is None:
        return text + "+"
    if high != low:
        text += f"–{high / 1e6:,.1f}M"
    return text


def event_date(day: date, language: str, precision: str = "day") -> str:
    """An event's date: "2026-12-02 (Wed)" in English, "12月2日（周三）" in Chinese; a date known
    only to the month is shown as a month ("2026-07", "2026年7月")."""
    if precision == "month":
        return f"{day.year}年{day.month}月" if is_chinese(language) else f"{day:%Y-%m}"
    if is_chinese(language):
        return f"{day.month}月{day.day}日（周{WEEKDAYS_ZH[day.weekday()]}）"
    return f"{day:%Y-%m-%d} ({day:%a})"
