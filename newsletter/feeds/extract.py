"""Article pages to their main text: paragraphs extracted with trafilatura (offline, no models)."""

from __future__ import annotations

import logging
from typing import Any

import trafilatura

from newsletter.domain.text import clean_text
from newsletter.errors import FeedError

logging.getLogger("trafilatura").setLevel(logging.ERROR)
MAX_PARAGRAPHS = 60
# The article's own prose: no comments, tables or link lists, and precision over recall.
EXTRACT_OPTIONS: dict[str, Any] = {
    "include_comments": False,
    "include_tables": False,
    "include_links": False,
    "favor_precision": True,
    "deduplicate": True,
}


def article_paragraphs(html: bytes, url: str) -> list[str]:
    """The main text of an article page as paragraphs; FeedError when there is none."""
    try:
        text = trafilatura.extract(html, url=url, **EXTRACT_OPTIONS)
    except (ValueError, TypeError) as exc:  # lxml refuses some inputs outright
        raise FeedError(f"cannot read the article page {url}: {exc}") from exc
    if not text:
        raise FeedError(f"no article text found at {url}")
    paragraphs = [clean_text(p) for p in text.splitlines()]
    if (
        paragraphs
        and len(paragraphs[0]) < 150
        and not paragraphs[0].rstrip().endswith(tuple(".。!！?？"))
    ):
        paragraphs = paragraphs[1:]  # the headline, not the first paragraph
    return [p for p in paragraphs if len(p) >= 20][:MAX_PARAGRAPHS]
