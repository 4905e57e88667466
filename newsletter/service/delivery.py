"""The delivery pipeline: claim queued deliveries in batches with a lease, send each over a
pool of SMTP connections, record each reply before the next message, retry, suppress hard
bounces, pause on errors.

The issue is rendered once per reader variant (sections and language chosen in the
preferences); each message is that variant's template with the personal parts filled in.
Any number of processes may run this for one issue: claims never overlap (SKIP LOCKED on
PostgreSQL); every sending process heartbeats, and the claims of one whose heartbeat is
stale (or whose lease ran out) are taken over. A lost database connection is retried with
backoff, and so is an SMTP server that refuses or drops the connection (the sender keeps its
claims alive meanwhile and sends on when the server answers again).
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
from functools import partial
from typing import TypeVar

from newsletter.domain.retry import exponential_backoff
from newsletter.domain.statuses import DeliveryStatus, IssueStatus, SubscriberStatus
from newsletter.email.headers import envelope_address
from newsletter.email.signing import DkimSigner, load_signer
from newsletter.email.tokens import message_id
from newsletter.email.transports import Envelope, SmtpRecipientError, Transport, classify_reply
from newsletter.errors import (
    DatabaseUnavailableError,
    MailError,
    MailUnavailableError,
    NewsletterError,
)
from newsletter.service.app import App
from newsletter.service.issues import BuiltIssue
from newsletter.service.outages import Outage, retry_database
from newsletter.service.pacing import CappedTransport, SendRateLimiter, process_limiter
from newsletter.service.variants import Variants, issue_links, personal
from newsletter.storage.db import Session, outage_as_error, session_scope
from newsletter.storage.models import utcnow
from newsletter.storage.queries import bounces, deliveries, issues, senders
from newsletter.storage.queries.deliveries import Claim, DeliveryRecorder, DeliveryResult
from newsletter.storage.queries.subscribers import SubscriberReader

log = logging.getLogger(__name__)

T = TypeVar("T")

WAIT_FOR_OTHERS_SECONDS = 1.0  # how often a sender with nothing to claim looks at others' claims
SMTP_FIRST_RETRY_SECONDS = 0.5  # an unreachable SMTP server is tried again after this, twice as
SMTP_LONGEST_RETRY_SECONDS = 10.0  # long each time up to this


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
    db: Outage
    smtp: Outage
    errors: list[NewsletterError] = field(default_factory=list)
    crashes: list[Exception] = field(default_factory=list)
    pause_reason: str | None = None
    waiting_said: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def stale(self) -> timedelta:
        """How old a sender's heartbeat may be before its claims are taken over."""
        return timedelta(seconds=self.app.settings.sender_stale_seconds)


def deliver(
    app: App,
    issue_id: int,
    built: BuiltIssue,
    transport_factory: Callable[[], Transport],
    *,
    connections: int | None = None,
    progress: Callable[[str, str], None] | None = None,
    stop: threading.Event | None = None,
    db_outage: Outage | None = None,
) -> Tally:
    """Send an issue's due deliveries over ``connections`` parallel transports until none is
    left (or the issue pauses, or ``stop`` is set). Deliveries held by another live sender are
    waited for, and taken over when its heartbeat goes stale. Raises MailError when the mail
    system is down (what was not sent stays queued), DatabaseUnavailableError when the
    database stays away longer than a sender waits for it."""
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
        db=db_outage or Outage("the database"),
        smtp=Outage("the SMTP server"),
    )
    host, pid = socket.gethostname(), os.getpid()

    def register(session: Session) -> None:
        now = datetime.now(UTC)
        senders.prune_senders(session, now - run.stale)
        senders.register_sender(session, run.worker, host, pid, now)

    _db(run, "registering this sender", register)
    _say_holders(run)
    beating = threading.Event()
    heart = threading.Thread(
        target=_heartbeat, args=(run, host, pid, beating), name="heartbeat", daemon=True
    )
    heart.start()
    count = connections or settings.smtp_connections
    threads = [
        threading.Thread(
            target=_sender, args=(run, transport_factory), name=f"sender-{n}", daemon=True
        )
        for n in range(count)
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        beating.set()
        heart.join()
        _leave(run)
    if run.pause_reason:
        log.warning("issue %s paused: %s", run.period, run.pause_reason)
    if run.crashes:
        raise run.crashes[0]
    if run.errors:
        raise run.errors[0]
    return run.tally


def _db(run: Run, what: str, call: Callable[[Session], T]) -> T:
    """One short transaction, retried with backoff while the database does not answer."""

    def attempt() -> T:
        engine = run.app.engine
        with outage_as_error(what), deliveries.write_turn(engine), session_scope(engine) as s:
            return call(s)

    return retry_database(attempt, run.db, run.stop)


def _heartbeat(run: Run, host: str, pid: int, done: threading.Event) -> None:
    """Say every third of NEWSLETTER_SENDER_STALE_SECONDS that this sender is alive."""
    interval = run.app.settings.sender_stale_seconds / 3
    while not done.wait(interval):
        try:
            with (
                outage_as_error("sending a heartbeat"),
                deliveries.write_turn(run.app.engine),
                session_scope(run.app.engine) as session,
            ):
                senders.heartbeat(session, run.worker, host, pid, datetime.now(UTC))
        except DatabaseUnavailableError as exc:
            run.db.lost(str(exc))  # the senders retry; the next beat tries again
        except Exception:  # never let the heartbeat die silently: say so, keep beating
            log.exception("sender %s: heartbeat failed", run.worker)
        else:
            run.db.restored()


def _leave(run: Run) -> None:
    """The run ended: its sender row goes (its claims are recorded or given back)."""
    try:
        with outage_as_error("removing this sender"), session_scope(run.app.engine) as session:
            senders.remove_sender(session, run.worker)
    except DatabaseUnavailableError as exc:  # the row goes stale and is pruned by the next run
        run.db.lost(str(exc))


def _sender(run: Run, transport_factory: Callable[[], Transport]) -> None:
    app = run.app
    settings = app.settings
    lease = timedelta(seconds=settings.delivery_lease_seconds)
    reader = SubscriberReader(app.engine)
    recorder = DeliveryRecorder(app.engine, run.worker)
    transport: CappedTransport | None = None
    try:
        transport = CappedTransport(transport_factory(), settings.smtp_messages_per_connection)
        while not run.stop.is_set():

            def claim(session: Session) -> list[Claim]:
                now = datetime.now(UTC)
                return deliveries.claim_batch(
                    session,
                    run.issue_id,
                    now,
                    now + lease,
                    run.worker,
                    settings.delivery_batch,
                    stale_before=now - run.stale,
                )

            batch = _db(run, "claiming deliveries", claim)
            taken = sum(1 for c in batch if c.taken_over)
            if taken:
                log.warning(
                    "issue %s: took over %d deliveries from a sender that stopped (heartbeat "
                    "older than %g s, or lease ended)",
                    run.period,
                    taken,
                    settings.sender_stale_seconds,
                )
            if not batch:
                if _wait_for_others(run):
                    continue
                return
            _send_batch(run, transport, reader, recorder, batch)
    except NewsletterError as exc:  # the mail system or the database is down: stop the run
        with run.lock:
            run.errors.append(exc)
        run.stop.set()
    except Exception as exc:  # a bug: stop the run and raise it in the caller's thread
        with run.lock:
            run.crashes.append(exc)
        run.stop.set()
    finally:
        for closing in (transport, reader, recorder):
            try:
                if closing is not None:
                    closing.close()
            except Exception as exc:  # a connection already lost: nothing to give back
                log.debug("sender %s: closing %r: %s", run.worker, closing, exc)


def _say_holders(run: Run) -> None:
    """At the start of a run: which other senders hold deliveries of the issue, and whether
    their claims will be left to them or taken over."""
    now = datetime.now(UTC)
    held = _db(
        run,
        "looking at other senders' claims",
        lambda s: senders.holders(s, run.issue_id, exclude=run.worker),
    )
    if held:
        log.warning(
            "issue %s: other senders hold deliveries: %s",
            run.period,
            "; ".join(h.describe(now, now - run.stale) for h in held),
        )


def _wait_for_others(run: Run) -> bool:
    """Nothing to claim: while other senders hold deliveries of the issue, wait and look again
    (their claims come free when they record them, give them back, or go stale). Returns
    whether to look again."""
    if run.stop.is_set():
        return False
    now = datetime.now(UTC)
    held = _db(
        run,
        "looking at other senders' claims",
        lambda s: senders.holders(s, run.issue_id, exclude=run.worker),
    )
    if not held:
        return False
    with run.lock:
        say, run.waiting_said = not run.waiting_said, True
    if say:
        log.warning(
            "issue %s: waiting for the deliveries other senders hold: %s",
            run.period,
            "; ".join(h.describe(now, now - run.stale) for h in held),
        )
    run.stop.wait(min(WAIT_FOR_OTHERS_SECONDS, run.app.settings.sender_stale_seconds / 3))
    return not run.stop.is_set()


def _send_batch(
    run: Run,
    transport: CappedTransport,
    reader: SubscriberReader,
    recorder: DeliveryRecorder,
    batch: list[Claim],
) -> None:
    app = run.app
    secret = app.secret()
    domain = app.config.newsletter.sender.domain
    lease_seconds = app.settings.delivery_lease_seconds
    renewed = time.monotonic()
    done: set[int] = set()
    lost: set[int] = set()

    def keep_alive(delivery_id: int) -> bool:
        """Renew the claims still to send when a third of the lease has passed; returns
        whether ``delivery_id`` is still this sender's."""
        nonlocal renewed, lost
        if time.monotonic() - renewed > lease_seconds / 3:
            held = [c.id for c in batch if c.id not in lost and c.id not in done]
            lost |= _renew(run, held)
            renewed = time.monotonic()
        return delivery_id not in lost

    try:
        for claim in batch:
            delivery_id, subscriber_id = claim.id, claim.subscriber_id
            # Wait for the rate limit, and meanwhile keep the claims still to send alive (a
            # claim that expired then would be sent again by another sender).
            while True:
                keep_alive(delivery_id)
                if run.stop.is_set() or run.limiter.wait(run.stop, max_wait=lease_seconds / 4):
                    break
            if run.stop.is_set():
                break
            if delivery_id in lost:
                continue  # its lease ran out and another sender has it now
            msg_id = claim.message_id or message_id(secret, run.period, subscriber_id, domain)
            result = _send_one(
                run,
                transport,
                reader,
                delivery_id,
                subscriber_id,
                msg_id,
                claim.attempts,
                partial(keep_alive, delivery_id),
            )
            if result is None:  # lost to another sender while the SMTP server was away
                continue
            done.add(delivery_id)
            # Recorded before the next message: a crash can send again only this one.
            bounced = result.last_reply if result.status == DeliveryStatus.BOUNCED else None
            retry_database(partial(recorder.record, result, bounced), run.db, run.stop)
            if bounced is not None:  # rare: kept in the bounce history, off the hot path
                _db(
                    run,
                    "recording a hard bounce",
                    partial(_bounce_history, run.issue_id, subscriber_id, bounced),
                )
            _pause_on_errors(run)
    finally:
        left = [c.id for c in batch if c.id not in done and c.id not in lost]
        if left:
            _db(
                run,
                "giving back unsent deliveries",
                lambda s: deliveries.release_deliveries(s, run.worker, left),
            )


def _renew(run: Run, ids: list[int]) -> set[int]:
    """Extend this worker's lease on ``ids``; returns the ones it no longer holds."""
    if not ids:
        return set()
    until = datetime.now(UTC) + timedelta(seconds=run.app.settings.delivery_lease_seconds)
    held = _db(run, "renewing leases", lambda s: deliveries.renew_leases(s, run.worker, ids, until))
    return set(ids) - held


def _send_one(
    run: Run,
    transport: CappedTransport,
    reader: SubscriberReader,
    delivery_id: int,
    subscriber_id: int,
    msg_id: str,
    attempts: int,
    keep_alive: Callable[[], bool],
) -> DeliveryResult | None:
    """Send one delivery; returns its result row, or None when its claim went to another
    sender while the SMTP server did not answer."""
    now = datetime.now(UTC)
    result = DeliveryResult(delivery_id, DeliveryStatus.QUEUED, attempts, "", msg_id)
    # Re-read the subscriber just before sending: an unsubscribe during the run is honoured
    # for every message not yet handed to SMTP.
    row = retry_database(lambda: reader.read(subscriber_id), run.db, run.stop)
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
        sent = _send_riding_out(run, transport, envelope, keep_alive)
        if sent is None:
            return None
        reply, code = sent
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
    if outcome == "sent":  # the hot path: one result built, no copies
        run.tally.add(outcome)
        _report(run, row.email, outcome)
        return DeliveryResult(
            delivery_id, DeliveryStatus.SENT, attempts + 1, reply[:1000], msg_id, code, None, now
        )
    result = replace(result, attempts=attempts + 1, last_reply=reply[:1000], smtp_code=code)
    settings = run.app.settings
    if outcome == "retry":
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


def _send_riding_out(
    run: Run, transport: CappedTransport, envelope: Envelope, keep_alive: Callable[[], bool]
) -> tuple[str, int] | None:
    """Hand one message to SMTP: (reply, code), a refusal included. While the server refuses
    or drops the connection it is tried again with backoff (logged once per process when it
    goes and when it is back), the claims kept alive; None when this claim went to another
    sender meanwhile. MailError when the run stops or the server stays away longer than
    NEWSLETTER_SMTP_OUTAGE_SECONDS (the run then stops with the message queued)."""
    delay, started = SMTP_FIRST_RETRY_SECONDS, time.monotonic()
    while True:
        try:
            reply, code = transport.send(envelope), 250
        except SmtpRecipientError as exc:
            reply, code = str(exc), exc.code
        except MailUnavailableError as exc:
            run.smtp.lost(str(exc))
            waited = time.monotonic() - started
            if run.stop.is_set() or waited >= run.app.settings.smtp_outage_seconds:
                raise MailUnavailableError(
                    f"{exc} (no answer for {waited:.0f} s)" if waited >= 1 else str(exc)
                ) from exc
            run.stop.wait(delay)
            if run.stop.is_set():  # asked to stop while waiting: no further try
                raise MailUnavailableError(str(exc)) from exc
            delay = min(delay * 2, SMTP_LONGEST_RETRY_SECONDS)
            if not keep_alive():
                return None
            continue
        run.smtp.restored()
        return reply, code


def _report(run: Run, email: str, status: str) -> None:
    if run.progress is not None:
        run.progress(email, status)


def _bounce_history(issue_id: int, subscriber_id: int, reply: str, session: Session) -> None:
    """A hard bounce seen as an SMTP reply, in the subscriber's bounce history (the recorder
    has already suppressed the address in the result's own commit)."""
    bounces.record_smtp_bounce(session, subscriber_id, issue_id, reply, True, utcnow())


def _pause_on_errors(run: Run) -> None:
    """Pause the issue when this run's error rate passes the threshold."""
    settings = run.app.settings
    tally = run.tally
    with tally.lock:
        attempted, errors = tally.attempted, tally.errors
    if attempted < settings.pause_min_attempts or errors / attempted <= settings.pause_error_rate:
        return
    reason = (
        f"{errors} of the {attempted} messages tried in this run were refused or deferred "
        f"({errors / attempted:.0%}, over the {settings.pause_error_rate:.0%} threshold); "
        "check the SMTP replies (`newsletter status`), then `newsletter issue resume "
        f"--week {run.period}`"
    )
    paused = _db(
        run,
        "pausing the issue",
        lambda s: issues.set_issue_status(
            s, run.issue_id, IssueStatus.PAUSED, [IssueStatus.SENDING], reason
        ),
    )
    with run.lock:
        if paused or run.pause_reason is None:
            run.pause_reason = reason
    run.stop.set()
