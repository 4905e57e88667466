"""A fast reader for plain RSS 2.0 documents, with feedparser's results for what we use.

feedparser is about three quarters of the time spent parsing a feed (it is a SAX handler
written in Python, with a dictionary lookup per character run). Most feeds are plain RSS 2.0:
a well-formed UTF-8 document whose items hold only the usual elements, with escaped or CDATA
text. Those are read here with lxml (libxml2) in a few milliseconds; anything else returns
None and goes to feedparser: Atom, RSS 0.9x/1.0, other encodings, a DTD, an element the
reader does not know in an item, markup inside a text element, xml:base, a parse error.

The result has the shape of feedparser's (``version``, ``feed``, ``entries``, each entry a dict
with the keys feedparser gives), so the normalisation after it (parse.py) is shared.
tests/feeds/test_rss_fast.py checks that both readings give the same entries on every real
feed of ../shared/corpus that this reader accepts.
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

CONTENT = "{http://purl.org/rss/1.0/modules/content/}encoded"
DC_CREATOR = "{http://purl.org/dc/elements/1.1/}creator"
DC_DATE = "{http://purl.org/dc/elements/1.1/}date"
# Item elements read, and those known to carry nothing feedparser would turn into a field we
# use (an element outside both sends the document to feedparser).
_READ = {"title", "link", "guid", "description", "pubDate", "author", CONTENT, DC_CREATOR, DC_DATE}
_IGNORED = {
    "category",
    "comments",
    "enclosure",
    "source",
    "{http://wellformedweb.org/CommentAPI/}commentRss",
    "{http://purl.org/rss/1.0/modules/slash/}comments",
    "{http://purl.org/dc/elements/1.1/}subject",
    "{http://rssnamespace.org/feedburner/ext/1.0}origLink",
}
# The attributes an element may carry here (feedparser reads others: a link's href, a
# description's mode="base64", an item's rdf:about); anything else steps aside.
_ATTRIBUTES = {
    "guid": {"isPermaLink"},
    "enclosure": {"url", "length", "type"},
    "category": {"domain"},
    "source": {"url"},
}
# Media types feedparser reads without a note when the document declares UTF-8 (a text/*
# type without a charset is US-ASCII by RFC 3023, which feedparser notes).
_XML_TYPES = ("application/rss+xml", "application/xml", "text/xml", "application/x-rss+xml")
# feedparser decodes entities left in a link or guid after XML parsing (&amp;amp; -> &).
_ENTITY = re.compile(r"&(?:#\d+|#x[0-9a-fA-F]+|[A-Za-z]\w*);")
_XML_DECLARATION = re.compile(rb"^<\?xml[^>]*\?>")
_DECLARED_ENCODING = re.compile(rb"encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")
_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, recover=False
)


def read_rss(body: bytes, content_type: str | None) -> dict[str, Any] | None:
    """feedparser's result for a plain RSS 2.0 document in UTF-8, or None to use feedparser."""
    if not _utf8(body, content_type) or b"<!" in body[:4096].replace(b"<![CDATA[", b""):
        return None
    try:
        root = etree.fromstring(body, _PARSER)
    except (etree.XMLSyntaxError, ValueError):
        return None
    if root.tag != "rss" or root.get("version") != "2.0" or set(root.attrib) - {"version"}:
        return None
    if body.find(b"xml:base") != -1:
        return None
    channels = [child for child in root if child.tag == "channel"]
    if len(channels) != 1 or len(root) != 1:
        return None
    channel = channels[0]
    if channel.attrib:
        return None
    feed: dict[str, Any] = {}
    entries: list[dict[str, Any]] = []
    for child in channel:
        tag = child.tag
        if tag == "item":
            entry = _entry(child)
            if entry is None:
                return None
            entries.append(entry)
        elif tag in ("title", "ttl"):
            text = _text(child)
            if text is None or child.attrib:
                return None
            feed[tag] = text
        elif not isinstance(tag, str):
            continue  # a comment or processing instruction
    if sum(1 for _ in channel.iter("item")) != len(entries):
        return None  # an item nested in another element: feedparser reads it too
    return {"version": "rss20", "feed": feed, "entries": entries, "bozo": False}


def _utf8(body: bytes, content_type: str | None) -> bool:
    """Whether the bytes are UTF-8 by every rule feedparser would apply."""
    if body.startswith(b"\xef\xbb\xbf"):
        body = body[3:]
    if content_type:
        media = content_type.split(";")[0].strip().lower()
        charset = ""
        if "charset=" in content_type.lower():
            charset = content_type.lower().split("charset=", 1)[1].split(";")[0].strip(" \"'")
            if charset not in ("utf-8", "utf8"):
                return False
        if media not in _XML_TYPES or (media.startswith("text/") and not charset):
            return False
    declaration = _XML_DECLARATION.match(body)
    if declaration is None:
        return False  # feedparser's guesses for an undeclared document are its own
    declared = _DECLARED_ENCODING.search(declaration.group())
    if declared is not None and declared.group(1).lower() not in (b"utf-8", b"utf8"):
        return False
    if declared is None and content_type and "charset=" not in content_type.lower():
        return False  # text/xml without a charset is US-ASCII to feedparser (RFC 3023)
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _text(element: Any) -> str | None:
    """The element's text (escaped or CDATA), stripped; None when it holds elements or
    attributes feedparser would read."""
    if len(element):
        return None
    return (element.text or "").strip()


def _entry(item: Any) -> dict[str, Any] | None:
    if item.attrib:
        return None
    entry: dict[str, Any] = {}
    seen: set[str] = set()
    for child in item:
        tag = child.tag
        if not isinstance(tag, str):
            continue
        if set(child.attrib) - _ATTRIBUTES.get(tag, set()):
            return None
        if tag in _IGNORED:
            continue
        if tag not in _READ or tag in seen:
            return None
        seen.add(tag)
        text = _text(child)
        if text is None:
            return None
        if tag == "title":
            entry["title"] = text
        elif tag == "link":
            if _ENTITY.search(text):
                return None
            entry["link"] = text
        elif tag == "guid":
            if _ENTITY.search(text):
                return None
            entry["id"] = text
            if child.get("isPermaLink", "true") == "true":  # feedparser: exactly "true"
                if not text.startswith(("http://", "https://")):
                    return None  # feedparser makes a relative permalink absolute
                entry["_guid_is_link"] = True
        elif tag == "description":
            entry["summary"] = text
        elif tag == CONTENT:
            entry["content"] = [{"value": text}]
        elif tag in ("author", DC_CREATOR):
            if "author" in entry:
                return None
            entry["author"] = text
        elif tag == "pubDate":
            entry["published"] = text
        elif tag == DC_DATE:
            entry["updated"] = text
    if entry.pop("_guid_is_link", False) and "link" not in entry:
        entry["link"] = entry["id"]
    return entry
