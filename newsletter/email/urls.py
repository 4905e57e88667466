"""The public URLs of a subscriber's links and of the archive, in one place (web routes match)."""

from __future__ import annotations

# The token the preview and `newsletter build` show in personal links: no subscriber has it.
PREVIEW_TOKEN = "PREVIEW"


def unsubscribe_url(base_url: str, token: str) -> str:
    """The one-click unsubscribe page of a subscriber token (also the List-Unsubscribe URL)."""
    return f"{base_url}/unsubscribe/{token}"


def preferences_url(base_url: str, token: str) -> str:
    """The preferences page of a subscriber token."""
    return f"{base_url}/preferences/{token}"


def confirm_url(base_url: str, token: str) -> str:
    """The link in the confirmation email (double opt-in)."""
    return f"{base_url}/confirm/{token}"


def subscribe_url(base_url: str) -> str:
    """The subscription form."""
    return f"{base_url}/subscribe"


def event_ics_url(base_url: str, period: str, item_id: int) -> str:
    """An event's hosted calendar file, for "Add to calendar" links."""
    return f"{base_url}/archive/{period}/events/{item_id}.ics"


def archive_url(base_url: str, period: str | None = None) -> str:
    """The archive index, or with ``period`` one sent issue's page."""
    return f"{base_url}/archive" if period is None else f"{base_url}/archive/{period}"
