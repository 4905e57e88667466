"""The only SMTP and outbox code: MIME messages per subscriber and the file and smtp transports."""

from __future__ import annotations

import base64
import contextlib
import html
import logging
import re
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from email import policy, quoprimime
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
        # An ASCII domain is its own IDNA form; the pattern below still checks its labels.
        ascii_domain = domain if domain.isascii() else domain.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise ComposeError(f"cannot write the address {email!r}: bad domain ({exc})") from exc
    if not _DOMAIN.fullmatch(ascii_domain) or any(len(x) > 63 for x in ascii_domain.split(".")):
        raise ComposeError(f"cannot write the address {email!r}: {domain!r} is not a domain name")
    return f"{local}@{ascii_domain}"


_DISPLAY_SPECIALS = re.compile(r'[,;:<>@"\\\[\]]')


def header_address(name: str | None, email: str) -> Address:
    """An address header value whose display name cannot break the header (see below)."""
    local, _, domain = envelope_address(email).rpartition("@")
    # gh-80222: a display name with a comma loses its quotes when refolded, and the receiver
    # reads two addresses; the other specials are as risky in a long name. Spaces instead.
    display = _DISPLAY_SPECIALS.sub(" ", safe_header_text(name or "", 200))
    return Address(display_name=" ".join(display.split()), username=local, domain=domain)


def build_message(parts: MessageParts) -> bytes:
    """A multipart/alternative message (text, then HTML) with list headers, as SMTP bytes.

    Raises ComposeError when this message cannot be built; nothing about it can add a header.
    """
    return guarded(lambda: _build(parts), f"the message to {parts.recipient_email!r}")


def guarded(build: Callable[[], bytes], what: str) -> bytes:
    """Run a message builder; whatever the email package raises becomes a ComposeError that
    names ``what``, so one bad recipient fails alone."""
    try:
        return build()
    except ComposeError:
        raise
    except (ValueError, TypeError, UnicodeError, LookupError, MessageError) as exc:
        raise ComposeError(f"cannot compose {what}: {exc.__class__.__name__}: {exc}") from exc


def _build(parts: MessageParts) -> bytes:
    msg = EmailMessage(policy=SMTP_POLICY)
    msg["Subject"] = safe_header_text(parts.subject)
    msg["From"] = header_address(parts.sender_name, parts.sender_email)
    msg["To"] = header_address(parts.recipient_name, parts.recipient_email)
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


# ---- one render, many recipients ---------------------------------------------------------

# Stand-ins for the two bodies while the message skeleton is built once (plain ASCII letters:
# quoted-printable leaves them as they are, and nothing folds them).
_TEXT_SLOT = "NLxTEXTxBODYxSLOTx7f3a"
_HTML_SLOT = "NLxHTMLxBODYxSLOTx7f3a"
_SOFT_BREAK = "=\r\n"


@dataclass(frozen=True)
class Personal:
    """What differs between two copies of one issue."""

    email: str
    name: str | None
    message_id: str
    unsubscribe_url: str
    unsubscribe_mailto: str
    markers: dict[str, str]  # marker -> value in the bodies (escaped here for the HTML part)
    address: str | None = None  # ``envelope_address(email)`` when the caller has it already


@dataclass(frozen=True)
class _Body:
    """A quoted-printable body cut at its personal markers: static parts are encoded once."""

    pieces: tuple[bytes, ...]  # encoded static text; between two pieces comes one marker
    markers: tuple[str, ...]
    escape_html: bool
    unique: tuple[str, ...] = ()  # the markers, each once

    def encode(self, values: dict[str, str]) -> list[bytes]:
        encoded: dict[str, bytes] = {}
        for marker in self.unique:
            value = values.get(marker, "")
            if self.escape_html and _HTML_SPECIAL.search(value):
                value = html.escape(value, quote=True)
            # Soft line breaks around the value keep every encoded line within 76 characters,
            # however long the value, and each static part was encoded from a line start.
            if _QP_SAFE.fullmatch(value):
                encoded[marker] = b"=\r\n" + value.encode("ascii") + b"=\r\n"
            else:
                encoded[marker] = b"=\r\n" + _qp(value) + b"=\r\n"
        out = [self.pieces[0]]
        for marker, piece in zip(self.markers, self.pieces[1:], strict=True):
            out.append(encoded[marker])
            out.append(piece)
        return out


# Text quoted-printable leaves as it is, short enough for one line: printable ASCII but "=".
_QP_SAFE = re.compile(r"(?:[!-\-/-<>-~][!-<>-~]{0,72})?")  # and not starting with "."
_HTML_SPECIAL = re.compile(r"[&<>\"']")
_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]*")


def _to_header(name: str | None, email: str, address: str | None = None) -> str:
    """The To header, folded, as the policy would write it (checked against it in the tests),
    without a header parse per recipient."""
    address = address or envelope_address(email)
    display = " ".join(_DISPLAY_SPECIALS.sub(" ", safe_header_text(name or "", 200)).split())
    if not display:
        return f"To: {address}\r\n"
    if display.isascii():
        shown = display if _ATOM.fullmatch(display) else '"' + display + '"'
        return f"To: {shown} <{address}>\r\n"
    # One encoded-word, as the policy writes it (receivers, Python's parser among them, may
    # keep the space between two words); a line too long for SMTP is folded by the policy.
    word = "=?utf-8?b?" + base64.b64encode(display.encode("utf-8")).decode("ascii") + "?="
    line = f"To: {word} <{address}>\r\n"
    if len(line) <= 998:
        return line
    header = SMTP_POLICY.header_factory("To", str(header_address(name, email)))
    return str(header.fold(policy=SMTP_POLICY))


def _qp(text: str) -> bytes:
    """Quoted-printable of the UTF-8 bytes of ``text`` that no SMTP dot-stuffing can change:
    a "." that starts a line is written "=2E". Lines hold at most 73 characters, so that "=2E"
    and a soft line break after the last line still fit the 76 of RFC 2045."""
    encoded = quoprimime.body_encode(
        text.encode("utf-8", "surrogateescape").decode("latin-1"), maxlinelen=73, eol="\r\n"
    )
    if encoded.startswith("."):
        encoded = "=2E" + encoded[1:]
    return encoded.replace("\r\n.", "\r\n=2E").encode("ascii")


def _qp_body(text: str, markers: tuple[str, ...], escape_html: bool) -> _Body:
    if markers:
        pattern = re.compile("|".join(re.escape(m) for m in markers))
        found = tuple(m.group(0) for m in pattern.finditer(text))
        static = pattern.split(text)
    else:
        found, static = (), [text]
    if not text.endswith("\n"):
        static[-1] += "\n"
    return _Body(tuple(_qp(p) for p in static), found, escape_html, tuple(dict.fromkeys(found)))


@dataclass(frozen=True)
class MessageTemplate:
    """An issue's message rendered and encoded once; ``personalize`` makes one subscriber's
    bytes by filling in the address, name, links and Message-ID, without building a message."""

    head: bytes  # shared headers and MIME structure up to the text body
    middle: bytes  # from after the text body to the HTML body
    tail: bytes  # after the HTML body (calendar attachments, closing boundary)
    text: _Body
    html: _Body

    def personalize(self, personal: Personal) -> bytes:
        """One subscriber's message as SMTP bytes. ComposeError if the address or name cannot
        be written safely (that delivery fails; the others go on)."""
        to_header = _to_header(personal.name, personal.email, personal.address)
        if not personal.message_id.isascii() or _HEADER_UNSAFE.search(personal.message_id):
            raise ComposeError(f"bad Message-ID {personal.message_id!r}")
        unsubscribe = f"<{personal.unsubscribe_url}>, <{personal.unsubscribe_mailto}>"
        if not unsubscribe.isascii() or _HEADER_UNSAFE.search(unsubscribe):
            raise ComposeError(f"bad unsubscribe link {unsubscribe!r}")
        headers = (
            f"{to_header}Message-ID: {personal.message_id}\r\nList-Unsubscribe: {unsubscribe}\r\n"
        )
        return b"".join(
            (
                headers.encode("ascii"),
                self.head,
                *self.text.encode(personal.markers),
                self.middle,
                *self.html.encode(personal.markers),
                self.tail,
            )
        )


def compile_template(parts: MessageParts, markers: tuple[str, ...]) -> MessageTemplate:
    """Build the message once, with the bodies as quoted-printable cut at ``markers``.

    ``parts`` gives the shared headers and bodies; its recipient, Message-ID and unsubscribe
    fields are ignored (they come with each ``Personal``). Raises ComposeError.
    """
    try:
        skeleton = _build(
            replace(
                parts,
                text=_TEXT_SLOT,
                html=_HTML_SLOT,
                recipient_email="slot@example.invalid",
                recipient_name=None,
                message_id="<slot@example.invalid>",
                unsubscribe_url="https://example.invalid/",
                unsubscribe_mailto="mailto:slot@example.invalid",
            )
        )
    except ComposeError:
        raise
    except (ValueError, TypeError, UnicodeError, LookupError, MessageError) as exc:
        raise ComposeError(f"cannot compose the issue: {exc.__class__.__name__}: {exc}") from exc
    # The personal headers go first; drop the stand-ins the skeleton was built with.
    lines = skeleton.split(b"\r\n")
    end = lines.index(b"")
    personal = (b"To:", b"Message-ID:", b"List-Unsubscribe:")
    kept: list[bytes] = []
    skipping = False
    for line in lines[:end]:
        if line[:1] in (b" ", b"\t"):
            if not skipping:
                kept.append(line)
            continue
        skipping = line.startswith(personal)
        if not skipping:
            kept.append(line)
    rebuilt = b"\r\n".join([*kept, *lines[end:]])
    head, _, rest = rebuilt.partition(_TEXT_SLOT.encode() + b"\r\n")
    middle, _, tail = rest.partition(_HTML_SLOT.encode() + b"\r\n")
    if not tail:
        raise ComposeError("internal: the message skeleton lost a body slot")
    text_markers = tuple(m for m in markers if m in parts.text)
    html_markers = tuple(m for m in markers if m in parts.html)
    return MessageTemplate(
        head=head,
        middle=middle,
        tail=tail,
        text=_qp_body(parts.text.replace("\r\n", "\n"), text_markers, escape_html=False),
        html=_qp_body(parts.html.replace("\r\n", "\n"), html_markers, escape_html=True),
    )


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
    subject = (
        f"unsubscribe%20{token}" if _URLSAFE.fullmatch(token) else quote(f"unsubscribe {token}")
    )
    return f"mailto:{local}+unsubscribe@{domain}?subject={subject}"


_URLSAFE = re.compile(r"[A-Za-z0-9_-]+")


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


# Enhanced status codes (RFC 3463) and texts that mean the mailbox does not exist.
_UNKNOWN_USER = re.compile(
    r"\b5\.1\.(1|2|3|6|10)\b|user unknown|unknown user|no such user|mailbox (not found|does not exist)|address does not exist|invalid recipient",
    re.IGNORECASE,
)


def classify_reply(code: int, text: str) -> str:
    """What an SMTP reply means for a delivery: "sent" (2xx), "retry" (4xx), "bounced" (5xx
    saying the mailbox does not exist: the subscriber is suppressed) or "failed" (other 5xx)."""
    if 200 <= code < 300:
        return "sent"
    if 400 <= code < 500:
        return "retry"
    if code >= 500 and _UNKNOWN_USER.search(text):
        return "bounced"
    return "failed"


def _reset(conn: smtplib.SMTP, code: int) -> None:
    """After a refusal: RSET, or close when the server said it is closing (421)."""
    if code == 421:
        with contextlib.suppress(OSError):
            conn.close()
        return
    with contextlib.suppress(smtplib.SMTPServerDisconnected):
        conn.rset()


def _transaction(conn: smtplib.SMTP, sender: str, recipient: str, data: bytes) -> str:
    """MAIL, RCPT and DATA for one message, raising what ``smtplib.SMTP.sendmail`` raises.

    sendmail parses both addresses again and runs a multi-line regex over the whole message
    for the dot-stuffing: together most of the client's CPU per message. The addresses here
    are already checked (``envelope_address``) and the message has CRLF line ends.
    """
    code, reply = conn.docmd("mail", f"FROM:<{sender}>")
    if code != 250:
        _reset(conn, code)
        raise smtplib.SMTPSenderRefused(code, reply, sender)
    code, reply = conn.docmd("rcpt", f"TO:<{recipient}>")
    if code not in (250, 251):
        _reset(conn, code)
        raise smtplib.SMTPRecipientsRefused({recipient: (code, reply)})
    code, reply = conn.docmd("data")
    if code != 354:
        _reset(conn, code)
        raise smtplib.SMTPDataError(code, reply)
    payload = data
    if b"\r\n." in payload:  # RFC 5321 4.5.2 transparency (compiled templates have none)
        payload = payload.replace(b"\r\n.", b"\r\n..")
    if payload[:1] == b".":
        payload = b"." + payload
    if payload[-2:] != b"\r\n":
        payload += b"\r\n"
    conn.send(payload + b".\r\n")
    code, reply = conn.getreply()
    if code != 250:
        _reset(conn, code)
        raise smtplib.SMTPDataError(code, reply)
    return f"{code} {reply.decode(errors='replace')}"


class SmtpTransport:
    """One reused SMTP connection with STARTTLS or TLS (certificate verified) and optional login."""

    def __init__(self, settings: SmtpSettings, context: ssl.SSLContext | None = None) -> None:
        self.settings = settings
        self._context = context
        self._conn: smtplib.SMTP | None = None

    @property
    def context(self) -> ssl.SSLContext:
        """The TLS context, made on first use (loading the CA store costs about 30 ms)."""
        if self._context is None:
            self._context = ssl.create_default_context()
            if not self.settings.verify:
                self._context.check_hostname = False
                self._context.verify_mode = ssl.CERT_NONE
        return self._context

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
                return _transaction(self._conn, envelope.sender, envelope.recipient, envelope.data)
            except UnicodeEncodeError as exc:
                # smtplib writes commands in ASCII: a non-ASCII address needs SMTPUTF8.
                raise SmtpRecipientError(
                    f"553 the address {envelope.recipient!r} is not ASCII ({exc.reason})", 553
                ) from exc
            except smtplib.SMTPRecipientsRefused as exc:
                code, reply = exc.recipients.get(envelope.recipient, (550, b"refused"))
                if code == 421 and attempt == 1:
                    # The server is closing this connection: open a new one and try again.
                    self._drop()
                    continue
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
