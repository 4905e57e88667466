"""Web subscriptions: double opt-in subscribe and confirm, unsubscribe, preferences, by token.

The callers (the web app) only translate: every decision is here. Addresses never leak
through an outcome a caller could show: ``subscribe`` answers the same way for a new, pending,
active, unsubscribed or bounced address; only the confirmation email, sent to that address,
differs. A confirmation token is random, emailed once and stored only as its SHA-256; an
unsubscribe token (``Subscriber.token``) is opaque and never expires.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from newsletter.domain.assemble import edition_title
from newsletter.domain.statuses import SUPPRESSED, SubscriberStatus
from newsletter.email.i18n import N_
from newsletter.email.message import MessageParts
from newsletter.email.notice import build_notice, notice_message_id, render_notice
from newsletter.email.tokens import new_token
from newsletter.email.transports import Envelope, Transport
from newsletter.email.urls import confirm_url, subscribe_url
from newsletter.errors import SubscriberError
from newsletter.service.app import App
from newsletter.service.subscribers import clean_name, normalize_email
from newsletter.storage.db import IntegrityError, Session, available_session
from newsletter.storage.models import Subscriber, utcnow
from newsletter.storage.queries import subscribers

log = logging.getLogger(__name__)

CONFIRM_TOKEN_BYTES = 24  # secrets.token_urlsafe(24): 32 characters, 192 bits
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{16,64}")
LANGUAGE_NAMES = {"en": "English", "zh": "中文"}


class UnknownTokenError(SubscriberError):
    """No subscriber holds this token (forged, mistyped, or replaced by a newer one)."""


class ExpiredTokenError(SubscriberError):
    """The confirmation link is older than NEWSLETTER_CONFIRM_DAYS; subscribe again."""


class PreferencesError(SubscriberError):
    """The chosen sections or language are not ones feeds.yaml offers."""


@dataclass(frozen=True)
class Evidence:
    """Who made a request: the client address and user agent, kept as consent evidence."""

    ip: str | None = None
    user_agent: str | None = None

    def clipped(self) -> Evidence:
        """Values cut to the column sizes, without line breaks."""
        agent = " ".join((self.user_agent or "").split())[:500] or None
        return Evidence((self.ip or "")[:64] or None, agent)


@dataclass(frozen=True)
class ConfirmationMail:
    """A confirmation to email: the raw token exists only here and in the message."""

    email: str
    name: str | None
    token: str
    expires_at: datetime


@dataclass(frozen=True)
class SubscribeOutcome:
    """What a subscribe request did; never shown to the requester (no enumeration)."""

    email: str
    state: str  # the address before: new, pending, active, unsubscribed, bounced
    confirmation: ConfirmationMail | None  # None: nothing to send (active, or rate limited)


@dataclass(frozen=True)
class SubscriberView:
    """What a token holder may see of their subscription."""

    token: str
    masked_email: str
    status: str
    sections: tuple[str, ...] | None  # None: every section
    locale: str | None  # None: every language


@dataclass(frozen=True)
class Choices:
    """The sections and languages a subscriber may choose from (feeds.yaml)."""

    sections: tuple[tuple[str, str], ...]  # (id, title) in issue order
    languages: tuple[tuple[str, str], ...]  # (code, label)


def token_hash(token: str) -> str:
    """The stored form of a confirmation token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def is_token_shaped(token: str) -> bool:
    """Whether a path segment could be one of our tokens (saves a query for junk)."""
    return bool(_TOKEN_SHAPE.fullmatch(token))


def mask_email(email: str) -> str:
    """``z***@example.com``: enough to recognise one's own address on a shared screen."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def choices(app: App) -> Choices:
    """The sections of feeds.yaml, and the languages of its feeds (else the newsletter's)."""
    languages = sorted({f.language for f in app.config.feeds}) or [app.config.newsletter.language]
    return Choices(
        sections=tuple(
            (s.id, edition_title(dict(s.titles), s.title, app.config.newsletter.language))
            for s in app.config.sections
        ),
        languages=tuple((code, LANGUAGE_NAMES.get(code, code)) for code in languages),
    )


def validate_preferences(
    app: App, sections: Sequence[str] | None, locale: str | None
) -> tuple[list[str] | None, str | None]:
    """Sections and language as stored: None means all; every section chosen is also None, so
    a section added to feeds.yaml later reaches everyone who did not narrow their choice."""
    offered = choices(app)
    section_ids = [s for s, _ in offered.sections]
    chosen: list[str] | None = None
    if sections is not None:
        unknown = [s for s in sections if s not in section_ids]
        if unknown:
            shown = ", ".join(repr(s[:40]) for s in unknown[:5])
            raise PreferencesError(
                N_("unknown section %(sections)s; choose from %(offered)s"),
                sections=shown,
                offered=", ".join(section_ids),
            )
        if not sections:
            raise PreferencesError(N_("choose at least one section, or unsubscribe"))
        picked = set(sections)
        chosen = None if picked == set(section_ids) else [s for s in section_ids if s in picked]
    language = (locale or "").strip() or None
    codes = [code for code, _ in offered.languages]
    if language in ("all", "*"):
        language = None
    if language is not None and language not in codes:
        raise PreferencesError(
            N_("unknown language %(language)s; choose all or one of %(offered)s"),
            language=repr(language[:20]),
            offered=", ".join(codes),
        )
    return chosen, language


# ---- subscribe and confirm -----------------------------------------------------------------


@dataclass(frozen=True)
class SubscribeRequest:
    """A validated request to subscribe: normalized address, clean name, stored preferences."""

    email: str
    name: str | None = None
    sections: list[str] | None = None
    locale: str | None = None


def prepare_subscription(
    app: App,
    raw_email: str,
    name: str | None = None,
    sections: Sequence[str] | None = None,
    locale: str | None = None,
) -> SubscribeRequest:
    """Validate what a subscribe form or API call sent. SubscriberError for an invalid
    address, PreferencesError for sections or a language feeds.yaml does not offer. The answer
    depends only on the input, never on the address's state."""
    email = normalize_email(raw_email)
    chosen, language = validate_preferences(app, sections, locale)
    return SubscribeRequest(email, clean_name(name), chosen, language)


def subscribe(
    app: App,
    request: SubscribeRequest,
    *,
    evidence: Evidence = Evidence(),
    now: datetime | None = None,
    may_send: Callable[[str], bool] = lambda _email: True,
) -> SubscribeOutcome:
    """Record a request to subscribe and decide the confirmation to send.

    - a new address becomes ``pending`` with a confirmation;
    - a pending one gets a fresh confirmation (the new token replaces the old);
    - an active one gets nothing;
    - an unsubscribed or bounced one stays suppressed and gets a confirmation: only confirming
      brings it back.

    ``may_send(email)`` is asked just before a confirmation would be issued (the per-address
    rate limit); when it says no, nothing changes.
    """
    when = now or utcnow()
    proof = evidence.clipped()
    for attempt in (1, 2):
        try:
            with available_session(app.engine) as session:
                return _subscribe(app, session, request, proof, when, may_send)
        except IntegrityError:
            # Two requests for a new address at once: the other one inserted it; go again
            # and treat it as existing.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _subscribe(
    app: App,
    session: Session,
    request: SubscribeRequest,
    evidence: Evidence,
    now: datetime,
    may_send: Callable[[str], bool],
) -> SubscribeOutcome:
    email = request.email
    sub = subscribers.get_subscriber(session, email)
    state = "new" if sub is None else sub.status
    if sub is not None and sub.status == SubscriberStatus.ACTIVE:
        return SubscribeOutcome(email, state, None)
    if not may_send(email):
        return SubscribeOutcome(email, state, None)
    token = secrets.token_urlsafe(CONFIRM_TOKEN_BYTES)
    expires = now + timedelta(days=app.settings.confirm_days)
    if sub is None:
        sub = Subscriber(
            email=email, status=SubscriberStatus.PENDING, token=new_token(), created_at=now
        )
    # A pending or suppressed address keeps its status: only the confirmation changes it.
    sub.name = request.name or sub.name
    sub.sections, sub.locale = request.sections, request.locale
    sub.confirm_token_hash = token_hash(token)
    sub.confirm_sent_at, sub.confirm_expires_at = now, expires
    sub.consent_at, sub.consent_ip, sub.consent_user_agent = now, evidence.ip, evidence.user_agent
    sub.source = "web"
    sub.updated_at = now
    # A concurrent insert of the same address fails here, inside the retry.
    subscribers.insert_subscriber(session, sub)
    return SubscribeOutcome(email, state, ConfirmationMail(email, sub.name, token, expires))


def send_confirmation(
    app: App, transport: Transport, mail: ConfirmationMail, now: datetime | None = None
) -> str:
    """Email the confirmation link through the transport; returns the Message-ID.
    MailError (ComposeError for an address that cannot be written) when it cannot go."""
    nl = app.config.newsletter
    base = app.settings.base_url
    expires_local = mail.expires_at.astimezone(nl.tz)
    context = {
        "newsletter": {"title": nl.title, "sender_name": nl.sender.name, "language": nl.language},
        "confirm_url": confirm_url(base, mail.token),
        "subscribe_url": subscribe_url(base),
        "expires_label": f"{expires_local:%Y-%m-%d %H:%M} ({nl.timezone})",
        "days": app.settings.confirm_days,
    }
    text, html = render_notice(app.config.templates_dir, "confirm", context, app.render_limits())
    msg_id = notice_message_id(nl.sender.domain)
    data = build_notice(
        MessageParts(
            subject=f"Confirm your subscription to {nl.title}",
            sender_name=nl.sender.name,
            sender_email=nl.sender.email,
            recipient_email=mail.email,
            recipient_name=mail.name,
            text=text,
            html=html,
            message_id=msg_id,
            date=now or utcnow(),
            reply_to=nl.reply_to,
            language=nl.language,
        )
    )
    try:
        transport.send(Envelope(nl.sender.email, mail.email, msg_id, data))
    finally:
        transport.close()
    return msg_id


def _by_confirm_token(session: Session, raw_token: str) -> Subscriber:
    if not is_token_shaped(raw_token):
        raise UnknownTokenError(N_("this confirmation link is not valid"))
    sub = subscribers.subscriber_by_confirm_hash(session, token_hash(raw_token))
    if sub is None:
        raise UnknownTokenError(N_("this confirmation link is not valid (any more)"))
    return sub


def _is_used(sub: Subscriber) -> bool:
    """Whether this token confirmed the address already (confirmed at or after it was sent)."""
    return (
        sub.confirmed_at is not None
        and sub.confirm_sent_at is not None
        and sub.confirmed_at >= sub.confirm_sent_at
    )


def check_confirmation(app: App, raw_token: str, now: datetime | None = None) -> str:
    """What pressing the button would do, changing nothing: ``ready`` or ``already``.
    UnknownTokenError or ExpiredTokenError otherwise."""
    with available_session(app.engine) as session:
        sub = _by_confirm_token(session, raw_token)
        return _confirm_state(sub, now or utcnow())


def _is_superseded(sub: Subscriber) -> bool:
    """Whether the address unsubscribed or bounced after this token was sent (by any path,
    `newsletter subscribers remove` included): the link must not bring it back."""
    sent = sub.confirm_sent_at
    return sent is not None and any(
        when is not None and when > sent for when in (sub.unsubscribed_at, sub.bounced_at)
    )


def _confirm_state(sub: Subscriber, now: datetime) -> str:
    if _is_used(sub) and sub.status == SubscriberStatus.ACTIVE:
        return "already"
    if _is_used(sub) or _is_superseded(sub):
        # Used, then bounced or unsubscribed: an old link must not revive the address.
        raise UnknownTokenError(N_("this confirmation link is no longer valid; subscribe again"))
    if sub.confirm_expires_at is None or sub.confirm_expires_at <= now:
        raise ExpiredTokenError(N_("this confirmation link has expired; subscribe again"))
    return "ready"


def confirm(
    app: App, raw_token: str, evidence: Evidence = Evidence(), now: datetime | None = None
) -> str:
    """Confirm the subscription of the token's address: ``confirmed``, or ``already`` when it
    was confirmed before (nothing changes). UnknownTokenError, ExpiredTokenError."""
    when = now or utcnow()
    proof = evidence.clipped()
    with available_session(app.engine) as session:
        sub = _by_confirm_token(session, raw_token)
        if _confirm_state(sub, when) == "already":
            return "already"
        sub.status = SubscriberStatus.ACTIVE
        sub.confirmed_at, sub.confirm_ip, sub.confirm_user_agent = when, proof.ip, proof.user_agent
        sub.unsubscribed_at = None
        sub.suppressed_reason = None
        sub.updated_at = when
        subscribers.save_subscriber(session, sub)
        return "confirmed"


# ---- token holders: unsubscribe and preferences --------------------------------------------


def _by_token(session: Session, token: str) -> Subscriber:
    if not is_token_shaped(token):
        raise UnknownTokenError(N_("this link is not valid"))
    sub = subscribers.subscriber_by_token(session, token)
    if sub is None:
        raise UnknownTokenError(N_("this link is not valid"))
    return sub


def _view(sub: Subscriber) -> SubscriberView:
    return SubscriberView(
        token=sub.token,
        masked_email=mask_email(sub.email),
        status=sub.status,
        sections=tuple(sub.sections) if sub.sections is not None else None,
        locale=sub.locale,
    )


def subscriber_by_token(app: App, token: str) -> SubscriberView:
    """The subscription behind an unsubscribe/preferences token. UnknownTokenError."""
    with available_session(app.engine) as session:
        return _view(_by_token(session, token))


def unsubscribe(app: App, token: str, now: datetime | None = None) -> str:
    """Unsubscribe the token's address: ``unsubscribed``, or ``already`` when it was not
    receiving the newsletter. Idempotent; an outstanding confirmation link stops working, so an
    old link cannot subscribe it again. UnknownTokenError."""
    when = now or utcnow()
    with available_session(app.engine) as session:
        sub = _by_token(session, token)
        outcome = "already" if sub.status in SUPPRESSED else "unsubscribed"
        if sub.status in (SubscriberStatus.ACTIVE, SubscriberStatus.PENDING):
            sub.status = SubscriberStatus.UNSUBSCRIBED
            sub.unsubscribed_at = when
        if outcome == "unsubscribed" or sub.confirm_token_hash is not None:
            sub.confirm_token_hash = None
            sub.confirm_expires_at = None
            sub.updated_at = when
            subscribers.save_subscriber(session, sub)
        return outcome


def set_preferences(
    app: App,
    token: str,
    sections: Sequence[str] | None,
    locale: str | None,
    now: datetime | None = None,
) -> SubscriberView:
    """Save the sections and language of the token's subscription (validated against
    feeds.yaml; nothing changes on an error). UnknownTokenError, PreferencesError."""
    chosen, language = validate_preferences(app, sections, locale)
    with available_session(app.engine) as session:
        sub = _by_token(session, token)
        if (sub.sections, sub.locale) != (chosen, language):
            sub.sections, sub.locale = chosen, language
            sub.updated_at = now or utcnow()
            subscribers.save_subscriber(session, sub)
        return _view(sub)


__all__ = [
    "Choices",
    "ConfirmationMail",
    "Evidence",
    "ExpiredTokenError",
    "PreferencesError",
    "SubscribeOutcome",
    "SubscribeRequest",
    "SubscriberView",
    "UnknownTokenError",
    "check_confirmation",
    "choices",
    "confirm",
    "prepare_subscription",
    "send_confirmation",
    "set_preferences",
    "subscribe",
    "subscriber_by_token",
    "unsubscribe",
]
