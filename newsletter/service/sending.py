"""Send an issue: freeze it and queue deliveries in one transaction, then send each one once."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import make_msgid

from sqlmodel import select

from newsletter import store
from newsletter.db import session_scope
from newsletter.errors import IssueError, MailError
from newsletter.mailer import (
    ComposeError,
    Envelope,
    MessageParts,
    SmtpRecipientError,
    Transport,
    build_message,
    html_values,
    list_id,
    unsubscribe_mailto,
)
from newsletter.models import Delivery, Issue, Subscriber, utcnow
from newsletter.periods import Period
from newsletter.render import PREFERENCES_URL, SUBSCRIBER_EMAIL, UNSUBSCRIBE_URL, personalize
from newsletter.service.app import App
from newsletter.service.issues import BuiltIssue, build_issue
from newsletter.tokens import message_id

log = logging.getLogger(__name__)
LEASE = timedelta(minutes=10)  # a delivery held longer than this by a dead sender is taken again


@dataclass
class SendReport:
    """What one send run did."""

    period: str
    status: str  # sent, skipped, partial, dry-run, already-sent
    queued_now: int = 0
    sent: int = 0
    failed: int = 0
    deferred: int = 0
    skipped_subscribers: int = 0
    reason: str | None = None
    recipients: list[str] = field(default_factory=list)


Progress = Callable[[str, str], None]  # (address, status)


def personal_urls(app: App, token: str) -> tuple[str, str]:
    """(unsubscribe URL, preferences URL) of a subscriber token."""
    base = app.settings.base_url
    return f"{base}/unsubscribe/{token}", f"{base}/preferences/{token}"


def compose(
    app: App,
    built: BuiltIssue,
    email: str,
    name: str | None,
    token: str,
    msg_id: str,
    now: datetime,
) -> bytes:
    """One subscriber's message bytes from the issue rendered once."""
    assert built.rendered is not None
    nl = app.config.newsletter
    unsubscribe, preferences = personal_urls(app, token)
    values = {UNSUBSCRIBE_URL: unsubscribe, PREFERENCES_URL: preferences, SUBSCRIBER_EMAIL: email}
    return build_message(
        MessageParts(
            subject=built.content.subject,
            sender_name=nl.sender.name,
            sender_email=nl.sender.email,
            recipient_email=email,
            recipient_name=name,
            text=personalize(built.rendered.text, values),
            html=personalize(built.rendered.html, html_values(values)),
            message_id=msg_id,
            date=now,
            list_id=list_id(nl.title, nl.sender.domain),
            unsubscribe_url=unsubscribe,
            unsubscribe_mailto=unsubscribe_mailto(nl.sender.email, token),
            reply_to=nl.reply_to,
            language=nl.language,
            attachments=tuple(
                (a.filename, a.content_type, a.data) for a in built.rendered.attachments
            ),
        )
    )


def freeze_issue(app: App, built: BuiltIssue) -> int:
    """Freeze the issue and queue one delivery per active subscriber, in one transaction."""
    assert built.rendered is not None
    secret = app.secret()
    domain = app.config.newsletter.sender.domain
    with session_scope(app.engine) as session:
        issue = store.get_or_create_issue(
            session, built.period.label, built.period.start, built.period.end
        )
        issue = store.lock_issue(session, issue.id or 0)
        if issue.status in ("sending", "sent"):
            return 0
        if issue.status == "held":
            raise IssueError(f"issue {issue.period} is on hold; approve it before sending")
        issue.content = built.content.to_dict()
        issue.subject = built.content.subject
        issue.html, issue.text = built.rendered.html, built.rendered.text
        issue.status = "sending"
        issue.skipped_reason = None
        issue.frozen_at = issue.updated_at = utcnow()
        session.add(issue)
        ids = store.active_subscriber_ids(session)
        queued = store.queue_deliveries(
            session,
            issue.id or 0,
            {sid: message_id(secret, issue.period, sid, domain) for sid in ids},
        )
        log.info("issue %s frozen; %d deliveries queued", issue.period, queued)
        return queued


def send_issue(
    app: App, period: Period, transport: Transport, *, progress: Progress | None = None
) -> SendReport:
    """Send the period's issue to every active subscriber once; safe to run again."""
    built = build_issue(app, period)
    if built.status == "sent":
        return SendReport(
            period.label, "already-sent", reason="this issue was sent before; nothing to do"
        )
    if built.status not in ("sending",) and built.skipped:
        with session_scope(app.engine) as session:
            issue = store.get_issue(session, period.label)
            if issue is not None and issue.status == "held":
                raise IssueError(f"issue {period.label} is on hold; approve it before sending")
            if issue is not None and issue.status not in ("sending", "sent"):
                issue.status = "skipped"
                session.add(issue)
        return SendReport(period.label, "skipped", reason=built.content.skipped_reason)
    report = SendReport(period.label, "sent")
    report.queued_now = freeze_issue(app, built)
    built = build_issue(app, period)  # the frozen content, exactly as stored
    _deliver(app, built, transport, report, progress)
    return report


def resume_sends(app: App, transport: Transport) -> list[SendReport]:
    """Continue every issue still being sent (after an SMTP outage, a 4xx deferral or a crash)."""
    with session_scope(app.engine) as session:
        issues = session.exec(select(Issue).where(Issue.status == "sending")).all()
        periods = [Period(i.period, i.window_end, i.window_start, i.window_end) for i in issues]
    return [send_issue(app, period, transport) for period in periods]


def _deliver(
    app: App, built: BuiltIssue, transport: Transport, report: SendReport, progress: Progress | None
) -> None:
    with session_scope(app.engine) as session:
        issue = store.get_issue(session, built.period.label)
        assert issue is not None and issue.id is not None
        issue_id = issue.id
    try:
        while True:
            with session_scope(app.engine) as session:
                batch = next(
                    store.pending_deliveries(session, issue_id, datetime.now(UTC), batch=200), []
                )
            if not batch:
                break
            for delivery in batch:
                _deliver_one(app, built, transport, delivery, report, progress)
    finally:
        transport.close()
    with session_scope(app.engine) as session:
        counts = store.delivery_counts(session, issue_id)
        issue = store.get_issue(session, built.period.label)
        assert issue is not None
        if counts.get("queued", 0) == 0 and counts.get("sending", 0) == 0:
            issue.status = "sent"
            issue.sent_at = issue.sent_at or utcnow()
            session.add(issue)
        else:
            report.status = "partial"
            report.reason = f"{counts.get('queued', 0)} deliveries wait for a retry; run `newsletter send --week {built.period.label}` again"


def _deliver_one(
    app: App,
    built: BuiltIssue,
    transport: Transport,
    delivery: Delivery,
    report: SendReport,
    progress: Progress | None,
) -> None:
    now = datetime.now(UTC)
    with session_scope(app.engine) as session:
        if not store.claim_delivery(session, delivery.id or 0, now, now + LEASE):
            return  # another sender took it, or it is already done
        # Re-check just before sending: an unsubscribe during the run is honoured.
        subscriber = session.get(Subscriber, delivery.subscriber_id)
        row = session.get(Delivery, delivery.id)
        assert row is not None
        if subscriber is None or subscriber.status != "active":
            row.status = "skipped"
            row.lease_until = None
            row.last_reply = f"subscriber is {subscriber.status if subscriber else 'gone'}"
            session.add(row)
            report.skipped_subscribers += 1
            return
        email, name, token = subscriber.email, subscriber.name, subscriber.token
    try:
        data = compose(app, built, email, name, token, delivery.message_id, now)
    except ComposeError as exc:
        # This subscriber's address or name cannot be put in a message: fail this delivery
        # with the reason and go on with the batch.
        log.warning("delivery %s to %s failed: %s", delivery.id, email, exc)
        with session_scope(app.engine) as session:
            row = session.get(Delivery, delivery.id)
            assert row is not None
            row.status, row.lease_until = "failed", None
            row.attempts += 1
            row.last_reply = f"not sent: {exc}"[:1000]
            session.add(row)
        report.failed += 1
        if progress:
            progress(email, "failed")
        return
    envelope = Envelope(app.config.newsletter.sender.email, email, delivery.message_id, data)
    status, reply = "sent", ""
    try:
        reply = transport.send(envelope)
    except SmtpRecipientError as exc:
        reply = str(exc)
        status = "failed" if exc.is_permanent else "queued"
    except MailError as exc:
        # The transport itself is down: put this one back, keep the rest queued, stop the run.
        with session_scope(app.engine) as session:
            row = session.get(Delivery, delivery.id)
            if row is not None:
                row.status, row.lease_until = "queued", None
                row.attempts += 1
                row.last_reply = str(exc)[:1000]
                session.add(row)
        raise MailError(
            f"{exc}; {report.sent} sent in this run, the rest stay queued: "
            "run `newsletter send` again when fixed"
        ) from exc
    with session_scope(app.engine) as session:
        row = session.get(Delivery, delivery.id)
        assert row is not None
        row.attempts += 1
        row.last_reply = reply[:1000]
        row.status = status
        row.lease_until = None
        if status == "sent":
            row.sent_at = now
            report.sent += 1
            report.recipients.append(email)
        elif status == "failed":
            report.failed += 1
        else:
            report.deferred += 1
            row.next_attempt_at = now.replace(microsecond=0) + _retry_delay(row.attempts)
        session.add(row)
    if progress:
        progress(email, status)


def _retry_delay(attempts: int) -> timedelta:
    return timedelta(minutes=min(5 * 2 ** max(0, attempts - 1), 240))


def send_test(
    app: App, period: Period, transport: Transport, address: str, name: str | None = None
) -> str:
    """Send one copy of the issue to an address without touching deliveries; returns its Message-ID."""
    built = build_issue(app, period, force=True)
    if built.rendered is None:
        raise IssueError(f"issue {period.label} has nothing to render")
    msg_id = make_msgid(idstring="test", domain=app.config.newsletter.sender.domain)
    data = compose(app, built, address, name, "test-copy-no-token", msg_id, datetime.now(UTC))
    try:
        transport.send(Envelope(app.config.newsletter.sender.email, address, msg_id, data))
    finally:
        transport.close()
    return msg_id


def dry_run(app: App, period: Period) -> SendReport:
    """Who would receive the issue, without freezing it or sending anything."""
    built = build_issue(app, period)
    if built.status == "sent":
        return SendReport(
            period.label, "already-sent", reason="this issue was sent before; nothing would go"
        )
    if built.skipped and built.status != "sending":
        return SendReport(period.label, "skipped", reason=built.content.skipped_reason)
    with session_scope(app.engine) as session:
        issue = store.get_issue(session, period.label)
        already = set()
        if issue is not None and issue.id is not None:
            rows = session.exec(
                select(Delivery.subscriber_id).where(
                    Delivery.issue_id == issue.id, Delivery.status != "queued"
                )
            ).all()
            already = set(rows)
        subs = store.list_subscribers(session, "active")
        recipients = [s.email for s in subs if s.id not in already]
    return SendReport(period.label, "dry-run", recipients=recipients)
