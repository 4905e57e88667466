"""The delivery pipeline: claim queued deliveries in batches with a lease, send each over a
pool of SMTP connections, record the replies, retry, suppress hard bounces, pause on errors.

The issue is rendered once per reader variant (sections and language chosen in the
preferences); each message is that variant's template with the personal parts filled in.
Any number of processes may run this for one issue: claims never overlap (SKIP LOCKED on
PostgreSQL), and a claim whose worker died is taken again when its lease ends.
"""

from __future__ import annotations

import logging
import os
import random
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from newsletter.domain.retry import exponential_backoff
from newsletter.domain.statuses import DeliveryStatus, IssueStatus, SubscriberStatus
from newsletter.email.headers import envelope_address
from newsletter.email.signing import DkimSigner, load_signer
from newsletter.email.tokens import message_id
from newsletter.email.transports import Envelope, SmtpRecipientError, Transport, classify_reply
from newsletter.errors import MailError
from newsletter.service.app import App
from newsletter.service.issues import BuiltIssue
from newsletter.service.pacing import CappedTransport, SendRateLimiter, process_limiter
from newsletter.service.variants import Variants, issue_links, personal
from newsletter.storage.db import session_scope
from newsletter.storage.models import utcnow
from newsletter.storage.queries import bounces, deliveries, issues, subscribers
from newsletter.storage.queries.deliveries import Claim, DeliveryResult
from newsletter.storage.queries.subscribers import SubscriberReader

log = logging.getLogger(__name__)

FLUSH_EVERY = 50  # results written per transaction at most...
FLUSH_SECONDS = 0.5  # ...or this often: what a crash can send twice is what is unrecorded


@dataclass
class Tally:
    """What one run did (shared by the sender threads)."""

    sent: int = 0
    failed: int = 0
    bounced: int = 0
    deferred: int = 0
    skipped: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, status: str) -> None:
        # Counts only: a run keeps nothing per subscriber, so memory does not grow with the list.
        with self.lock:
            setattr(self, status, getattr(self, status) + 1)

    @property
    def errors(self) -> int:
        return self.failed + self.bounced + self.deferred

    @property
    def attempted(self) -> int:
        return self.sent + self.errors


def worker_name() -> str:
    """host:pid:random, unique per run, recorded on the deliveries it holds."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass
class Run:
    """Everything the sender threads of one issue share."""

    app: App
    issue_id: int
    period: str
    built: BuiltIssue
    variants: Variants
    signer: DkimSigner | None
    give_up_at: datetime
    worker: str
    tally: Tally
    stop: threading.Event
    limiter: SendRateLimiter
    progress: Callable[[str, str], None] | None
    rng: random.Random
    errors: list[MailError] = field(default_factory=list)
    crashes: list[Exception] = field(default_factory=list)
    pause_reason: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


def deliver(
    app: App,
    issue_id: int,
    built: BuiltIssue,
    transport_factory: Callable[[], Transport],
    *,
    connections: int | None = None,
    progress: Callable[[str, str], None] | None = None,
    stop: threading.Event | None = None,
) -> Tally:
    """Send an issue's due deliveries over ``connections`` parallel transports until none is
    left (or the issue pauses, or ``stop`` is set). Raises MailError when the mail system is
    down: what was not sent stays queued."""
    settings = app.settings
    signer = load_signer(settings.dkim_key_path, settings.dkim_selector, settings.dkim_domain)
    # Aware arithmetic in the newsletter's zone keeps the wall-clock time across a DST change.
    next_send = datetime.fromisoformat(built.content.window_end).astimezone(
        app.config.newsletter.tz
    ) + timedelta(days=7)
    run = Run(
        app=app,
        issue_id=issue_id,
        period=built.period.label,
        built=built,
        variants=Variants(app, built, issue_links(app, issue_id, built)),
        signer=signer,
        # Retries stop an hour before the next issue is due.
        give_up_at=next_send.astimezone(UTC) - timedelta(hours=1),
        worker=worker_name(),
        tally=Tally(),
        stop=stop or threading.Event(),
        limiter=process_limiter(settings.send_rate_per_second, settings.send_rate_per_hour),
        progress=progress,
        rng=random.Random(),
    )
    count = connections or settings.smtp_connections
    threads = [
        threading.Thread(
            target=_sender, args=(run, transport_factory), name=f"sender-{n}", daemon=True
        )
        for n in range(count)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if run.pause_reason:
        log.warning("issue %s paused: %s", run.period, run.pause_reason)
    if run.crashes:
        raise run.crashes[0]
    if run.errors:
        raise run.errors[0]
    return run.tally


def _sender(run: Run, transport_factory: Callable[[], Transport]) -> None:
    app = run.app
    settings = app.settings
    transport = CappedTransport(transport_factory(), settings.smtp_messages_per_connection)
    lease = timedelta(seconds=settings.delivery_lease_seconds)
    reader = SubscriberReader(app.engine)
    try:
        while not run.stop.is_set():
            now = datetime.now(UTC)
            with session_scope(app.engine) as session:
                batch = deliveries.claim_batch(
                    session, run.issue_id, now, now + lease, run.worker, settings.delivery_batch
                )
            if not batch:
                return
            _send_batch(run, transport, reader, batch)
    except MailError as exc:
        with run.lock:
            run.errors.append(exc)
        run.stop.set()
    except Exception as exc:  # a bug: stop the run and raise it in the caller's thread
        with run.lock:
            run.crashes.append(exc)
        run.stop.set()
    finally:
        transport.close()
        reader.close()


def _send_batch(
    run: Run,
    transport: CappedTransport,
    reader: SubscriberReader,
    batch: list[Claim],
) -> None:
    app = run.app
    secret = app.secret()
    domain = app.config.newsletter.sender.domain
    lease_seconds = app.settings.delivery_lease_seconds
    pending: list[DeliveryResult] = []
    bounced: list[tuple[int, str]] = []
    last_flush = renewed = time.monotonic()
    done: set[int] = set()
    lost: set[int] = set()
    try:
        for claim in batch:
            delivery_id, subscriber_id = claim.id, claim.subscriber_id
            # Wait for the rate limit, and meanwhile keep the claims of this batch alive: those
            # still to send and those sent but not yet recorded (a claim that expired then
            # would be sent again by another sender). Results wait no longer than they must.
            while True:
                if pending and time.monotonic() - last_flush > FLUSH_SECONDS:
                    _flush(run, pending, bounced)
                    pending, bounced, last_flush = [], [], time.monotonic()
                if time.monotonic() - renewed > lease_seconds / 3:
                    held = [c.id for c in batch if c.id not in lost]
                    lost |= _renew(run, held) - done
                    renewed = time.monotonic()
                if run.stop.is_set() or run.limiter.wait(run.stop, max_wait=lease_seconds / 4):
                    break
            if run.stop.is_set():
                break
            if delivery_id in lost:
                continue  # its lease ran out and another sender has it now
            msg_id = claim.message_id or message_id(secret, run.period, subscriber_id, domain)
            result = _send_one(
                run, transport, reader, delivery_id, subscriber_id, msg_id, claim.attempts
            )
            if result.status == DeliveryStatus.BOUNCED:
                bounced.append((subscriber_id, result.last_reply))
            pending.append(result)
            done.add(delivery_id)
            if len(pending) >= FLUSH_EVERY or time.monotonic() - last_flush > FLUSH_SECONDS:
                _flush(run, pending, bounced)
                pending, bounced, last_flush = [], [], time.monotonic()
    finally:
        _flush(run, pending, bounced)
        left = [c.id for c in batch if c.id not in done and c.id not in lost]
        if left:
            with session_scope(app.engine) as session:
                deliveries.release_deliveries(session, run.worker, left)


def _renew(run: Run, ids: list[int]) -> set[int]:
    """Extend this worker's lease on ``ids``; returns the ones it no longer holds."""
    if not ids:
        return set()
    until = datetime.now(UTC) + timedelta(seconds=run.app.settings.delivery_lease_seconds)
    with session_scope(run.app.engine) as session:
        held = deliveries.renew_leases(session, run.worker, ids, until)
    return set(ids) - held


def _send_one(
    run: Run,
    transport: CappedTransport,
    reader: SubscriberReader,
    delivery_id: int,
    subscriber_id: int,
    msg_id: str,
    attempts: int,
) -> DeliveryResult:
    """Send one delivery; returns its result row (MailError when the transport is down)."""
    now = datetime.now(UTC)
    result = DeliveryResult(delivery_id, DeliveryStatus.QUEUED, attempts, "", msg_id)
    # Re-read the subscriber just before sending: an unsubscribe during the run is honoured
    # for every message not yet handed to SMTP.
    row = reader.read(subscriber_id)
    if row is None or row.status != SubscriberStatus.ACTIVE:
        run.tally.add("skipped")
        return replace(
            result,
            status=DeliveryStatus.SKIPPED,
            last_reply=f"subscriber is {row.status if row else 'gone'}",
        )
    template = run.variants.get(row.sections, row.locale)
    if template is None:
        run.tally.add("skipped")
        return replace(
            result,
            status=DeliveryStatus.SKIPPED,
            last_reply="nothing in this issue matches the subscriber's sections and language",
        )
    try:
        recipient = envelope_address(row.email)
        data = template.personalize(
            personal(run.app, row.email, row.name, row.token, msg_id, recipient)
        )
        if run.signer is not None:
            data = run.signer.sign(data)
    except MailError as exc:  # ComposeError, or a DKIM signing error: this message only
        log.warning("delivery %s to %s failed: %s", delivery_id, row.email, exc)
        run.tally.add("failed")
        _report(run, row.email, "failed")
        return replace(
            result,
            status=DeliveryStatus.FAILED,
            attempts=attempts + 1,
            last_reply=f"not sent: {exc}"[:1000],
        )
    envelope = Envelope(run.app.config.newsletter.sender.email, recipient, msg_id, data)
    try:
        reply, code = transport.send(envelope), 250
    except SmtpRecipientError as exc:
        reply, code = str(exc), exc.code
    except MailError as exc:
        # The mail system is down: this one goes back to the queue (due at once: the next
        # poll or worker pass is the wait), and the run stops.
        run.tally.add("deferred")
        run.stop.set()
        with run.lock:
            run.errors.append(
                MailError(
                    f"{exc}; the unsent deliveries of issue {run.period} stay queued and go when "
                    "the mail server answers again (`newsletter send` or the next poll)"
                )
            )
        return replace(
            result,
            status=DeliveryStatus.QUEUED,
            attempts=attempts + 1,
            last_reply=str(exc)[:1000],
        )
    outcome = classify_reply(code, reply)
    result = replace(result, attempts=attempts + 1, last_reply=reply[:1000], smtp_code=code)
    settings = run.app.settings
    if outcome == "sent":
        result = replace(result, status=DeliveryStatus.SENT, sent_at=now)
    elif outcome == "retry":
        # The first retry waits retry_first_minutes, each later one twice as long, +/- jitter.
        delay = exponential_backoff(
            attempts,
            timedelta(minutes=settings.retry_first_minutes),
            timedelta(minutes=settings.retry_max_minutes),
            settings.retry_jitter,
            run.rng,
        )
        if now + delay > run.give_up_at:
            outcome = "failed"
            result = replace(
                result,
                status=DeliveryStatus.FAILED,
                last_reply=f"gave up after {attempts + 1} attempts: {reply}"[:1000],
            )
        else:
            outcome = "deferred"
            result = replace(result, status=DeliveryStatus.QUEUED, next_attempt_at=now + delay)
    elif outcome == "bounced":
        # A hard bounce: the batch suppresses the subscriber when it records this result.
        result = replace(result, status=DeliveryStatus.BOUNCED)
    else:
        result = replace(result, status=DeliveryStatus.FAILED)
    run.tally.add(outcome)
    _report(run, row.email, outcome)
    if outcome != "sent":
        log.info(
            "delivery %s to %s: %s (%s)",
            delivery_id,
            row.email,
            outcome,
            reply,
            extra={
                "issue": run.period,
                "delivery_id": delivery_id,
                "smtp_code": code,
                "worker": run.worker,
            },
        )
    return result


def _report(run: Run, email: str, status: str) -> None:
    if run.progress is not None:
        run.progress(email, status)


def _flush(run: Run, results: list[DeliveryResult], bounced: list[tuple[int, str]]) -> None:
    """Record results (and hard bounces) in one transaction; pause the issue on too many errors."""
    if not results:
        return
    with session_scope(run.app.engine) as session:
        deliveries.record_deliveries(session, run.worker, results)
        for subscriber_id, reply in bounced:
            done = subscribers.suppress_bounced(session, [subscriber_id], f"hard bounce: {reply}")
            bounces.record_smtp_bounce(
                session, subscriber_id, run.issue_id, reply, done > 0, utcnow()
            )
    settings = run.app.settings
    tally = run.tally
    with tally.lock:
        attempted, errors = tally.attempted, tally.errors
    if attempted >= settings.pause_min_attempts and errors / attempted > settings.pause_error_rate:
        reason = (
            f"{errors} of the {attempted} messages tried in this run were refused or deferred "
            f"({errors / attempted:.0%}, over the {settings.pause_error_rate:.0%} threshold); "
            "check the SMTP replies (`newsletter status`), then `newsletter issue resume "
            f"--week {run.period}`"
        )
        with session_scope(run.app.engine) as session:
            paused = issues.set_issue_status(
                session, run.issue_id, IssueStatus.PAUSED, [IssueStatus.SENDING], reason
            )
        with run.lock:
            if paused or run.pause_reason is None:
                run.pause_reason = reason
        run.stop.set()
