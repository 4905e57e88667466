"""Editing feeds in feeds.yaml as text: values changed in place with comments and order kept,
missing keys added to the entry, validation before writing, a backup of the previous file,
and stale versions refused with the file untouched."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from newsletter.config import load_config
from newsletter.config.writing import (
    StaleConfigError,
    add_feeds,
    change_feeds,
    edit_feed_text,
    read_feeds_file,
)
from newsletter.errors import ConfigError
from tests.conftest import SECTIONS, newsletter_block

FEEDS_YAML = """\
# Our feeds: keep this comment.
feeds:
  # The first feed, with a comment inside.
  - name: Alpha   # trailing comment
    url: https://alpha.example/feed.xml
    section: headlines
  - {name: Beta, url: "https://beta.example/rss", section: industry}
  - name: Gamma
    url: >-
      https://gamma.example/long/address.xml
    section: headlines
    language: zh
# The end.
"""


def feeds_file(folder: Path) -> Path:
    """feeds.yaml with the project's sections and the feeds above, comments included."""
    head = yaml.safe_dump(
        {"newsletter": newsletter_block(), "sections": SECTIONS},
        allow_unicode=True,
        sort_keys=False,
    )
    path = folder / "feeds.yaml"
    path.write_text(head + FEEDS_YAML, encoding="utf-8")
    return path


def test_an_edit_changes_values_in_place_and_keeps_every_comment() -> None:
    text = edit_feed_text(
        FEEDS_YAML, "Alpha", {"url": "https://alpha.example/v2.xml", "enabled": False}
    )
    assert "  - name: Alpha   # trailing comment\n    url: https://alpha.example/v2.xml\n" in text
    assert "    section: headlines\n    enabled: false\n  - {name: Beta" in text
    for comment in ("# Our feeds", "# The first feed", "# trailing comment", "# The end."):
        assert comment in text
    data = yaml.safe_load(text)["feeds"]
    assert [f["name"] for f in data] == ["Alpha", "Beta", "Gamma"]
    assert data[0]["enabled"] is False and data[1] == yaml.safe_load(FEEDS_YAML)["feeds"][1]


def test_flow_entries_block_scalars_and_values_that_need_quotes() -> None:
    text = edit_feed_text(FEEDS_YAML, "Beta", {"name": "Beta: news", "enabled": False})
    assert (
        "{name: 'Beta: news', url: \"https://beta.example/rss\", section: industry, enabled: false}"
        in text
    )
    text = edit_feed_text(text, "Gamma", {"url": "https://gamma.example/new.xml", "language": "no"})
    data = {f["name"]: f for f in yaml.safe_load(text)["feeds"]}
    # "no" stays the string (the language code of Norwegian), not YAML 1.1's false.
    assert data["Gamma"]["url"] == "https://gamma.example/new.xml"
    assert data["Gamma"]["language"] == "no"
    assert data["Beta: news"]["enabled"] is False
    with pytest.raises(ConfigError, match="no feed named 'Delta'"):
        edit_feed_text(FEEDS_YAML, "Delta", {"enabled": False})


def test_a_write_keeps_a_backup_and_is_refused_when_the_file_changed(tmp_path: Path) -> None:
    path = feeds_file(tmp_path)
    before = read_feeds_file(path)
    config, _ = change_feeds(
        path, before.version, lambda text: edit_feed_text(text, "Alpha", {"enabled": False})
    )
    assert not config.feed("Alpha").enabled and not load_config(path).feed("Alpha").enabled
    backup = tmp_path / "feeds.yaml.bak"
    assert backup.read_text(encoding="utf-8") == before.text
    # The same form again (its version is the old one): refused, nothing written.
    written = path.read_text(encoding="utf-8")
    with pytest.raises(StaleConfigError, match="changed after this page was loaded"):
        change_feeds(
            path, before.version, lambda text: edit_feed_text(text, "Beta", {"enabled": False})
        )
    with pytest.raises(StaleConfigError):
        add_feeds(
            path, [{"name": "D", "url": "https://d.example/", "section": "headlines"}], "0" * 16
        )
    assert path.read_text(encoding="utf-8") == written
    assert backup.read_text(encoding="utf-8") == before.text
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".feeds.yaml-lock",
        "feeds.yaml",
        "feeds.yaml.bak",
    ]


def test_a_change_that_would_not_load_is_not_written(tmp_path: Path) -> None:
    path = feeds_file(tmp_path)
    before = read_feeds_file(path)
    with pytest.raises(
        ConfigError, match=r"feed 'Alpha', field 'section'.*'nowhere' is not one of"
    ):
        change_feeds(
            path, before.version, lambda text: edit_feed_text(text, "Alpha", {"section": "nowhere"})
        )
    with pytest.raises(ConfigError, match="feed 'Beta', field 'name': appears twice"):
        change_feeds(
            path, before.version, lambda text: edit_feed_text(text, "Alpha", {"name": "Beta"})
        )
    assert path.read_text(encoding="utf-8") == before.text
    assert not (tmp_path / "feeds.yaml.bak").exists()
