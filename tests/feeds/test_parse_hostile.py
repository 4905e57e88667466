"""newsletter.feeds.parse on broken input: empty and truncated documents, caps on entries and fields,
local-time dates (feed timezone, +08:00 in Chinese feeds), mojibake retried and repaired."""

from __future__ import annotations

import tracemalloc
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from newsletter.domain.text import looks_like_mojibake, repair_mojibake
from newsletter.errors import FeedError
from newsletter.feeds.parse import MAX_TITLE_CHARS, MAX_URL_CHARS, ParsedFeed, parse_feed

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
URL = "https://news.example.com/feed.xml"
ZH_TITLE = "康澜生物完成2000万美元A轮融资，云岭资本领投"


def rss(items: str, decl: str = '<?xml version="1.0" encoding="utf-8"?>') -> str:
    return f'{decl}<rss version="2.0"><channel><title>医疗资讯</title>{items}</channel></rss>'


def item(title: str, guid: str = "g1", **extra: str) -> str:
    tags = "".join(f"<{k}>{v}</{k}>" for k, v in extra.items())
    return f"<item><title>{title}</title><guid>{guid}</guid>{tags}</item>"


def parse(body: bytes, **kwargs: object) -> ParsedFeed:
    kwargs.setdefault("url", URL)
    kwargs.setdefault("now", NOW)
    return parse_feed(body, **kwargs)  # type: ignore[arg-type]


# -- empty, truncated, too many -----------------------------------------------------------------


@pytest.mark.parametrize("body", [b"", b" \r\n\t "])
def test_empty_body(body: bytes) -> None:
    with pytest.raises(FeedError) as info:
        parse(body)
    assert str(info.value) == (
        "not an RSS or Atom feed: the server sent an empty body; check the feed URL"
    )


def test_truncated_before_any_entry_is_an_error_that_says_so() -> None:
    body = rss(item("Whole")).encode()
    with pytest.raises(FeedError) as info:
        parse(body[: body.index(b"<item>") - 3])
    message = str(info.value)
    assert message.startswith("malformed feed with no readable entries: the document is truncated")


def test_truncated_after_some_entries_keeps_them_with_a_warning() -> None:
    body = rss(item("First", "a") + item("Second", "b")).encode()
    feed = parse(body[: body.index(b"<title>Second") + 10])
    assert [e.title for e in feed.entries][:1] == ["First"]
    assert feed.warning is not None and "the document is truncated" in feed.warning


def test_entries_are_capped_before_feedparser_builds_them() -> None:
    # A million empty items fit in 7 MB; feedparser would need minutes and gigabytes.
    body = rss("<item/>" * 1_000_000 + item("Last", "z")).encode()
    tracemalloc.start()
    try:
        feed = parse(body, max_entries=50)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 200 * 1024 * 1024  # feedparser building them all would need gigabytes
    assert len(feed.entries) <= 50
    assert feed.warning is not None
    assert "kept the first 50 of 1,000,001 entries (NEWSLETTER_MAX_ITEMS_PER_FEED)" in feed.warning


def test_cap_keeps_the_first_entries_and_the_document_intact() -> None:
    body = rss("".join(item(f"Story {n}", f"g{n}") for n in range(30))).encode()
    feed = parse(body, max_entries=10)
    assert [e.title for e in feed.entries] == [f"Story {n}" for n in range(10)]
    assert feed.title == "医疗资讯" and feed.warning is not None
    assert "recovered" not in feed.warning  # the cut document is still well-formed


def test_field_lengths_are_capped() -> None:
    long_link = "https://example.com/" + "a" * (MAX_URL_CHARS + 10)
    feed = parse(rss(item("T" * 50_000, link=long_link, author="x" * 5000)).encode())
    (entry,) = feed.entries
    assert len(entry.title) == MAX_TITLE_CHARS
    assert entry.url is None  # a link longer than the column is dropped, never cut
    assert entry.author is not None and len(entry.author) == 300


def test_entity_declarations_are_removed_with_a_warning() -> None:
    doc = rss(
        item("Bomb &big;", description="&big;"),
        decl='<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY big "' + "A" * 50_000 + '">\n]>\n',
    )
    feed = parse(doc.encode())
    assert "A" * 100 not in feed.entries[0].summary_text
    assert feed.warning is not None
    assert "declares a DTD with entities (<!ENTITY>); it was removed unread" in feed.warning


# -- dates in local time ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "language", "zone", "expected"),
    [
        # Chinese feeds: a date without an offset is China time unless the feed says otherwise.
        ("2024-03-15", "zh", None, datetime(2024, 3, 14, 16, 0, tzinfo=UTC)),
        ("2024-03-15 10:00:00", "zh", None, datetime(2024, 3, 15, 2, 0, tzinfo=UTC)),
        ("2024-03-15T10:00", "zh-cn", None, datetime(2024, 3, 15, 2, 0, tzinfo=UTC)),
        ("2024-03-15 10:00:00", "zh", "Asia/Taipei", datetime(2024, 3, 15, 2, 0, tzinfo=UTC)),
        (
            "Fri, 15 Mar 2024 10:00:00 CST",
            "zh",
            "Asia/Shanghai",
            datetime(2024, 3, 15, 2, 0, tzinfo=UTC),
        ),
        ("2024年3月15日", "zh", "Asia/Tokyo", datetime(2024, 3, 14, 15, 0, tzinfo=UTC)),
        # Other feeds: the feed's timezone when given, else UTC as before.
        ("2024-03-15", "en", None, datetime(2024, 3, 15, 0, 0, tzinfo=UTC)),
        ("2024-03-15", "en", "America/New_York", datetime(2024, 3, 15, 4, 0, tzinfo=UTC)),
        ("2024-07-15 09:30:00", "en", "Europe/Berlin", datetime(2024, 7, 15, 7, 30, tzinfo=UTC)),
        (
            "Fri, 15 Mar 2024 10:00:00 CST",
            "en",
            "Asia/Taipei",
            datetime(2024, 3, 15, 2, 0, tzinfo=UTC),
        ),
        # An explicit offset always wins.
        ("2024-03-15T10:00:00+02:00", "zh", "Asia/Tokyo", datetime(2024, 3, 15, 8, 0, tzinfo=UTC)),
        (
            "Fri, 15 Mar 2024 10:00:00 GMT",
            "en",
            "Asia/Tokyo",
            datetime(2024, 3, 15, 10, 0, tzinfo=UTC),
        ),
    ],
)
def test_dates_without_an_offset_are_local_time(
    raw: str, language: str, zone: str | None, expected: datetime
) -> None:
    feed = parse(
        rss(item("Dated", pubDate=raw)).encode(),
        language=language,
        timezone=ZoneInfo(zone) if zone else None,
    )
    assert feed.entries[0].published == expected


@pytest.mark.parametrize("raw", ["1994-12-31", "0000-00-00", "2026-11-23", "9999-01-01 00:00:00"])
def test_local_dates_keep_the_plausibility_policy(raw: str) -> None:
    feed = parse(rss(item("Dated", pubDate=raw)).encode(), language="zh")
    assert feed.entries[0].published is None


# -- encodings and mojibake ---------------------------------------------------------------------


def test_gbk_declared_as_utf8_in_a_chinese_feed_is_read_as_gb18030() -> None:
    body = rss(item(ZH_TITLE, description="医保目录调整方案发布")).encode("gbk")
    feed = parse(body, language="zh", content_type="application/rss+xml; charset=utf-8")
    assert [e.title for e in feed.entries] == [ZH_TITLE]
    # feedparser notices this one itself; either way the warning names GB18030.
    assert feed.warning is not None and "gb18030" in feed.warning.lower()


def test_gbk_declared_as_latin1_in_a_chinese_feed_is_retried_as_gb18030() -> None:
    decl = '<?xml version="1.0" encoding="iso-8859-1"?>'
    body = rss(item(ZH_TITLE, description="医保目录调整方案发布"), decl).encode("gbk")
    feed = parse(body, language="zh")
    assert [e.title for e in feed.entries] == [ZH_TITLE]
    assert feed.entries[0].summary_text == "医保目录调整方案发布"
    assert feed.warning is not None and "read as gb18030 instead" in feed.warning


def test_utf8_declared_as_latin1_in_a_chinese_feed_is_read_as_utf8() -> None:
    body = rss(item(ZH_TITLE), decl='<?xml version="1.0" encoding="iso-8859-1"?>').encode()
    feed = parse(body, language="zh")
    assert [e.title for e in feed.entries] == [ZH_TITLE]
    assert feed.title == "医疗资讯"


def test_an_explicit_encoding_is_not_second_guessed() -> None:
    body = rss(item(ZH_TITLE)).encode("gbk")
    feed = parse(body, language="zh", encoding="gb18030")
    assert feed.entries[0].title == ZH_TITLE and feed.warning is None


def test_double_encoded_titles_are_repaired() -> None:
    title = "Café au lait – naïve"
    mangled = title.encode("utf-8").decode("cp1252")
    feed = parse(rss(item(mangled)).encode())
    assert feed.entries[0].title == title


def test_titles_that_stay_mojibake_are_left_out() -> None:
    body = rss(item(ZH_TITLE, "good") + item("\ufffd\ufffd\ufffd news", "bad")).encode()
    feed = parse(body, language="zh")
    assert [e.title for e in feed.entries] == [ZH_TITLE]
    assert feed.warning is not None and "1 entries left out: their titles are mojibake" in (
        feed.warning
    )


def test_a_feed_of_nothing_but_mojibake_is_an_error() -> None:
    with pytest.raises(FeedError, match="every title is mojibake"):
        parse(rss(item("\ufffd\ufffd news", "a") + item("more \ufffd", "b")).encode())


@pytest.mark.parametrize(
    ("text", "language", "fixed"),
    [
        ("åŒ»ç–—æ–°é—»", "en", "医疗新闻"),  # UTF-8 read as Windows-1252
        ("Ò½ÁÆÐÂÎÅ", "zh", "医疗新闻"),  # GBK read as Latin-1
        ("Ò½ÁÆĞÂÎÅ", "zh", "医疗新闻"),  # GBK read as Windows-1254 (PITFALLS.md)
        ("CafÃ© au lait", "en", "Café au lait"),
    ],
)
def test_mojibake_is_recognised_and_repaired(text: str, language: str, fixed: str) -> None:
    assert looks_like_mojibake(text, language)
    assert repair_mojibake(text) == fixed


@pytest.mark.parametrize(
    "text",
    [
        "Café à Genève",
        "Straße München",
        "naïve résumé",
        "Zhōngguó Yīyào",
        ZH_TITLE,
        "Ærøskøbing Æblegård",
        "FDA approves first oral GLP-1 pill",
    ],
)
def test_real_text_is_not_mojibake(text: str) -> None:
    assert not looks_like_mojibake(text, "zh") and not looks_like_mojibake(text, "en")


@pytest.mark.parametrize("ref", ["&#55296;", "&#xD800;", "&#xdfff;", "&#1114112;", "&#x110000;"])
def test_a_character_reference_to_no_character_costs_one_character_not_the_feed(ref: str) -> None:
    body = rss(
        item(f"Acme {ref} raises $5M", "g1", description=f"x {ref} y") + item("Second item", "g2")
    ).encode()
    parsed = parse(body)
    assert [e.title for e in parsed.entries] == ["Acme raises $5M", "Second item"]
