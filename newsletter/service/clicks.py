"""The click redirect: which stored link a token names, and counting the click.

Only URLs stored as links of an issue (``Link`` rows, made when sending of the issue starts) are ever
redirected to, and only http(s) ones: the redirect cannot be pointed anywhere else. Who clicked
is kept only with NEWSLETTER_CLICK_TRACK_SUBSCRIBERS and a valid subscriber token.
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from sqlmodel import col, select

from newsletter.email.links import is_countable
from newsletter.errors import NewsletterError
from newsletter.service.app import App
from newsletter.storage.db import session_scope
from newsletter.storage.models import Click, Link, Subscriber, utcnow

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
        link = session.exec(select(Link).where(Link.token == token)).first()
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
            subscriber_id = session.exec(
                select(Subscriber.id).where(Subscriber.token == subscriber_token)
            ).first()
        # One UPDATE, so concurrent clicks are all counted.
        session.execute(
            sa.update(Link)
            .where(col(Link.id) == link.id)
            .values(clicks=col(Link.clicks) + 1)
            .execution_options(synchronize_session=False)
        )
        session.add(
            Click(
                link_id=link.id,
                issue_id=link.issue_id,
                subscriber_id=subscriber_id,
                created_at=utcnow(),
            )
        )
        return link.url


__all__ = ["UnknownLinkError", "follow_link"]
