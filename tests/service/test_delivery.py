"""The delivery pipeline against a real aiosmtpd server scripted per recipient, on SQLite and
PostgreSQL: every reply class, retries, hard bounces, pausing, connection reuse, reader
preferences, click links and DKIM; plus the compiled message template against a full build."""

from __future__ import annotations

import base64
import re
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import dkim
import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlmodel import select

from newsletter.demo.server import FeedServer
from newsletter.email.compiled import Personal, compile_template
from newsletter.email.message import MessageParts, build_message, list_id
from newsletter.email.render import (
    PREFERENCES_URL,
    SUBSCRIBER_EMAIL,
    UNSUBSCRIBE_URL,
    html_values,
    personalize,
)
from newsletter.email.transports import SmtpSettings, SmtpTransport, classify_reply
from newsletter.errors import IssueError, MailError
from newsletter.service.bounces import history as bounce_history
from newsletter.service.editing import set_status
from newsletter.service.ingest import ingest
from newsletter.service.issues import resolve_period
from newsletter.service.pacing import SendRateLimiter
from newsletter.service.sending import (
    issue_status,
    resend_failed,
    resume_issue,
    send_issue,
)
from newsletter.service.subscribers import add_subscriber
from newsletter.storage.db import session_scope
from newsletter.storage.models import Delivery, Issue, Item, Link, Subscriber
from newsletter.storage.queries import issues, subscribers
from tests.helpers import serve_stories

NOW = datetime.now(UTC)
MARKERS = (UNSUBSCRIBE_URL, PREFERENCES_URL, SUBSCRIBER_EMAIL)


# ---- pure parts ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "text", "expected"),
    [
        (250, "2.0.0 OK", "sent"),
        (451, "4.3.0 try again later", "retry"),
        (421, "4.7.0 closing", "retry"),
        (550, "5.1.1 <x@example.com>: user unknown", "bounced"),
        (550, "5.1.1 Recipient address rejected: mailbox not found", "bounced"),
        # RFC 5321's generic 550 text is also used for policy refusals: not a hard bounce.
        (550, "Requested action not taken: mailbox unavailable", "failed"),
        (553, "5.1.3 bad address syntax", "bounced"),
        (554, "5.7.1 message rejected as spam", "failed"),
        (552, "5.3.4 message too big", "failed"),
    ],
)
def test_reply_classes(code: int, text: str, expected: str) -> None:
    assert classify_reply(code, text) == expected


def test_rate_limiter_holds_the_hourly_quota_until_stopped() -> None:
    limiter = SendRateLimiter(per_second=0, per_hour=3)
    stop = threading.Event()
    for _ in range(3):
        limiter.wait(stop)  # within the quota: returns at once
    timer = threading.Timer(0.3, stop.set)
    timer.start()
    limiter.wait(stop)  # the fourth waits for the next hour, or for the stop
    assert stop.is_set()
    timer.join()


def _parts(text: str, html: str, **extra: Any) -> MessageParts:
    return MessageParts(
        subject="Health Weekly 医疗周报 · 2026-W48",
        sender_name="Health Weekly 医疗周报",
        sender_email="digest@news.example.com",
        recipient_email="",
        recipient_name=None,
        text=text,
        html=html,
        message_id="",
        date=datetime(2026, 11, 23, 8, 0, tzinfo=UTC),
        list_id=list_id("Health Weekly", "news.example.com"),
        unsubscribe_url="",
        unsubscribe_mailto="",
        language="en",
        attachments=(("event-1.ics", "text/calendar", b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"),),
        **extra,
    )


def _full_build(parts: MessageParts, person: Personal) -> bytes:
    values = person.markers
    return build_message(
        MessageParts(
            **{
                **parts.__dict__,
                "recipient_email": person.email,
                "recipient_name": person.name,
                "message_id": person.message_id,
                "unsubscribe_url": person.unsubscribe_url,
                "unsubscribe_mailto": person.unsubscribe_mailto,
                "text": personalize(parts.text, values),
                "html": personalize(parts.html, html_values(values)),
            }
        )
    )


def _person(email: str, name: str | None, token: str = "AbCdEfGhIjKlMnOpQrStUv") -> Personal:
    unsubscribe = f"https://news.example.com/unsubscribe/{token}"
    preferences = f"https://news.example.com/preferences/{token}"
    return Personal(
        email=email,
        name=name,
        message_id=f"<2026-w48.{token.lower()}@news.example.com>",
        unsubscribe_url=unsubscribe,
        unsubscribe_mailto=f"mailto:digest+unsubscribe@news.example.com?subject=unsubscribe%20{token}",
        markers={
            UNSUBSCRIBE_URL: unsubscribe,
            PREFERENCES_URL: preferences,
            SUBSCRIBER_EMAIL: email,
        },
    )


def _same_message(fast: bytes, full: bytes) -> None:
    a = message_from_bytes(fast, policy=policy.default)
    b = message_from_bytes(full, policy=policy.default)
    assert isinstance(a, EmailMessage) and isinstance(b, EmailMessage)
    for header in (
        "To",
        "From",
        "Subject",
        "Date",
        "Message-ID",
        "List-Id",
        "List-Unsubscribe",
        "List-Unsubscribe-Post",
        "Content-Language",
        "MIME-Version",
    ):
        assert str(a[header]) == str(b[header]), header
    assert [p.get_content_type() for p in a.walk()] == [p.get_content_type() for p in b.walk()]
    leaves_a = [p.get_content() for p in a.walk() if not p.is_multipart()]
    leaves_b = [p.get_content() for p in b.walk() if not p.is_multipart()]
    assert leaves_a == leaves_b
    # Quoted-printable lines stay within 76 characters; no line is longer than SMTP allows.
    lines = fast.split(b"\r\n")
    assert max(len(line) for line in lines) <= 998
    body = fast.partition(b"\r\n\r\n")[2]
    assert all(len(line) <= 76 for line in body.split(b"\r\n") if b": " not in line[:40])


HTML = (
    '<html><body><p style="color:#333">Hello 你好, 融资 ≈ $25M &amp; more. '
    + "A long paragraph with trailing spaces   \n" * 40
    + f'<a href="{UNSUBSCRIBE_URL}">Unsubscribe</a> · <a href="{PREFERENCES_URL}">Preferences</a>'
    + f" sent to {SUBSCRIBER_EMAIL}.</p></body></html>"
)
TEXT = f"Hello 你好\n\nUnsubscribe: {UNSUBSCRIBE_URL}\nPreferences: {PREFERENCES_URL}\nTo: {SUBSCRIBER_EMAIL}\n.dot line\n"


@pytest.mark.parametrize(
    ("email", "name"),
    [
        ("reader@example.com", None),
        ("reader@example.com", "Ada Lovelace"),
        ("li.wei+news@example.cn", "李伟"),
        ("x=y@example.com", "Dr. Zhang, Wei (CEO)"),
        ("long@example.com", "名" * 80),
        ("idn@bücher.example", "Ünïcødé Name"),
    ],
)
def test_compiled_template_equals_a_full_build(email: str, name: str | None) -> None:
    parts = _parts(TEXT, HTML, reply_to="editor@news.example.com")
    template = compile_template(parts, MARKERS)
    person = _person(email, name)
    _same_message(template.personalize(person), _full_build(parts, person))


@settings(max_examples=60, deadline=None)
@given(
    body=st.lists(
        st.text(
            alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\r")
            | st.sampled_from(["\n", " ", "=", "."]),
            max_size=80,
        )
        | st.sampled_from(["%%", " \n", *MARKERS]),
        max_size=12,
    ).map("".join),
    name=st.none() | st.text(max_size=60),
)
def test_compiled_template_round_trips_any_body(body: str, name: str | None) -> None:
    parts = _parts(body + "\n", "<p>" + body + "</p>")
    template = compile_template(parts, MARKERS)
    person = _person("reader@example.com", name)
    _same_message(template.personalize(person), _full_build(parts, person))


# ---- against a scripted SMTP server ------------------------------------------------------


@pytest.fixture
def issue_app(make_app: Any, feed_server: FeedServer) -> Any:
    """make(addresses, **settings): an app with a week of stories and these subscribers."""

    def make(addresses: list[str], **overrides: Any) -> Any:
        probe = make_app()
        period = resolve_period(probe, now=NOW, due=True)
        app = make_app(feeds=[serve_stories(feed_server, period.end)], **overrides)
        assert ingest(app).new_items == 8
        for address in addresses:
            add_subscriber(app, address)
        return app

    return make


def smtp(server: Any) -> SmtpTransport:
    return SmtpTransport(SmtpSettings(host="127.0.0.1", port=server.port, tls="none", timeout=5))


def smtp_settings(server: Any) -> dict[str, Any]:
    return {
        "mail_transport": "smtp",
        "smtp_host": "127.0.0.1",
        "smtp_port": server.port,
        "smtp_tls": "none",
        "smtp_timeout": 5.0,
    }


def rows(app: Any) -> dict[str, tuple[Delivery, Subscriber]]:
    with session_scope(app.engine) as session:
        found = session.exec(select(Delivery, Subscriber).join(Subscriber)).all()
        return {s.email: (d, s) for d, s in found}


def make_due(app: Any) -> None:
    with session_scope(app.engine) as session:
        session.execute(
            sa.update(Delivery)
            .where(Delivery.status == "queued")  # type: ignore[arg-type]
            .values(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1))
        )


def test_every_reply_class(issue_app: Any, smtp_server: Any) -> None:
    script = {
        "ok@example.com": ["250"],
        "unknown@example.com": ["550 5.1.1 <unknown@example.com>: user unknown"],
        "spam@example.com": [("data", "554 5.7.1 rejected as spam")],
        "later@example.com": ["451 4.3.0 try again later", "250"],
        "closing@example.com": ["421 4.7.0 closing connection", "250"],
        "dropped@example.com": [("data", "drop"), "250"],
    }
    app = issue_app(list(script))
    smtp_server.handler.script.update(script)
    period = resolve_period(app, now=NOW, due=True)
    report = send_issue(app, period, smtp(smtp_server))
    found = rows(app)
    # 2xx sent; 421 and a dropped connection reconnect and send the message again at once.
    for email in ("ok@example.com", "closing@example.com", "dropped@example.com"):
        assert found[email][0].status == "sent", (email, found[email][0].last_reply)
    # 5.1.1: the mailbox does not exist: a hard bounce that suppresses the subscriber.
    delivery, subscriber = found["unknown@example.com"]
    assert delivery.status == "bounced" and delivery.smtp_code == 550
    assert subscriber.status == "bounced" and subscriber.bounced_at is not None
    # ... and it is in the address's bounce history (docs/bounces.md), source "smtp".
    (event,) = bounce_history(app, "unknown@example.com")
    assert (event.kind, event.source, event.suppressed) == ("hard", "smtp", True)
    assert "5.1.1" in event.diagnostic
    # Other 5xx: failed, the subscriber stays.
    delivery, subscriber = found["spam@example.com"]
    assert delivery.status == "failed" and "5.7.1" in (delivery.last_reply or "")
    assert subscriber.status == "active"
    # 4xx: queued again with a later attempt time.
    delivery, _ = found["later@example.com"]
    assert delivery.status == "queued" and delivery.smtp_code == 451
    assert delivery.next_attempt_at is not None and delivery.next_attempt_at > datetime.now(UTC)
    assert report.status == "partial" and report.deferred == 1
    # Nothing is sent early; once the retry is due the next run sends it and finishes.
    assert send_issue(app, period, smtp(smtp_server)).sent == 0
    make_due(app)
    again = send_issue(app, period, smtp(smtp_server))
    assert again.sent == 1 and again.status == "sent"
    assert rows(app)["later@example.com"][0].attempts == 2
    delivered = [r.rcpt_tos[0] for r in smtp_server.received]
    assert sorted(delivered) == sorted(
        ["ok@example.com", "closing@example.com", "dropped@example.com", "later@example.com"]
    )
    status = issue_status(app, period.label)
    assert status is not None and status.status == "sent"
    assert status.counts.bounced == 1 and status.counts.failed == 1


def test_retries_give_up_before_the_next_issue(issue_app: Any, smtp_server: Any) -> None:
    app = issue_app(
        ["slow@example.com"],
        retry_first_minutes=8 * 24 * 60,  # later than the next issue, whatever the weekday
        retry_max_minutes=8 * 24 * 60,
        retry_jitter=0.0,
    )
    smtp_server.handler.script["slow@example.com"] = ["450 4.2.1 mailbox busy"]
    period = resolve_period(app, now=NOW, due=True)
    report = send_issue(app, period, smtp(smtp_server))
    delivery, _ = rows(app)["slow@example.com"]
    assert delivery.status == "failed" and "gave up after 1 attempts" in (delivery.last_reply or "")
    assert report.status == "sent" and report.failed == 1


def test_resend_failed_retries_only_failed(issue_app: Any, smtp_server: Any) -> None:
    app = issue_app(["a@example.com", "b@example.com", "gone@example.com"])
    smtp_server.handler.script["b@example.com"] = [("data", "554 5.6.0 bad content"), "250"]
    smtp_server.handler.script["gone@example.com"] = ["550 5.1.1 no such user"]
    period = resolve_period(app, now=NOW, due=True)
    send_issue(app, period, smtp(smtp_server))
    assert resend_failed(app, period) == 1  # not the sent one, not the bounced one
    report = send_issue(app, period, smtp(smtp_server))
    assert report.sent == 1 and report.status == "sent"
    assert sorted(r.rcpt_tos[0] for r in smtp_server.received) == ["a@example.com", "b@example.com"]


def test_issue_pauses_when_the_error_rate_passes_the_threshold(
    issue_app: Any, smtp_server: Any
) -> None:
    addresses = [f"r{i:02d}@example.com" for i in range(30)]
    app = issue_app(addresses, pause_min_attempts=10, pause_error_rate=0.3, delivery_batch=5)
    for address in addresses[:20]:
        smtp_server.handler.script[address] = ["554 5.7.1 blocked"]
    period = resolve_period(app, now=NOW, due=True)
    report = send_issue(app, period, smtp(smtp_server))
    assert report.status == "paused" and "threshold" in (report.reason or "")
    with session_scope(app.engine) as session:
        issue = issues.get_issue(session, period.label)
        assert issue is not None and issue.status == "paused"
        assert issue.paused_reason and "newsletter issue resume" in issue.paused_reason
    counts = {d.status for d, _ in rows(app).values()}
    assert "queued" in counts  # the rest of the list was not burnt
    # A paused issue sends nothing until resumed, and stays frozen: editors cannot change it.
    assert send_issue(app, period, smtp(smtp_server)).status == "paused"
    with pytest.raises(IssueError, match="paused"):
        set_status(app, period, "approved")
    smtp_server.handler.script.clear()
    resume_issue(app, period)
    final = send_issue(app, period, smtp(smtp_server))
    # The errors so far are counted again in this run only from its own messages: it finishes.
    assert final.status == "sent"
    assert {d.status for d, _ in rows(app).values()} <= {"sent", "failed"}


def test_parallel_connections_reuse_and_cap(issue_app: Any, smtp_server: Any) -> None:
    addresses = [f"p{i:02d}@example.com" for i in range(24)]
    app = issue_app(
        addresses,
        smtp_connections=3,
        smtp_messages_per_connection=5,
        delivery_batch=4,
        **smtp_settings(smtp_server),
    )
    period = resolve_period(app, now=NOW, due=True)
    report = send_issue(app, period)  # the configured transports, in parallel
    assert report.sent == 24 and report.status == "sent"
    per_connection = smtp_server.handler.messages_per_connection()
    assert sum(per_connection.values()) == 24
    assert max(per_connection.values()) <= 5  # the cap closes and reopens connections
    assert len(per_connection) >= 5  # ...and connections carry several messages each
    assert sorted(r.rcpt_tos[0] for r in smtp_server.received) == addresses
    workers = {d.worker for d, _ in rows(app).values()}
    assert len(workers) == 1  # one process, recorded on every delivery it held


def test_reader_preferences_shape_their_copy(issue_app: Any, smtp_server: Any) -> None:
    app = issue_app(["all@example.com", "money@example.com", "nothing@example.com"])
    with session_scope(app.engine) as session:
        languages = {i.language for i in session.exec(select(Item)).all()}
        for email, sections, locale in (
            ("money@example.com", ["financing"], None),
            ("nothing@example.com", ["financing"], "xx"),
        ):
            sub = subscribers.get_subscriber(session, email)
            assert sub is not None
            sub.sections, sub.locale = sections, locale
            session.add(sub)
    assert "xx" not in languages
    period = resolve_period(app, now=NOW, due=True)
    report = send_issue(app, period, smtp(smtp_server))
    assert report.sent == 2 and report.skipped_subscribers == 1
    bodies = {
        r.rcpt_tos[0]: r.message().get_body(("plain",)).get_content()  # type: ignore[union-attr]
        for r in smtp_server.received
    }
    assert "FDA approves first oral GLP-1 pill" in bodies["all@example.com"]
    assert "Acme Health raises $25M" in bodies["money@example.com"]
    assert "FDA approves first oral GLP-1 pill" not in bodies["money@example.com"]
    delivery, _ = rows(app)["nothing@example.com"]
    assert delivery.status == "skipped" and "sections and language" in (delivery.last_reply or "")


def test_links_go_through_the_click_redirect(issue_app: Any, smtp_server: Any) -> None:
    app = issue_app(["reader@example.com"])
    period = resolve_period(app, now=NOW, due=True)
    send_issue(app, period, smtp(smtp_server))
    html = smtp_server.received[0].message().get_body(("html",)).get_content()  # type: ignore[union-attr]
    hrefs = re.findall(r'href="([^"]+)"', html)
    with session_scope(app.engine) as session:
        links = {link.token: link.url for link in session.exec(select(Link)).all()}
    story_links = [h for h in hrefs if "/c/" in h]
    assert story_links and all(h.startswith("https://news.example.com/c/") for h in story_links)
    assert {h.rsplit("/", 1)[1] for h in story_links} <= set(links)
    assert any("example.com/s0" in url for url in links.values())
    # Personal links are not counted: they stay the subscriber's own.
    assert any("/unsubscribe/" in h for h in hrefs)
    assert not any("/unsubscribe/" in url for url in links.values())


def test_click_tracking_can_be_turned_off(issue_app: Any, smtp_server: Any) -> None:
    app = issue_app(["reader@example.com"], click_tracking=False)
    period = resolve_period(app, now=NOW, due=True)
    send_issue(app, period, smtp(smtp_server))
    html = smtp_server.received[0].message().get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "/c/" not in html and "https://example.com/s0" in html
    with session_scope(app.engine) as session:
        assert session.exec(select(Link)).all() == []


def _openssl(*args: str) -> bytes:
    return subprocess.run(["openssl", *args], check=True, capture_output=True).stdout


def test_dkim_signature_covers_list_unsubscribe_and_verifies(
    issue_app: Any, smtp_server: Any, tmp_path: Path
) -> None:
    key = tmp_path / "dkim.pem"
    _openssl("genrsa", "-out", str(key), "2048")
    public = _openssl("rsa", "-in", str(key), "-pubout", "-outform", "DER")
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)
    app = issue_app(
        ["reader@example.com"],
        dkim_key_path=key,
        dkim_selector="mail",
        dkim_domain="news.example.com",
    )
    period = resolve_period(app, now=NOW, due=True)
    send_issue(app, period, smtp(smtp_server))
    data = smtp_server.received[0].data
    assert data.startswith(b"DKIM-Signature:")

    def dnsfunc(name: bytes, timeout: float = 5) -> bytes | None:
        return record if name == b"mail._domainkey.news.example.com." else None

    assert dkim.verify(data, dnsfunc=dnsfunc)
    header = message_from_bytes(data, policy=policy.default)["DKIM-Signature"]
    signed = re.search(r"h=([^;]+)", str(header).replace(" ", ""))
    assert signed is not None
    names = signed.group(1).lower().split(":")
    assert "list-unsubscribe" in names and "list-unsubscribe-post" in names


def test_unsubscribe_while_sending_is_honoured_for_unsent_messages(
    issue_app: Any, smtp_server: Any
) -> None:
    addresses = [f"u{i:02d}@example.com" for i in range(10)]
    app = issue_app(addresses)

    class UnsubscribesLastOne(SmtpTransport):
        def send(self, envelope: Any) -> str:
            if envelope.recipient == "u00@example.com":
                with session_scope(app.engine) as session:
                    sub = subscribers.get_subscriber(session, "u09@example.com")
                    assert sub is not None
                    sub.status = "unsubscribed"
                    session.add(sub)
            return super().send(envelope)

    period = resolve_period(app, now=NOW, due=True)
    transport = UnsubscribesLastOne(
        SmtpSettings(host="127.0.0.1", port=smtp_server.port, tls="none", timeout=5)
    )
    report = send_issue(app, period, transport)
    assert report.sent == 9 and report.skipped_subscribers == 1
    assert "u09@example.com" not in [r.rcpt_tos[0] for r in smtp_server.received]
    with session_scope(app.engine) as session:
        issue = session.exec(select(Issue)).one()
        assert issue.status == "sent"


def test_leases_are_renewed_while_a_slow_batch_is_sent(issue_app: Any, smtp_server: Any) -> None:
    # A batch takes longer than the lease (the rate limit holds it back): the worker keeps its
    # lease alive, so its own other connection never takes the same messages again.
    addresses = [f"slow{i:02d}@example.com" for i in range(16)]
    app = issue_app(
        addresses,
        smtp_connections=2,
        delivery_batch=8,
        delivery_lease_seconds=3.0,  # a batch of 8 at 2 messages/s per thread takes 4 s
        send_rate_per_second=4.0,
        **smtp_settings(smtp_server),
    )
    period = resolve_period(app, now=NOW, due=True)
    report = send_issue(app, period)
    delivered = [r.rcpt_tos[0] for r in smtp_server.received]
    assert sorted(delivered) == addresses  # each exactly once
    assert report.sent == 16 and report.status == "sent"


def test_many_connections_share_the_database_pool(issue_app: Any, smtp_server: Any) -> None:
    addresses = [f"m{i:02d}@example.com" for i in range(40)]
    app = issue_app(addresses, smtp_connections=24, delivery_batch=1, **smtp_settings(smtp_server))
    period = resolve_period(app, now=NOW, due=True)
    report = send_issue(app, period)
    assert report.sent == 40 and report.status == "sent"
    assert sorted(r.rcpt_tos[0] for r in smtp_server.received) == addresses


def test_preferences_saved_on_the_web_shape_the_next_issue(
    issue_app: Any, smtp_server: Any
) -> None:
    from tests.web_helpers import client_for

    app = issue_app(["web@example.com", "all@example.com"])
    with session_scope(app.engine) as session:
        sub = subscribers.get_subscriber(session, "web@example.com")
        assert sub is not None
        token = sub.token
    saved = client_for(app).post(f"/preferences/{token}", data={"sections": ["financing"]})
    assert saved.status_code == 200
    period = resolve_period(app, now=NOW, due=True)
    report = send_issue(app, period, smtp(smtp_server))
    assert report.sent == 2
    texts = {
        r.rcpt_tos[0]: r.message().get_body(("plain",)).get_content()  # type: ignore[union-attr]
        for r in smtp_server.received
    }
    assert "Acme Health raises $25M" in texts["web@example.com"]
    assert "FDA approves first oral GLP-1 pill" not in texts["web@example.com"]
    assert "FDA approves first oral GLP-1 pill" in texts["all@example.com"]


def test_a_chinese_reader_gets_chinese_furniture(issue_app: Any, smtp_server: Any) -> None:
    app = issue_app(["en@example.com", "zh@example.com"])
    with session_scope(app.engine) as session:
        sub = subscribers.get_subscriber(session, "zh@example.com")
        assert sub is not None
        sub.locale = "zh"
        session.add(sub)
        # The stories come from one English feed; this one as a Chinese feed would give it.
        for item in session.exec(select(Item)).all():
            if item.title.startswith("康澜生物"):
                item.language = "zh"
                session.add(item)
    period = resolve_period(app, now=NOW, due=True)
    report = send_issue(app, period, smtp(smtp_server))
    assert report.sent == 2
    messages = {r.rcpt_tos[0]: r.message() for r in smtp_server.received}
    zh, en = messages["zh@example.com"], messages["en@example.com"]
    zh_text = zh.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    zh_html = zh.get_body(("html",)).get_content()  # type: ignore[union-attr]
    en_text = en.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "康澜生物完成2000万美元A轮融资" in zh_text
    assert "退订：http" in zh_text and "Unsubscribe:" not in zh_text
    assert "A轮" in zh_text and "Series A" not in zh_text
    assert '<html lang="zh">' in zh_html and "View in browser" not in zh_html
    assert "年" in str(zh["Subject"]) and "No." not in str(zh["Subject"])
    assert "Unsubscribe: http" in en_text and "退订" not in en_text


def test_a_dead_senders_claims_are_taken_over_once_its_heartbeat_is_stale(
    issue_app: Any, smtp_server: Any
) -> None:
    from newsletter.service.issues import build_issue
    from newsletter.service.sending import freeze_issue, issue_status
    from newsletter.storage.queries import deliveries, senders

    addresses = [f"dead{i}@example.com" for i in range(6)]
    app = issue_app(
        addresses,
        sender_stale_seconds=1.0,
        delivery_lease_seconds=600.0,  # the lease alone would hold them for 10 minutes
        **smtp_settings(smtp_server),
    )
    period = resolve_period(app, now=NOW, due=True)
    assert freeze_issue(app, build_issue(app, period)) == 6
    # A sender that claimed half the issue and died (its heartbeat stops now).
    dead = "deadhost:999:abcdef"
    now = datetime.now(UTC)
    with session_scope(app.engine) as session:
        senders.register_sender(session, dead, "deadhost", 999, now)
        issue = issues.get_issue(session, period.label)
        assert issue is not None and issue.id is not None
        claimed = deliveries.claim_batch(
            session, issue.id, now, now + timedelta(minutes=10), dead, 3, now
        )
    assert len(claimed) == 3
    progress = issue_status(app, period.label)
    assert progress is not None and progress.counts.sending == 3
    assert len(progress.holders) == 1
    assert "3 held by process 999 on deadhost (deadhost:999:abcdef)" in progress.holders[0]

    report = send_issue(app, period)

    # The 3 queued went at once; the dead sender's 3 once its heartbeat was 1 s old.
    assert report.status == "sent" and report.sent == 6, report
    assert sorted(r.rcpt_tos[0] for r in smtp_server.received) == addresses
    after = issue_status(app, period.label)
    assert after is not None and after.status == "sent" and after.holders == []
    with session_scope(app.engine) as session:
        assert {d.worker for d in session.exec(select(Delivery)).all()} != {dead}


def test_two_sends_at_once_both_report_the_truth(issue_app: Any, smtp_server: Any) -> None:
    # The first to run out of work waits for the other's claims instead of reporting
    # "partial" while they are still being sent.
    addresses = [f"both{i:02d}@example.com" for i in range(20)]
    app = issue_app(
        addresses,
        smtp_connections=1,
        delivery_batch=4,
        send_rate_per_second=20.0,  # about a second of sending: the two runs overlap
        **smtp_settings(smtp_server),
    )
    period = resolve_period(app, now=NOW, due=True)
    reports: list[Any] = []
    threads = [
        threading.Thread(target=lambda: reports.append(send_issue(app, period))) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(reports) == 2
    assert [r.status for r in reports] == ["sent", "sent"], [r.reason for r in reports]
    assert sum(r.sent for r in reports) == 20
    assert sorted(r.rcpt_tos[0] for r in smtp_server.received) == addresses


@pytest.mark.slow
def test_send_rides_out_an_smtp_outage_and_finishes(
    issue_app: Any, smtp_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """The SMTP server is stopped part way through `send` (connections reset, new ones
    refused) and started again on the same port 3 s later: the senders wait with backoff,
    say so once, and the same send finishes with every message delivered, at most one
    message per connection twice (the one on the wire when the server went)."""
    addresses = [f"r{i:03d}@example.com" for i in range(60)]
    app = issue_app(
        addresses,
        smtp_connections=2,
        delivery_batch=10,
        send_rate_per_second=20.0,  # about 3 s of sending: the outage falls in the middle
        **smtp_settings(smtp_server),
    )
    period = resolve_period(app, now=NOW, due=True)
    outage_over = threading.Event()

    def outage() -> None:
        deadline = time.monotonic() + 60
        while len(smtp_server.received) < 15 and time.monotonic() < deadline:
            time.sleep(0.01)
        smtp_server.stop()
        time.sleep(3.0)
        smtp_server.start_again()
        outage_over.set()

    cutter = threading.Thread(target=outage, daemon=True)
    cutter.start()
    with caplog.at_level("WARNING", logger="newsletter.worker"):
        report = send_issue(app, period)
    cutter.join(timeout=30)
    assert outage_over.is_set()
    assert report.status == "sent" and report.sent == 60
    delivered = [r.rcpt_tos[0] for r in smtp_server.received]
    assert set(delivered) == set(addresses)
    assert len(delivered) - len(set(delivered)) <= 2  # one per connection at most
    said = [r.getMessage() for r in caplog.records if "SMTP server" in r.getMessage()]
    assert len(said) == 2, said
    assert said[0].startswith("the SMTP server is unreachable, retrying with backoff")
    assert said[1].startswith("the SMTP server answers again after")
    assert {d.status for d, _ in rows(app).values()} == {"sent"}


def test_an_smtp_server_away_longer_than_the_limit_stops_the_run_with_all_queued(
    issue_app: Any, smtp_server: Any
) -> None:
    """NEWSLETTER_SMTP_OUTAGE_SECONDS=0: no waiting; the send stops at once and what was not
    sent stays queued for the next run (as before this retry existed)."""
    addresses = ["a@example.com", "b@example.com"]
    app = issue_app(addresses, smtp_outage_seconds=0, **smtp_settings(smtp_server))
    smtp_server.stop()
    period = resolve_period(app, now=NOW, due=True)
    with pytest.raises(MailError, match=r"cannot connect to SMTP server.*stay queued"):
        send_issue(app, period)
    assert {d.status for d, _ in rows(app).values()} == {"queued"}
    smtp_server.start_again()
    assert send_issue(app, period).sent == 2


def test_no_reply_after_the_whole_message_twice_defers_it_instead_of_riding_out(
    issue_app: Any, smtp_server: Any
) -> None:
    """A server that reads the whole message and drops the connection without a reply may have
    queued it. Sent again at once once (as before); a second time it is deferred like a 4xx,
    not retried again and again as an outage would be."""
    script = {"silent@example.com": [("data", "drop"), ("data", "drop"), "250"]}
    app = issue_app(list(script))
    smtp_server.handler.script.update(script)
    period = resolve_period(app, now=NOW, due=True)
    report = send_issue(app, period, smtp(smtp_server))
    delivery, _ = rows(app)["silent@example.com"]
    assert delivery.status == "queued" and delivery.smtp_code == 451
    assert "it may have arrived" in (delivery.last_reply or "")
    assert report.deferred == 1 and report.status == "partial"
    with smtp_server.handler.lock:
        attempts = smtp_server.handler.attempts["silent@example.com"]
    assert attempts == 2  # once, then once again at once: no third copy in this run
    make_due(app)
    assert send_issue(app, period, smtp(smtp_server)).sent == 1
