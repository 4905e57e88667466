"""Real feeds parsed in process (../shared/corpus, skipped when absent): no summary that only
repeats its title; every date the feeds write is read, and read right."""

from __future__ import annotations

import csv
import gzip
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from newsletter.domain.text import summary_repeats_title
from newsletter.errors import FeedError
from newsletter.feeds.parse import ParsedFeed, parse_feed

pytestmark = pytest.mark.corpus
CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
WECHAT = CORPUS / "wechat" / "feeds"
FEEDS = CORPUS / "feeds"
SNAPSHOT = datetime(2021, 6, 20, tzinfo=UTC)  # the day after the snapshot was taken


@pytest.fixture(scope="module")
def wechat_feeds() -> list[Path]:
    if not WECHAT.is_dir():
        pytest.skip(f"the WeChat corpus is not checked out at {WECHAT} (../shared is absent)")
    return sorted(WECHAT.glob("*.xml"))


def test_no_wechat_summary_repeats_its_title(wechat_feeds: list[Path]) -> None:
    """The bridge's content:encoded is the title (3,810 of 3,820 items before the fix): after
    parsing, every summary is empty or says something of its own."""
    entries = 0
    kept = []
    for path in wechat_feeds:
        feed = parse_feed(
            path.read_bytes(),
            url=f"https://wechat.example/{path.name}",
            language="zh",
            now=SNAPSHOT,
        )
        for entry in feed.entries:
            entries += 1
            assert entry.summary_text != entry.title
            if entry.summary_text:
                assert not summary_repeats_title(entry.summary_text, entry.title), (
                    path.name,
                    entry.title,
                    entry.summary_text,
                )
                assert entry.summary_html
                kept.append(entry.summary_text)
            else:
                assert entry.summary_html == ""
    assert entries > 3000  # the whole corpus was read
    # the few real teasers are kept (6 in this snapshot), not thrown away with the rest
    assert 0 < len(kept) < entries // 100


def _corpus_feeds() -> list[tuple[str, bytes, str]]:
    """(file name, body, language) of each ../shared/corpus/feeds file (gzip bodies inflated)."""
    if not FEEDS.is_dir():
        pytest.skip(
            f"the real-world feed corpus is not checked out at {FEEDS} (../shared is absent)"
        )
    with (CORPUS / "SOURCES.tsv").open(encoding="utf-8", newline="") as handle:
        rows = {row["local_file"]: row for row in csv.DictReader(handle, delimiter="\t")}
    result = []
    for path in sorted(FEEDS.iterdir()):
        row = rows.get(path.name, {})
        body = path.read_bytes()
        if row.get("feed_format", "").endswith("-gzip"):
            body = gzip.decompress(body)
        result.append((path.name, body, row.get("language") or "en"))
    return result


def _parse(name: str, body: bytes, language: str) -> ParsedFeed | None:
    try:
        return parse_feed(body, url=f"https://feeds.example/{name}", language=language, now=NOW)
    except FeedError:
        return None  # a truncated document, an HTML page: covered by test_corpus.py


NOW = datetime(2026, 11, 20, tzinfo=UTC)


def test_every_date_in_the_feed_corpus_is_read() -> None:
    """Each entry that carries a date string gets a date (before: 17 of them fell back to
    first-seen, such as "Fri, 05/03/2019 - 15:21" and "Seg, 24 Set 2018 19:18:49 -0300"); an
    entry without one says so."""
    dated = 0
    for name, body, language in _corpus_feeds():
        feed = _parse(name, body, language)
        if feed is None:
            continue
        for entry in feed.entries:
            if entry.date_unknown:
                # "no date in the feed": never "unreadable date …" or "implausible date …"
                assert entry.date_note == "no date in the feed", (
                    name,
                    entry.title,
                    entry.date_note,
                )
            else:
                dated += 1
    assert dated > 1200


def test_feedparser_misreadings_are_read_right() -> None:
    """kc0011.rss (a GB2312 Chinese forum) writes 2020/1/10 14:33:00: feedparser made it
    2020-12-01; it is 10 January, China time."""
    feeds = {name: (body, language) for name, body, language in _corpus_feeds()}
    body, language = feeds["netnewswire__kc0011.rss"]
    feed = _parse("kc0011.rss", body, language)
    assert feed is not None
    china = timezone(timedelta(hours=8))
    dates = {e.published.astimezone(china).date() for e in feed.entries if e.published}
    assert dates and all(d.year == 2020 and d.month == 1 for d in dates), dates
