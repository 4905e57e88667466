"""The reader's language on the subscriber-facing pages: their own words from the `web`
message catalog, `lang` on the page, section titles of the newsletter's language."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from babel.messages.extract import extract_from_file

from newsletter.email.i18n import WEB_DOMAIN
from newsletter.web.pages import Pages
from tests.email.test_i18n import visible_text, zh_catalog
from tests.web_helpers import add_row, client_for, web_app

ROOT = Path(__file__).resolve().parents[2]
WEB_TEMPLATES = ROOT / "templates" / "web"
PYTHON_SOURCES = (
    "newsletter/web/app.py",
    "newsletter/web/subscribe.py",
    # Errors for bad input raised in the service layer and shown on the pages.
    "newsletter/service/subscribers.py",
    "newsletter/service/subscriptions.py",
)
# Pages an editor sees (preview, statistics) only inherit the frame; their bodies stay English.
EDITOR_PAGES = ("preview.html", "issue_stats.html")


def template_messages() -> set[str]:
    """Every message the bundled web templates pass to _() or ngettext()."""
    pages = Pages(WEB_TEMPLATES, {"language": "en"})
    found: set[str] = set()
    for path in sorted(WEB_TEMPLATES.glob("*.html")):
        for _line, _function, message in pages.env.extract_translations(  # type: ignore[attr-defined]
            path.read_text(encoding="utf-8")
        ):
            found.update([message] if isinstance(message, str) else [m for m in message if m])
    return found


def python_messages() -> set[str]:
    """Messages newsletter/web marks with N_() or gettext()."""
    found: set[str] = set()
    for source in PYTHON_SOURCES:
        for _line, message, _comments, _context in extract_from_file("python", str(ROOT / source)):
            found.update([message] if isinstance(message, str) else [m for m in message if m])
    return found


def test_every_word_of_the_pages_has_a_chinese_translation() -> None:
    used = template_messages() | python_messages()
    assert len(template_messages()) > 30 and len(python_messages()) > 10
    catalog = zh_catalog(WEB_DOMAIN)
    assert sorted(used - set(catalog)) == []  # nothing left in English
    assert sorted(set(catalog) - used) == []  # nothing stale
    assert all(catalog[m] for m in used)
    for msgid, text in catalog.items():  # placeholders and links survive translation
        assert sorted(re.findall(r"%\(\w+\)[sd]", msgid)) == sorted(
            re.findall(r"%\(\w+\)[sd]", text)
        )
        assert re.findall(r'href="[^"]*"', msgid) == re.findall(r'href="[^"]*"', text)


def english_words_in(text: str) -> list[str]:
    """Fixed words of the catalog's messages (placeholders and markup out) found in text."""
    found = []
    for message in template_messages() | python_messages():
        plain = re.sub(r"<[^>]+>", "%", message)
        for words in re.split(r"%\(\w+\)[sd]|%", plain):
            words = words.strip(" :;.,?!()")
            if len(words) > 3 and words in text:
                found.append(words)
    return found


def test_a_chinese_newsletter_speaks_chinese_to_its_readers(make_app: Any) -> None:
    app = web_app(make_app, newsletter={"language": "zh", "titles": {"zh": "医健周报"}})
    client = client_for(app)
    row = add_row(app, "reader@example.com", "active")
    gone = add_row(app, "gone@example.com", "unsubscribed")
    pages = {
        "subscribe": client.get("/subscribe"),
        "done": client.post("/subscribe", data={"email": "new@example.com"}),
        "unsubscribe": client.get(f"/unsubscribe/{row.token}"),
        "not subscribed": client.get(f"/unsubscribe/{gone.token}"),
        "preferences": client.get(f"/preferences/{row.token}"),
        "archive": client.get("/archive"),
        "not found": client.get("/no/such/page"),
        "unsubscribed": client.post(
            f"/unsubscribe/{row.token}", data={"List-Unsubscribe": "One-Click"}
        ),
    }
    for name, response in pages.items():
        assert response.status_code in (200, 404), name
        html = response.text
        assert '<html lang="zh">' in html, name
        assert english_words_in(visible_text(html)) == [], name
        assert "医健周报" in html, name  # the Chinese edition's title
    assert "订阅《医健周报》" in pages["subscribe"].text
    assert "投融资" in pages["subscribe"].text and "Financing events" not in pages["subscribe"].text
    assert "请查收邮件" in pages["done"].text and "确认链接已经发出" in pages["done"].text
    assert "r***@example.com" in pages["unsubscribe"].text
    assert f'href="/preferences/{row.token}"' in pages["unsubscribe"].text
    assert "页面不存在" in pages["not found"].text and "错误 404" in pages["not found"].text
    assert "您已退订" in pages["unsubscribed"].text


def test_an_english_newsletter_keeps_its_english_words(make_app: Any) -> None:
    client = client_for(web_app(make_app))
    page = client.get("/subscribe").text
    assert '<html lang="en">' in page
    assert "Subscribe to Test Health Weekly" in page and "Email address" in page
    assert len(english_words_in(visible_text(page))) > 5  # the check above can see English
    assert "Not found" in client.get("/missing").text


def test_feed_text_in_a_translated_message_stays_escaped(make_app: Any) -> None:
    """A title (configured) or a masked address passed into a translated message is escaped;
    only the catalog's own markup is markup."""
    app = web_app(make_app, newsletter={"language": "zh", "title": "<b>周报</b>"})
    page = client_for(app).get("/subscribe").text
    assert "订阅《&lt;b&gt;周报&lt;/b&gt;》" in page and "<b>周报</b>" not in page


def test_errors_for_bad_input_are_in_the_pages_language(make_app: Any) -> None:
    """Errors the service layer raises for bad input (an invalid address, a section or
    language not offered, a bad link) show in the page's language; the JSON API and the
    English pages keep the English text."""
    app = web_app(make_app, newsletter={"language": "zh", "titles": {"zh": "医健周报"}})
    client = client_for(app)
    row = add_row(app, "reader@example.com", "active")
    bad = {
        "invalid address": client.post("/subscribe", data={"email": "not an address"}),
        "two addresses": client.post("/subscribe", data={"email": "a@example.com, b@example.com"}),
        "non-ASCII local part": client.post("/subscribe", data={"email": "李雷@example.com"}),
        "empty": client.post("/subscribe", data={"email": " "}),
        "unknown section": client.post(
            "/subscribe", data={"email": "new@example.com", "sections": "nope"}
        ),
        "no section": client.post(f"/preferences/{row.token}", data={"language": "zh"}),
        "unknown language": client.post(
            f"/preferences/{row.token}", data={"sections": "financing", "language": "fr"}
        ),
        "bad confirmation link": client.post("/confirm/" + "x" * 32),
        "bad link": client.get("/unsubscribe/" + "y" * 32),
    }
    expected = {
        "invalid address": "'not an address' 不是有效的邮箱地址",
        "two addresses": "不是单个普通的邮箱地址",
        "non-ASCII local part": "@ 之前的部分只能使用 ASCII 字符",
        "empty": "请填写邮箱地址",
        "unknown section": "没有栏目 'nope'；请从这些栏目中选择：",
        "no section": "请至少选择一个栏目，或者退订",
        "unknown language": "不支持语言 'fr'",
        "bad confirmation link": "此确认链接无效",
        "bad link": "此链接无效",
    }
    for name, response in bad.items():
        assert response.status_code in (400, 404), name
        text = visible_text(response.text)
        assert expected[name] in text, name
        assert english_words_in(text) == [], name
    # The validator's own reason is English: it is not shown on a Chinese page.
    assert "@-sign" not in bad["invalid address"].text
    # The JSON API answers in English, whatever the newsletter's language.
    api = client.post("/api/subscribers", json={"email": "not an address"})
    assert api.status_code == 400 and "is not a valid address: " in api.json()["error"]


def test_errors_for_bad_input_stay_english_on_an_english_page(make_app: Any) -> None:
    client = client_for(web_app(make_app))
    page = client.post("/subscribe", data={"email": "not an address"}).text
    # With the validator's reason after the message, as before.
    assert "&#39;not an address&#39; is not a valid address: " in page
