"""Real feeds parsed in process (../shared/corpus, skipped when absent): no summary that only
repeats its title; every date the feeds write is read, and read right."""

from __future__ import annotations

import csv
import functools
import gzip
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from newsletter.domain.editorial.keypoints import key_points
from newsletter.domain.text import summary_repeats_title
from newsletter.errors import FeedError
from newsletter.feeds.parse import ParsedFeed, parse_feed
from newsletter.service.articles import TEASER_CHARS, summary_paragraphs

pytestmark = pytest.mark.corpus
CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
WECHAT = CORPUS / "wechat" / "feeds"
FEEDS = CORPUS / "feeds"
SNAPSHOT = datetime(2021, 6, 20, tzinfo=UTC)  # the day after the snapshot was taken


@pytest.fixture(scope="module")
def wechat() -> list[tuple[str, ParsedFeed]]:
    """(file name, parsed feed) of every WeChat feed, parsed once for the module."""
    if not WECHAT.is_dir():
        pytest.skip(f"the WeChat corpus is not checked out at {WECHAT} (../shared is absent)")
    return [
        (
            path.name,
            parse_feed(
                path.read_bytes(),
                url=f"https://wechat.example/{path.name}",
                language="zh",
                now=SNAPSHOT,
            ),
        )
        for path in sorted(WECHAT.glob("*.xml"))
    ]


def test_no_wechat_summary_repeats_its_title(wechat: list[tuple[str, ParsedFeed]]) -> None:
    """The bridge's content:encoded is the title (3,810 of 3,820 items before the fix): after
    parsing, every summary is empty or says something of its own."""
    entries = 0
    kept = []
    for name, feed in wechat:
        for entry in feed.entries:
            entries += 1
            assert entry.summary_text != entry.title
            if entry.summary_text:
                assert not summary_repeats_title(entry.summary_text, entry.title), (
                    name,
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


@functools.cache
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


@functools.cache
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


def test_no_wechat_item_gets_key_points(wechat: list[tuple[str, ParsedFeed]]) -> None:
    """Title-only items have no body text: no key points (724 of 3,820 got two or more, made of
    the title, before)."""
    for _name, feed in wechat:
        for entry in feed.entries:
            paragraphs = summary_paragraphs(entry.summary_html, entry.summary_text) or [entry.title]
            assert key_points(paragraphs, "zh", title=entry.title) == [], entry.title


def test_full_text_key_points_cite_real_paragraphs() -> None:
    """Long feed texts keep their paragraphs: key points cite several of them (before, the text
    was one paragraph and every point cited [¶1]); no point is the title."""
    with_points = citing_several = 0
    for name, body, language in _corpus_feeds():
        feed = _parse(name, body, language)
        for entry in feed.entries if feed else []:
            if len(entry.summary_text) < TEASER_CHARS:
                continue
            paragraphs = summary_paragraphs(entry.summary_html, entry.summary_text)
            points = key_points(paragraphs, language, title=entry.title)
            for point in points:
                assert point.text.removesuffix("…") in paragraphs[point.paragraph - 1]
                assert not summary_repeats_title(point.text, entry.title)
            with_points += bool(points)
            citing_several += len({p.paragraph for p in points}) > 1
    assert with_points > 300
    assert citing_several > with_points // 2  # 234 of 350 on this corpus
