"""Reading the bounce mailbox: DSNs in several MTAs' formats, a feedback report, a mailto:
unsubscribe, and mail that is none of them (samples in tests/data/dsn, reconstructed)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsletter.domain.bounces import BounceKind, BounceSource
from newsletter.email.message import unsubscribe_mailto
from newsletter.email.reports import read_report

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "dsn"
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "email", "kind", "status", "diagnostic_part"),
    [
        ("postfix_user_unknown", "nobody@mail.example.net", "hard", "5.1.1", "User unknown"),
        ("postfix_delayed", "full.box@mail.example.net", "soft", "4.2.2", "Mailbox full"),
        ("exim_no_such_user", "gone@exim-user.example", "hard", "5.0.0", "No such user here"),
        (
            "exchange_online_not_found",
            "left.company@contoso.example",
            "hard",
            "5.1.10",
            "RESOLVER.ADR.RecipientNotFound",
        ),
        ("gmail_no_such_user", "no.such.reader@gmail.com", "hard", "5.1.1", "does not exist"),
        ("gmail_delay", "slow.reader@example.org", "soft", "4.7.0", "Try again later"),
        ("netease_user_not_found", "ghost.user@163.com", "hard", "5.0.0", "User not found"),
        ("qqmail_mailbox_not_found", "lost.reader@qq.com", "hard", None, "Mailbox not found"),
    ],
)
def test_dsn_samples_give_recipient_kind_and_diagnostic(
    name: str, email: str, kind: str, status: str | None, diagnostic_part: str
) -> None:
    raw = (SAMPLES / f"{name}.eml").read_bytes()
    message = read_report(raw, NOW)
    assert message.kind == "dsn"
    assert len(message.events) == 1
    event = message.events[0]
    assert event.email == email
    assert event.kind == BounceKind(kind)
    assert event.source is BounceSource.DSN
    if status is not None:
        assert event.diagnostic.startswith(status)
    assert diagnostic_part in event.diagnostic
    assert "\n" not in event.diagnostic
    # The event id names the report and the recipient: reading it twice is one event.
    assert read_report(raw, NOW).events[0].event_id == event.event_id
    assert email in event.event_id


def test_dsn_times_come_from_the_report_not_the_clock() -> None:
    gmail = read_report((SAMPLES / "gmail_no_such_user.eml").read_bytes(), NOW).events[0]
    assert gmail.occurred_at == datetime(2026, 12, 2, 9, 18, 5, tzinfo=UTC)  # Last-Attempt-Date
    exim = read_report((SAMPLES / "exim_no_such_user.eml").read_bytes(), NOW).events[0]
    assert exim.occurred_at == datetime(2026, 12, 2, 9, 16, 44, tzinfo=UTC)  # its Date


def test_feedback_report_is_a_complaint_about_the_original_recipient() -> None:
    message = read_report((SAMPLES / "arf_complaint.eml").read_bytes(), NOW)
    assert message.kind == "complaint"
    (event,) = message.events
    assert (event.email, event.kind, event.source) == (
        "annoyed.reader@mailbox-provider.example",
        BounceKind.COMPLAINT,
        BounceSource.ARF,
    )
    assert "abuse" in event.diagnostic


def _mail_to_mailto(mailto: str, sender: str = "reader@example.org") -> bytes:
    """The message a mail client sends for a List-Unsubscribe mailto: link."""
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(mailto)
    subject = unquote(parts.query.removeprefix("subject="))
    return (
        f"From: Reader <{sender}>\r\nTo: {parts.path}\r\nSubject: {subject}\r\n"
        "Message-ID: <unsub-1@example.org>\r\nDate: Wed, 02 Dec 2026 10:00:00 +0000\r\n\r\n"
        "\r\n"
    ).encode()


def test_mailto_unsubscribe_carries_the_token_from_list_unsubscribe() -> None:
    token = "AbCdEfGhIjKlMnOpQrStUv"
    mailto = unsubscribe_mailto("digest@news.example.com", token)
    message = read_report(_mail_to_mailto(mailto), NOW)
    assert message.kind == "unsubscribe"
    (event,) = message.events
    assert event.kind is BounceKind.UNSUBSCRIBE and event.token == token
    assert event.source is BounceSource.MAILTO


@pytest.mark.parametrize(
    "raw",
    [
        b"From: a@example.org\r\nTo: digest@news.example.com\r\nSubject: Thanks!\r\n\r\nGreat issue.\r\n",
        # To the unsubscribe address but without a token: nothing to act on.
        b"From: a@example.org\r\nTo: digest+unsubscribe@news.example.com\r\nSubject: stop\r\n\r\n",
        b"",
        b"\xff\xfe garbage \x00\x01",
    ],
)
def test_other_mail_is_other_and_never_an_error(raw: bytes) -> None:
    message = read_report(raw, NOW)
    assert message.kind == "other" and message.events == ()
