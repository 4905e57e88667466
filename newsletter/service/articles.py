"""Full article text for the stories that get key points, fetched with the feed limits."""

from __future__ import annotations

import logging

from newsletter.domain.editorial.keypoints import split_paragraphs
from newsletter.domain.paragraphs import body_paragraphs, html_blocks
from newsletter.errors import FeedError
from newsletter.feeds.extract import article_paragraphs
from newsletter.feeds.fetch import FetchLimits, Validators, fetch_feed, make_client
from newsletter.service.app import App
from newsletter.storage.db import session_scope
from newsletter.storage.queries import items

log = logging.getLogger(__name__)
TEASER_CHARS = 600  # a feed summary shorter than this is a teaser: fetch the article


def summary_paragraphs(summary_html: str, summary_text: str) -> list[str]:
    """The paragraphs and list items of an item's feed text, as the feed marked them up (the
    stored plain text is one line: it is the fallback for items stored without HTML)."""
    paragraphs = body_paragraphs(html_blocks(summary_html)) if summary_html else []
    if paragraphs or not summary_text:
        return paragraphs
    return split_paragraphs(summary_text) or [summary_text]


def ensure_articles(app: App, item_ids: list[int]) -> dict[int, tuple[list[str], str]]:
    """(paragraphs, source) of each item's text: the stored or fetched article ("article"), or
    the feed's own full text when it is long ("summary"), in paragraphs as the feed marked them
    up; items with neither are left out. Whether the text is enough for key points (real body
    sentences, not the title) is for key_points to say."""
    result: dict[int, tuple[list[str], str]] = {}
    to_fetch: list[tuple[int, str]] = []
    with session_scope(app.engine) as session:
        for item_id in item_ids:
            item = items.get_item(session, item_id)
            if item is None:
                continue
            if item.article_text:
                result[item_id] = (item.article_text.split("\n\n"), "article")
            elif len(item.summary_text) >= TEASER_CHARS:
                result[item_id] = (
                    summary_paragraphs(item.summary_html, item.summary_text),
                    "summary",
                )
            elif app.config.newsletter.fetch_articles and item.url and item.article_status is None:
                to_fetch.append((item_id, item.url))
    for item_id, paragraphs in _fetch_articles(app, to_fetch).items():
        result[item_id] = (paragraphs, "article")
    return result


def _fetch_articles(app: App, to_fetch: list[tuple[int, str]]) -> dict[int, list[str]]:
    """Fetch and extract each article, storing its text or the reason it failed."""
    result: dict[int, list[str]] = {}
    if not to_fetch:
        return result
    s = app.settings
    limits = FetchLimits(s.fetch_timeout, s.fetch_max_bytes, s.allow_private_addresses)
    with make_client(limits, max_connections=4) as client:
        for item_id, url in to_fetch:
            status = "ok"
            paragraphs: list[str] = []
            try:
                fetched = fetch_feed(client, url, Validators(), limits)
                paragraphs = article_paragraphs(fetched.body or b"", fetched.url)
            except FeedError as exc:
                status = f"error: {exc}"[:300]
                log.info("article for item %d not fetched: %s", item_id, exc)
            with session_scope(app.engine) as session:
                items.set_article(session, item_id, "\n\n".join(paragraphs) or None, status)
            if paragraphs:
                result[item_id] = paragraphs
    return result
