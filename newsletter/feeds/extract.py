"""Article pages to their main text: paragraphs and list items extracted with trafilatura
(offline, no models), headings left out, source tags and bylines dropped."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import trafilatura

from newsletter.domain.paragraphs import clean_paragraph
from newsletter.domain.text import has_cjk
from newsletter.errors import FeedError

logging.getLogger("trafilatura").setLevel(logging.ERROR)
MAX_PARAGRAPHS = 60
MIN_CHARS = 20  # shorter paragraphs are captions, buttons and datelines ...
MIN_CHARS_CJK = 8  # ... a Chinese sentence says as much in fewer characters
# The article's own prose: no comments, tables or link lists, and precision over recall.
EXTRACT_OPTIONS: dict[str, Any] = {
    "include_comments": False,
    "include_tables": False,
    "include_links": False,
    "favor_precision": True,
    "deduplicate": True,
}
_SKIPPED = {"head", "code", "table", "graphic", "ref", "fw"}  # headings, code, figures


def article_paragraphs(html: bytes, url: str) -> list[str]:
    """The main text of an article page as paragraphs (list items one each, in page order);
    FeedError when there is none."""
    try:
        document = trafilatura.bare_extraction(html, url=url, **EXTRACT_OPTIONS)
    except (ValueError, TypeError) as exc:  # lxml refuses some inputs outright
        raise FeedError(f"cannot read the article page {url}: {exc}") from exc
    body = getattr(document, "body", None)
    if body is None or len(body) == 0:
        raise FeedError(f"no article text found at {url}")
    paragraphs = []
    for text in _blocks(body):
        cleaned = clean_paragraph(text)
        if len(cleaned) >= (MIN_CHARS_CJK if has_cjk(cleaned) else MIN_CHARS):
            paragraphs.append(cleaned)
        if len(paragraphs) == MAX_PARAGRAPHS:
            break
    if (
        len(paragraphs) > 1
        and len(paragraphs[0]) < 150
        and not paragraphs[0].endswith(tuple('.。!！?？…”"」』）)'))
    ):
        paragraphs = paragraphs[1:]  # the headline in a plain block, not the first paragraph
    if not paragraphs:
        raise FeedError(f"no article text found at {url}")
    return paragraphs


def _blocks(element: Any) -> Iterator[str]:
    """The text of each block of trafilatura's document (p, quote, list item ...)."""
    for child in element:
        tag = child.tag if isinstance(child.tag, str) else ""
        if tag in _SKIPPED:
            continue
        if tag == "list":
            for item in child:
                if item.tag == "item":
                    yield _text(item, skip_lists=True)
                    for nested in item:
                        if nested.tag == "list":
                            yield from _blocks(nested)
            continue
        yield _text(child)


def _text(element: Any, skip_lists: bool = False) -> str:
    """An element's text with its inline children; <lb/> (a <br>) is a space."""
    parts = [element.text or ""]
    for child in element:
        if child.tag == "lb":
            parts.append(" ")
        elif not (skip_lists and child.tag == "list"):
            parts.append(_text(child))
        parts.append(child.tail or "")
    return "".join(parts)
