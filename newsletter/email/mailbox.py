"""The bounce mailbox over IMAP (imap-tools): unread messages in, marked read once recorded."""

from __future__ import annotations

import contextlib
import imaplib
import ssl
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from email import policy
from types import TracebackType
from typing import Literal

from imap_tools import AND, BaseMailBox, MailBox, MailBoxStartTls, MailBoxUnencrypted
from imap_tools.consts import MailMessageFlags
from imap_tools.errors import ImapToolsError

from newsletter.errors import MailError

_IMAP_ERRORS = (OSError, imaplib.IMAP4.error, ImapToolsError)
# Set on a message that was read and is not a report (a reader's reply, say): it stays unread
# for the people who share the mailbox, and is not read again.
CHECKED_KEYWORD = "NewsletterChecked"


@dataclass(frozen=True, slots=True)
class ImapSettings:
    """Where the bounce mailbox is and how to log in."""

    host: str
    port: int
    user: str
    password: str
    folder: str = "INBOX"
    tls: Literal["none", "starttls", "tls"] = "tls"
    timeout: float = 30.0
    ssl_context: ssl.SSLContext | None = None  # None: the system's trusted certificates


@dataclass(frozen=True, slots=True)
class MailboxItem:
    """One unread message: its UID (to mark it read) and its bytes."""

    uid: str
    raw: bytes


class BounceMailbox:
    """A logged-in IMAP session on the bounce folder; use as a context manager."""

    def __init__(self, settings: ImapSettings) -> None:
        self._settings = settings
        self._box: BaseMailBox | None = None

    def _where(self) -> str:
        s = self._settings
        return f"bounce mailbox {s.user}@{s.host}:{s.port} ({s.tls})"

    def __enter__(self) -> BounceMailbox:
        s = self._settings
        context = s.ssl_context or ssl.create_default_context()
        box: BaseMailBox
        try:
            if s.tls == "tls":
                box = MailBox(s.host, s.port, timeout=s.timeout, ssl_context=context)
            elif s.tls == "starttls":
                box = MailBoxStartTls(s.host, s.port, timeout=s.timeout, ssl_context=context)
            else:
                box = MailBoxUnencrypted(s.host, s.port, timeout=s.timeout)
        except (OSError, ssl.SSLError, imaplib.IMAP4.error, ImapToolsError) as exc:
            raise MailError(
                f"{self._where()}: cannot connect ({exc}); check NEWSLETTER_BOUNCE_IMAP_HOST, "
                "NEWSLETTER_BOUNCE_IMAP_PORT and NEWSLETTER_BOUNCE_IMAP_TLS"
            ) from exc
        try:
            box.login(s.user, s.password, initial_folder=s.folder)
        except (OSError, imaplib.IMAP4.error, ImapToolsError) as exc:
            with contextlib.suppress(*_IMAP_ERRORS):
                box.logout()
            raise MailError(
                f"{self._where()}: cannot log in or open folder {s.folder!r} ({exc}); check "
                "NEWSLETTER_BOUNCE_IMAP_USER, NEWSLETTER_BOUNCE_IMAP_PASSWORD and "
                "NEWSLETTER_BOUNCE_IMAP_FOLDER"
            ) from exc
        self._box = box
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._box is not None:
            with contextlib.suppress(*_IMAP_ERRORS):
                self._box.logout()
            self._box = None

    def unread(self, limit: int) -> Iterator[MailboxItem]:
        """Up to ``limit`` unread, not yet checked messages, oldest first, left unread
        (BODY.PEEK)."""
        assert self._box is not None
        criteria = AND(seen=False, no_keyword=CHECKED_KEYWORD)
        try:
            for msg in self._box.fetch(criteria, mark_seen=False, limit=limit):
                if msg.uid:
                    yield MailboxItem(msg.uid, msg.obj.as_bytes(policy=policy.compat32))
        except (OSError, imaplib.IMAP4.error, ImapToolsError) as exc:
            raise MailError(f"{self._where()}: reading messages failed: {exc}") from exc

    def mark_read(self, uids: Iterable[str]) -> None:
        """Flag reports \\Seen: they have been recorded and are not read again."""
        self._flag(uids, MailMessageFlags.SEEN)

    def mark_checked(self, uids: Iterable[str]) -> None:
        """Set the CHECKED_KEYWORD on messages that are not reports: left unread for people,
        not read again here."""
        self._flag(uids, CHECKED_KEYWORD)

    def _flag(self, uids: Iterable[str], flag: str) -> None:
        assert self._box is not None
        wanted = list(uids)
        if not wanted:
            return
        try:
            self._box.flag(wanted, flag, True)
        except (OSError, imaplib.IMAP4.error, ImapToolsError) as exc:
            raise MailError(f"{self._where()}: marking messages read failed: {exc}") from exc
