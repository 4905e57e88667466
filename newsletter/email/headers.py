"""Header hardening: text, names and addresses that cannot add or split a mail header."""

from __future__ import annotations

import re
from collections.abc import Callable
from email import policy
from email.errors import MessageError
from email.headerregistry import Address

from newsletter.errors import MailError

# policy.SMTP gives CRLF line ends (smtplib sends bytes as-is); a long max_line_length keeps
# List-Unsubscribe from being folded into an encoded-word receivers cannot parse (PITFALLS.md).
SMTP_POLICY = policy.SMTP.clone(max_line_length=998)


# Everything str.splitlines() or a mail reader may take for a line break or hide: C0 and C1
# controls (NUL, CR, LF, VT, FF, FS/GS/RS, NEL), U+2028/U+2029, zero-width and bidi controls.
HEADER_UNSAFE = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]+"
)
MAX_HEADER_TEXT = 300


def safe_header_text(value: str, max_chars: int = MAX_HEADER_TEXT) -> str:
    """One line of header text that cannot add or split a header: controls and every kind of
    line break become spaces, and encoded-word syntax is broken up, since Python 3.11.7 decodes
    ``=?utf-8?q?...=0D=0A...?=`` into a real line break when it refolds (CVE-2024-6923)."""
    value = HEADER_UNSAFE.sub(" ", value[: max_chars * 4])
    value = " ".join(value.split())
    while "=?" in value:  # "==??" would become "=?" again after one replacement
        value = value.replace("=?", "= ?")
    return value[:max_chars].strip()


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


def display_name(name: str | None) -> str:
    """A display name that cannot break an address header (see below); may be empty."""
    # gh-80222: a display name with a comma loses its quotes when refolded, and the receiver
    # reads two addresses; the other specials are as risky in a long name. Spaces instead.
    return " ".join(_DISPLAY_SPECIALS.sub(" ", safe_header_text(name or "", 200)).split())


def header_address(name: str | None, email: str) -> Address:
    """An address header value whose display name cannot break the header."""
    local, _, domain = envelope_address(email).rpartition("@")
    return Address(display_name=display_name(name), username=local, domain=domain)


def guarded(build: Callable[[], bytes], what: str) -> bytes:
    """Run a message builder; whatever the email package raises becomes a ComposeError that
    names ``what``, so one bad recipient fails alone."""
    try:
        return build()
    except ComposeError:
        raise
    except (ValueError, TypeError, UnicodeError, LookupError, MessageError) as exc:
        raise ComposeError(f"cannot compose {what}: {exc.__class__.__name__}: {exc}") from exc
