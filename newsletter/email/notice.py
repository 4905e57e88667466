"""Notices: short transactional emails (the subscription confirmation), not the issue.

A notice is rendered from ``templates/email/<name>.txt`` and ``.html`` and built as a
multipart/alternative message with the same header hardening as the issue (``mailer``): no
header can be added or split by a name or subject. It carries no List-Unsubscribe headers: the
recipient is not on the list (yet), and a notice goes only to the address that asked for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

import jinja2

from newsletter.email.mailer import SMTP_POLICY, guarded, header_address, safe_header_text
from newsletter.email.render import make_environment
from newsletter.errors import TemplateError


@dataclass(frozen=True)
class Notice:
    """Everything that makes one notice message."""

    subject: str
    sender_name: str
    sender_email: str
    recipient_email: str
    recipient_name: str | None
    text: str
    html: str
    message_id: str
    date: datetime
    reply_to: str | None = None
    language: str | None = None


def notice_message_id(domain: str) -> str:
    """A fresh Message-ID on the sender's domain (``make_msgid()`` alone says @localhost)."""
    return make_msgid(idstring="notice", domain=domain)


def render_notice(templates_dir: Path, name: str, context: dict[str, Any]) -> tuple[str, str]:
    """The (text, HTML) parts of the notice ``name`` from ``email/<name>.txt`` and ``.html``;
    the HTML template is autoescaped and both run in the sandbox."""
    env = make_environment(templates_dir)
    parts = []
    for suffix in ("txt", "html"):
        template = f"email/{name}.{suffix}"
        try:
            parts.append(env.get_template(template).render(context))
        except jinja2.TemplateNotFound as exc:
            raise TemplateError(f"template {exc.name} not found in {templates_dir}") from exc
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(f"template {template}, line {exc.lineno}: {exc.message}") from exc
        except jinja2.TemplateError as exc:
            raise TemplateError(f"template {template}: {exc}") from exc
    return parts[0], parts[1]


def build_notice(notice: Notice) -> bytes:
    """The notice as SMTP bytes (CRLF). ComposeError when an address cannot be written safely."""
    return guarded(lambda: _build(notice), f"the notice to {notice.recipient_email!r}")


def _build(notice: Notice) -> bytes:
    msg = EmailMessage(policy=SMTP_POLICY)
    msg["Subject"] = safe_header_text(notice.subject)
    msg["From"] = header_address(notice.sender_name, notice.sender_email)
    msg["To"] = header_address(notice.recipient_name, notice.recipient_email)
    if notice.reply_to:
        msg["Reply-To"] = header_address(None, notice.reply_to)
    msg["Date"] = format_datetime(notice.date)
    msg["Message-ID"] = notice.message_id
    # RFC 3834: sent by software on a person's request; autoresponders should not answer it.
    msg["Auto-Submitted"] = "auto-generated"
    msg["MIME-Version"] = "1.0"
    msg.set_content(notice.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(notice.html, subtype="html", charset="utf-8", cte="quoted-printable")
    if notice.language:
        msg["Content-Language"] = safe_header_text(notice.language, 35)
    return msg.as_bytes(policy=SMTP_POLICY)


__all__ = ["Notice", "build_notice", "notice_message_id", "render_notice"]
