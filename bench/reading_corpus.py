"""The labelled real items (tests/data/labels) joined to their text in ../shared/corpus.

Every label file names its feed file and the item's id (its link); the texts stay in
../shared and are read with the product's parser, exactly as ingest reads them. Used by
bench/train_reading.py (to rebuild the shipped training data) and bench/eval_wechat.py.
"""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from newsletter.errors import FeedError
from newsletter.feeds.parse import ParsedFeed, parse_feed

REPO = Path(__file__).resolve().parents[1]
LABELS = REPO / "tests" / "data" / "labels"
SHARED = REPO.parent / "shared" / "corpus"
# label file -> (corpus folder, language the feeds are read with)
LABEL_FILES = {
    "wechat_week.jsonl": ("wechat/feeds", "zh"),
    "wechat_before_A.jsonl": ("wechat/feeds", "zh"),
    "wechat_before_B.jsonl": ("wechat/feeds", "zh"),
    "wechat_rest.jsonl": ("wechat/feeds", "zh"),
    "feeds_en_zh.jsonl": ("feeds", "en"),
}
# The WeChat snapshot (2021-06-19, China time) stands in for "now", so the parser's "no dates
# from the future" check and the results do not depend on the day this runs.
SNAPSHOT = datetime(2021, 6, 20, tzinfo=timezone(timedelta(hours=8)))
FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)  # the other feeds span 2005-2025


@dataclass(frozen=True)
class LabelledText:
    """One label with the text the product reads for it."""

    label: dict[str, Any]
    label_file: str
    feed_file: str
    feed_title: str
    title: str
    summary: str
    url: str | None
    published: datetime | None
    language: str


def load_labels(name: str) -> list[dict[str, Any]]:
    """The rows of one label file (empty when it is not there)."""
    path = LABELS / name
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _parse(path: Path, language: str, wechat: bool) -> ParsedFeed:
    body = path.read_bytes()
    if body[:2] == b"\x1f\x8b":  # served with Content-Encoding: gzip
        body = gzip.decompress(body)
    return parse_feed(
        body,
        url=f"http://corpus.invalid/{path.name}",
        language=language,
        now=SNAPSHOT if wechat else FAR_FUTURE,
        max_entries=1000,
    )


def _language(parsed: ParsedFeed, default: str, title: str) -> str:
    if any("\u4e00" <= ch <= "\u9fff" for ch in title):
        return "zh"
    return default


def labelled_texts(
    names: tuple[str, ...] = tuple(LABEL_FILES),
) -> Iterator[LabelledText | dict[str, Any]]:
    """Each label joined to its entry; a label whose entry is not found is yielded as is."""
    for name in names:
        folder, language = LABEL_FILES[name]
        by_file: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for label in load_labels(name):
            by_file[label["file"]].append(label)
        for feed_file, labels in sorted(by_file.items()):
            path = SHARED / folder / feed_file
            try:
                parsed = _parse(path, language, folder.startswith("wechat"))
            except FeedError:
                yield from labels
                continue
            entries = parsed.entries
            by_url = {e.url: e for e in entries if e.url}
            by_key = {e.key: e for e in entries}
            feed_title = parsed.title.removesuffix(" | wechat-feeds") or feed_file
            for label in labels:
                link = label["link"]
                entry = by_url.get(link) or by_key.get(link)
                if entry is None and "#" in link:
                    _base, _, index = link.rpartition("#")
                    if index.isdigit() and int(index) < len(entries):
                        entry = entries[int(index)]
                if entry is None:
                    entry = next(
                        (e for e in entries if e.url and unquote(e.url) == unquote(link)), None
                    )
                if entry is None:
                    # Relative links: the parser resolves them against the feed's address.
                    entry = next((e for e in entries if e.url and e.url.endswith(link)), None)
                if entry is None:
                    yield label
                    continue
                yield LabelledText(
                    label,
                    name,
                    feed_file,
                    feed_title,
                    entry.title,
                    entry.summary_text,
                    entry.url,
                    entry.published,
                    _language(parsed, language, entry.title),
                )
