"""Full article text for the stories that get key points and briefs, fetched with the feed
limits."""

from __future__ import annotations

import logging

from newsletter.domain.editorial.keypoints import split_paragraphs
from newsletter.domain.paragraphs import (
    TextBlock,
    body_paragraphs,
    html_blocks,
    join_article,
    split_article,
)
from newsletter.errors import FeedError
from newsletter.feeds.extract import article_blocks
from newsletter.feeds.fetch import FetchLimits, Validators, fetch_feed, make_client
from newsletter.service.app import App
from newsletter.storage.db import session_scope
from newsletter.storage.queries import items

log = logging.getLogger(__name__)
TEASER_CHARS = 600  # a feed summary shorter than this is a teaser: fetch the article


def summary_paragraphs(summary_html: str, summary_text: str) -> list[str]:
    """The paragraphs and list items of an item's feed text, as the feed marked them up (the
    stored plain text is one line: it is the fallback for items stored without HTML)."""
    return body_paragraphs(summary_blocks(summary_html, summary_text))


def summary_blocks(summary_html: str, summary_text: str) -> list[TextBlock]:
    """The blocks of an item's feed text (paragraphs, list items and subheadings) as the feed
    marked them up; the stored plain text's paragraphs for items stored without HTML."""
    blocks = html_blocks(summary_html) if summary_html else []
    if any(b.kind != "heading" for b in blocks) or not summary_text:
        return blocks
    return [TextBlock(p) for p in split_paragraphs(summary_text) or [summary_text]]


def ensure_articles(app: App, item_ids: list[int]) -> dict[int, tuple[list[TextBlock], str]]:
    """(blocks, source) of each item's text: the stored or fetched article ("article"), or the
    feed's own full text when it is long ("summary"), in blocks (paragraphs, list items,
    subheadings) as the page or the feed marked them up; items with neither are left out.
    Whether the text is enough for key points or a brief (real body sentences, not the title)
    is for key_points and brief to say."""
    result: dict[int, tuple[list[TextBlock], str]] = {}
    to_fetch: list[tuple[int, str]] = []
    with session_scope(app.engine) as session:
        for item_id in item_ids:
            item = items.get_item(session, item_id)
            if item is None:
                continue
            if item.article_text:
                result[item_id] = (split_article(item.article_text), "article")
            elif len(item.summary_text) >= TEASER_CHARS:
                result[item_id] = (summary_blocks(item.summary_html, item.summary_text), "summary")
            elif app.config.newsletter.fetch_articles and item.url and item.article_status is None:
                to_fetch.append((item_id, item.url))
    for item_id, blocks in fetch_articles(app, to_fetch).items():
        result[item_id] = (blocks, "article")
    return result


def fetch_articles(app: App, to_fetch: list[tuple[int, str]]) -> dict[int, list[TextBlock]]:
    """Fetch and extract each (item id, address) article, storing its text or the reason it
    failed. The address is usually the item's link; the demo gives its loopback copy."""
    result: dict[int, list[TextBlock]] = {}
    if not to_fetch:
        return result
    s = app.settings
    limits = FetchLimits(s.fetch_timeout, s.fetch_max_bytes, s.allow_private_addresses)
    with make_client(limits, max_connections=4) as client:
        for item_id, url in to_fetch:
            status = "ok"
            blocks: list[TextBlock] = []
            try:
                fetched = fetch_feed(client, url, Validators(), limits)
                blocks = article_blocks(fetched.body or b"", fetched.url)
            except FeedError as exc:
                status = f"error: {exc}"[:300]
                log.info("article for item %d not fetched: %s", item_id, exc)
            with session_scope(app.engine) as session:
                items.set_article(session, item_id, join_article(blocks) or None, status)
            if blocks:
                result[item_id] = blocks
    return result
