"""OPML 2.0 feed lists: read the feeds out of an OPML file, and write the configured feeds.

Reading is pure (bytes in, typed outlines out). OPML files from feed readers nest outlines in
folders, and many escape titles twice (``&amp;amp;``): every outline with an ``xmlUrl`` is a
feed, its nearest folder names its section, titles are unescaped once more. A document type
declaration is refused: internal entities can expand without bound (PITFALLS.md).
http://opml.org/spec2.opml
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime

from newsletter.config.model import Config
from newsletter.errors import ConfigError

MAX_OPML_BYTES = 5 * 1024 * 1024
_DOCTYPE = re.compile(rb"<!DOCTYPE|<!ENTITY", re.IGNORECASE)


@dataclass(frozen=True)
class OpmlFeed:
    """One outline with an ``xmlUrl``: its title, address, folder path and language."""

    title: str
    url: str
    folders: tuple[str, ...]  # outer to inner folder titles
    categories: tuple[str, ...]  # the folders' ``category`` attributes (our export writes ids)
    language: str | None
    html_url: str | None


def _text(outline: ET.Element) -> str:
    raw = outline.get("title") or outline.get("text") or ""
    # One more unescape for titles escaped twice by their exporter; whitespace collapsed.
    return " ".join(html.unescape(raw).split())


def read_opml(data: bytes, source: str = "the OPML file") -> list[OpmlFeed]:
    """Every feed outline of an OPML document, in document order."""
    if len(data) > MAX_OPML_BYTES:
        raise ConfigError(f"{source}: larger than {MAX_OPML_BYTES // 1024 // 1024} MB")
    if _DOCTYPE.search(data):
        raise ConfigError(f"{source}: has a DOCTYPE or ENTITY declaration; remove it")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise ConfigError(f"{source}: not well-formed XML ({exc})") from exc
    if root.tag != "opml":
        raise ConfigError(f"{source}: the root element is <{root.tag}>, not <opml>")
    body = root.find("body")
    if body is None:
        raise ConfigError(f"{source}: no <body> element")
    found: list[OpmlFeed] = []

    def walk(element: ET.Element, folders: tuple[str, ...], categories: tuple[str, ...]) -> None:
        for outline in element.findall("outline"):
            url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
            if url:
                found.append(
                    OpmlFeed(
                        title=_text(outline) or url,
                        url=url,
                        folders=folders,
                        categories=categories,
                        language=(outline.get("language") or "").strip() or None,
                        html_url=(outline.get("htmlUrl") or "").strip() or None,
                    )
                )
            if not url:
                category = (outline.get("category") or "").strip()
                walk(outline, (*folders, _text(outline)), (*categories, category))

    walk(body, (), ())
    return found


def write_opml(config: Config, now: datetime) -> str:
    """The configured feeds as OPML 2.0: one folder outline per section, one outline with
    ``xmlUrl`` per feed (disabled feeds included, marked ``isDisabled="true"``)."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = f"{config.newsletter.title}: feeds"
    ET.SubElement(head, "dateCreated").text = format_datetime(now)
    body = ET.SubElement(root, "body")
    for section in config.sections:
        feeds = [f for f in config.feeds if f.section == section.id]
        if not feeds:
            continue
        folder = ET.SubElement(
            body, "outline", text=section.title, title=section.title, category=section.id
        )
        for feed in feeds:
            attrs = {
                "type": "rss",
                "text": feed.name,
                "title": feed.name,
                "xmlUrl": feed.url,
                "language": feed.language,
            }
            if not feed.enabled:
                attrs["isDisabled"] = "true"
            ET.SubElement(folder, "outline", attrs)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


__all__ = ["MAX_OPML_BYTES", "OpmlFeed", "read_opml", "write_opml"]
