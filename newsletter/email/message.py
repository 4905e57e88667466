"""One whole MIME message (text, HTML, attachments) with hardened headers, as SMTP bytes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from urllib.parse import quote

from newsletter.email.headers import SMTP_POLICY, guarded, header_address, safe_header_text


@dataclass(frozen=True)
class MessageParts:
    """Everything that makes one message: an issue copy (with the list headers) or a notice."""

    subject: str
    sender_name: str
    sender_email: str
    recipient_email: str
    recipient_name: str | None
    text: str
    html: str
    message_id: str
    date: datetime
    list_id: str | None = None  # None: not a list message (a notice), no List-* headers
    unsubscribe_url: str | None = None
    unsubscribe_mailto: str | None = None
    reply_to: str | None = None
    language: str | None = None
    attachments: tuple[tuple[str, str, bytes], ...] = ()  # (filename, content type, data)
    auto_submitted: bool = False  # RFC 3834: sent by software on a person's request


def build_message(parts: MessageParts, what: str = "the message") -> bytes:
    """A multipart/alternative message (text, then HTML) with list headers, as SMTP bytes.

    Raises ComposeError (naming ``what``) when this message cannot be built; nothing about it
    can add a header.
    """
    return guarded(lambda: mime_bytes(parts), f"{what} to {parts.recipient_email!r}")


def mime_bytes(parts: MessageParts) -> bytes:
    """The message as SMTP bytes; raises what the email package raises (see ``guarded``)."""
    msg = EmailMessage(policy=SMTP_POLICY)
    msg["Subject"] = safe_header_text(parts.subject)
    msg["From"] = header_address(parts.sender_name, parts.sender_email)
    msg["To"] = header_address(parts.recipient_name, parts.recipient_email)
    if parts.reply_to:
        msg["Reply-To"] = header_address(None, parts.reply_to)
    msg["Date"] = format_datetime(parts.date)
    msg["Message-ID"] = parts.message_id
    if parts.auto_submitted:
        # RFC 3834: autoresponders should not answer it.
        msg["Auto-Submitted"] = "auto-generated"
    if parts.list_id is not None:
        msg["List-Id"] = parts.list_id
    if parts.unsubscribe_url is not None:
        # RFC 2369 and RFC 8058: an https URL for one-click POST, plus mailto.
        links = (parts.unsubscribe_url, parts.unsubscribe_mailto)
        msg["List-Unsubscribe"] = ", ".join(f"<{link}>" for link in links if link is not None)
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["MIME-Version"] = "1.0"
    msg.set_content(parts.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(parts.html, subtype="html", charset="utf-8", cte="quoted-printable")
    for filename, content_type, data in parts.attachments:
        # multipart/mixed around the alternative: calendar files for the events.
        maintype, _, subtype = content_type.partition("/")
        params = {"charset": "utf-8"} if maintype == "text" else {}
        msg.add_attachment(
            data, maintype=maintype, subtype=subtype, filename=filename, params=params
        )
    if parts.language:
        # After the content: set_content() clears every Content-* header set before it.
        msg["Content-Language"] = safe_header_text(parts.language, 35)
    return msg.as_bytes(policy=SMTP_POLICY)


def list_id(title: str, domain: str) -> str:
    """A List-Id header value (RFC 2919): "Title" <slug.domain>, unquoted if not ASCII."""
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "newsletter"
    name = safe_header_text(title)
    if name.isascii():
        return f'"{name.replace(chr(34), chr(39))}" <{slug}.{domain}>'
    # RFC 2047 section 5: an encoded-word may not sit inside a quoted string, and the policy
    # would put one there (leaving an unbalanced quote). Non-ASCII names go as plain words.
    words = re.sub(r'[()<>\[\]:;@\\,."]+', " ", name).split()
    return f"{' '.join(words)} <{slug}.{domain}>"


_URLSAFE = re.compile(r"[A-Za-z0-9_-]+")


def unsubscribe_mailto(sender_email: str, token: str) -> str:
    """The mailto: alternative for List-Unsubscribe."""
    local, _, domain = sender_email.partition("@")
    subject = (
        f"unsubscribe%20{token}" if _URLSAFE.fullmatch(token) else quote(f"unsubscribe {token}")
    )
    return f"mailto:{local}+unsubscribe@{domain}?subject={subject}"
