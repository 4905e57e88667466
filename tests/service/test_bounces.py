"""Bounces service: events recorded once, suppression rules, and the bounce mailbox read from
a real IMAP server (dovecot on loopback) on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from imap_tools import AND, MailBoxUnencrypted

from newsletter.domain.bounces import BounceEvent, BounceKind, BounceSource
from newsletter.email.message import unsubscribe_mailto
from newsletter.errors import ConfigError, MailError
from newsletter.service import bounces
from newsletter.service.subscribers import add_subscriber, list_subscribers
from tests.imap_server import DovecotServer

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "dsn"
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def _statuses(app: Any) -> dict[str, tuple[str, str | None]]:
    return {s.email: (s.status, s.suppressed_reason) for s in list_subscribers(app)}


def _event(email: str, kind: BounceKind, n: int, when: datetime = NOW) -> BounceEvent:
    return BounceEvent(email, kind, BounceSource.DSN, f"diag {n}", when, f"id-{email}-{n}")


def test_hard_bounce_and_complaint_suppress_at_once(make_app: Any) -> None:
    app = make_app()
    for email in ("hard@example.org", "spam@example.org", "fine@example.org"):
        add_subscriber(app, email)
    report = bounces.record_events(
        app,
        [
            _event("hard@example.org", BounceKind.HARD, 1),
            _event("spam@example.org", BounceKind.COMPLAINT, 1),
            _event("stranger@example.org", BounceKind.HARD, 1),
        ],
        NOW,
    )
    assert (report.recorded, report.unknown) == (3, 1)
    assert sorted(report.suppressed) == ["hard@example.org", "spam@example.org"]
    statuses = _statuses(app)
    assert statuses["hard@example.org"] == ("bounced", "hard bounce (dsn): diag 1")
    assert statuses["spam@example.org"] == ("unsubscribed", "complaint (dsn): diag 1")
    assert statuses["fine@example.org"][0] == "active"


def test_soft_bounces_suppress_at_the_threshold_within_the_window(make_app: Any) -> None:
    app = make_app(bounce_soft_threshold=3, bounce_soft_window_days=10)
    add_subscriber(app, "soft@example.org")
    old = NOW - timedelta(days=11)
    # An old soft bounce is outside the window and does not count.
    bounces.record_events(app, [_event("soft@example.org", BounceKind.SOFT, 0, old)], NOW)
    for n in (1, 2):
        bounces.record_events(app, [_event("soft@example.org", BounceKind.SOFT, n)], NOW)
    assert _statuses(app)["soft@example.org"][0] == "active"
    report = bounces.record_events(app, [_event("soft@example.org", BounceKind.SOFT, 3)], NOW)
    assert report.suppressed == ["soft@example.org"]
    status, reason = _statuses(app)["soft@example.org"]
    assert status == "bounced" and reason is not None and "repeated soft bounces" in reason
    history = bounces.history(app, "soft@example.org")
    assert [h.diagnostic for h in history] == ["diag 3", "diag 2", "diag 1", "diag 0"]
    assert [h.suppressed for h in history] == [True, False, False, False]


def test_the_same_event_twice_is_recorded_once(make_app: Any) -> None:
    app = make_app(bounce_soft_threshold=2)
    add_subscriber(app, "soft@example.org")
    event = _event("soft@example.org", BounceKind.SOFT, 1)
    first = bounces.record_events(app, [event], NOW)
    again = bounces.record_events(app, [event, event], NOW)
    assert (first.recorded, again.recorded, again.duplicates) == (1, 0, 2)
    assert _statuses(app)["soft@example.org"][0] == "active"  # one soft bounce, not three


def test_an_unsubscribed_address_stays_as_it_was(make_app: Any) -> None:
    from newsletter.service.subscribers import remove_subscriber

    app = make_app()
    add_subscriber(app, "gone@example.org")
    remove_subscriber(app, "gone@example.org")
    report = bounces.record_events(app, [_event("gone@example.org", BounceKind.HARD, 1)], NOW)
    assert report.recorded == 1 and report.suppressed == []
    assert _statuses(app)["gone@example.org"] == ("unsubscribed", None)


def test_no_mailbox_configured_is_one_clear_error(make_app: Any) -> None:
    app = make_app()
    with pytest.raises(ConfigError, match="NEWSLETTER_BOUNCE_IMAP_HOST"):
        bounces.fetch_mailbox(app)


# --- the bounce mailbox over real IMAP --------------------------------------------------------


@pytest.fixture(scope="module")
def dovecot() -> Iterator[DovecotServer]:
    reason = DovecotServer.missing()
    if reason:
        pytest.skip(reason)
    with DovecotServer() as server:
        yield server


def _mailbox(server: DovecotServer) -> MailBoxUnencrypted:
    return MailBoxUnencrypted("127.0.0.1", server.port, timeout=10).login(
        server.user, server.password
    )


@pytest.fixture
def imap_app(make_app: Any, dovecot: DovecotServer) -> Any:
    with _mailbox(dovecot) as box:  # an empty INBOX for each test
        uids = box.uids()
        if uids:
            box.delete(uids)
    return make_app(
        bounce_imap_host="127.0.0.1",
        bounce_imap_port=dovecot.port,
        bounce_imap_user=dovecot.user,
        bounce_imap_password=dovecot.password,
        bounce_imap_tls="none",
        bounce_soft_threshold=3,
    )


def _append(server: DovecotServer, *messages: bytes) -> None:
    with _mailbox(server) as box:
        for raw in messages:
            box.append(raw, "INBOX")


SUBSCRIBERS = [
    "nobody@mail.example.net",  # Postfix, hard
    "full.box@mail.example.net",  # Postfix, delayed (soft)
    "gone@exim-user.example",
    "left.company@contoso.example",
    "no.such.reader@gmail.com",
    "slow.reader@example.org",  # Gmail delay (soft)
    "ghost.user@163.com",
    "lost.reader@qq.com",
    "annoyed.reader@mailbox-provider.example",  # complaint
    "leaving@example.org",  # mailto: unsubscribe
    "stays@example.org",
]


def test_fetch_reads_dsns_complaints_and_mailto_unsubscribes_from_imap(
    imap_app: Any, dovecot: DovecotServer
) -> None:
    app = imap_app
    for email in SUBSCRIBERS:
        add_subscriber(app, email)
    leaving = next(s for s in list_subscribers(app) if s.email == "leaving@example.org")
    mailto = unsubscribe_mailto("digest@news.example.com", leaving.token)
    to, _, query = mailto.removeprefix("mailto:").partition("?subject=")
    unsubscribe_mail = (
        # From another address than the subscriber's: the token decides, as with the web link.
        f"From: someone@elsewhere.example\r\nTo: {to}\r\n"
        f"Subject: {query.replace('%20', ' ')}\r\nMessage-ID: <u1@elsewhere.example>\r\n\r\n\r\n"
    ).encode()
    samples = sorted(SAMPLES.glob("*.eml"))
    other = b"From: fan@example.org\r\nTo: digest@news.example.com\r\nSubject: Thanks\r\n\r\nHi\r\n"
    _append(dovecot, *(p.read_bytes() for p in samples), unsubscribe_mail, other)

    report = bounces.fetch_mailbox(app, now=lambda: NOW)

    assert report.read == len(samples) + 2
    assert report.kinds == {"dsn": len(samples) - 1, "complaint": 1, "unsubscribe": 1, "other": 1}
    statuses = _statuses(app)
    hard = [
        "nobody@mail.example.net",
        "gone@exim-user.example",
        "left.company@contoso.example",
        "no.such.reader@gmail.com",
        "ghost.user@163.com",
        "lost.reader@qq.com",
    ]
    assert {e: statuses[e][0] for e in hard} == dict.fromkeys(hard, "bounced")
    assert statuses["annoyed.reader@mailbox-provider.example"][0] == "unsubscribed"
    assert statuses["leaving@example.org"][0] == "unsubscribed"
    for email in ("full.box@mail.example.net", "slow.reader@example.org", "stays@example.org"):
        assert statuses[email][0] == "active", email
    assert sorted(report.recorded.suppressed) == sorted(
        [*hard, "annoyed.reader@mailbox-provider.example", "leaving@example.org"]
    )
    # The history keeps time, kind, source and diagnostic per address.
    (qq,) = bounces.history(app, "lost.reader@qq.com")
    assert (qq.kind, qq.source, qq.suppressed) == ("hard", "dsn", True)
    assert "Mailbox not found" in qq.diagnostic
    (unsub,) = bounces.history(app, "leaving@example.org")
    assert (unsub.kind, unsub.source) == ("unsubscribe", "mailto")

    # Every report is marked read; the reader's message stays unread for people, marked
    # checked; the next fetch reads nothing.
    with _mailbox(dovecot) as box:
        unread = list(box.fetch(AND(seen=False), mark_seen=False))
        assert [m.subject for m in unread] == ["Thanks"]
        assert "NewsletterChecked" in unread[0].flags
        assert len(box.uids()) == report.read
    assert bounces.fetch_mailbox(app, now=lambda: NOW).read == 0

    # The same DSN delivered again (a second copy in the mailbox) is not counted again.
    _append(dovecot, (SAMPLES / "postfix_delayed.eml").read_bytes())
    again = bounces.fetch_mailbox(app, now=lambda: NOW)
    assert (again.read, again.recorded.recorded, again.recorded.duplicates) == (1, 0, 1)


def test_wrong_imap_password_is_one_clear_error(imap_app: Any, dovecot: DovecotServer) -> None:
    from dataclasses import replace

    settings = replace(bounces.imap_settings(imap_app), password="wrong")
    with pytest.raises(MailError, match=r"cannot log in.*NEWSLETTER_BOUNCE_IMAP_USER"):
        bounces.fetch_mailbox(imap_app, mailbox=settings)


def test_imap_server_not_answering_is_one_clear_error(imap_app: Any) -> None:
    from dataclasses import replace

    from tests.imap_server import _free_port

    settings = replace(bounces.imap_settings(imap_app), port=_free_port(), timeout=5)
    with pytest.raises(MailError, match=r"cannot connect.*NEWSLETTER_BOUNCE_IMAP_HOST"):
        bounces.fetch_mailbox(imap_app, mailbox=settings)


def test_the_scheduler_step_reads_the_mailbox_and_logs_failures_once_per_change(
    imap_app: Any, dovecot: DovecotServer, make_app: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from newsletter.service.schedule import MailboxHealth, read_bounces

    health = MailboxHealth()
    add_subscriber(imap_app, "nobody@mail.example.net")
    _append(dovecot, (SAMPLES / "postfix_user_unknown.eml").read_bytes())
    with caplog.at_level("INFO", logger="newsletter.scheduler"):
        read_bounces(imap_app, health)
    assert _statuses(imap_app)["nobody@mail.example.net"][0] == "bounced"
    assert "bounce mailbox: 1 message(s), 1 event(s) recorded, 1 address(es) suppressed" in (
        caplog.text
    )
    broken = make_app(
        bounce_imap_host="127.0.0.1",
        bounce_imap_port=dovecot.port,
        bounce_imap_user=dovecot.user,
        bounce_imap_password="wrong",
        bounce_imap_tls="none",
    )
    caplog.clear()
    with caplog.at_level("INFO", logger="newsletter.scheduler"):
        for _ in range(3):  # logged, not raised: every interval tries again, said once
            read_bounces(broken, health)
        errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
        assert len(errors) == 1 and "cannot log in" in errors[0]
        caplog.clear()
        read_bounces(imap_app, health)  # the password is right again
        read_bounces(imap_app, health)
    said = [r.getMessage() for r in caplog.records]
    assert said == [f"bounce mailbox {dovecot.user}@127.0.0.1:{dovecot.port} answers again"]
    caplog.clear()
    read_bounces(make_app(), health)  # no mailbox configured: nothing to do, nothing logged
    assert caplog.records == []


@pytest.mark.slow
def test_run_reads_the_mailbox_every_interval(
    imap_app: Any,
    make_app: Any,
    dovecot: DovecotServer,
    tmp_path: Path,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The scheduler of `newsletter run` reads the mailbox every NEWSLETTER_BOUNCE_FETCH_MINUTES
    on its own: a mailto: unsubscribe, then a DSN appended later, are each acted on."""
    import time

    from newsletter.cli.scheduler import build_scheduler
    from newsletter.service.schedule import BOUNCES_JOB

    app = imap_app
    for email in ("leaving@example.org", "nobody@mail.example.net"):
        add_subscriber(app, email)
    leaving = next(s for s in list_subscribers(app) if s.email == "leaving@example.org")
    to, _, query = (
        unsubscribe_mailto("digest@news.example.com", leaving.token)
        .removeprefix("mailto:")
        .partition("?subject=")
    )
    env = {
        "NEWSLETTER_DATABASE_URL": database_url,
        "NEWSLETTER_DATA_DIR": str(tmp_path / "data"),
        "NEWSLETTER_SECRET_KEY": "test-secret",
        "NEWSLETTER_ALLOW_PRIVATE_ADDRESSES": "true",
        "NEWSLETTER_BOUNCE_IMAP_HOST": "127.0.0.1",
        "NEWSLETTER_BOUNCE_IMAP_PORT": str(dovecot.port),
        "NEWSLETTER_BOUNCE_IMAP_USER": dovecot.user,
        "NEWSLETTER_BOUNCE_IMAP_PASSWORD": dovecot.password,
        "NEWSLETTER_BOUNCE_IMAP_TLS": "none",
        "NEWSLETTER_BOUNCE_FETCH_MINUTES": "0.02",  # every 1.2 s
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    scheduled = make_app(
        bounce_imap_host="127.0.0.1",
        bounce_imap_port=dovecot.port,
        bounce_imap_user=dovecot.user,
        bounce_imap_password=dovecot.password,
        bounce_imap_tls="none",
        bounce_fetch_minutes=0.02,
    )

    def wait_for(email: str, status: str) -> None:
        deadline = time.monotonic() + 90
        while _statuses(app)[email][0] != status:
            assert time.monotonic() < deadline, f"{email} is not {status}"
            time.sleep(0.2)

    scheduler = build_scheduler(scheduled, tmp_path / "feeds.yaml")
    scheduler.start(paused=True)
    try:
        for job in scheduler.get_jobs():  # only the mailbox job: no feed poll, no send
            if job.id != BOUNCES_JOB:
                job.remove()
        scheduler.resume()
        _append(
            dovecot,
            (
                f"From: someone@elsewhere.example\r\nTo: {to}\r\n"
                f"Subject: {query.replace('%20', ' ')}\r\nMessage-ID: <run1@elsewhere.example>"
                "\r\n\r\n\r\n"
            ).encode(),
        )
        wait_for("leaving@example.org", "unsubscribed")
        assert _statuses(app)["nobody@mail.example.net"][0] == "active"
        _append(dovecot, (SAMPLES / "postfix_user_unknown.eml").read_bytes())
        wait_for("nobody@mail.example.net", "bounced")
    finally:
        scheduler.shutdown(wait=True)
