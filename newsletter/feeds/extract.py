"""Article pages to their main text: paragraphs, list items and subheadings extracted with
trafilatura (offline, no models), source tags and bylines dropped."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import trafilatura

from newsletter.domain.paragraphs import HEADING_CHARS, TextBlock, clean_paragraph, strip_markers
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
_SKIPPED = {"code", "table", "graphic", "ref", "fw"}  # code, figures, notes
_SENTENCE_END = tuple('.。!！?？…”"」』）)')


def article_paragraphs(html: bytes, url: str) -> list[str]:
    """The main text of an article page as paragraphs (list items one each, in page order,
    headings left out); FeedError when there is none."""
    return [b.text for b in article_blocks(html, url) if b.kind != "heading"]


def article_blocks(html: bytes, url: str) -> list[TextBlock]:
    """The main text of an article page as blocks: paragraphs (list items one each) and the
    subheadings between them, in page order; FeedError when there is no paragraph."""
    try:
        document = trafilatura.bare_extraction(html, url=url, **EXTRACT_OPTIONS)
    except (ValueError, TypeError) as exc:  # lxml refuses some inputs outright
        raise FeedError(f"cannot read the article page {url}: {exc}") from exc
    body = getattr(document, "body", None)
    if body is None or len(body) == 0:
        raise FeedError(f"no article text found at {url}")
    blocks: list[TextBlock] = []
    paragraphs = 0
    for text, heading in _blocks(body):
        cleaned = clean_paragraph(strip_markers(text))
        cjk = has_cjk(cleaned)
        if len(cleaned) >= (MIN_CHARS_CJK if cjk else MIN_CHARS) and not heading:
            blocks.append(TextBlock(cleaned, "paragraph"))
            paragraphs += 1
        elif (
            cleaned
            and len(cleaned) <= HEADING_CHARS["zh" if cjk else "en"]
            and not cleaned.endswith(_SENTENCE_END)
        ):
            # a subheading, or a short bold line standing as one ("一、调整范围")
            blocks.append(TextBlock(cleaned, "heading"))
        if paragraphs == MAX_PARAGRAPHS:
            break
    # A heading counts only when a paragraph follows it; none before the first paragraph
    # (the headline, a kicker).
    start = next((i for i, b in enumerate(blocks) if b.kind != "heading"), len(blocks))
    blocks = [
        b
        for i, b in enumerate(blocks)
        if b.kind != "heading" or (start < i < len(blocks) - 1 and blocks[i + 1].kind != "heading")
    ]
    first = blocks[0] if blocks else None
    if (
        paragraphs > 1
        and first is not None
        and len(first.text) < 150
        and not first.text.endswith(_SENTENCE_END)
    ):
        blocks = blocks[1:]  # the headline in a plain block, not the first paragraph
        while blocks and blocks[0].kind == "heading":
            blocks = blocks[1:]
    if not any(b.kind != "heading" for b in blocks):
        raise FeedError(f"no article text found at {url}")
    return blocks


def _blocks(element: Any) -> Iterator[tuple[str, bool]]:
    """(text, is a heading) of each block of trafilatura's document (p, quote, list item,
    head ...)."""
    for child in element:
        tag = child.tag if isinstance(child.tag, str) else ""
        if tag in _SKIPPED:
            continue
        if tag == "list":
            for item in child:
                if item.tag == "item":
                    yield _text(item, skip_lists=True), False
                    for nested in item:
                        if nested.tag == "list":
                            yield from _blocks(nested)
            continue
        yield _text(child), tag == "head"


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
