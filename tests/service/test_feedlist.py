"""OPML import and export: real OPML files (nested folders, titles with entities), feeds.yaml
written validated, atomically, with a backup and its comments kept; the CLI and the web route."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from newsletter.cli import main
from newsletter.config import load_config
from newsletter.config.opml import read_opml
from newsletter.errors import ConfigError
from newsletter.service.feedlist import export_opml, import_opml
from tests.conftest import ROOT, write_config

OPML = ROOT / "tests" / "data" / "opml"
NOW = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)  # only written into <dateCreated>
EXISTING = [
    {"name": "STAT News", "url": "https://www.statnews.com/feed/", "section": "headlines"},
    {
        "name": "动脉网",
        "url": "https://vcbeat.example.cn/other",
        "section": "industry",
        "language": "zh",
    },
]


def _config_with_comments(folder: Path) -> Path:
    path = write_config(folder, EXISTING)
    text = path.read_text(encoding="utf-8")
    text = text.replace("feeds:\n", "# The editor's note on feeds stays.\nfeeds:\n", 1)
    path.write_text(text + "# A comment after the last feed.\n", encoding="utf-8")
    return path


def test_reading_nested_outlines_and_entities() -> None:
    feeds = read_opml((OPML / "nested.opml").read_bytes())
    titles = [f.title for f in feeds]
    assert titles == [
        "Fierce Biotech — Deals",
        "Endpoints & News",  # escaped twice by its exporter, unescaped once more
        '<Conferences> "2027"',
        "动脉网 — 医疗",
        "Top-level feed",
        "Top-level feed again",
        "Gopher feed",
    ]
    assert feeds[0].folders == ("Financing", "Deals & Money")
    assert feeds[2].url == "https://events.example.org/rss?x=1&y=2"
    assert feeds[3].language == "zh" and feeds[4].folders == ()


def test_a_doctype_or_broken_file_is_refused() -> None:
    with pytest.raises(ConfigError, match="DOCTYPE or ENTITY"):
        read_opml((OPML / "doctype.opml").read_bytes(), "doctype.opml")
    with pytest.raises(ConfigError, match="not well-formed XML"):
        read_opml(b"<opml><body><outline", "broken.opml")
    with pytest.raises(ConfigError, match="not <opml>"):
        read_opml(b"<rss version='2.0'/>", "feed.xml")


def test_import_adds_new_feeds_keeps_comments_and_a_backup(tmp_path: Path) -> None:
    path = _config_with_comments(tmp_path)
    before = path.read_text(encoding="utf-8")
    report = import_opml(load_config(path), (OPML / "nested.opml").read_bytes(), "headlines")

    added = {f.url: (f.name, f.section) for f in report.added}
    assert added == {
        "https://www.fiercebiotech.com/rss/deals.xml": ("Fierce Biotech — Deals", "financing"),
        "https://endpts.com/feed/": ("Endpoints & News", "financing"),
        "https://events.example.org/rss?x=1&y=2": ('<Conferences> "2027"', "events"),
        "https://vcbeat.example.cn/rss": ("动脉网 — 医疗", "headlines"),
        "https://top.example.com/atom.xml": ("Top-level feed", "headlines"),
    }
    skipped = {s.title: s.reason for s in report.skipped}
    assert skipped["Top-level feed again"] == "already configured"
    assert "http or https" in skipped["Gopher feed"]

    text = path.read_text(encoding="utf-8")
    assert "# The editor's note on feeds stays." in text
    assert text.rstrip().endswith("# A comment after the last feed.")
    assert report.backup is not None and report.backup.read_text(encoding="utf-8") == before
    config = load_config(path)  # what the scheduler will read
    assert [f.name for f in config.feeds][:2] == ["STAT News", "动脉网"]
    assert config.feed("动脉网 — 医疗").language == "zh"
    assert len(config.feeds) == 7
    assert not list(tmp_path.glob(".feeds.yaml.*"))  # no temporary file left behind

    again = import_opml(config, (OPML / "nested.opml").read_bytes(), "headlines")
    assert again.added == [] and again.backup is None  # a second import adds nothing


def test_export_then_import_round_trip(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    path = _config_with_comments(source)
    import_opml(load_config(path), (OPML / "nested.opml").read_bytes(), "headlines")
    config = load_config(path)
    exported = export_opml(config, NOW)
    root = ET.fromstring(exported.encode())
    assert root.get("version") == "2.0"
    outlines = root.findall(".//outline[@xmlUrl]")
    assert len(outlines) == len(config.feeds)  # one outline with xmlUrl per feed
    (tmp_path / "exported.opml").write_text(exported, encoding="utf-8")

    target = tmp_path / "target"
    target.mkdir()
    empty = write_config(target, [])
    report = import_opml(load_config(empty), (tmp_path / "exported.opml").read_bytes(), "reports")
    assert report.skipped == []

    def key(feeds: Any) -> list[tuple[str, str, str, str]]:
        return sorted((f.name, f.url, f.section, f.language) for f in feeds)

    assert key(load_config(empty).feeds) == key(config.feeds)


def test_an_import_that_would_not_load_writes_nothing(tmp_path: Path) -> None:
    path = write_config(tmp_path, EXISTING)
    before = path.read_text(encoding="utf-8")
    with pytest.raises(ConfigError, match="not one of the sections"):
        import_opml(load_config(path), (OPML / "nested.opml").read_bytes(), "no_such_section")
    assert path.read_text(encoding="utf-8") == before
    assert not (tmp_path / "feeds.yaml.bak").exists()


def test_feeds_import_and_export_commands(tmp_path: Path) -> None:
    path = write_config(tmp_path, [])
    env = {"NEWSLETTER_CONFIG": str(path), "NEWSLETTER_DATA_DIR": str(tmp_path / "data")}
    runner = CliRunner()
    dry = runner.invoke(main, ["feeds", "import", str(OPML / "nested.opml"), "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    assert "5 feeds would be added, 2 skipped" in dry.output
    assert yaml.safe_load(path.read_text(encoding="utf-8"))["feeds"] == []

    done = runner.invoke(
        main, ["feeds", "import", str(OPML / "nested.opml"), "--section", "industry"], env=env
    )
    assert done.exit_code == 0, done.output
    assert "5 feeds added, 2 skipped" in done.output and "feeds.yaml.bak" in done.output
    assert load_config(path).feed("Top-level feed").section == "industry"

    out = tmp_path / "out.opml"
    exported = runner.invoke(main, ["feeds", "export", str(out)], env=env)
    assert exported.exit_code == 0, exported.output
    assert len(read_opml(out.read_bytes())) == 5

    bad = runner.invoke(main, ["feeds", "import", str(OPML / "doctype.opml")], env=env)
    assert bad.exit_code == 1
    assert bad.output.count("error:") == 1 and "DOCTYPE" in bad.output
    assert "Traceback" not in bad.output
