"""Every real-world feed in ../shared/corpus, served over loopback HTTP and ingested for real.

Each file must end as stored items or as one clear per-feed error: never an exception, a hang
or mojibake. Files whose SOURCES.tsv format ends in '-gzip' are raw gzip bytes and are served
with Content-Encoding: gzip, as the sites served them.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from newsletter.demo.server import FeedServer, Route
from newsletter.domain.text import looks_like_mojibake
from newsletter.service.catalog import list_items
from newsletter.service.ingest import IngestReport, ingest

pytestmark = [pytest.mark.corpus, pytest.mark.slow]

# Latin-1/UTF-8 confusion leaves these pairs behind ("Ã©" for "é", "Ã¼" for "ü", "â€™" for "’").
MOJIBAKE = re.compile(r"Ã[\u0080-\u00bf]|â€|Â[\u00a0-\u00bf]|\ufffd")
CONTENT_TYPES = {
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".rdf": "application/rdf+xml",
}


def sources(corpus: Path) -> dict[str, dict[str, str]]:
    """SOURCES.tsv rows by file name."""
    with (corpus.parent / "SOURCES.tsv").open(encoding="utf-8", newline="") as handle:
        return {row["local_file"]: row for row in csv.DictReader(handle, delimiter="\t")}


def serve(server: FeedServer, corpus: Path) -> list[dict[str, Any]]:
    """A route per corpus file; the feeds list for make_app."""
    rows = sources(corpus)
    feeds = []
    for path in sorted(corpus.iterdir()):
        if not path.is_file():
            continue
        row = rows.get(path.name, {})
        headers = (
            {"Content-Encoding": "gzip"} if row.get("feed_format", "").endswith("-gzip") else {}
        )
        content_type = CONTENT_TYPES.get(path.suffix, "application/xml")
        server.routes[f"/{path.name}"] = Route(path.read_bytes(), content_type, headers=headers)
        feeds.append(
            {
                "name": path.name,
                "url": server.url(f"/{path.name}"),
                "section": "headlines",
                "language": row.get("language") or "en",
            }
        )
    return feeds


SCRIPTS = {
    "zh": re.compile(r"[\u4e00-\u9fff]"),
    "ru": re.compile(r"[\u0400-\u04ff]"),
    "el": re.compile(r"[\u0370-\u03ff]"),
    "ur": re.compile(r"[\u0600-\u06ff]"),
    "hi": re.compile(r"[\u0900-\u097f]"),
}


def test_corpus_over_http(corpus_dir: Path, feed_server: FeedServer, make_app: Any) -> None:
    """One real poll of the whole corpus (one run keeps the suite fast), then the checks."""
    rows = sources(corpus_dir)
    feeds = serve(feed_server, corpus_dir)
    app = make_app(feeds=feeds, fetch_max_bytes=5 * 1024 * 1024)
    report = ingest(app)
    titles: dict[str, list[str]] = defaultdict(list)
    for row in list_items(app):
        titles[row.feed].append(row.title)

    check_every_feed_ends_as_items_or_a_clear_error(feeds, report, titles)
    check_known_feeds(report, titles)
    check_no_mojibake(rows, titles)

    # A second poll: the server answers 304 to the stored ETags; nothing is stored twice.
    again = ingest(app)
    assert again.new_items == 0
    statuses = {o.name: o.status for o in again.outcomes}
    ok_before = {o.name for o in report.outcomes if o.status == "ok"}
    assert {name: statuses[name] for name in ok_before} == dict.fromkeys(ok_before, "not_modified")


def check_every_feed_ends_as_items_or_a_clear_error(
    feeds: list[dict[str, Any]], report: IngestReport, titles: dict[str, list[str]]
) -> None:
    names = [feed["name"] for feed in feeds]
    assert len(names) >= 60
    by_name = {outcome.name: outcome for outcome in report.outcomes}
    assert sorted(by_name) == sorted(names)  # every feed reported exactly once
    problems = []
    for name in names:
        outcome = by_name[name]
        if outcome.status == "ok":
            if outcome.new_items < 1 or len(titles[name]) != outcome.new_items:
                problems.append(f"{name}: ok but {outcome.new_items} stored item(s)")
        elif outcome.status == "error":
            error = outcome.error or ""
            if not error or "\n" in error or "Traceback" in error or len(error) > 500:
                problems.append(f"{name}: unclear error {error!r}")
            if error.startswith("parser failed"):
                problems.append(f"{name}: the parser crashed: {error}")
        else:
            problems.append(f"{name}: unexpected status {outcome.status}")
    assert problems == []
    # The corpus is mostly good feeds: nearly all of them must be read.
    assert len(report.failed) <= 3, [(o.name, o.error) for o in report.failed]


def check_known_feeds(report: IngestReport, titles: dict[str, list[str]]) -> None:
    by_name = {outcome.name: outcome for outcome in report.outcomes}

    # Real GB2312 Chinese forum feed: Chinese titles, no mojibake.
    kc = titles["netnewswire__kc0011.rss"]
    assert by_name["netnewswire__kc0011.rss"].status == "ok" and len(kc) == 20
    assert all(SCRIPTS["zh"].search(title) for title in kc), kc
    assert "建国35周年纪念，华表，和平鸽" in kc

    # A MarketWatch feed URL answering with a 'Document Moved' HTML page.
    unrecognized = by_name["rss-parser__unrecognized.rss"]
    assert unrecognized.status == "error"
    assert "not an RSS or Atom feed" in (unrecognized.error or "")
    assert "HTML page" in (unrecognized.error or "")

    # A response truncated by a server error, with no item at all: an error naming the problem.
    truncated = by_name["feed-rs__rss_2.0_invalid_1.xml"]
    assert truncated.status == "error" and "no readable entries" in (truncated.error or "")

    # Raw gzip bodies served with Content-Encoding: gzip are decompressed and read.
    for name in (
        "node-feedparser__compressed.xml",
        "node-feedparser__invalid-characters-gzipped.xml",
    ):
        assert by_name[name].status == "ok" and titles[name], name

    # One item carrying its GUID twice is stored once.
    assert titles["node-feedparser__guid-dupes.xml"] == ["Huh?"]

    # Whitespace before the XML declaration does not push a valid feed to the loose parser.
    for name in ("feedjira__TechCrunch.xml", "prof18__feed-test-malformed.xml"):
        assert by_name[name].status == "ok" and by_name[name].warning is None, name


def check_no_mojibake(rows: dict[str, dict[str, str]], titles: dict[str, list[str]]) -> None:
    bad = {
        name: [t for t in feed_titles if MOJIBAKE.search(t)][:3]
        for name, feed_titles in titles.items()
    }
    assert {name: found for name, found in bad.items() if found} == {}
    # The parser's own detector too: UTF-8 or GBK read as a single-byte charset, per language.
    suspicious = {
        name: [
            t
            for t in feed_titles
            if looks_like_mojibake(t, rows.get(name, {}).get("language") or "en")
        ][:3]
        for name, feed_titles in titles.items()
    }
    assert {name: found for name, found in suspicious.items() if found} == {}
    # Legacy-encoded feeds in other scripts decode to their script.
    for name, row in rows.items():
        script = SCRIPTS.get(row["language"])
        if script and titles.get(name):
            assert any(script.search(t) for t in titles[name]), (name, titles[name][:3])
