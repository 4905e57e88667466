"""The reader's language: the email's own words from message catalogs, rounds, amounts and
dates as Chinese writes them, and a Chinese issue with no English furniture."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po

from newsletter.config import load_config
from newsletter.domain.assemble import for_reader
from newsletter.email.i18n import LOCALE_DIR, event_date, money, round_label, translations
from newsletter.email.render import RenderOptions, make_environment, render_issue
from newsletter.service.checks import demo_content

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def visible_text(html: str) -> str:
    """What a reader sees of an HTML part: text outside <style>, <head> and tags."""

    class Text(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.parts: list[str] = []
            self.hidden = 0

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            self.hidden += tag in ("style", "head")

        def handle_endtag(self, tag: str) -> None:
            self.hidden -= tag in ("style", "head")

        def handle_data(self, data: str) -> None:
            if not self.hidden:
                self.parts.append(data)

    parser = Text()
    parser.feed(html)
    return " ".join(parser.parts)


def template_messages() -> set[str]:
    """Every message the bundled email templates pass to _() or ngettext()."""
    env = make_environment(TEMPLATES)
    found: set[str] = set()
    for path in sorted((TEMPLATES / "email").rglob("*.*")):
        for _line, _function, message in env.extract_translations(  # type: ignore[attr-defined]
            path.read_text(encoding="utf-8")
        ):
            found.update([message] if isinstance(message, str) else [m for m in message if m])
    return found


def python_messages() -> set[str]:
    """Messages the renderer itself translates (gettext / ngettext calls in its code)."""
    found: set[str] = set()
    source = ROOT / "newsletter" / "email" / "render.py"
    for _line, message, _comments, _context in extract_from_file("python", str(source)):
        found.update([message] if isinstance(message, str) else [m for m in message if m])
    return found


def zh_catalog(domain: str = "messages") -> dict[str, str]:
    """The Chinese catalog of a gettext domain: msgid -> translation (a plural's first form)."""
    with (LOCALE_DIR / "zh" / "LC_MESSAGES" / f"{domain}.po").open("rb") as handle:
        catalog = read_po(handle, locale="zh")
    out: dict[str, str] = {}
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        text = message.string if isinstance(message.string, str) else message.string[0]
        for msgid in ids:
            out[msgid] = text
    return out


def test_every_word_of_the_templates_has_a_chinese_translation() -> None:
    used = template_messages() | python_messages()
    assert python_messages()
    assert len(used) > 15  # the templates really go through the catalog
    catalog = zh_catalog()
    assert sorted(used - set(catalog)) == []  # nothing left in English
    assert sorted(set(catalog) - used) == []  # nothing stale
    assert all(catalog[m] for m in used)


def test_placeholders_survive_translation() -> None:
    catalog = zh_catalog()
    for msgid, text in catalog.items():
        assert set(re.findall(r"%\(\w+\)[sd]", msgid)) == set(re.findall(r"%\(\w+\)[sd]", text))


@pytest.mark.parametrize(
    ("low", "high", "currency", "language", "expected"),
    [
        (990_000_000, 1_900_000_000, "CNY", "zh", "9.9亿–19亿元"),
        (25_000_000, 25_000_000, "USD", "zh", "2500万美元"),
        (100_000_000, None, "CNY", "zh", "1亿元以上"),
        (None, None, None, "zh", "未披露"),
        (120_000_000, 120_000_000, "HKD", "zh-CN", "1.2亿港元"),
        (25_000_000, 25_000_000, "USD", "en", "USD 25.0M"),
        (990_000_000, 1_900_000_000, "CNY", "en", "CNY 990.0M–1,900.0M"),
        (None, None, None, "en", "undisclosed"),
    ],
)
def test_money(
    low: float | None, high: float | None, currency: str | None, language: str, expected: str
) -> None:
    assert money(low, high, currency, language) == expected


def test_rounds_and_dates_in_chinese() -> None:
    assert [round_label(r, "zh") for r in ("b", "pre-b", "a+", "strategic", "undisclosed")] == [
        "B轮",
        "Pre-B轮",
        "A+轮",
        "战略融资",
        "轮次未披露",
    ]
    assert round_label("b", "en") == "Series B" and round_label("pre-b", "en") == "Pre-B"
    # A numbered tranche and two rounds announced together, in either language.
    assert [round_label(r, "zh") for r in ("b3", "a/a+", "angel/pre-a")] == [
        "B3轮",
        "A轮/A+轮",
        "天使轮/Pre-A轮",
    ]
    assert [round_label(r, "en") for r in ("b3", "a/a+", "angel/pre-a")] == [
        "Series B3",
        "Series A/A+",
        "Angel/Pre-A",
    ]
    # A second follow-on and a Pre- round's follow-on.
    assert [round_label(r, "zh") for r in ("a++", "pre-a+", "pre-a/pre-a+")] == [
        "A++轮",
        "Pre-A+轮",
        "Pre-A轮/Pre-A+轮",
    ]
    assert [round_label(r, "en") for r in ("a++", "pre-a+")] == ["Series A++", "Pre-A+"]
    assert event_date(date(2026, 12, 2), "zh") == "12月2日（周三）"
    assert event_date(date(2026, 12, 2), "en") == "2026-12-02 (Wed)"
    assert translations("zh-Hans").gettext("Unsubscribe") == "退订"
    assert translations("fr").gettext("Unsubscribe") == "Unsubscribe"  # no catalog: English


def test_the_chinese_edition_has_no_english_furniture() -> None:
    """The demo issue, Chinese items only, rendered for a Chinese reader: no English word of
    the templates is left, rounds and amounts are Chinese, and every item carries its lang."""
    config = load_config(ROOT / "feeds.yaml")
    nl = config.newsletter
    content = for_reader(demo_content(config, NOW), None, "zh")
    assert content.item_count > 5
    # The demo's viewpoint is written in both languages; a Chinese editor's is Chinese.
    content = replace(
        content,
        viewpoint_html="<p>本周关键词是监管节奏。</p>",
        viewpoint_text="本周关键词是监管节奏。",
    )
    options = RenderOptions(
        templates_dir=config.templates_dir,
        timezone=nl.tz,
        language="zh",
        sender_name=nl.sender.name,
        base_url="https://news.example.com",
        sender_domain=nl.sender.domain,
    )
    rendered, shown = render_issue(make_environment(config.templates_dir), content, options)
    for part in (visible_text(rendered.html), rendered.text):
        for message in template_messages():
            # The fixed words of each message (placeholders taken out) must not appear.
            for words in re.split(r"%\(\w+\)[sd]", message):
                words = words.strip(" :;.[]()")
                if len(words) > 3:
                    assert words not in part, (message, words)
        for english in ("Series ", "undisclosed", "led by", " stories", "View in browser"):
            assert english not in part
    assert '<html lang="zh">' in rendered.html
    items = sum(len(s.items) for s in shown.sections)
    assert rendered.html.count('lang="zh"') >= items  # the page and each item
    assert "领投方" in rendered.html and "轮" in rendered.html
    assert "年" in shown.issue_label and "W4" not in rendered.text.splitlines()[1]


@pytest.mark.parametrize("language", ["en", "zh"])
def test_a_special_issue_says_no_week(language: str) -> None:
    """A special issue (a named period) words the financing total without "week", in both
    languages; the template words around it say "week" nowhere else. Section titles and feed
    text are the editors' and the feeds' words, taken out before looking."""
    config = load_config(ROOT / "feeds.yaml")
    nl = config.newsletter
    weekly = replace(for_reader(demo_content(config, NOW), None, language), viewpoint_html=None)
    weekly = replace(weekly, viewpoint_text=None)
    assert weekly.financing_totals  # the demo has announced rounds
    special = replace(weekly, special_title="ASCO 2026")
    options = RenderOptions(
        templates_dir=config.templates_dir,
        timezone=nl.tz,
        language=language,
        sender_name=nl.sender.name,
        base_url="https://news.example.com",
        sender_domain=nl.sender.domain,
    )
    env = make_environment(config.templates_dir)
    week_words = {"en": "This week's announced total", "zh": "本周披露融资总额"}[language]
    issue_words = {"en": "Announced total in this issue", "zh": "本期披露融资总额"}[language]

    rendered, _shown = render_issue(env, weekly, options)
    for part in (visible_text(rendered.html), rendered.text):
        assert week_words in part and issue_words not in part

    rendered, shown = render_issue(env, special, options)
    theirs = {nl.title, *(t for s in config.sections for t in (s.title, *dict(s.titles).values()))}
    for section in shown.sections:
        theirs.add(section.title)
        for item in section.items:
            theirs.update([item.title, item.summary, item.source, item.url or ""])
    for part in (visible_text(rendered.html), rendered.text):
        assert issue_words in part and "ASCO 2026" in part
        for text in sorted(theirs, key=len, reverse=True):
            part = part.replace(text, " ") if text else part
        assert "week" not in part.casefold() and "本周" not in part and "每周" not in part, part
