"""The only SMTP and outbox code: MIME messages per subscriber and the file and smtp transports."""

from __future__ import annotations

import contextlib
import html
import logging
import re
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.errors import MessageError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import quote

from newsletter.errors import MailError

log = logging.getLogger(__name__)

# policy.SMTP gives CRLF line ends (smtplib sends bytes as-is); a long max_line_length keeps
# List-Unsubscribe from being folded into an encoded-word receivers cannot parse (PITFALLS.md).
SMTP_POLICY = policy.SMTP.clone(max_line_length=998)


# Everything str.splitlines() or a mail reader may take for a line break or hide: C0 and C1
# controls (NUL, CR, LF, VT, FF, FS/GS/RS, NEL), U+2028/U+2029, zero-width and bidi controls.
_HEADER_UNSAFE = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]+"
)
MAX_HEADER_TEXT = 300


def safe_header_text(value: str, max_chars: int = MAX_HEADER_TEXT) -> str:
    """One line of header text that cannot add or split a header: controls and every kind of
    line break become spaces, and encoded-word syntax is broken up, since Python 3.11.7 decodes
    ``=?utf-8?q?...=0D=0A...?=`` into a real line break when it refolds (CVE-2024-6923)."""
    value = _HEADER_UNSAFE.sub(" ", value[: max_chars * 4])
    value = " ".join(value.split())
    while "=?" in value:  # "==??" would become "=?" again after one replacement
        value = value.replace("=?", "= ?")
    return value[:max_chars].strip()


@dataclass(frozen=True)
class Envelope:
    """One message ready for a transport."""

    sender: str
    recipient: str
    message_id: str
    data: bytes


@dataclass(frozen=True)
class MessageParts:
    """Everything that makes one subscriber's message."""

    subject: str
    sender_name: str
    sender_email: str
    recipient_email: str
    recipient_name: str | None
    text: str
    html: str
    message_id: str
    date: datetime
    list_id: str
    unsubscribe_url: str
    unsubscribe_mailto: str
    reply_to: str | None = None
    language: str | None = None
    attachments: tuple[tuple[str, str, bytes], ...] = ()  # (filename, content type, data)


class ComposeError(MailError):
    """One subscriber's message cannot be built (for example an address that cannot be written
    in a header); that delivery fails, the others go on."""


# RFC 5322 §3.2.3 atext: what an unquoted local part may hold (no SMTPUTF8 here).
_LOCAL_PART = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_DOMAIN = re.compile(
    r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+"
)


def envelope_address(email: str) -> str:
    """The address as it goes on the wire: an ASCII local part and an IDNA (punycode) domain.
    ComposeError for anything a header or an SMTP command could not carry safely."""
    local, at, domain = email.strip().rpartition("@")
    if not at or not _LOCAL_PART.fullmatch(local):
        raise ComposeError(
            f"cannot write the address {email!r} in a message: the part before @ must be "
            "plain ASCII letters, digits and . ! # $ % & ' * + / = ? ^ _ ` { | } ~ -"
        )
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise ComposeError(f"cannot write the address {email!r}: bad domain ({exc})") from exc
    if not _DOMAIN.fullmatch(ascii_domain):
        raise ComposeError(f"cannot write the address {email!r}: {domain!r} is not a domain name")
    return f"{local}@{ascii_domain}"


_DISPLAY_SPECIALS = re.compile(r'[,;:<>@"\\\[\]]')


def _address(name: str | None, email: str) -> Address:
    local, _, domain = envelope_address(email).rpartition("@")
    # gh-80222: a display name with a comma loses its quotes when refolded, and the receiver
    # reads two addresses; the other specials are as risky in a long name. Spaces instead.
    display = _DISPLAY_SPECIALS.sub(" ", safe_header_text(name or "", 200))
    return Address(display_name=" ".join(display.split()), username=local, domain=domain)


def build_message(parts: MessageParts) -> bytes:
    """A multipart/alternative message (text, then HTML) with list headers, as SMTP bytes.

    Raises ComposeError when this message cannot be built; nothing about it can add a header.
    """
    try:
        return _build(parts)
    except ComposeError:
        raise
    except (ValueError, TypeError, UnicodeError, LookupError, MessageError) as exc:
        raise ComposeError(
            f"cannot compose the message to {parts.recipient_email!r}: "
            f"{exc.__class__.__name__}: {exc}"
        ) from exc


def _build(parts: MessageParts) -> bytes:
    msg = EmailMessage(policy=SMTP_POLICY)
    msg["Subject"] = safe_header_text(parts.subject)
    msg["From"] = _address(parts.sender_name, parts.sender_email)
    msg["To"] = _address(parts.recipient_name, parts.recipient_email)
    if parts.reply_to:
        msg["Reply-To"] = parts.reply_to
    msg["Date"] = format_datetime(parts.date)
    msg["Message-ID"] = parts.message_id
    msg["List-Id"] = parts.list_id
    # RFC 2369 and RFC 8058: an https URL for one-click POST, plus mailto.
    msg["List-Unsubscribe"] = f"<{parts.unsubscribe_url}>, <{parts.unsubscribe_mailto}>"
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
        msg["Content-Language"] = parts.language
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


def unsubscribe_mailto(sender_email: str, token: str) -> str:
    """The mailto: alternative for List-Unsubscribe."""
    local, _, domain = sender_email.partition("@")
    return f"mailto:{local}+unsubscribe@{domain}?subject={quote('unsubscribe ' + token)}"


def html_values(values: dict[str, str]) -> dict[str, str]:
    """Escape personal values for the HTML part."""
    return {k: html.escape(v, quote=True) for k, v in values.items()}


class Transport(Protocol):
    """Hands messages to a mail system."""

    def send(self, envelope: Envelope) -> str:
        """Send one message; returns the server's reply. Raises MailError."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class FileTransport:
    """Writes each message as an .eml file into an outbox folder (the embedded default)."""

    def __init__(self, outbox: Path) -> None:
        self.outbox = outbox

    def send(self, envelope: Envelope) -> str:
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", envelope.message_id.strip("<>")) + ".eml"
        try:
            self.outbox.mkdir(parents=True, exist_ok=True)
            path = self.outbox / name
            tmp = path.with_suffix(".eml.tmp")
            tmp.write_bytes(envelope.data)
            tmp.replace(path)
        except OSError as exc:
            raise MailError(f"cannot write to outbox {self.outbox}: {exc}") from exc
        return f"250 written {path}"

    def close(self) -> None:
        return None


@dataclass(frozen=True)
class SmtpSettings:
    """How to reach the SMTP relay."""

    host: str
    port: int
    tls: str  # none, starttls, tls
    username: str | None = None
    password: str | None = None
    timeout: float = 30.0
    verify: bool = True


class SmtpRecipientError(MailError):
    """The server refused this recipient or message (permanent 5xx or temporary 4xx)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code

    @property
    def is_permanent(self) -> bool:
        """5xx replies are permanent."""
        return self.code >= 500


class SmtpTransport:
    """One reused SMTP connection with STARTTLS or TLS (certificate verified) and optional login."""

    def __init__(self, settings: SmtpSettings, context: ssl.SSLContext | None = None) -> None:
        self.settings = settings
        self.context = context or ssl.create_default_context()
        if not settings.verify:
            self.context.check_hostname = False
            self.context.verify_mode = ssl.CERT_NONE
        self._conn: smtplib.SMTP | None = None

    def _where(self) -> str:
        return f"SMTP server {self.settings.host}:{self.settings.port}"

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        try:
            conn: smtplib.SMTP
            if s.tls == "tls":
                conn = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=self.context)
            else:
                conn = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            conn.ehlo()
            if s.tls == "starttls":
                conn.starttls(context=self.context)
                conn.ehlo()
            if s.username:
                conn.login(s.username, s.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            raise MailError(
                f"{self._where()} refused the login for {s.username!r}: {exc.smtp_code} {exc.smtp_error!r}; check NEWSLETTER_SMTP_USERNAME and NEWSLETTER_SMTP_PASSWORD"
            ) from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise MailError(
                f"{self._where()} does not support STARTTLS; set NEWSLETTER_SMTP_TLS to tls or none"
            ) from exc
        except ssl.SSLError as exc:
            raise MailError(
                f"TLS with {self._where()} failed: {exc}; check NEWSLETTER_SMTP_TLS and the server certificate"
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise MailError(
                f"cannot connect to {self._where()}: {exc}; check NEWSLETTER_SMTP_HOST and NEWSLETTER_SMTP_PORT"
            ) from exc
        return conn

    def send(self, envelope: Envelope) -> str:
        for attempt in (1, 2):
            if self._conn is None:
                self._conn = self._connect()
            try:
                refused = self._conn.sendmail(envelope.sender, [envelope.recipient], envelope.data)
            except UnicodeEncodeError as exc:
                # smtplib writes commands in ASCII: a non-ASCII address needs SMTPUTF8.
                raise SmtpRecipientError(
                    f"553 the address {envelope.recipient!r} is not ASCII ({exc.reason})", 553
                ) from exc
            except smtplib.SMTPRecipientsRefused as exc:
                code, reply = exc.recipients.get(envelope.recipient, (550, b"refused"))
                raise SmtpRecipientError(f"{code} {reply.decode(errors='replace')}", code) from exc
            except smtplib.SMTPResponseException as exc:
                if exc.smtp_code == 421 and attempt == 1:
                    self._drop()
                    continue
                error = exc.smtp_error
                text = error.decode(errors="replace") if isinstance(error, bytes) else str(error)
                raise SmtpRecipientError(f"{exc.smtp_code} {text}", exc.smtp_code) from exc
            except (TimeoutError, smtplib.SMTPServerDisconnected, ConnectionError) as exc:
                self._drop()
                if attempt == 1:
                    continue
                raise MailError(f"lost the connection to {self._where()}: {exc}") from exc
            if refused:
                code, reply = refused[envelope.recipient]
                raise SmtpRecipientError(f"{code} {reply.decode(errors='replace')}", code)
            return "250 accepted"
        raise MailError(f"{self._where()} kept closing the connection")

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(OSError):
                self._conn.close()
            self._conn = None

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self._conn.quit()
            self._conn = None
