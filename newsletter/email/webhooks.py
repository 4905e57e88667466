"""Bounce and complaint webhooks of mail providers: each request's signature checked, its
events read. Amazon SES (through SNS, signed with a certificate fetched from an allowed
host), Postmark (basic auth), Mailgun (HMAC-SHA256), SendGrid (ECDSA). A request that is not
signed, is signed wrongly, or is older than the allowed age raises BounceError; reused ids
(replays) are refused by the caller, which stores each request's ``receipt_id``."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from newsletter.domain.bounces import BounceEvent, BounceKind, BounceSource
from newsletter.errors import BounceError

MAX_DIAGNOSTIC = 500


@dataclass(frozen=True, slots=True)
class WebhookResult:
    """A verified request: its events, the id that makes a replay detectable, and (SNS only)
    the URL to visit to confirm a subscription."""

    source: BounceSource
    receipt_id: str
    events: tuple[BounceEvent, ...]
    confirm_url: str | None = None


def _unsigned(what: str) -> BounceError:
    return BounceError(f"{what}: the request is not signed", 401)


def _forged(what: str) -> BounceError:
    return BounceError(f"{what}: the signature does not match", 403)


def _too_old(what: str, when: datetime, now: datetime, max_age: timedelta) -> None:
    if abs(now - when) > max_age:
        raise BounceError(
            f"{what}: signed at {when:%Y-%m-%d %H:%M:%S} UTC, more than "
            f"{int(max_age.total_seconds())} s from now: refused as a replay",
            409,
        )


def _json(body: bytes, what: str) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BounceError(f"{what}: the body is not JSON ({exc})", 400) from exc


def _text(value: object) -> str:
    return " ".join(str(value or "").split())[:MAX_DIAGNOSTIC]


def _iso(value: object, fallback: datetime) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return fallback
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _epoch(value: object, what: str) -> datetime:
    try:
        return datetime.fromtimestamp(float(str(value)), UTC)
    except (ValueError, OverflowError, OSError) as exc:
        raise BounceError(f"{what}: the timestamp {value!r} is not a Unix time", 400) from exc


# --- Amazon SES through SNS ----------------------------------------------------------------

# https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html: the fields
# signed, in this order, for each message type (absent optional fields are left out).
_SNS_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
    "UnsubscribeConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
}


def url_allowed(url: str, patterns: tuple[str, ...]) -> bool:
    """Whether ``url``'s scheme://host[:port] matches one of the patterns, where ``*`` stands
    for one DNS label (so ``sns.*.amazonaws.com`` does not match a bucket host like
    ``sns.x.s3.amazonaws.com``)."""
    parts = urlsplit(url)
    if parts.username or parts.password or not parts.netloc:
        return False
    origin = f"{parts.scheme}://{parts.netloc}".lower()
    for pattern in patterns:
        regex = "[a-z0-9-]+".join(re.escape(p) for p in pattern.lower().rstrip("/").split("*"))
        if re.fullmatch(regex, origin):
            return True
    return False


class SnsVerifier:
    """Checks SNS messages with the signing certificate from an allowed URL (fetched with
    ``fetch`` and kept in memory)."""

    def __init__(
        self,
        cert_url_patterns: tuple[str, ...],
        topic_arns: tuple[str, ...],
        fetch: Callable[[str], bytes],
    ) -> None:
        self._patterns = cert_url_patterns
        self._topics = topic_arns
        self._fetch = fetch
        self._certs: dict[str, x509.Certificate] = {}

    def _certificate(self, url: str) -> x509.Certificate:
        what = "SES/SNS webhook"
        if not url_allowed(url, self._patterns) or not urlsplit(url).path.endswith(".pem"):
            raise BounceError(
                f"{what}: SigningCertURL {url[:200]!r} is not an allowed certificate address "
                "(NEWSLETTER_SES_SNS_CERT_URLS)",
                403,
            )
        cert = self._certs.get(url)
        if cert is None:
            try:
                cert = x509.load_pem_x509_certificate(self._fetch(url))
            except ValueError as exc:
                raise BounceError(f"{what}: {url} is not a PEM certificate", 403) from exc
            if len(self._certs) > 32:
                self._certs.clear()
            self._certs[url] = cert
        return cert

    def verify(self, body: bytes, now: datetime, max_age: timedelta) -> WebhookResult:
        """The events of a signed SES notification, or a subscription to confirm."""
        what = "SES/SNS webhook"
        data = _json(body, what)
        if not isinstance(data, dict):
            raise BounceError(f"{what}: the body is not an SNS message", 400)
        kind = str(data.get("Type", ""))
        fields = _SNS_FIELDS.get(kind)
        if fields is None:
            raise BounceError(f"{what}: unknown message type {kind[:40]!r}", 400)
        if not data.get("Signature") or not data.get("SigningCertURL"):
            raise _unsigned(what)
        if str(data.get("TopicArn", "")) not in self._topics:
            raise BounceError(
                f"{what}: topic {str(data.get('TopicArn'))[:200]!r} is not in "
                "NEWSLETTER_SES_SNS_TOPIC_ARNS",
                403,
            )
        signed = "".join(
            f"{name}\n{data[name]}\n" for name in fields if data.get(name) is not None
        ).encode()
        digest: hashes.HashAlgorithm
        version = str(data.get("SignatureVersion", "1"))
        digest = hashes.SHA256() if version == "2" else hashes.SHA1()  # SNS SignatureVersion 1
        key = self._certificate(str(data["SigningCertURL"])).public_key()
        try:
            signature = base64.b64decode(str(data["Signature"]), validate=True)
            if not isinstance(key, rsa.RSAPublicKey):
                raise InvalidSignature
            key.verify(signature, signed, padding.PKCS1v15(), digest)
        except (InvalidSignature, binascii.Error, ValueError) as exc:
            raise _forged(what) from exc
        when = _iso(data.get("Timestamp"), datetime.min.replace(tzinfo=UTC))
        _too_old(what, when, now, max_age)
        receipt = str(data.get("MessageId", ""))
        if kind != "Notification":
            url = str(data.get("SubscribeURL", ""))
            if kind == "SubscriptionConfirmation" and not url_allowed(url, self._patterns):
                raise BounceError(f"{what}: SubscribeURL {url[:200]!r} is not allowed", 403)
            return WebhookResult(
                BounceSource.SES,
                receipt,
                (),
                confirm_url=url if kind == "SubscriptionConfirmation" else None,
            )
        return WebhookResult(BounceSource.SES, receipt, _ses_events(data, receipt, when))


def _ses_events(data: Mapping[str, Any], receipt: str, when: datetime) -> tuple[BounceEvent, ...]:
    """SES notifications (notificationType) and event publishing (eventType) alike."""
    try:
        message = json.loads(str(data.get("Message", "")))
    except json.JSONDecodeError as exc:
        raise BounceError("SES/SNS webhook: Message is not an SES notification", 400) from exc
    if not isinstance(message, dict):
        return ()
    kind = message.get("notificationType") or message.get("eventType")
    events: list[BounceEvent] = []
    if kind == "Bounce":
        bounce = message.get("bounce") or {}
        hard = bounce.get("bounceType") == "Permanent"
        for rcpt in bounce.get("bouncedRecipients") or []:
            email = str(rcpt.get("emailAddress", "")).lower()
            diagnostic = _text(
                f"{bounce.get('bounceType')}/{bounce.get('bounceSubType')} "
                f"{rcpt.get('status') or ''} {rcpt.get('diagnosticCode') or ''}"
            )
            events.append(
                BounceEvent(
                    email,
                    BounceKind.HARD if hard else BounceKind.SOFT,
                    BounceSource.SES,
                    diagnostic,
                    _iso(bounce.get("timestamp"), when),
                    f"{bounce.get('feedbackId') or receipt}/{email}"[:300],
                )
            )
    elif kind == "Complaint":
        complaint = message.get("complaint") or {}
        for rcpt in complaint.get("complainedRecipients") or []:
            email = str(rcpt.get("emailAddress", "")).lower()
            events.append(
                BounceEvent(
                    email,
                    BounceKind.COMPLAINT,
                    BounceSource.SES,
                    _text(f"feedback type {complaint.get('complaintFeedbackType') or 'abuse'}"),
                    _iso(complaint.get("timestamp"), when),
                    f"{complaint.get('feedbackId') or receipt}/{email}"[:300],
                )
            )
    return tuple(e for e in events if "@" in e.email)


# --- Postmark ------------------------------------------------------------------------------

_POSTMARK_HARD = {"HardBounce", "BadEmailAddress", "ManuallyDeactivated"}
_POSTMARK_SOFT = {"SoftBounce", "Transient", "DnsError", "Blocked", "SMTPApiError"}


def verify_postmark(
    authorization: str | None, body: bytes, user: str, password: str, now: datetime
) -> WebhookResult:
    """A Postmark bounce or spam-complaint webhook, authenticated with the basic-auth user
    and password set in its webhook URL (Postmark signs nothing else)."""
    what = "Postmark webhook"
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise _unsigned(what)
    try:
        given = base64.b64decode(encoded.strip(), validate=True)
    except binascii.Error as exc:
        raise _forged(what) from exc
    if not hmac.compare_digest(given, f"{user}:{password}".encode()):
        raise _forged(what)
    record = _json(body, what)
    if not isinstance(record, dict) or "ID" not in record:
        raise BounceError(f"{what}: not a Postmark bounce record", 400)
    record_type, bounce_type = str(record.get("RecordType", "")), str(record.get("Type", ""))
    kind: BounceKind | None = None
    if record_type == "SpamComplaint" or bounce_type == "SpamComplaint":
        kind = BounceKind.COMPLAINT
    elif bounce_type in _POSTMARK_HARD:
        kind = BounceKind.HARD
    elif bounce_type in _POSTMARK_SOFT:
        kind = BounceKind.SOFT
    receipt = f"{record_type}:{record['ID']}"
    email = str(record.get("Email", "")).lower()
    if kind is None or "@" not in email:
        return WebhookResult(BounceSource.POSTMARK, receipt, ())
    event = BounceEvent(
        email,
        kind,
        BounceSource.POSTMARK,
        _text(f"{bounce_type}: {record.get('Description') or ''} {record.get('Details') or ''}"),
        _iso(record.get("BouncedAt"), now),
        receipt,
    )
    return WebhookResult(BounceSource.POSTMARK, receipt, (event,))


# --- Mailgun -------------------------------------------------------------------------------


def verify_mailgun(
    body: bytes, signing_key: str, now: datetime, max_age: timedelta
) -> WebhookResult:
    """A Mailgun event webhook: HMAC-SHA256 of timestamp + token with the signing key."""
    what = "Mailgun webhook"
    data = _json(body, what)
    signature = data.get("signature") if isinstance(data, dict) else None
    if not isinstance(signature, dict) or not all(
        signature.get(k) for k in ("timestamp", "token", "signature")
    ):
        raise _unsigned(what)
    timestamp, token = str(signature["timestamp"]), str(signature["token"])
    expected = hmac.new(
        signing_key.encode(), (timestamp + token).encode(), hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(expected, str(signature["signature"]).lower()):
        raise _forged(what)
    when = _epoch(timestamp, what)
    _too_old(what, when, now, max_age)
    event_data = data.get("event-data") or {}
    name = event_data.get("event")
    kind: BounceKind | None = None
    if name == "complained":
        kind = BounceKind.COMPLAINT
    elif name == "failed":
        kind = BounceKind.HARD if event_data.get("severity") == "permanent" else BounceKind.SOFT
    email = str(event_data.get("recipient", "")).lower()
    if kind is None or "@" not in email:
        return WebhookResult(BounceSource.MAILGUN, token, ())
    status = event_data.get("delivery-status") or {}
    diagnostic = _text(
        f"{status.get('code') or ''} {status.get('message') or ''} "
        f"{status.get('description') or ''} {event_data.get('reason') or ''}"
    )
    occurred = (
        _epoch(event_data["timestamp"], what) if event_data.get("timestamp") is not None else when
    )
    event = BounceEvent(
        email,
        kind,
        BounceSource.MAILGUN,
        diagnostic,
        occurred,
        str(event_data.get("id") or token)[:300],
    )
    return WebhookResult(BounceSource.MAILGUN, token, (event,))


# --- SendGrid ------------------------------------------------------------------------------


def verify_sendgrid(
    signature: str | None,
    timestamp: str | None,
    body: bytes,
    public_key: str,
    now: datetime,
    max_age: timedelta,
) -> WebhookResult:
    """A SendGrid Event Webhook batch: ECDSA (P-256, SHA-256) over timestamp + raw body,
    checked with the verification key SendGrid shows (base64 DER, or PEM)."""
    what = "SendGrid webhook"
    if not signature or not timestamp:
        raise _unsigned(what)
    key = load_public_key(public_key)
    try:
        key.verify(
            base64.b64decode(signature, validate=True),
            timestamp.encode() + body,
            ec.ECDSA(hashes.SHA256()),
        )
    except (InvalidSignature, binascii.Error, ValueError) as exc:
        raise _forged(what) from exc
    when = _epoch(timestamp, what)
    _too_old(what, when, now, max_age)
    batch = _json(body, what)
    if not isinstance(batch, list):
        raise BounceError(f"{what}: the body is not a list of events", 400)
    events = []
    for item in batch:
        if not isinstance(item, dict):
            continue
        name, email = item.get("event"), str(item.get("email", "")).lower()
        kind: BounceKind | None = None
        if name == "spamreport":
            kind = BounceKind.COMPLAINT
        elif name == "bounce":
            kind = BounceKind.SOFT if item.get("type") == "blocked" else BounceKind.HARD
        if kind is None or "@" not in email:
            continue
        events.append(
            BounceEvent(
                email,
                kind,
                BounceSource.SENDGRID,
                _text(f"{item.get('status') or ''} {item.get('reason') or ''}"),
                _epoch(item.get("timestamp", timestamp), what),
                str(item.get("sg_event_id") or f"{signature}/{email}")[:300],
            )
        )
    receipt = hashlib.sha256(signature.encode()).hexdigest()
    return WebhookResult(BounceSource.SENDGRID, receipt, tuple(events))


def load_public_key(value: str) -> ec.EllipticCurvePublicKey:
    """SendGrid's verification key: base64 DER (as its settings page shows it) or PEM."""
    try:
        if "BEGIN PUBLIC KEY" in value:
            key = serialization.load_pem_public_key(value.encode())
        else:
            key = serialization.load_der_public_key(base64.b64decode(value, validate=True))
    except (ValueError, binascii.Error) as exc:
        raise BounceError(
            "NEWSLETTER_SENDGRID_VERIFICATION_KEY is not a public key (paste the base64 key "
            "from SendGrid's Event Webhook settings)",
            500,
        ) from exc
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise BounceError("NEWSLETTER_SENDGRID_VERIFICATION_KEY is not an ECDSA key", 500)
    return key
