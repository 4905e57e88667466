"""Real feeds parsed in process (../shared/corpus, skipped when absent): no summary that only
repeats its title; every date the feeds write is read, and read right."""

from __future__ import annotations

import csv
import functools
import gzip
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from newsletter.domain.editorial.brief import brief
from newsletter.domain.editorial.keypoints import key_points
from newsletter.domain.paragraphs import body_paragraphs
from newsletter.domain.text import summary_repeats_title
from newsletter.errors import FeedError
from newsletter.feeds.parse import ParsedFeed, parse_feed
from newsletter.service.articles import TEASER_CHARS, summary_blocks, summary_paragraphs

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
    the title, before), and no brief."""
    for _name, feed in wechat:
        for entry in feed.entries:
            paragraphs = summary_paragraphs(entry.summary_html, entry.summary_text) or [entry.title]
            assert key_points(paragraphs, "zh", title=entry.title) == [], entry.title
            blocks = summary_blocks(entry.summary_html, entry.summary_text)
            assert brief(blocks, "zh", title=entry.title) is None, entry.title


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


def test_full_text_briefs_cite_real_paragraphs() -> None:
    """The long feed texts with enough prose get a brief: every point a sentence of the
    paragraph it cites (never the title), a subheading group's heading one of the article's
    own subheadings, a theme's heading a term found in each of its points. The Chinese forum
    (kc0011) and the one-paragraph abstracts get none."""
    with_brief = 0
    sources: Counter[str] = Counter()
    for name, body, language in _corpus_feeds():
        feed = _parse(name, body, language)
        for entry in feed.entries if feed else []:
            if len(entry.summary_text) < TEASER_CHARS:
                continue
            blocks = summary_blocks(entry.summary_html, entry.summary_text)
            found = brief(blocks, language, title=entry.title)
            if found is None:
                continue
            with_brief += 1
            assert name not in {"netnewswire__kc0011.rss", "netnewswire__bio.rdf"}
            paragraphs = body_paragraphs(blocks)
            headings = {
                " ".join(b.text.split()).rstrip(":：") for b in blocks if b.kind == "heading"
            }
            assert 2 <= len(found.insights) <= 3 and 2 <= len(found.groups) <= 4
            for group in found.groups:
                sources[group.source] += 1
                if group.source == "subheading":
                    assert group.heading in headings, (name, group.heading)
                else:
                    stem = group.heading.lower().removesuffix("s")
                    assert all(stem in p.text.lower() for p in group.points), (name, group)
            points = [*found.insights, *(p for g in found.groups for p in g.points)]
            for point in points:
                assert point.text.removesuffix("…") in paragraphs[point.paragraph - 1]
                assert not summary_repeats_title(point.text, entry.title)
            assert len({p.text for p in points}) == len(points)
    # 58 of the 356 long texts on this corpus: 35 under their subheadings (122 groups), 23 by
    # themes (61 groups) (2026-12-03)
    assert with_brief > 45
    assert sources["subheading"] > 90 and sources["theme"] > 40


def test_a_real_article_with_subheadings() -> None:
    """NSHipster's "NSOperation" (node-feedparser's invalid-characters feed): its groups are
    its own sections, in article order."""
    feeds = {name: (body, language) for name, body, language in _corpus_feeds()}
    body, language = feeds["node-feedparser__invalid-characters-gzipped.xml"]
    feed = _parse("node-feedparser__invalid-characters-gzipped.xml", body, language)
    assert feed is not None
    (entry,) = [e for e in feed.entries if e.title == "NSOperation"]
    blocks = summary_blocks(entry.summary_html, entry.summary_text)
    found = brief(blocks, language, title=entry.title)
    assert found is not None
    order = [b.text for b in blocks if b.kind == "heading"]
    assert [g.source for g in found.groups] == ["subheading"] * len(found.groups)
    positions = [order.index(g.heading) for g in found.groups]
    assert positions == sorted(positions)
    assert any("NSOperationQueue" in p.text for p in found.insights)


def test_a_real_article_without_subheadings() -> None:
    """A TPM news story with no subheadings (node-feedparser's tpm.atom): themes from its own
    recurring terms, none of them the title's words."""
    feeds = {name: (body, language) for name, body, language in _corpus_feeds()}
    body, language = feeds["node-feedparser__tpm.atom"]
    feed = _parse("node-feedparser__tpm.atom", body, language)
    assert feed is not None
    themed = 0
    for entry in feed.entries:
        blocks = summary_blocks(entry.summary_html, entry.summary_text)
        found = brief(blocks, language, title=entry.title)
        if found is None or any(b.kind == "heading" for b in blocks):
            continue
        themed += 1
        title_words = {w.lower() for w in entry.title.split()}
        for group in found.groups:
            assert group.source == "theme"
            assert group.heading.lower() not in title_words
    assert themed >= 3


def test_real_summaries_give_the_same_blocks_without_a_second_parse(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """parse_feed reads a summary's blocks from clean_html's output with html_blocks(
    sanitized=True), which drops nh3's tags without parsing the HTML again: on every summary
    and content of every real feed (WeChat included), the same blocks as through nh3, and nh3
    is asked again for almost none of them."""
    import io

    import feedparser

    from newsletter.domain import paragraphs
    from newsletter.domain.paragraphs import html_blocks
    from newsletter.domain.text import clean_html

    sources = [(name, body) for name, body, _ in _corpus_feeds()]
    sources += [(p.name, p.read_bytes()) for p in sorted(WECHAT.glob("*.xml"))]
    fragments = []
    for name, body in sources:
        result = feedparser.parse(
            io.BytesIO(body), sanitize_html=False, resolve_relative_uris=False
        )
        for entry in result.entries:
            values = [entry.get("summary")] + [c.get("value") for c in entry.get("content", [])]
            for value in values:
                if value:
                    html = clean_html(value, base=f"https://feeds.example/{name}", keep_blocks=True)
                    fragments.append((name, html))
    assert len(fragments) > 5_000
    for name, html in fragments:
        assert html_blocks(html, 3, sanitized=True) == html_blocks(html, 3), name
        assert html_blocks(html, sanitized=True) == html_blocks(html), name
    parsed = []
    clean = paragraphs.nh3.clean
    monkeypatch.setattr(paragraphs.nh3, "clean", lambda *a, **k: parsed.append(1) or clean(*a, **k))
    for _, html in fragments:
        html_blocks(html, 3, sanitized=True)
    assert len(parsed) < len(fragments) // 50, (len(parsed), len(fragments))
