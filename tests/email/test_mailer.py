"""newsletter.email.message and .transports: MIME bytes per subscriber, the file outbox and SMTP against real aiosmtpd."""

from __future__ import annotations

import email.utils
import socket
from dataclasses import replace
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from newsletter.email.headers import safe_header_text
from newsletter.email.message import MessageParts, build_message, list_id, unsubscribe_mailto
from newsletter.email.transports import (
    Envelope,
    FileTransport,
    SmtpRecipientError,
    SmtpSettings,
    SmtpTransport,
)
from newsletter.errors import MailError
from tests.smtp_server import free_port

TOKEN = "q3V9cXk2LmZ0c1J2d0pX"  # an opaque ~22-character token, like tokens.new_token()
INJECTION = "=?utf-8?q?Hello=0D=0ABcc:_victim@example.com?="
PARTS = MessageParts(
    subject="医疗产业周报 · 2026-W48 · FDA approves first oral GLP-1 pill",
    sender_name="Healthcare Weekly 医疗产业周报",
    sender_email="digest@news.example.com",
    recipient_email="zhang.san@example.com",
    recipient_name="张三",
    text="Hello 你好\n\n[1] https://example.com/a\n",
    html="<html><body><p>Hello 你好</p></body></html>",
    message_id="<2026-w48.0123456789abcdef01234567@news.example.com>",
    date=datetime(2026, 11, 23, 0, 0, tzinfo=UTC),
    list_id=list_id("Healthcare Weekly", "news.example.com"),
    unsubscribe_url=f"https://news.example.com/unsubscribe/{TOKEN}",
    unsubscribe_mailto=unsubscribe_mailto("digest@news.example.com", TOKEN),
    reply_to="editors@news.example.com",
    language="zh",
)


def parse(data: bytes) -> EmailMessage:
    msg = message_from_bytes(data, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def raw_header(data: bytes, name: str) -> bytes:
    """The raw header line(s) as serialized, unfolded by nothing."""
    head = data.split(b"\r\n\r\n", 1)[0]
    lines = head.split(b"\r\n")
    for index, line in enumerate(lines):
        if line.lower().startswith(name.lower().encode() + b":"):
            folded = [line]
            for cont in lines[index + 1 :]:
                if not cont[:1].isspace():
                    break
                folded.append(cont)
            return b"\r\n".join(folded)
    raise AssertionError(f"no {name} header")


def header_names(data: bytes) -> list[str]:
    head = data.split(b"\r\n\r\n", 1)[0].decode("ascii")
    return [line.split(":", 1)[0].lower() for line in head.split("\r\n") if line[:1].strip()]


# -- build_message ------------------------------------------------------------------------------


def test_multipart_alternative_text_then_html() -> None:
    msg = parse(build_message(PARTS))
    assert msg.get_content_type() == "multipart/alternative"
    text, html = list(msg.iter_parts())
    assert text.get_content_type() == "text/plain" and html.get_content_type() == "text/html"
    assert text.get_content_charset() == "utf-8" and html.get_content_charset() == "utf-8"
    assert text.get_content().replace("\r\n", "\n") == PARTS.text
    assert html.get_content().strip() == PARTS.html


def test_chinese_subject_and_display_names_round_trip() -> None:
    data = build_message(PARTS)
    msg = parse(data)
    assert msg["Subject"] == PARTS.subject
    assert msg["From"].addresses[0].display_name == "Healthcare Weekly 医疗产业周报"
    assert msg["From"].addresses[0].addr_spec == "digest@news.example.com"
    assert msg["To"].addresses[0].display_name == "张三"
    assert msg["To"].addresses[0].addr_spec == "zhang.san@example.com"
    assert data.isascii()  # non-ASCII travels as encoded-words and quoted-printable


def test_list_headers() -> None:
    data = build_message(PARTS)
    msg = parse(data)
    unsubscribe = raw_header(data, "List-Unsubscribe")
    assert unsubscribe == (
        b"List-Unsubscribe: <https://news.example.com/unsubscribe/" + TOKEN.encode() + b">, "
        b"<mailto:digest+unsubscribe@news.example.com?subject=unsubscribe%20"
        + TOKEN.encode()
        + b">"
    )
    assert b"=?" not in unsubscribe
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["List-Id"] == '"Healthcare Weekly" <healthcare-weekly.news.example.com>'
    assert msg["Message-ID"] == PARTS.message_id
    assert msg["Reply-To"] == "editors@news.example.com"
    assert msg["Content-Language"] == "zh"
    assert email.utils.parsedate_to_datetime(msg["Date"]) == PARTS.date
    assert msg["MIME-Version"] == "1.0"


def test_long_unsubscribe_url_is_not_folded_into_an_encoded_word() -> None:
    long_url = "https://news.example.com/unsubscribe/" + "x" * 120
    data = build_message(replace(PARTS, unsubscribe_url=long_url))
    line = raw_header(data, "List-Unsubscribe")
    assert b"=?" not in line and b"\r\n" not in line
    assert parse(data)["List-Unsubscribe"].startswith(f"<{long_url}>")


def test_list_id_with_a_chinese_title_stays_parseable() -> None:
    value = list_id("医疗产业周报 Weekly", "news.example.com")
    data = build_message(replace(PARTS, list_id=value))
    line = raw_header(data, "List-Id")
    assert line.count(b'"') % 2 == 0  # no quoted string left open around an encoded-word
    assert line.endswith(b"<weekly.news.example.com>")
    assert parse(data)["List-Id"] == "医疗产业周报 Weekly <weekly.news.example.com>"


def test_crlf_line_endings() -> None:
    data = build_message(PARTS)
    assert b"\r\n" in data
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert b"\r" not in data.replace(b"\r\n", b"")
    assert max(len(line) for line in data.split(b"\r\n")) <= 998


@pytest.mark.parametrize(
    "field", ["subject", "sender_name", "recipient_name"], ids=["subject", "from", "to"]
)
def test_encoded_word_injection_does_not_create_a_bcc(field: str) -> None:
    data = build_message(replace(PARTS, **{field: f"Weekly {INJECTION}"}))
    assert "bcc" not in header_names(data)
    msg = parse(data)
    assert msg["Bcc"] is None
    assert len(msg["To"].addresses) == 1
    assert msg["To"].addresses[0].addr_spec == "zhang.san@example.com"


def test_line_breaks_in_header_text_are_removed() -> None:
    data = build_message(replace(PARTS, subject="Weekly\r\nBcc: victim@example.com"))
    assert "bcc" not in header_names(data)
    assert parse(data)["Subject"] == "Weekly Bcc: victim@example.com"


def test_safe_header_text() -> None:
    assert safe_header_text(" a\r\nb\x00c ") == "a b c"
    assert "=?" not in safe_header_text(INJECTION)


def test_display_name_with_a_comma_stays_one_address() -> None:
    name = "Zhang, San (张三), Head of Digital Health Strategy and Partnerships, Example Group"
    data = build_message(replace(PARTS, recipient_name=name))
    msg = parse(data)
    (address,) = msg["To"].addresses
    assert address.addr_spec == "zhang.san@example.com"
    assert "张三" in address.display_name and "Zhang" in address.display_name
    # What a receiver sees when it splits the raw header on commas.
    assert email.utils.getaddresses([str(msg["To"])]) == [
        (address.display_name, "zhang.san@example.com")
    ]


def test_no_recipient_name() -> None:
    msg = parse(build_message(replace(PARTS, recipient_name=None, reply_to=None, language=None)))
    assert msg["To"] == "zhang.san@example.com"
    assert msg["Reply-To"] is None and msg["Content-Language"] is None


def test_unsubscribe_mailto() -> None:
    assert unsubscribe_mailto("digest@news.example.com", "abc") == (
        "mailto:digest+unsubscribe@news.example.com?subject=unsubscribe%20abc"
    )


# -- FileTransport ------------------------------------------------------------------------------


def envelope(data: bytes | None = None, recipient: str = "zhang.san@example.com") -> Envelope:
    return Envelope(
        sender="digest@news.example.com",
        recipient=recipient,
        message_id=PARTS.message_id,
        data=data if data is not None else build_message(PARTS),
    )


def test_file_transport_writes_an_eml_that_parses(tmp_path: Path) -> None:
    transport = FileTransport(tmp_path / "outbox")
    reply = transport.send(envelope())
    (path,) = (tmp_path / "outbox").iterdir()
    assert path.name == "2026-w48.0123456789abcdef01234567_news.example.com.eml"
    assert reply == f"250 written {path}"
    msg = parse(path.read_bytes())
    assert msg["Subject"] == PARTS.subject and msg["Message-ID"] == PARTS.message_id
    assert not list((tmp_path / "outbox").glob("*.tmp"))
    transport.close()


def test_file_transport_names_cannot_escape_the_outbox(tmp_path: Path) -> None:
    transport = FileTransport(tmp_path / "outbox")
    hostile = Envelope("a@b.example", "c@d.example", "<../../etc/passwd@x>", b"data")
    transport.send(hostile)
    (path,) = (tmp_path / "outbox").iterdir()
    assert path.parent == tmp_path / "outbox" and "/" not in path.name


def test_file_transport_error_names_the_outbox(tmp_path: Path) -> None:
    blocker = tmp_path / "outbox"
    blocker.write_text("a file where the folder should be", encoding="utf-8")
    with pytest.raises(MailError, match=f"cannot write to outbox {blocker}"):
        FileTransport(blocker).send(envelope())


# -- SmtpTransport against a real aiosmtpd ------------------------------------------------------


def smtp(server: Any, **overrides: Any) -> SmtpTransport:
    settings = SmtpSettings(host="127.0.0.1", port=server.port, tls="none", timeout=5.0)
    return SmtpTransport(replace(settings, **overrides))


def test_smtp_delivers_the_message(smtp_server: Any) -> None:
    transport = smtp(smtp_server)
    try:
        assert transport.send(envelope()).startswith("250 ")
    finally:
        transport.close()
    (received,) = smtp_server.received
    assert received.mail_from == "digest@news.example.com"
    assert received.rcpt_tos == ["zhang.san@example.com"]
    msg = received.message()
    assert msg["Subject"] == PARTS.subject
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    body = msg.get_body(preferencelist=("plain",))
    assert body is not None and body.get_content().replace("\r\n", "\n") == PARTS.text


def test_smtp_reuses_one_connection_for_many_messages(smtp_server: Any) -> None:
    transport = smtp(smtp_server)
    try:
        for n in range(3):
            transport.send(envelope(recipient=f"reader{n}@example.com"))
    finally:
        transport.close()
    assert [r.rcpt_tos for r in smtp_server.received] == [
        ["reader0@example.com"],
        ["reader1@example.com"],
        ["reader2@example.com"],
    ]


def test_permanent_refusal(smtp_server: Any) -> None:
    smtp_server.handler.refuse["gone@example.com"] = "550 5.1.1 No such user"
    transport = smtp(smtp_server)
    try:
        with pytest.raises(SmtpRecipientError) as info:
            transport.send(envelope(recipient="gone@example.com"))
        assert info.value.code == 550 and info.value.is_permanent is True
        assert "No such user" in str(info.value)
        # The connection is still good for the next subscriber.
        transport.send(envelope(recipient="ok@example.com"))
    finally:
        transport.close()
    assert [r.rcpt_tos for r in smtp_server.received] == [["ok@example.com"]]


def test_temporary_refusal(smtp_server: Any) -> None:
    smtp_server.handler.refuse["busy@example.com"] = "451 4.3.0 Try later"
    transport = smtp(smtp_server)
    try:
        with pytest.raises(SmtpRecipientError) as info:
            transport.send(envelope(recipient="busy@example.com"))
    finally:
        transport.close()
    assert info.value.code == 451 and info.value.is_permanent is False
    assert "Try later" in str(info.value)
    assert isinstance(info.value, MailError)
    assert smtp_server.received == []


def test_dropped_connection_is_reopened_once(smtp_server: Any) -> None:
    transport = smtp(smtp_server)
    try:
        transport.send(envelope(recipient="first@example.com"))
        assert transport._conn is not None and transport._conn.sock is not None
        transport._conn.sock.shutdown(socket.SHUT_RDWR)  # as if the server hung up while idle
        transport.send(envelope(recipient="second@example.com"))
    finally:
        transport.close()
    assert [r.rcpt_tos for r in smtp_server.received] == [
        ["first@example.com"],
        ["second@example.com"],
    ]


def test_connection_refused_names_host_port_and_setting() -> None:
    port = free_port()
    transport = SmtpTransport(SmtpSettings(host="127.0.0.1", port=port, tls="none", timeout=2.0))
    with pytest.raises(MailError) as info:
        transport.send(envelope())
    message = str(info.value)
    assert f"cannot connect to SMTP server 127.0.0.1:{port}" in message
    assert "NEWSLETTER_SMTP_HOST" in message and "NEWSLETTER_SMTP_PORT" in message


def test_starttls_required_but_not_offered(smtp_server: Any) -> None:
    transport = smtp(smtp_server, tls="starttls")
    with pytest.raises(MailError) as info:
        transport.send(envelope())
    message = str(info.value)
    assert f"SMTP server 127.0.0.1:{smtp_server.port} does not support STARTTLS" in message
    assert "NEWSLETTER_SMTP_TLS" in message
    assert smtp_server.received == []


def test_implicit_tls_against_a_plain_server_fails_clearly(smtp_server: Any) -> None:
    transport = smtp(smtp_server, tls="tls", timeout=2.0)
    with pytest.raises(MailError) as info:
        transport.send(envelope())
    message = str(info.value)
    assert message.startswith(f"TLS with SMTP server 127.0.0.1:{smtp_server.port} failed")
    assert "check NEWSLETTER_SMTP_TLS" in message


def test_certificates_are_verified_by_default() -> None:
    import ssl

    transport = SmtpTransport(SmtpSettings(host="mail.example.com", port=587, tls="starttls"))
    assert transport.context.verify_mode == ssl.CERT_REQUIRED
    assert transport.context.check_hostname is True
