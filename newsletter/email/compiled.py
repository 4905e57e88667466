"""One render, many recipients: an issue's message built once, then one subscriber's bytes each."""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass, replace
from email import quoprimime

from newsletter.email.headers import (
    HEADER_UNSAFE,
    SMTP_POLICY,
    ComposeError,
    display_name,
    envelope_address,
    guarded,
    header_address,
)
from newsletter.email.message import MessageParts, mime_bytes

# Stand-ins for the two bodies while the message skeleton is built once (plain ASCII letters:
# quoted-printable leaves them as they are, and nothing folds them).
_TEXT_SLOT = "NLxTEXTxBODYxSLOTx7f3a"
_HTML_SLOT = "NLxHTMLxBODYxSLOTx7f3a"


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
    display = display_name(name)
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
        if not personal.message_id.isascii() or HEADER_UNSAFE.search(personal.message_id):
            raise ComposeError(f"bad Message-ID {personal.message_id!r}")
        unsubscribe = f"<{personal.unsubscribe_url}>, <{personal.unsubscribe_mailto}>"
        if not unsubscribe.isascii() or HEADER_UNSAFE.search(unsubscribe):
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
    stand_ins = replace(
        parts,
        text=_TEXT_SLOT,
        html=_HTML_SLOT,
        recipient_email="slot@example.invalid",
        recipient_name=None,
        message_id="<slot@example.invalid>",
        unsubscribe_url="https://example.invalid/",
        unsubscribe_mailto="mailto:slot@example.invalid",
    )
    skeleton = guarded(lambda: mime_bytes(stand_ins), "the issue")
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
