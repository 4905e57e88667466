"""Handing messages to a mail system: the file outbox and SMTP, and what an SMTP reply means."""

from __future__ import annotations

import contextlib
import re
import smtplib
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from newsletter.errors import MailError, MailUnavailableError


@dataclass(frozen=True)
class Envelope:
    """One message ready for a transport."""

    sender: str
    recipient: str
    message_id: str
    data: bytes


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


class _Unconfirmed(Exception):
    """The connection was lost after the whole message was sent, before the server's reply:
    the message may have arrived."""


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
    try:
        code, reply = conn.getreply()
    except (TimeoutError, smtplib.SMTPServerDisconnected, ConnectionError) as exc:
        # The whole message went out: the server may have queued it without saying so.
        raise _Unconfirmed(str(exc)) from exc
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
            raise MailUnavailableError(
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
            except _Unconfirmed as exc:
                # Sent again once at once (most servers drop such a message); a second time,
                # it is deferred like a 4xx, not ridden out as an outage: a server that takes
                # messages but never answers would otherwise get the same message many times.
                self._drop()
                if attempt == 1:
                    continue
                raise SmtpRecipientError(
                    f"451 no reply from {self._where()} after the whole message was sent "
                    f"({exc}); it may have arrived, so it is retried later, not now",
                    451,
                ) from exc
            except (TimeoutError, smtplib.SMTPServerDisconnected, ConnectionError) as exc:
                self._drop()
                if attempt == 1:
                    continue
                raise MailUnavailableError(
                    f"lost the connection to {self._where()}: {exc}"
                ) from exc
        raise MailUnavailableError(f"{self._where()} kept closing the connection")

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
