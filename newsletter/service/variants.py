"""Reader variants: the issue rendered and compiled once for each choice of sections and
language, with the click-tracked links, and the personal parts of one subscriber's copy."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

from newsletter.domain.assemble import for_reader
from newsletter.email.compiled import MessageTemplate, Personal, compile_template
from newsletter.email.links import collect_links, rewrite_links
from newsletter.email.message import MessageParts, list_id, unsubscribe_mailto
from newsletter.email.render import (
    PREFERENCES_URL,
    SUBSCRIBER_EMAIL,
    SUBSCRIBER_TOKEN,
    UNSUBSCRIBE_URL,
    make_environment,
    marker_values,
    render_issue,
)
from newsletter.email.urls import preferences_url, unsubscribe_url
from newsletter.service.app import App
from newsletter.service.issues import BuiltIssue
from newsletter.storage.db import session_scope
from newsletter.storage.queries import links

MARKERS = (UNSUBSCRIBE_URL, PREFERENCES_URL, SUBSCRIBER_EMAIL, SUBSCRIBER_TOKEN)


class Variants:
    """One compiled message template per reader variant (sections, language), made on demand."""

    def __init__(self, app: App, built: BuiltIssue, link_tokens: dict[str, str]) -> None:
        assert built.rendered is not None
        self.app = app
        self.built = built
        self.link_tokens = link_tokens
        self._lock = threading.Lock()
        self._cache: dict[tuple[tuple[str, ...] | None, str | None], MessageTemplate | None] = {}

    def get(self, sections: list[str] | None, language: str | None) -> MessageTemplate | None:
        """The template for these preferences; None when nothing of the issue is left."""
        known = {s.id for s in self.app.config.sections}
        chosen = tuple(sorted(s for s in sections or [] if s in known)) or None
        key = (chosen, language or None)
        with self._lock:
            if key not in self._cache:
                self._cache[key] = self._compile(key)
            return self._cache[key]

    def _compile(self, key: tuple[tuple[str, ...] | None, str | None]) -> MessageTemplate | None:
        rendered = self.built.rendered
        assert rendered is not None
        content = self.built.content
        if key != (None, None):
            content = for_reader(content, list(key[0]) if key[0] else None, key[1])
            if content.item_count == 0:
                return None
            env = make_environment(self.app.config.templates_dir, self.app.render_limits())
            options = self.app.render_options()
            if key[1]:  # the reader's language: the email's own words, rounds, amounts, dates
                options = replace(options, language=key[1], edition=key[1])
            rendered, content = render_issue(env, content, options)
        settings = self.app.settings
        html = rendered.html
        if settings.click_tracking and self.link_tokens:
            marker = SUBSCRIBER_TOKEN if settings.click_track_subscribers else None
            html = rewrite_links(html, self.link_tokens, settings.base_url, marker)
        nl = self.app.config.newsletter
        parts = MessageParts(
            subject=content.subject,
            sender_name=nl.sender.name,
            sender_email=nl.sender.email,
            recipient_email="",
            recipient_name=None,
            text=rendered.text,
            html=html,
            message_id="",
            date=datetime.now(UTC),
            list_id=list_id(nl.title, nl.sender.domain),
            unsubscribe_url="",
            unsubscribe_mailto="",
            reply_to=nl.reply_to,
            language=nl.language,
            attachments=tuple((a.filename, a.content_type, a.data) for a in rendered.attachments),
        )
        return compile_template(parts, MARKERS)


def personal(
    app: App, email: str, name: str | None, token: str, msg_id: str, address: str | None = None
) -> Personal:
    """The personal parts of one subscriber's copy."""
    unsubscribe = unsubscribe_url(app.settings.base_url, token)
    preferences = preferences_url(app.settings.base_url, token)
    return Personal(
        email=email,
        name=name,
        message_id=msg_id,
        unsubscribe_url=unsubscribe,
        unsubscribe_mailto=unsubscribe_mailto(app.config.newsletter.sender.email, token),
        markers={**marker_values(unsubscribe, preferences, email), SUBSCRIBER_TOKEN: token},
        address=address,
    )


def issue_links(app: App, issue_id: int, built: BuiltIssue) -> dict[str, str]:
    """The issue's http(s) links and their click-redirect tokens (made once, kept)."""
    if not app.settings.click_tracking or built.rendered is None:
        return {}
    urls = collect_links(built.rendered.html)

    def tokens() -> Iterator[str]:
        while True:
            yield secrets.token_urlsafe(9)

    with session_scope(app.engine) as session:
        return links.ensure_links(session, issue_id, urls, tokens())
