"""Reading the bounce mailbox: DSNs in several MTAs' formats, a feedback report, a mailto:
unsubscribe, and mail that is none of them (samples in tests/data/dsn, reconstructed)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsletter.domain.bounces import BounceKind, BounceSource
from newsletter.email.message import unsubscribe_mailto
from newsletter.email.reports import read_report

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "dsn"
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "email", "kind", "status", "diagnostic_part"),
    [
        ("postfix_user_unknown", "nobody@mail.example.net", "hard", "5.1.1", "User unknown"),
        # Captured from Postfix 3.7.11 on this machine (tests/data/dsn/README.md).
        (
            "postfix_captured_user_unknown",
            "nobody@mail.example.net",
            "hard",
            "5.1.1",
            "User unknown in virtual mailbox table",
        ),
        ("postfix_captured_delayed", "full.box@mail.example.net", "soft", "4.2.2", "Mailbox full"),
        ("postfix_captured_local_error", "reader@mail.example.net", "soft", "5.0.0", "X-Postfix"),
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


_SAMPLE_BYTES = [p.read_bytes() for p in sorted(SAMPLES.glob("*.eml"))]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sample=st.sampled_from(_SAMPLE_BYTES),
    cut=st.integers(min_value=0, max_value=6000),
    noise=st.binary(max_size=200),
    at=st.integers(min_value=0, max_value=6000),
)
def test_damaged_reports_never_raise(sample: bytes, cut: int, noise: bytes, at: int) -> None:
    """A truncated or corrupted report is read as far as it goes: never an exception, and
    every diagnostic stays one line."""
    raw = sample[:cut] if cut < len(sample) else sample
    raw = raw[:at] + noise + raw[at:]
    message = read_report(raw, NOW)
    assert message.kind in ("dsn", "complaint", "unsubscribe", "other")
    for event in message.events:
        assert "\n" not in event.diagnostic and "\r" not in event.diagnostic
        assert len(event.diagnostic) <= 500 and len(event.event_id) <= 300


@pytest.mark.parametrize(
    "header",
    [
        "Content-Type: multipart/report; report-type*=''delivery-status; boundary=x",
        'Content-Type: multipart/report; report-type=delivery-status; boundary=""',
        "Content-Type: message/delivery-status",
        "Content-Type: text/plain; charset=no-such-charset",
        "Subject: =?no-such-charset?q?Undeliverable?=",
        "Subject: =?utf-8?b?!!!?= Undeliverable",
    ],
)
def test_odd_headers_are_read_without_error(header: str) -> None:
    raw = (
        f"From: MAILER-DAEMON@example.org\r\nTo: d@news.example.com\r\n{header}\r\n\r\n"
        "--x\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x\r\n\r\n"
        "Final-Recipient: rfc822; a@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n--x--\r\n"
    ).encode()
    message = read_report(raw, NOW)
    assert message.kind in ("dsn", "other")
