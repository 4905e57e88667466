"""Bounces and complaints: read the bounce mailbox, take provider webhooks, record each event
once, suppress hard bounces, complaints and mailto: unsubscribes at once and soft bounces
after the threshold, and show each address's history."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx

from newsletter.domain.bounces import (
    BounceEvent,
    BounceKind,
    SoftBouncePolicy,
    should_suppress,
    suppression_reason,
)
from newsletter.email.mailbox import BounceMailbox, ImapSettings
from newsletter.email.reports import read_report
from newsletter.email.webhooks import (
    SnsVerifier,
    WebhookResult,
    verify_mailgun,
    verify_postmark,
    verify_sendgrid,
)
from newsletter.errors import BounceError, ConfigError
from newsletter.service.app import App
from newsletter.storage.db import Session, session_scope
from newsletter.storage.models import utcnow
from newsletter.storage.queries import bounces, subscribers

log = logging.getLogger(__name__)
PROVIDERS = ("ses", "postmark", "mailgun", "sendgrid")


@dataclass
class RecordReport:
    """What recording a batch of events did."""

    recorded: int = 0
    duplicates: int = 0
    unknown: int = 0  # events about addresses that are not subscribers (kept all the same)
    suppressed: list[str] = field(default_factory=list)


def policy(app: App) -> SoftBouncePolicy:
    """The soft-bounce threshold from the settings."""
    s = app.settings
    return SoftBouncePolicy(s.bounce_soft_threshold, timedelta(days=s.bounce_soft_window_days))


def _record(
    session: Session,
    event: BounceEvent,
    rule: SoftBouncePolicy,
    now: datetime,
    report: RecordReport,
) -> None:
    if event.token is not None:  # a mailto: unsubscribe names its subscriber by token
        sub = subscribers.subscriber_by_token(session, event.token)
        if sub is None:
            report.unknown += 1
            log.info("mailto unsubscribe with an unknown token from %s: ignored", event.email)
            return
        event = BounceEvent(
            sub.email, event.kind, event.source, event.diagnostic, event.occurred_at, event.event_id
        )
    else:
        sub = subscribers.get_subscriber(session, event.email)
    record_id = bounces.record_event(session, event, sub.id if sub else None, now)
    if record_id is None:
        report.duplicates += 1
        return
    report.recorded += 1
    if sub is None or sub.id is None:
        report.unknown += 1
        return
    soft = 0
    if event.kind is BounceKind.SOFT:
        soft = bounces.soft_bounces_since(session, event.email, now - rule.window)
    if should_suppress(event.kind, soft, rule) and bounces.suppress(
        session, sub.id, event.kind, suppression_reason(event), now
    ):
        bounces.mark_suppressing(session, record_id)
        report.suppressed.append(event.email)
        log.info("%s suppressed: %s", event.email, suppression_reason(event))


def record_events(
    app: App, events: Iterable[BounceEvent], now: datetime | None = None
) -> RecordReport:
    """Record events in one transaction and suppress what they call for."""
    when = now or utcnow()
    report = RecordReport()
    rule = policy(app)
    with session_scope(app.engine) as session:
        for event in events:
            _record(session, event, rule, when, report)
    return report


# --- the bounce mailbox ----------------------------------------------------------------------


@dataclass
class MailboxReport:
    """What one read of the bounce mailbox found and did."""

    read: int = 0
    kinds: dict[str, int] = field(default_factory=dict)  # dsn, complaint, unsubscribe, other
    recorded: RecordReport = field(default_factory=RecordReport)


def imap_settings(app: App) -> ImapSettings:
    """The bounce mailbox settings; ConfigError naming what is missing."""
    s = app.settings
    missing = [
        name
        for name, value in (
            ("NEWSLETTER_BOUNCE_IMAP_HOST", s.bounce_imap_host),
            ("NEWSLETTER_BOUNCE_IMAP_USER", s.bounce_imap_user),
            ("NEWSLETTER_BOUNCE_IMAP_PASSWORD", s.bounce_imap_password),
        )
        if not value
    ]
    if missing:
        raise ConfigError(f"no bounce mailbox configured: set {', '.join(missing)}")
    assert s.bounce_imap_host and s.bounce_imap_user and s.bounce_imap_password
    return ImapSettings(
        host=s.bounce_imap_host,
        port=s.resolved_bounce_imap_port,
        user=s.bounce_imap_user,
        password=s.bounce_imap_password.get_secret_value(),
        folder=s.bounce_imap_folder,
        tls=s.bounce_imap_tls,
        timeout=s.bounce_imap_timeout,
    )


def has_mailbox(app: App) -> bool:
    """Whether a bounce mailbox is configured."""
    return bool(app.settings.bounce_imap_host)


def fetch_mailbox(
    app: App,
    limit: int = 500,
    now: Callable[[], datetime] = utcnow,
    mailbox: ImapSettings | None = None,
) -> MailboxReport:
    """Read up to ``limit`` unread messages: each one's events are committed, then the
    message is marked read (or, when it is not a report, marked checked and left unread), so
    a crash in between reads it again and the unique event ids keep it from counting twice."""
    report = MailboxReport()
    rule = policy(app)
    with BounceMailbox(mailbox or imap_settings(app)) as box:
        for item in box.unread(limit):
            when = now()
            message = read_report(item.raw, when)
            report.read += 1
            report.kinds[message.kind] = report.kinds.get(message.kind, 0) + 1
            with session_scope(app.engine) as session:
                for event in message.events:
                    _record(session, event, rule, when, report.recorded)
            if message.kind == "other":
                box.mark_checked([item.uid])
            else:
                box.mark_read([item.uid])
    return report


# --- webhooks --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WebhookOutcome:
    """What a webhook request did: events recorded, addresses suppressed, SNS confirmation."""

    provider: str
    events: int
    recorded: RecordReport
    confirmed_subscription: bool = False


def fetch_document(url: str, timeout: float = 10.0, max_bytes: int = 64 * 1024) -> bytes:
    """GET a small document (an SNS certificate, a subscription confirmation): no
    redirects, a size limit; BounceError when it cannot be fetched."""
    try:
        with (
            httpx.Client(timeout=timeout, follow_redirects=False) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code != 200:
                raise BounceError(f"{url}: HTTP {response.status_code}", 502)
            body = b""
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    raise BounceError(f"{url}: larger than {max_bytes} bytes", 502)
            return body
    except httpx.HTTPError as exc:
        raise BounceError(f"{url}: cannot fetch ({exc})", 502) from exc


def sns_verifier(app: App, fetch: Callable[[str], bytes] = fetch_document) -> SnsVerifier:
    """The SNS verifier for the configured topics and certificate hosts."""
    s = app.settings
    return SnsVerifier(
        tuple(p.strip() for p in s.ses_sns_cert_urls.split(",") if p.strip()),
        tuple(t.strip() for t in s.ses_sns_topic_arns.split(",") if t.strip()),
        fetch,
    )


def _verify(
    app: App,
    provider: str,
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
    sns: SnsVerifier | None,
) -> WebhookResult:
    s = app.settings
    max_age = timedelta(seconds=s.webhook_max_age_seconds)
    off = BounceError(f"the {provider} webhook is not configured here", 404)
    if provider == "ses":
        if not s.ses_sns_topic_arns.strip():
            raise off
        return (sns or sns_verifier(app)).verify(body, now, max_age)
    if provider == "postmark":
        if not s.postmark_webhook_user or s.postmark_webhook_password is None:
            raise off
        return verify_postmark(
            headers.get("authorization"),
            body,
            s.postmark_webhook_user,
            s.postmark_webhook_password.get_secret_value(),
            now,
        )
    if provider == "mailgun":
        if s.mailgun_signing_key is None:
            raise off
        return verify_mailgun(body, s.mailgun_signing_key.get_secret_value(), now, max_age)
    if provider == "sendgrid":
        if not s.sendgrid_verification_key:
            raise off
        return verify_sendgrid(
            headers.get("x-twilio-email-event-webhook-signature"),
            headers.get("x-twilio-email-event-webhook-timestamp"),
            body,
            s.sendgrid_verification_key,
            now,
            max_age,
        )
    raise BounceError(f"no webhook for {provider!r}; known: {', '.join(PROVIDERS)}", 404)


def receive_webhook(
    app: App,
    provider: str,
    headers: Mapping[str, str],
    body: bytes,
    now: datetime | None = None,
    sns: SnsVerifier | None = None,
) -> WebhookOutcome:
    """Check a provider's webhook request and record its events. BounceError (with the
    HTTP status to answer) when it is not signed, forged, too old or a replay."""
    when = now or utcnow()
    result = _verify(app, provider, {k.lower(): v for k, v in headers.items()}, body, when, sns)
    report = RecordReport()
    rule = policy(app)
    with session_scope(app.engine) as session:
        if not bounces.claim_receipt(session, provider, result.receipt_id, when):
            raise BounceError(
                f"{provider} webhook: request {result.receipt_id[:80]} was received before: "
                "refused as a replay",
                409,
            )
        for event in result.events:
            _record(session, event, rule, when, report)
        confirmed = False
        if result.confirm_url:
            # SNS: visiting SubscribeURL (an allowed SNS host, checked above) confirms the
            # topic. Inside the transaction: if it fails, the receipt is not kept, and SNS's
            # retry of the same message is not refused as a replay.
            fetch_document(result.confirm_url)
            confirmed = True
            log.info("SNS subscription confirmed for %s", provider)
    if report.suppressed:
        log.info("%s webhook suppressed %s", provider, ", ".join(report.suppressed))
    return WebhookOutcome(provider, len(result.events), report, confirmed)


# --- history ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BounceView:
    """One recorded event, as listings show it."""

    email: str
    kind: str
    source: str
    diagnostic: str
    occurred_at: datetime
    suppressed: bool


def history(app: App, email: str | None = None, limit: int = 100) -> list[BounceView]:
    """The newest events, of one address or of all."""
    with session_scope(app.engine) as session:
        return [
            BounceView(r.email, r.kind, r.source, r.diagnostic, r.occurred_at, r.suppressed)
            for r in bounces.events(session, email.strip().lower() if email else None, limit)
        ]


def counts_since(app: App, since: datetime) -> dict[str, int]:
    """Events per kind since a time."""
    with session_scope(app.engine) as session:
        return bounces.counts_since(session, since)


def counts_by_email(app: App) -> dict[str, dict[str, int]]:
    """Events per kind of each address that has any."""
    with session_scope(app.engine) as session:
        return bounces.counts_by_email(session)
