"""Reading the bounce mailbox's messages: delivery status notifications (RFC 3464), feedback
reports (RFC 5965 complaints) and mail to the List-Unsubscribe ``mailto:`` address, each
turned into BounceEvents. Bytes in, values out: the IMAP client is in mailbox.py."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.errors import MessageError
from email.header import decode_header, make_header
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime

from newsletter.domain.bounces import (
    BounceEvent,
    BounceKind,
    BounceSource,
    kind_for_dsn,
    status_code,
)

_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")
_TOKEN = re.compile(r"\bunsubscribe\s+([A-Za-z0-9_-]{8,64})\b", re.IGNORECASE)
# What a bounce without a machine-readable part says in its subject, in the languages of the
# mail systems our subscribers use (QQ Mail and NetEase write Chinese).
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|non-delivery|delivery (status|failure|has failed|problem)|returned mail|"
    r"failure notice|mail delivery failed|not delivered|退信|投递失败|传输失败|未能送达|无法送达",
    re.IGNORECASE,
)
MAX_DIAGNOSTIC = 500


@dataclass(frozen=True, slots=True)
class MailboxMessage:
    """What one message of the bounce mailbox turned out to be, and its events."""

    kind: str  # dsn, complaint, unsubscribe, other
    events: tuple[BounceEvent, ...]


def read_report(raw: bytes, now: datetime) -> MailboxMessage:
    """Read one message of the bounce mailbox. A message that is none of a DSN, a feedback
    report or an unsubscribe request is ``other`` with no events (never an error: the mailbox
    may hold anything)."""
    msg = message_from_bytes(raw, policy=policy.compat32)
    fallback_id = _message_id(msg) or hashlib.sha256(raw).hexdigest()[:32]
    when = _date(msg.get("Date")) or now
    ctype = msg.get_content_type()
    report_type = (msg.get_param("report-type") or "").__str__().lower()
    if ctype == "multipart/report" and report_type == "feedback-report":
        return MailboxMessage("complaint", _feedback(msg, fallback_id, when))
    status_part = _first_part(msg, "message/delivery-status")
    if status_part is not None:
        events = _delivery_status(msg, status_part, fallback_id, when)
        return MailboxMessage("dsn", events)
    unsubscribe = _unsubscribe(msg, fallback_id, when)
    if unsubscribe is not None:
        return MailboxMessage("unsubscribe", (unsubscribe,))
    if _BOUNCE_SUBJECT.search(_decoded_subject(msg)):
        return MailboxMessage("dsn", _plain_bounce(msg, fallback_id, when))
    return MailboxMessage("other", ())


def _message_id(msg: Message) -> str | None:
    value = msg.get("Message-ID")
    return " ".join(str(value).split())[:200] if value else None


def _date(value: object) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(str(value))
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _first_part(msg: Message, ctype: str) -> Message | None:
    for part in msg.walk():
        if part.get_content_type() == ctype:
            return part
    return None


def _clean(text: str) -> str:
    return " ".join(text.split())[:MAX_DIAGNOSTIC]


def _address(field: str | None) -> str | None:
    """The address of an RFC 3464 address field (``rfc822; user@example.com``)."""
    if not field:
        return None
    value = " ".join(str(field).split())
    _, _, value = value.rpartition(";")
    match = _ADDRESS.search(value)
    return match.group(0).lower() if match else None


def _blocks(part: Message) -> list[Message]:
    """The header blocks of a message/delivery-status part: Python's parser gives them as a
    list of messages; a part it could not split is parsed here."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [p for p in payload if isinstance(p, Message)]
    text = payload if isinstance(payload, str) else ""
    blocks = re.split(r"\r?\n\s*\r?\n", text.strip())
    return [message_from_bytes(b.encode("utf-8", "replace") + b"\n\n") for b in blocks]


def _delivery_status(
    msg: Message, part: Message, fallback_id: str, when: datetime
) -> tuple[BounceEvent, ...]:
    blocks = _blocks(part)
    if not blocks:
        return ()
    per_message, recipients = blocks[0], blocks[1:]
    if per_message.get("Final-Recipient") or per_message.get("Original-Recipient"):
        recipients = blocks  # no per-message block (seen from some gateways)
    # When it happened: the recipient's Last-Attempt-Date, else the report's own Date (an
    # Arrival-Date is when the original message arrived, hours before a delay notice).
    original = _returned_headers(msg)
    events = []
    for block in recipients:
        if not block.keys():
            continue  # an empty block (a blank line left at the end of the part)
        # Original-Recipient is the address as we sent it (RFC 3464 §2.3.1); Final-Recipient
        # may be what a forward or an alias made of it (seen in Sun's and Exchange's DSNs).
        email = _address(block.get("Original-Recipient")) or _address(block.get("Final-Recipient"))
        if email is None and original is not None:
            email = _first_to(original)
        if email is None:
            continue
        diagnostic = _clean(str(block.get("Diagnostic-Code") or ""))
        # "smtp; 550 ..." shows as the reply; another type ("X-Postfix; ...") keeps its name.
        diagnostic_type, _, diagnostic_text = diagnostic.partition(";")
        if diagnostic_type.strip().lower() != "smtp":
            diagnostic_text = diagnostic
        status = status_code(str(block.get("Status") or ""))
        kind = kind_for_dsn(str(block.get("Action") or "failed"), status, diagnostic)
        if kind is None:
            continue
        shown = " ".join(x for x in (status, diagnostic_text.strip() or diagnostic) if x)
        events.append(
            BounceEvent(
                email=email,
                kind=kind,
                source=BounceSource.DSN,
                diagnostic=shown[:MAX_DIAGNOSTIC],
                occurred_at=_date(block.get("Last-Attempt-Date")) or when,
                event_id=f"{fallback_id}/{email}"[:300],
            )
        )
    return tuple(events)


def _returned_headers(msg: Message) -> Message | None:
    """The returned message's headers (text/rfc822-headers or message/rfc822), if any."""
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype == "message/rfc822":
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                return inner[0]
        if ctype == "text/rfc822-headers":
            body = part.get_payload(decode=True)
            if isinstance(body, bytes):
                return message_from_bytes(body.lstrip() + b"\n\n")
    return None


def _first_to(original: Message) -> str | None:
    pairs = getaddresses([str(v) for v in original.get_all("To") or []])
    for _, address in pairs:
        if _ADDRESS.fullmatch(address):
            return address.lower()
    return None


def _feedback(msg: Message, fallback_id: str, when: datetime) -> tuple[BounceEvent, ...]:
    """RFC 5965: a complaint about the returned message; its recipient is in
    Original-Rcpt-To, else in the returned message's To."""
    part = _first_part(msg, "message/feedback-report")
    fields = _blocks(part)[0] if part is not None and _blocks(part) else Message()
    original = _returned_headers(msg)
    email = _address(fields.get("Original-Rcpt-To"))
    if email is None and original is not None:
        email = _first_to(original)
    if email is None:
        return ()
    feedback_type = _clean(str(fields.get("Feedback-Type") or "abuse"))
    return (
        BounceEvent(
            email=email,
            kind=BounceKind.COMPLAINT,
            source=BounceSource.ARF,
            diagnostic=f"feedback type {feedback_type}",
            occurred_at=_date(fields.get("Arrival-Date")) or when,
            event_id=f"{fallback_id}/{email}"[:300],
        ),
    )


def _decoded_subject(msg: Message) -> str:
    raw = next((v for k, v in msg.raw_items() if k.lower() == "subject"), "")
    if isinstance(raw, str) and any("\udc80" <= c <= "\udcff" for c in raw):
        # Raw 8-bit bytes in the header (Sina writes GB2312 so): UTF-8, else GB18030.
        data = raw.encode("ascii", "surrogateescape")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data.decode("gb18030", "replace")
    try:
        return str(make_header(decode_header(str(raw))))
    except (UnicodeError, LookupError, ValueError, MessageError):
        return str(raw)


def _unsubscribe(msg: Message, fallback_id: str, when: datetime) -> BounceEvent | None:
    """A message to ``…+unsubscribe@…`` whose subject is ``unsubscribe TOKEN`` (how
    email.message.unsubscribe_mailto builds the List-Unsubscribe mailto: link)."""
    recipients = " ".join(
        str(v) for name in ("To", "Delivered-To", "X-Original-To") for v in msg.get_all(name) or []
    ).lower()
    if "+unsubscribe@" not in recipients:
        return None
    match = _TOKEN.search(_decoded_subject(msg))
    if match is None:
        return None
    sender = getaddresses([str(msg.get("From") or "")])
    return BounceEvent(
        email=sender[0][1].lower() if sender else "",
        kind=BounceKind.UNSUBSCRIBE,
        source=BounceSource.MAILTO,
        diagnostic="List-Unsubscribe mailto:",
        occurred_at=when,
        event_id=fallback_id[:300],
        token=match.group(1),
    )


def _own_parts(msg: Message) -> list[Message]:
    """The report's own parts, not those of a returned message (whose text, links and
    addresses are the newsletter's, not the report's)."""
    parts: list[Message] = []
    stack = [msg]
    while stack:
        part = stack.pop()
        if part.get_content_type() == "message/rfc822":
            continue
        payload = part.get_payload()
        if part.is_multipart() and isinstance(payload, list):
            stack.extend(reversed([p for p in payload if isinstance(p, Message)]))
        else:
            parts.append(part)
    return parts


def _text_of(msg: Message) -> str:
    texts = []
    for part in _own_parts(msg):
        ctype = part.get_content_type()
        if ctype not in ("text/plain", "text/html"):
            continue
        body = part.get_payload(decode=True)
        if not isinstance(body, bytes):
            continue
        charset = part.get_content_charset() or "utf-8"
        try:
            text = body.decode(charset, "replace")
        except LookupError:
            text = body.decode("utf-8", "replace")
        # Tags only in HTML: plain text writes addresses as <user@example.com>.
        texts.append(re.sub(r"<[^>]+>", " ", text) if ctype == "text/html" else text)
    return "\n".join(texts)


# Postfix and qmail name each failed recipient at the start of a line, in angle brackets, then
# the reason on that line and the indented lines after it.
_RECIPIENT_LINE = re.compile(
    r"^[ \t]*<(" + _ADDRESS.pattern + r")>:[ \t]*(.*(?:\r?\n(?![ \t]*<[^>\n]*@[^>\n]*>:|-)"
    r"[ \t]*\S.*)*)",
    re.MULTILINE,
)
# Sendmail, Exchange and AOL list the failed recipients on the lines after a heading, one a
# line, until a blank line ("(expanded from: …)" names the address as it was sent).
_LIST_HEADING = re.compile(
    r"(following (recipients?|address(es)?|users?)|following recipient\(s\)|"
    r"following address\(es\))\b[^\n]*?(:|-----)[ \t]*\r?$",
    re.IGNORECASE | re.MULTILINE,
)
_EXPANDED_FROM = re.compile(r"expanded from:?\s*<?(" + _ADDRESS.pattern + ")", re.IGNORECASE)
_BARE_NAME = re.compile(r"^[ \t]*([A-Za-z0-9._-]{1,64})[ \t]*$")
# Addresses a report names that are never the failed recipient.
_NOT_RECIPIENT = re.compile(r"^(postmaster|mailer-daemon|root)@", re.IGNORECASE)


def _plain_bounce(msg: Message, fallback_id: str, when: datetime) -> tuple[BounceEvent, ...]:
    """A bounce without a delivery-status part (Postfix's and qmail's plain reports, older
    Chinese webmail): the recipients named at the start of a line (``<user@host>: reason``),
    else the returned message's To, else the first address in the report's own text that is
    not the sender's, the report's addressee's or a postmaster's; the status code from the
    reason, else from the text."""
    text = _text_of(msg)
    found: dict[str, str] = {}
    for match in _RECIPIENT_LINE.finditer(text):
        found.setdefault(match.group(1).lower(), match.group(2))
    if not found:
        for listed in _listed(msg, text):
            found.setdefault(listed, "")
    if not found:
        original = _returned_headers(msg)
        email = _first_to(original) if original is not None else None
        if email is None:
            excluded = {
                a.lower()
                for _, a in getaddresses(
                    [str(v) for k in ("From", "To") for v in msg.get_all(k) or []]
                )
            }
            candidates = [
                a.lower()
                for a in _ADDRESS.findall(text)
                if a.lower() not in excluded and not _NOT_RECIPIENT.match(a)
            ]
            email = candidates[0] if candidates else None
        if email is None:
            return ()
        found[email] = ""
    events = []
    for email, reason in found.items():
        source = reason.strip() or text
        code = status_code(source)
        reply = re.search(r"\b[45]\d\d[ -][^\n]{0,200}", source)
        diagnostic = _clean(reply.group(0) if reply and not reason.strip() else source)
        # Classified on the whole reason (the diagnostic shown is cut to MAX_DIAGNOSTIC).
        kind = kind_for_dsn("failed", code, " ".join(source.split())) or BounceKind.SOFT
        events.append(
            BounceEvent(
                email=email,
                kind=kind,
                source=BounceSource.DSN,
                diagnostic=diagnostic,
                occurred_at=when,
                event_id=f"{fallback_id}/{email}"[:300],
            )
        )
    return tuple(events)


def _listed(msg: Message, text: str) -> list[str]:
    """The recipients listed under the first heading like "did not reach the following
    recipient(s):"; a bare name (AOL's screen names) is at the reporting system's domain."""
    heading = _LIST_HEADING.search(text)
    if heading is None:
        return []
    senders = getaddresses([str(msg.get("From") or "")])
    domain = senders[0][1].rpartition("@")[2].lower() if senders else ""
    found: list[str] = []
    lines = text[heading.end() :].lstrip("\r\n").splitlines()
    for line in lines[:20]:
        if not line.strip():
            break
        expanded = _EXPANDED_FROM.search(line)
        if expanded and found:
            found[-1] = expanded.group(1).lower()
            continue
        match = _ADDRESS.search(line)
        if match:
            address = match.group(0)
            if address.lower().startswith("smtp="):  # Exchange's "dda:SMTP=user@host"
                address = address[5:]
            found.append(address.lower())
            continue
        bare = _BARE_NAME.match(line)
        if bare and domain:
            found.append(f"{bare.group(1)}@{domain}".lower())
    return list(dict.fromkeys(found))
