"""Header inputs from subscribers, editors and feeds cannot add or split a header, and one
subscriber whose message cannot be composed fails alone: the batch goes on."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from email import message_from_bytes, policy
from typing import Any

import pytest
from sqlmodel import select

from newsletter.demo.server import FeedServer
from newsletter.email.headers import ComposeError, envelope_address, safe_header_text
from newsletter.email.message import build_message, list_id
from newsletter.email.tokens import new_token
from newsletter.email.transports import Envelope, SmtpRecipientError, SmtpSettings, SmtpTransport
from newsletter.service.ingest import ingest
from newsletter.service.issues import resolve_period
from newsletter.service.sending import send_issue
from newsletter.service.subscribers import add_subscriber
from newsletter.storage.db import session_scope
from newsletter.storage.models import Delivery, Subscriber
from tests.email.test_mailer import PARTS, header_names
from tests.helpers import serve_stories

EXPECTED = header_names(build_message(PARTS))


@pytest.mark.parametrize(
    "value",
    [
        "Weekly\u2028Bcc: victim@example.com",
        "Weekly\u2029Bcc: victim@example.com",
        "Weekly\x85Bcc: victim@example.com",
        "Weekly\x1eBcc: victim@example.com",
        "Weekly\x0bBcc: victim@example.com",
        "Weekly\x00\r\nBcc: victim@example.com",
        "=?utf-8?b?V2Vla2x5DQpCY2M6IHZpY3RpbUBleGFtcGxlLmNvbQ==?=",  # base64 of a CRLF + Bcc
        "=?utf-8?q?Weekly=0D=0ABcc:_victim@example.com?=",
        "==??utf-8?q?x=0A?=",
    ],
)
@pytest.mark.parametrize("field", ["subject", "sender_name", "recipient_name"])
def test_line_breaks_and_encoded_words_never_make_a_header(field: str, value: str) -> None:
    data = build_message(replace(PARTS, **{field: value}))
    assert header_names(data) == EXPECTED
    msg = message_from_bytes(data, policy=policy.default)
    assert msg["Bcc"] is None
    assert [a.addr_spec for a in msg["To"].addresses] == ["zhang.san@example.com"]


def test_safe_header_text_examples() -> None:
    assert safe_header_text("a\u2028b\x1ec\x85d\u200be") == "a b c d e"
    assert safe_header_text("=?utf-8?q?x?=") == "= ?utf-8?q?x?="
    assert safe_header_text("==??") == "== ??"
    assert safe_header_text("x" * 1000) == "x" * 300


def test_long_display_name_with_commas_and_specials_stays_one_address() -> None:
    name = 'Zhang, San "Boss" <ceo@evil.example>; Head of Strategy, Example Group (张三) ' * 3
    msg = message_from_bytes(
        build_message(replace(PARTS, recipient_name=name)), policy=policy.default
    )
    (address,) = msg["To"].addresses
    assert address.addr_spec == "zhang.san@example.com"
    assert "张三" in address.display_name and "evil" in address.display_name


def test_list_id_of_a_hostile_title() -> None:
    value = list_id("Weekly\r\nBcc: x@example.com =?utf-8?q?a?=", "news.example.com")
    assert "\r" not in value and "\n" not in value and "=?" not in value


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("zhang.san@example.com", "zhang.san@example.com"),
        ("user@例子.中国", "user@xn--fsqu00a.xn--fiqs8s"),  # IDNA: an ASCII header and RCPT
        ("First.Last+tag@Example.COM", "First.Last+tag@Example.COM"),
    ],
)
def test_envelope_address(address: str, expected: str) -> None:
    assert envelope_address(address) == expected


@pytest.mark.parametrize(
    "address",
    [
        "用户@example.com",
        '"quoted"@example.com',
        "a b@example.com",
        "no-at-sign",
        "x@",
        "a\r\nb@example.com",
        "a@b@example.com",
        "x@-bad-.com",
    ],
)
def test_addresses_that_cannot_be_written_are_a_compose_error(address: str) -> None:
    with pytest.raises(ComposeError) as info:
        build_message(replace(PARTS, recipient_email=address))
    assert repr(address) in str(info.value)


def test_smtp_refuses_a_non_ascii_recipient_as_a_permanent_failure(smtp_server: Any) -> None:
    transport = SmtpTransport(
        SmtpSettings(host="127.0.0.1", port=smtp_server.port, tls="none", timeout=5)
    )
    envelope = Envelope(
        "digest@news.example.com", "用户@example.com", "<m@x>", build_message(PARTS)
    )
    with pytest.raises(SmtpRecipientError) as info:
        transport.send(envelope)
    transport.close()
    assert info.value.is_permanent and "is not ASCII" in str(info.value)


def test_one_bad_subscriber_does_not_stop_the_batch(
    make_app: Any, feed_server: FeedServer, tmp_path: Any
) -> None:
    now = datetime.now(UTC)
    period = resolve_period(make_app(), now=now, due=True)
    app = make_app(feeds=[serve_stories(feed_server, period.end)])
    assert ingest(app).new_items == 8
    add_subscriber(app, "a@example.com", "Ann =?utf-8?q?=0D=0ABcc:_x@example.com?=")
    with session_scope(app.engine) as session:  # an address from an old import, unchecked
        session.add(Subscriber(email="用户@example.com", name="坏地址", token=new_token()))
    add_subscriber(app, "z@example.com", "Zed\u2028Bcc: x@example.com")

    from newsletter.email.transports import FileTransport

    report = send_issue(app, period, FileTransport(tmp_path / "outbox"))
    assert (report.sent, report.failed) == (2, 1)
    assert report.status == "sent"  # nothing waits for a retry: the bad one failed for good
    with session_scope(app.engine) as session:
        rows = {s.email: d for d, s in session.exec(select(Delivery, Subscriber).join(Subscriber))}
    assert rows["用户@example.com"].status == "failed"
    assert "cannot write the address" in (rows["用户@example.com"].last_reply or "")
    assert rows["a@example.com"].status == rows["z@example.com"].status == "sent"
    for eml in (tmp_path / "outbox").glob("*.eml"):
        msg = message_from_bytes(eml.read_bytes(), policy=policy.default)
        assert msg["Bcc"] is None and len(msg["To"].addresses) == 1
