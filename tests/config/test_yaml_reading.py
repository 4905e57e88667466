"""feeds.yaml is read from the parser's events (no node tree kept: memory for large lists);
the data must be PyYAML's, and what the event reader leaves aside must still load."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from newsletter.config import load_config
from newsletter.config.loading import _lean_data, _NotPlain
from newsletter.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
SAFE: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _pyyaml(text: str) -> Any:
    return yaml.load(text, Loader=SAFE)


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\nb: 1.5\nc: true\nd: no\ne: ~\nf: '2026-12-01'\ng: 2026-12-01\nh: 0x1f\n",
        "list: [1, two, {three: 3}]\nnested:\n  - x: [a, b]\n    y: {z: null}\n",
        "anchored: &a {k: v}\nagain: *a\nscalar: &s 12\nsame: *s\n",
        'quoted: "a: b"\nplain: a b\nfolded: >\n  one\n  two\nblock: |\n  x\n  y\n',
        "explicit: !!str 12\nbinary: !!binary aGk=\nfloat: !!float 1\n",
        "[1, 2, 3]\n",
        "just a string\n",
        "",
        "# only a comment\n",
        "中文: 医疗产业周报\nemoji: '🩺'\n",
    ],
)
def test_data_is_pyyamls(text: str, tmp_path: Path) -> None:
    assert _lean_data(text, tmp_path / "feeds.yaml") == _pyyaml(text)


def test_the_repositorys_own_files_read_the_same(tmp_path: Path) -> None:
    for path in (ROOT / "feeds.yaml", ROOT / "newsletter" / "demo" / "sample_feeds.yaml"):
        text = path.read_text(encoding="utf-8")
        assert _lean_data(text, path) == _pyyaml(text), path


@pytest.mark.parametrize(
    "text",
    [
        "base: &b {a: 1}\nother:\n  <<: *b\n  c: 2\n",  # a merge key
        "s: !!set {a, b}\n",
        "o: !!omap [{a: 1}, {b: 2}]\n",
        "? [1, 2]\n: pair\n",  # a collection as a key
        "a: 1\n---\nb: 2\n",  # two documents
        "x: !custom 1\n",  # an unknown tag
    ],
)
def test_the_rest_is_left_to_the_node_loader(text: str, tmp_path: Path) -> None:
    with pytest.raises(_NotPlain):
        _lean_data(text, tmp_path / "feeds.yaml")


def test_a_merge_key_still_loads(tmp_path: Path) -> None:
    """Anchors and merge keys are plain YAML; the node loader reads them (and a merged key
    that the mapping sets again is not a key given twice)."""
    path = tmp_path / "feeds.yaml"
    path.write_text(
        "newsletter:\n  title: Weekly\n  sender: {name: W, email: digest@news.example.com}\n"
        "sections:\n  - id: headlines\n    title: Headlines\n"
        "feeds:\n"
        "  - &first {name: One, url: 'https://one.example.com/feed', section: headlines}\n"
        "  - <<: *first\n    name: Two\n    url: https://two.example.com/feed\n",
        encoding="utf-8",
    )
    config = load_config(path)
    assert [(f.name, f.url, f.section) for f in config.feeds] == [
        ("One", "https://one.example.com/feed", "headlines"),
        ("Two", "https://two.example.com/feed", "headlines"),
    ]


@pytest.mark.parametrize("merge", [False, True])
def test_a_key_given_twice_is_refused_either_way(tmp_path: Path, merge: bool) -> None:
    path = tmp_path / "feeds.yaml"
    extra = "x: &x {a: 1}\ny:\n  <<: *x\n" if merge else ""
    path.write_text(f"{extra}feeds:\n  - name: A\n    url: u\n    url: v\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"line \d+: key 'url' appears twice in the same mapping"):
        load_config(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: !!timestamp nope\n", "YAML error: a value cannot be read"),
        ("a: &x [*x]\n", "line 1: anchor 'x' is used inside itself"),
    ],
)
def test_a_value_pyyaml_cannot_build_is_a_config_error(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_config(path)
