"""Send an issue: freeze it and queue deliveries in one transaction, then send each one once."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import make_msgid

from newsletter.domain.periods import Period
from newsletter.domain.statuses import FROZEN, IssueStatus, SubscriberStatus
from newsletter.email.message import MessageParts, build_message, list_id, unsubscribe_mailto
from newsletter.email.render import html_values, marker_values, personalize
from newsletter.email.signing import load_signer
from newsletter.email.transports import Envelope, Transport
from newsletter.email.urls import preferences_url, unsubscribe_url
from newsletter.errors import IssueError, MailError
from newsletter.service import delivery
from newsletter.service.app import App
from newsletter.service.editing import log_action
from newsletter.service.issues import BuiltIssue, build_issue
from newsletter.service.outages import Outage
from newsletter.storage.db import Session, session_scope
from newsletter.storage.models import utcnow
from newsletter.storage.queries import deliveries, issues, senders, subscribers
from newsletter.storage.queries.deliveries import DeliveryError, DeliverySummary

log = logging.getLogger(__name__)


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
    recipients: list[str] = field(default_factory=list)  # dry runs only


Progress = Callable[[str, str], None]  # (address, status)


def compose(
    app: App,
    built: BuiltIssue,
    email: str,
    name: str | None,
    token: str,
    msg_id: str,
    now: datetime,
) -> bytes:
    """One subscriber's message bytes, built as a whole (test copies; the pipeline uses a
    template compiled once per issue instead, checked against this in the tests)."""
    assert built.rendered is not None
    nl = app.config.newsletter
    unsubscribe = unsubscribe_url(app.settings.base_url, token)
    values = marker_values(unsubscribe, preferences_url(app.settings.base_url, token), email)
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
    with session_scope(app.engine) as session:
        issue = issues.get_or_create_issue(
            session, built.period.label, built.period.start, built.period.end
        )
        issue = issues.lock_issue(session, issue.id or 0)
        if issue.status in FROZEN:
            return 0
        if issue.status == IssueStatus.HELD:
            raise IssueError(f"issue {issue.period} is on hold; approve it before sending")
        issue.content = built.content.to_dict()
        issue.subject = built.content.subject
        issue.html, issue.text = built.rendered.html, built.rendered.text
        issue.status = IssueStatus.SENDING
        issue.skipped_reason = None
        issue.frozen_at = issue.updated_at = utcnow()
        issues.save_issue(session, issue)
        queued = deliveries.queue_active_subscribers(session, issue.id or 0)
        log.info("issue %s frozen; %d deliveries queued", issue.period, queued)
        return queued


def send_issue(
    app: App,
    period: Period,
    transport: Transport | None = None,
    *,
    progress: Progress | None = None,
    connections: int | None = None,
) -> SendReport:
    """Send the period's issue to every active subscriber once; safe to run again.

    With ``transport`` one connection sends everything; without, NEWSLETTER_SMTP_CONNECTIONS
    transports from the configuration send in parallel.
    """
    built = build_issue(app, period)
    if built.status == IssueStatus.SENT:
        return SendReport(
            period.label, "already-sent", reason="this issue was sent before; nothing to do"
        )
    if built.status not in (IssueStatus.SENDING,) and built.skipped:
        with session_scope(app.engine) as session:
            issue = issues.get_issue(session, period.label)
            if issue is not None and issue.status == IssueStatus.HELD:
                raise IssueError(f"issue {period.label} is on hold; approve it before sending")
            if issue is not None and issue.status not in (IssueStatus.SENDING, IssueStatus.SENT):
                issue.status = IssueStatus.SKIPPED
                issues.save_issue(session, issue)
        return SendReport(period.label, "skipped", reason=built.content.skipped_reason)
    if built.status == IssueStatus.PAUSED:
        with session_scope(app.engine) as session:
            issue = issues.get_issue(session, period.label)
            reason = issue.paused_reason if issue else None
        return SendReport(period.label, "paused", reason=reason)
    report = SendReport(period.label, "sent")
    report.queued_now = freeze_issue(app, built)
    built = build_issue(app, period)  # the frozen content, exactly as stored
    if transport is not None:
        one = transport
        _deliver(app, built, lambda: one, report, progress, 1)
    else:
        _deliver(app, built, app.transport, report, progress, connections)
    return report


def resume_sends(app: App, transport: Transport) -> list[SendReport]:
    """Continue every issue still being sent (after an SMTP outage, a 4xx deferral or a crash)."""
    with session_scope(app.engine) as session:
        sending = issues.issues_with_status(session, IssueStatus.SENDING)
        periods = [Period(i.period, i.window_end, i.window_start, i.window_end) for i in sending]
    return [send_issue(app, period, transport) for period in periods]


def work_once(
    app: App,
    stop: threading.Event,
    *,
    connections: int | None = None,
    transport_factory: Callable[[], Transport] | None = None,
    progress: Progress | None = None,
    db_outage: Outage | None = None,
) -> list[SendReport]:
    """One pass of a delivery worker: send what is due of every issue being sent.

    Any number of workers (processes, machines) may run this at once against one database;
    on PostgreSQL their claims never overlap. Issues are frozen by `send` or the scheduler;
    a worker only sends.
    """
    with session_scope(app.engine) as session:
        sending = issues.issues_with_status(session, IssueStatus.SENDING)
        todo = [Period(i.period, i.window_end, i.window_start, i.window_end) for i in sending]
    reports = []
    for period in todo:
        if stop.is_set():
            break
        built = build_issue(app, period)
        if built.status != IssueStatus.SENDING or built.rendered is None:
            continue
        report = SendReport(period.label, "sent")
        _deliver(
            app,
            built,
            transport_factory or app.transport,
            report,
            progress,
            connections,
            stop,
            db_outage,
        )
        reports.append(report)
    return reports


def resume_issue(app: App, period: Period) -> str:
    """Send a paused issue again (after the cause of its errors is fixed)."""
    with session_scope(app.engine) as session:
        issue = issues.get_issue(session, period.label)
        if issue is None or issue.id is None:
            raise IssueError(f"no issue for {period.label}")
        if issue.status != IssueStatus.PAUSED:
            raise IssueError(f"issue {period.label} is {issue.status}, not paused")
        issues.set_issue_status(session, issue.id, IssueStatus.SENDING, [IssueStatus.PAUSED])
    return IssueStatus.SENDING


def resend_failed(app: App, period: Period) -> int:
    """Queue an issue's failed deliveries again (bounced ones stay: those addresses do not
    exist). The issue goes back to sending if it was sent; returns how many were queued."""
    with session_scope(app.engine) as session:
        issue = issues.get_issue(session, period.label)
        if issue is None or issue.id is None or issue.status not in FROZEN:
            state = issue.status if issue else "not built"
            raise IssueError(
                f"issue {period.label} is {state}; only a sent issue has failed deliveries"
            )
        count = deliveries.requeue_failed(session, issue.id)
        if count:
            issues.set_issue_status(session, issue.id, IssueStatus.SENDING, [IssueStatus.SENT])
    return count


def resume_due(app: App) -> list[SendReport]:
    """Continue every issue still being sent, over the configured parallel connections."""
    with session_scope(app.engine) as session:
        sending = issues.issues_with_status(session, IssueStatus.SENDING)
        periods = [Period(i.period, i.window_end, i.window_start, i.window_end) for i in sending]
    return [send_issue(app, period) for period in periods]


def _deliver(
    app: App,
    built: BuiltIssue,
    transport_factory: Callable[[], Transport],
    report: SendReport,
    progress: Progress | None,
    connections: int | None,
    stop: threading.Event | None = None,
    db_outage: Outage | None = None,
) -> None:
    with session_scope(app.engine) as session:
        issue = issues.get_issue(session, built.period.label)
        assert issue is not None and issue.id is not None
        issue_id = issue.id
    tally = delivery.deliver(
        app,
        issue_id,
        built,
        transport_factory,
        connections=connections,
        progress=progress,
        stop=stop,
        db_outage=db_outage,
    )
    report.sent, report.failed = tally.sent, tally.failed + tally.bounced
    report.deferred, report.skipped_subscribers = tally.deferred, tally.skipped
    finish_issue(app, issue_id, report)


def finish_issue(app: App, issue_id: int, report: SendReport | None = None) -> str:
    """Mark a sending issue sent once nothing is queued or in flight; returns its status."""
    with session_scope(app.engine) as session:
        counts = deliveries.delivery_counts(session, issue_id)
        issue = issues.get_issue_by_id(session, issue_id)
        assert issue is not None
        if issue.status == IssueStatus.PAUSED:
            if report is not None:
                report.status, report.reason = "paused", issue.paused_reason
            return IssueStatus.PAUSED
        if issue.status == IssueStatus.SENDING and not counts.queued and not counts.sending:
            issues.set_issue_status(session, issue_id, IssueStatus.SENT, [IssueStatus.SENDING])
            return IssueStatus.SENT
        if report is not None and (counts.queued or counts.sending):
            report.status = "partial"
            retry = deliveries.next_retry_at(session, issue_id)
            parts = []
            if counts.queued:
                parts.append(
                    f"{counts.queued} deliveries wait for a retry"
                    + (f" (next at {retry:%Y-%m-%d %H:%M} UTC)" if retry else "")
                )
            if counts.sending:
                now = utcnow()
                stale = now - timedelta(seconds=app.settings.sender_stale_seconds)
                held = senders.holders(session, issue_id)
                parts.append(
                    "deliveries being sent: " + "; ".join(h.describe(now, stale) for h in held)
                )
            report.reason = (
                "; ".join(parts)
                + f"; `newsletter run` or `newsletter worker` retries them, or run `newsletter send --week {issue.period}` again"
            )
        return issue.status


def send_test(
    app: App, period: Period, transport: Transport, address: str, name: str | None = None
) -> str:
    """Send one copy of the issue to an address without touching deliveries; returns its Message-ID."""
    built = build_issue(app, period, force=True)
    if built.rendered is None:
        raise IssueError(f"issue {period.label} has nothing to render")
    msg_id = make_msgid(idstring="test", domain=app.config.newsletter.sender.domain)
    data = compose(app, built, address, name, "test-copy-no-token", msg_id, datetime.now(UTC))
    signer = load_signer(
        app.settings.dkim_key_path, app.settings.dkim_selector, app.settings.dkim_domain
    )
    if signer is not None:
        data = signer.sign(data)
    try:
        transport.send(Envelope(app.config.newsletter.sender.email, address, msg_id, data))
    finally:
        transport.close()
    return msg_id


@dataclass(frozen=True)
class TestCopyResult:
    """One test copy: the address, and its Message-ID or why it was not sent."""

    address: str
    message_id: str | None
    error: str | None


@dataclass(frozen=True)
class TestCopies:
    """Test copies of an issue to the editorial team (newsletter.test_recipients)."""

    results: list[TestCopyResult]

    @property
    def sent(self) -> list[str]:
        """The addresses a copy was handed to."""
        return [r.address for r in self.results if r.message_id]

    def describe(self) -> str:
        """One line for the log and the page: who got a copy, who did not and why."""
        parts = []
        if self.sent:
            parts.append(f"sent to {', '.join(self.sent)}")
        parts += [f"not sent to {r.address}: {r.error}" for r in self.results if r.error]
        return "; ".join(parts)


def send_test_copies(
    app: App, period: Period, transport: Callable[[], Transport], actor: str | None = None
) -> TestCopies:
    """A test copy of the issue as it stands to each address of newsletter.test_recipients,
    through the configured transport (no delivery rows); each result logged with the issue."""
    addresses = app.config.newsletter.test_recipients
    if not addresses:
        raise IssueError(
            f"no test recipients: list the editorial team under newsletter.test_recipients in "
            f"{app.config.path.name}"
        )
    results = []
    for address in addresses:
        try:
            results.append(
                TestCopyResult(address, send_test(app, period, transport(), address), None)
            )
        except MailError as exc:
            log.warning("test copy of %s to %s failed: %s", period.label, address, exc)
            results.append(TestCopyResult(address, None, str(exc)))
    copies = TestCopies(results)
    log_action(app, period, "test-copy", copies.describe(), actor)
    return copies


def dry_run(app: App, period: Period) -> SendReport:
    """Who would receive the issue, without freezing it or sending anything."""
    built = build_issue(app, period)
    if built.status == IssueStatus.SENT:
        return SendReport(
            period.label, "already-sent", reason="this issue was sent before; nothing would go"
        )
    if built.skipped and built.status != IssueStatus.SENDING:
        return SendReport(period.label, "skipped", reason=built.content.skipped_reason)
    with session_scope(app.engine) as session:
        issue = issues.get_issue(session, period.label)
        already = set()
        if issue is not None and issue.id is not None:
            already = deliveries.attempted_subscriber_ids(session, issue.id)
        subs = subscribers.list_subscribers(session, SubscriberStatus.ACTIVE)
        recipients = [s.email for s in subs if s.id not in already]
    return SendReport(period.label, "dry-run", recipients=recipients)


@dataclass
class IssueProgress:
    """An issue's delivery counts and error rate, for `newsletter status`."""

    period: str
    status: str
    counts: DeliverySummary
    error_rate: float | None
    paused_reason: str | None
    next_retry_at: datetime | None
    last_errors: list[DeliveryError]
    holders: list[str] = field(default_factory=list)  # who holds deliveries in status sending


def issue_status(app: App, period: str | None = None) -> IssueProgress | None:
    """The given issue, else the newest that was frozen (being sent, paused or sent)."""
    with session_scope(app.engine) as session:
        issue = issues.get_issue(session, period) if period else issues.newest_frozen_issue(session)
        if issue is None or issue.id is None:
            return None
        counts = deliveries.delivery_summary(session, issue.id)
        done = counts.sent + counts.failed + counts.bounced + counts.deferred
        errors = counts.failed + counts.bounced + counts.deferred
        return IssueProgress(
            period=issue.period,
            status=issue.status,
            counts=counts,
            error_rate=errors / done if done else None,
            paused_reason=issue.paused_reason,
            next_retry_at=deliveries.next_retry_at(session, issue.id),
            last_errors=deliveries.recent_errors(session, issue.id),
            holders=_holders(app, session, issue.id),
        )


def _holders(app: App, session: Session, issue_id: int) -> list[str]:
    """What is held, by which process, since when: one line per sender."""
    now = utcnow()
    stale = now - timedelta(seconds=app.settings.sender_stale_seconds)
    return [h.describe(now, stale) for h in senders.holders(session, issue_id)]
