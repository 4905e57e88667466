"""OPML round trip on real OPML files written by a feed reader, not by us: the default feed
lists Liferea ships in Debian's liferea-data package (20 languages; nested folders, numeric
character entities for Cyrillic, Hebrew and Persian titles, ``&amp;`` in folder titles and feed
URLs, search folders with ``xmlUrl="vfolder"``, one typo'd ``hhttps://`` address).

`make install` fetches the pinned package into .venv/share/opml-samples (see the Makefile); the
tests skip, saying so, when it is absent. What the import reports is checked against what this
file counts by reading the OPML with its own walk (and, for three files, against counts made by
hand), then exported, re-read and imported again.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from newsletter.cli import main
from newsletter.config import load_config
from newsletter.config.opml import read_opml
from newsletter.service.feedlist import export_opml, import_opml
from tests.conftest import ROOT, newsletter_block

SAMPLES = ROOT / ".venv" / "share" / "opml-samples" / "liferea-data" / "usr" / "share"
SAMPLES = SAMPLES / "liferea" / "opml"
FILES = sorted(SAMPLES.glob("feedlist_*.opml")) if SAMPLES.is_dir() else []
NOW = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)  # only written into <dateCreated>

pytestmark = pytest.mark.skipif(
    not FILES,
    reason="real OPML samples absent: `make install` fetches Debian's liferea-data 1.14.4-3 "
    "into .venv/share/opml-samples (needs apt-get and the Debian archive)",
)

# Sections named like some of Liferea's folders, so that folders map to sections.
SECTIONS: list[dict[str, Any]] = [
    {"id": "other", "title": "Everything else"},
    {"id": "news", "title": "News"},
    {"id": "open_source", "title": "Open Source"},
    {"id": "podcasts", "title": "Podcasts & Music"},
    {"id": "comics", "title": "Comics"},
]
# A folder names a section by its title or its id, in any case (docs/operators-guide.md).
TITLES = {s["title"].casefold(): s["id"] for s in SECTIONS} | {s["id"]: s["id"] for s in SECTIONS}


def _config(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "feeds.yaml"
    data = {"newsletter": newsletter_block(), "sections": SECTIONS, "feeds": []}
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@dataclass(frozen=True)
class Counted:
    """What this test reads in an OPML file on its own."""

    feeds: dict[str, tuple[str, str]]  # http(s) URL -> (title, section its folders name)
    not_http: list[str]  # xmlUrl values that are not http(s) addresses
    folders: Counter[str]  # folder title -> feeds directly inside it


def _count(path: Path) -> Counted:
    """Walk the file with a parent map (not the recursive walk the importer uses)."""
    root = ET.parse(path).getroot()
    parent = {child: element for element in root.iter() for child in element}
    feeds: dict[str, tuple[str, str]] = {}
    not_http: list[str] = []
    folders: Counter[str] = Counter()
    for outline in root.iter("outline"):
        url = outline.get("xmlUrl")
        if url is None:
            continue
        if not url.startswith(("http://", "https://")):
            not_http.append(url)
            continue
        chain = []
        up = parent.get(outline)
        while up is not None and up.tag == "outline":
            chain.append(" ".join((up.get("title") or up.get("text") or "").split()))
            up = parent.get(up)
        if chain:
            folders[chain[0]] += 1
        section = next((TITLES[t.casefold()] for t in chain if t.casefold() in TITLES), "other")
        title = " ".join((outline.get("title") or outline.get("text") or "").split())
        feeds.setdefault(url, (title, section))
    return Counted(feeds, not_http, folders)


def _rows(config_path: Path) -> list[tuple[str, str, str]]:
    return sorted((f.name, f.url, f.section) for f in load_config(config_path).feeds)


def test_counts_made_by_hand_match_the_reading() -> None:
    """Three files counted by reading them, before any code ran on them."""
    by_name = {p.name: p for p in FILES}
    en = _count(by_name["feedlist_en.opml"])
    assert len(en.feeds) == 15 and en.not_http == ["vfolder", "vfolder"]
    assert en.folders == Counter(
        {"News": 4, "Knowledge": 2, "Open Source": 3, "Podcasts": 1, "Music Blogs": 4, "Comics": 1}
    )
    fa = _count(by_name["feedlist_fa.opml"])
    assert len(fa.feeds) == 10
    assert fa.not_http == ["hhttps://bigbangpage.com/?feed=rss2", "vfolder", "vfolder"]
    sv = _count(by_name["feedlist_sv.opml"])
    assert len(sv.feeds) == 16 and sv.not_http == []  # the Swedish list has no search folders
    bg = _count(by_name["feedlist_bg.opml"])
    assert bg.feeds["http://news.netinfo.bg/ni_gennews.php?p=2&c=10&last=1"][0] == (
        "НетИнфо - Новини"  # written as &#x41D;&#x435;… in the file
    )


@pytest.mark.parametrize("name", [p.name for p in FILES] or ["feedlist_en.opml"])
def test_each_real_file_imports_exports_and_imports_again(tmp_path: Path, name: str) -> None:
    path = SAMPLES / name
    counted = _count(path)
    data = path.read_bytes()

    config_path = _config(tmp_path / "first")
    report = import_opml(load_config(config_path), data, source=name)
    assert {f.url: (f.name, f.section) for f in report.added} == counted.feeds
    assert sorted(s.url for s in report.skipped) == sorted(counted.not_http)
    assert all("http or https" in s.reason for s in report.skipped)
    assert _rows(config_path) == sorted((t, u, s) for u, (t, s) in counted.feeds.items())

    again = import_opml(load_config(config_path), data, source=name)
    assert again.added == [] and again.backup is None  # a second import adds nothing
    assert {s.url for s in again.skipped if s.reason == "already configured"} == set(counted.feeds)

    exported = export_opml(load_config(config_path), NOW)
    root = ET.fromstring(exported.encode("utf-8"))
    outlines = root.findall(".//outline[@xmlUrl]")
    assert sorted((o.get("text"), o.get("xmlUrl")) for o in outlines) == sorted(
        (t, u) for u, (t, _s) in counted.feeds.items()
    )  # names with their entities decoded once, URLs with their '&' intact
    assert {(f.title, f.url) for f in read_opml(exported.encode("utf-8"))} == {
        (t, u) for u, (t, _s) in counted.feeds.items()
    }

    second = _config(tmp_path / "second")
    (tmp_path / "exported.opml").write_text(exported, encoding="utf-8")
    back = import_opml(load_config(second), (tmp_path / "exported.opml").read_bytes())
    assert back.skipped == []
    assert _rows(second) == _rows(config_path)  # nothing lost, every section kept


def test_all_twenty_lists_into_one_feeds_yaml(tmp_path: Path) -> None:
    """Feeds repeated across languages (the shared English block) are reported as duplicates."""
    config_path = _config(tmp_path / "all")
    seen: set[str] = set()
    duplicates = 0
    for path in FILES:
        counted = _count(path)
        report = import_opml(load_config(config_path), path.read_bytes(), source=path.name)
        new = set(counted.feeds) - seen
        assert {f.url for f in report.added} == new
        repeated = {s.url for s in report.skipped if s.reason == "already configured"}
        assert repeated == set(counted.feeds) & seen
        duplicates += len(repeated)
        for feed in report.added:
            assert feed.name.startswith(counted.feeds[feed.url][0][:190])
        seen |= new
    assert duplicates > 0  # every list repeats the English block
    config = load_config(config_path)
    assert {f.url for f in config.feeds} == seen
    names = [f.name.casefold() for f in config.feeds]
    assert len(names) == len(set(names))  # same title, other URL: a numbered name

    exported = export_opml(config, NOW)
    second = _config(tmp_path / "second")
    (tmp_path / "all.opml").write_text(exported, encoding="utf-8")
    back = import_opml(load_config(second), (tmp_path / "all.opml").read_bytes())
    assert back.skipped == [] and _rows(second) == _rows(config_path)


def test_the_cli_imports_and_exports_a_real_file(tmp_path: Path) -> None:
    source = SAMPLES / "feedlist_he.opml"
    counted = _count(source)
    config_path = _config(tmp_path)
    env = {"NEWSLETTER_CONFIG": str(config_path), "NEWSLETTER_DATA_DIR": str(tmp_path / "data")}
    runner = CliRunner()
    done = runner.invoke(main, ["feeds", "import", str(source), "--section", "other"], env=env)
    assert done.exit_code == 0, done.output
    summary = f"{len(counted.feeds)} feeds added, {len(counted.not_http)} skipped"
    assert summary in done.output and "feeds.yaml.bak" in done.output
    for url, (title, section) in counted.feeds.items():
        assert f"added: {title} ({section}) {url}" in done.output

    again = runner.invoke(main, ["feeds", "import", str(source)], env=env)
    assert again.exit_code == 0, again.output
    assert f"0 feeds added, {len(counted.feeds) + len(counted.not_http)} skipped" in again.output

    out = tmp_path / "out.opml"
    exported = runner.invoke(main, ["feeds", "export", str(out)], env=env)
    assert exported.exit_code == 0, exported.output
    assert {(f.title, f.url) for f in read_opml(out.read_bytes())} == {
        (t, u) for u, (t, _s) in counted.feeds.items()
    }
