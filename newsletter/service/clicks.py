"""The click redirect: which stored link a token names, and counting the click.

Only URLs stored as links of an issue (``Link`` rows, made when sending of the issue starts) are ever
redirected to, and only http(s) ones: the redirect cannot be pointed anywhere else. Who clicked
is kept only with NEWSLETTER_CLICK_TRACK_SUBSCRIBERS and a valid subscriber token.
"""

from __future__ import annotations

import re

from newsletter.email.links import is_countable
from newsletter.errors import NewsletterError
from newsletter.service.app import App
from newsletter.storage.db import session_scope
from newsletter.storage.queries import links, subscribers

_LINK_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,32}")
_SUBSCRIBER_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")


class UnknownLinkError(NewsletterError):
    """No link of any issue has this token, or its target is not an http(s) URL."""


def follow_link(app: App, token: str, subscriber_token: str | None = None) -> str:
    """The target of a click token, counting the click (when click tracking is on).
    UnknownLinkError for an unknown token or a target that is not http(s)."""
    if not _LINK_TOKEN.fullmatch(token):
        raise UnknownLinkError("unknown link")
    with session_scope(app.engine) as session:
        link = links.link_by_token(session, token)
        if link is None or link.id is None or not is_countable(link.url):
            raise UnknownLinkError("unknown link")
        if not app.settings.click_tracking:
            return link.url
        subscriber_id = None
        if (
            app.settings.click_track_subscribers
            and subscriber_token
            and _SUBSCRIBER_TOKEN.fullmatch(subscriber_token)
        ):
            subscriber_id = subscribers.subscriber_id_by_token(session, subscriber_token)
        links.record_click(session, link, subscriber_id)
        return link.url


__all__ = ["UnknownLinkError", "follow_link"]
