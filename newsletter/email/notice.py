"""Notices: short transactional emails (the subscription confirmation), not the issue.

A notice is rendered from ``templates/email/<name>.txt`` and ``.html`` and built as a
multipart/alternative message like the issue (``message``), with the same header hardening:
no header can be added or split by a name or subject. It carries no List-Unsubscribe headers:
the recipient is not on the list (yet), and a notice goes only to the address that asked for it.
"""

from __future__ import annotations

from dataclasses import replace
from email.utils import make_msgid
from pathlib import Path
from typing import Any

from newsletter.email.message import MessageParts, build_message
from newsletter.email.render import make_environment
from newsletter.email.sandbox import RenderLimits
from newsletter.email.templates import render_template


def notice_message_id(domain: str) -> str:
    """A fresh Message-ID on the sender's domain (``make_msgid()`` alone says @localhost)."""
    return make_msgid(idstring="notice", domain=domain)


def render_notice(
    templates_dir: Path, name: str, context: dict[str, Any], limits: RenderLimits | None = None
) -> tuple[str, str]:
    """The (text, HTML) parts of the notice ``name`` from ``email/<name>.txt`` and ``.html``;
    the HTML template is autoescaped and both run in the sandbox, within ``limits``."""
    env = make_environment(templates_dir, limits)
    text, html = (
        render_template(env, f"email/{name}.{suffix}", context) for suffix in ("txt", "html")
    )
    return text, html


def build_notice(parts: MessageParts) -> bytes:
    """The notice as SMTP bytes (CRLF): no list headers, and Auto-Submitted (RFC 3834) so that
    autoresponders do not answer it. ComposeError when an address cannot be written safely."""
    notice = replace(
        parts, list_id=None, unsubscribe_url=None, unsubscribe_mailto=None, auto_submitted=True
    )
    return build_message(notice, "the notice")


__all__ = ["build_notice", "notice_message_id", "render_notice"]
