"""Opaque subscriber tokens and deterministic Message-IDs."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_token() -> str:
    """An opaque, URL-safe 22-character token (128 bits); it holds no address."""
    return secrets.token_urlsafe(16)


def message_id(secret: bytes, period: str, subscriber_id: int, domain: str) -> str:
    """The Message-ID of (issue, subscriber): the same every time, so a resend carries the same id."""
    digest = hmac.new(secret, f"{period}:{subscriber_id}".encode(), hashlib.sha256).hexdigest()[:24]
    return f"<{period.lower()}.{digest}@{domain}>"
