"""Sending: freeze and queue once, send each delivery once, honour unsubscribes, survive SMTP failures."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from newsletter.demo.server import FeedServer
from newsletter.email.transports import Envelope, FileTransport, SmtpSettings, SmtpTransport
from newsletter.errors import MailError
from newsletter.service.ingest import ingest
from newsletter.service.issues import resolve_period
from newsletter.service.sending import dry_run, resume_sends, send_issue, send_test
from newsletter.service.subscribers import add_subscriber, remove_subscriber
from newsletter.storage.db import session_scope
from newsletter.storage.models import Delivery, Issue, Subscriber
from newsletter.storage.queries import subscribers
from tests.helpers import serve_stories

NOW = datetime.now(UTC)


@pytest.fixture
def ready_app(make_app: Any, feed_server: FeedServer) -> Any:
    """An app with a week of stored stories and three subscribers."""
    probe = make_app()
    period = resolve_period(probe, now=NOW, due=True)
    app = make_app(feeds=[serve_stories(feed_server, period.end)])
    assert ingest(app).new_items == 8
    for email in ("a@example.com", "b@example.com", "c@example.com"):
        add_subscriber(app, email)
    return app


def smtp(server: Any) -> SmtpTransport:
    return SmtpTransport(SmtpSettings(host="127.0.0.1", port=server.port, tls="none", timeout=5))


def deliveries(app: Any) -> dict[str, Delivery]:
    with session_scope(app.engine) as session:
        rows = session.exec(select(Delivery, Subscriber).join(Subscriber)).all()
        return {s.email: d for d, s in rows}


def test_file_transport_writes_one_eml_per_subscriber(ready_app: Any, tmp_path: Path) -> None:
    period = resolve_period(ready_app, now=NOW, due=True)
    report = send_issue(ready_app, period, FileTransport(tmp_path / "out"))
    assert report.status == "sent" and report.sent == 3
    files = sorted((tmp_path / "out").glob("*.eml"))
    assert len(files) == 3
    recipients = set()
    for path in files:
        msg = message_from_bytes(path.read_bytes(), policy=policy.default)
        recipients.add(msg["To"].addresses[0].addr_spec)
        assert "Acme Health raises $25M" in msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert recipients == {"a@example.com", "b@example.com", "c@example.com"}
    with session_scope(ready_app.engine) as session:
        issue = session.exec(select(Issue)).one()
        assert issue.status == "sent" and issue.html and issue.frozen_at is not None


def test_message_id_is_deterministic_per_issue_and_subscriber(
    ready_app: Any, smtp_server: Any
) -> None:
    period = resolve_period(ready_app, now=NOW, due=True)
    send_issue(ready_app, period, smtp(smtp_server))
    ids = {r.rcpt_tos[0]: r.message()["Message-ID"] for r in smtp_server.received}
    rows = deliveries(ready_app)
    assert {email: d.message_id for email, d in rows.items()} == ids
    assert len(set(ids.values())) == 3


def test_send_twice_sends_nothing_twice(ready_app: Any, smtp_server: Any) -> None:
    period = resolve_period(ready_app, now=NOW, due=True)
    first = send_issue(ready_app, period, smtp(smtp_server))
    second = send_issue(ready_app, period, smtp(smtp_server))
    assert first.sent == 3
    assert second.status == "already-sent" and second.sent == 0
    assert len(smtp_server.received) == 3


def test_new_subscriber_after_freeze_is_not_added_to_a_sent_issue(
    ready_app: Any, smtp_server: Any
) -> None:
    period = resolve_period(ready_app, now=NOW, due=True)
    send_issue(ready_app, period, smtp(smtp_server))
    add_subscriber(ready_app, "late@example.com")
    send_issue(ready_app, period, smtp(smtp_server))
    assert "late@example.com" not in deliveries(ready_app)


def test_unsubscribe_during_send_is_honoured(ready_app: Any, tmp_path: Path) -> None:
    period = resolve_period(ready_app, now=NOW, due=True)

    class UnsubscribingTransport(FileTransport):
        """Unsubscribes c@ while the first message is being handed over."""

        def send(self, envelope: Envelope) -> str:
            if envelope.recipient == "a@example.com":
                remove_subscriber(ready_app, "c@example.com")
            return super().send(envelope)

    report = send_issue(ready_app, period, UnsubscribingTransport(tmp_path / "out"))
    rows = deliveries(ready_app)
    assert rows["c@example.com"].status == "skipped"
    assert report.sent == 2 and report.skipped_subscribers == 1


def test_permanent_and_temporary_refusals(ready_app: Any, smtp_server: Any) -> None:
    smtp_server.handler.refuse["b@example.com"] = "550 5.1.1 No such user"
    smtp_server.handler.refuse["c@example.com"] = "451 4.3.0 Try again later"
    period = resolve_period(ready_app, now=NOW, due=True)
    report = send_issue(ready_app, period, smtp(smtp_server))
    rows = deliveries(ready_app)
    assert rows["a@example.com"].status == "sent"
    # 5.1.1: the mailbox does not exist; a hard bounce suppresses the subscriber.
    assert rows["b@example.com"].status == "bounced" and "5.1.1" in (
        rows["b@example.com"].last_reply or ""
    )
    with session_scope(ready_app.engine) as session:
        bounced = subscribers.get_subscriber(session, "b@example.com")
        assert bounced is not None and bounced.status == "bounced"
        assert bounced.suppressed_reason and "5.1.1" in bounced.suppressed_reason
    assert (
        rows["c@example.com"].status == "queued"
        and rows["c@example.com"].next_attempt_at is not None
    )
    assert report.status == "partial" and report.deferred == 1 and report.failed == 1
    assert "send" in (report.reason or "")


def test_smtp_down_keeps_deliveries_queued_and_sent_ones_untouched(
    ready_app: Any, smtp_server: Any
) -> None:
    period = resolve_period(ready_app, now=NOW, due=True)

    class DiesAfterOne(SmtpTransport):
        count = 0

        def send(self, envelope: Envelope) -> str:
            self.count += 1
            if self.count > 1:
                raise MailError("cannot connect to SMTP server 127.0.0.1:1: refused")
            return super().send(envelope)

    with pytest.raises(MailError, match="stay queued"):
        send_issue(
            ready_app, period, DiesAfterOne(SmtpSettings("127.0.0.1", smtp_server.port, "none"))
        )
    statuses = sorted(d.status for d in deliveries(ready_app).values())
    assert statuses == ["queued", "queued", "sent"]
    # The relay is back: the next poll resumes the issue; the first is not sent again.
    [report] = resume_sends(ready_app, smtp(smtp_server))
    assert report.sent == 2 and report.status == "sent"
    assert resume_sends(ready_app, smtp(smtp_server)) == []
    assert sorted(r.rcpt_tos[0] for r in smtp_server.received) == [
        "a@example.com",
        "b@example.com",
        "c@example.com",
    ]


def test_test_copy_and_dry_run_touch_no_deliveries(ready_app: Any, smtp_server: Any) -> None:
    period = resolve_period(ready_app, now=NOW, due=True)
    preview = dry_run(ready_app, period)
    assert preview.status == "dry-run" and sorted(preview.recipients) == [
        "a@example.com",
        "b@example.com",
        "c@example.com",
    ]
    send_test(ready_app, period, smtp(smtp_server), "editor@example.com")
    assert [r.rcpt_tos for r in smtp_server.received] == [["editor@example.com"]]
    assert deliveries(ready_app) == {}
    with session_scope(ready_app.engine) as session:
        assert session.exec(select(Issue)).one().status == "draft"


def test_too_few_items_skips_with_reason(make_app: Any, tmp_path: Path) -> None:
    app = make_app(newsletter={"min_items": 3})
    period = resolve_period(app, now=NOW, due=True)
    report = send_issue(app, period, FileTransport(tmp_path / "out"))
    assert report.status == "skipped"
    assert "only 0 item(s)" in (report.reason or "") and "min_items" in (report.reason or "")
    assert not (tmp_path / "out").exists()
