"""Notice emails (the confirmation): both parts, header hardening, autoescaped templates."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsletter.email.headers import ComposeError
from newsletter.email.message import MessageParts
from newsletter.email.notice import build_notice, notice_message_id, render_notice
from newsletter.errors import TemplateError
from tests.conftest import TEMPLATES
from tests.web_helpers import parse

WHEN = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def notice(**overrides: object) -> MessageParts:
    values: dict[str, object] = {
        "subject": "Confirm your subscription to Weekly",
        "sender_name": "Weekly 周报",
        "sender_email": "digest@news.example.com",
        "recipient_email": "reader@example.com",
        "recipient_name": "Zhang, San (医学编辑)",
        "text": "Open https://news.example.com/confirm/abc\n",
        "html": '<p><a href="https://news.example.com/confirm/abc">Confirm</a></p>',
        "message_id": notice_message_id("news.example.com"),
        "date": WHEN,
        "reply_to": "editors@news.example.com",
        "language": "en",
    }
    values.update(overrides)
    return MessageParts(**values)  # type: ignore[arg-type]


def test_notice_has_both_parts_and_no_list_headers() -> None:
    data = build_notice(notice())
    assert b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b"")
    msg = parse(data)
    assert msg.get_content_type() == "multipart/alternative"
    text, html = msg.iter_parts()
    assert text.get_content_type() == "text/plain" and "confirm/abc" in text.get_content()
    assert html.get_content_type() == "text/html"
    assert msg["Message-ID"].endswith("@news.example.com>")
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["Reply-To"] == "editors@news.example.com"
    assert msg["Content-Language"] == "en"
    assert msg["List-Unsubscribe"] is None and msg["List-Id"] is None
    # gh-80222: the comma in the name does not split the address in two.
    assert [a.addr_spec for a in msg["To"].addresses] == ["reader@example.com"]


def test_header_injection_is_neutralized() -> None:
    msg = parse(
        build_notice(
            notice(
                subject="Hi\r\nBcc: victim@example.com =?utf-8?q?x=0D=0ABcc:_v@example.com?=",
                recipient_name="Eve\nBcc: victim@example.com",
            )
        )
    )
    assert msg["Bcc"] is None
    assert "\n" not in str(msg["Subject"]) and "=?" not in str(msg["Subject"])
    assert [a.addr_spec for a in msg["To"].addresses] == ["reader@example.com"]


def test_unwritable_address_is_a_compose_error() -> None:
    with pytest.raises(ComposeError):
        build_notice(notice(recipient_email="bad\r\naddress@example.com"))
    with pytest.raises(ComposeError):
        build_notice(notice(recipient_email="用户@example.com"))


def test_confirm_templates_render_and_escape() -> None:
    context = {
        "newsletter": {"title": "A <b>&</b> Weekly", "sender_name": "S", "language": "en"},
        "confirm_url": "https://news.example.com/confirm/tok?x=1&y=2",
        "subscribe_url": "https://news.example.com/subscribe",
        "expires_label": "2026-11-30 17:00 (Asia/Shanghai)",
        "days": 7,
    }
    text, html = render_notice(TEMPLATES, "confirm", context)
    assert "https://news.example.com/confirm/tok?x=1&y=2" in text
    assert "A <b>&</b> Weekly" in text  # plain text is not escaped
    assert "A &lt;b&gt;&amp;&lt;/b&gt; Weekly" in html
    assert 'href="https://news.example.com/confirm/tok?x=1&amp;y=2"' in html
    assert "2026-11-30 17:00 (Asia/Shanghai)" in text and "2026-11-30 17:00" in html


def test_missing_or_broken_notice_template(tmp_path: Path) -> None:
    (tmp_path / "email").mkdir()
    with pytest.raises(TemplateError, match=r"email/confirm\.txt not found"):
        render_notice(tmp_path, "confirm", {})
    (tmp_path / "email" / "confirm.txt").write_text("{{ unknown_variable }}", encoding="utf-8")
    with pytest.raises(TemplateError, match=r"email/confirm\.txt"):
        render_notice(tmp_path, "confirm", {})
    (tmp_path / "email" / "confirm.txt").write_text("{{ cycler.__init__.__globals__ }}")
    with pytest.raises(TemplateError):
        render_notice(tmp_path, "confirm", {})
