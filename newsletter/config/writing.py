"""Adding feeds to feeds.yaml: validated first, the previous file kept as ``feeds.yaml.bak``,
written atomically (a temporary file renamed over it), comments and layout kept.

New entries are inserted as text after the last entry of the ``feeds:`` list, indented like
it, so the editor's comments and order stay. Only when the file has no block-style ``feeds:``
list with entries yet is the whole document written out again (then comments are lost; the
backup keeps them)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml

from newsletter.config.loading import parse_config
from newsletter.config.model import Config
from newsletter.errors import ConfigError

BACKUP_SUFFIX = ".bak"


def _dump_entries(entries: list[dict[str, Any]], indent: int) -> str:
    text = yaml.safe_dump(
        entries, allow_unicode=True, sort_keys=False, default_flow_style=False, width=1000
    )
    pad = " " * indent
    return "".join(pad + line + "\n" for line in text.splitlines())


def _content_end(node: yaml.Node) -> int:
    """Where a node's own text ends: its last scalar's end (a collection's end mark can lie
    past the comments that follow it)."""
    if isinstance(node, yaml.MappingNode) and node.value:
        return _content_end(node.value[-1][1])
    if isinstance(node, yaml.SequenceNode) and node.value and not node.flow_style:
        return _content_end(node.value[-1])
    return int(node.end_mark.index)


def _insert_after_last_feed(text: str, entries: list[dict[str, Any]]) -> str | None:
    """The document with the entries after the last feed, or None when it has no block
    ``feeds:`` list with entries to follow."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if not isinstance(root, yaml.MappingNode):
        return None
    for key, value in root.value:
        if not (isinstance(key, yaml.ScalarNode) and key.value == "feeds"):
            continue
        if not isinstance(value, yaml.SequenceNode) or value.flow_style or not value.value:
            return None
        last = value.value[-1]
        column = last.start_mark.column - 2
        line_start = last.start_mark.index - last.start_mark.column
        if column < 0 or text[line_start + column : line_start + column + 2] != "- ":
            return None
        pos = _content_end(last)
        newline = text.find("\n", pos)
        cut = len(text) if newline < 0 else newline + 1
        head = text[:cut] if newline >= 0 else text + "\n"
        return head + _dump_entries(entries, column) + text[cut:]
    return None


def _whole_document(text: str, entries: list[dict[str, Any]]) -> str:
    raw = yaml.safe_load(text)
    if not isinstance(raw, dict):
        raise ConfigError("feeds.yaml is not a mapping; fix it before importing feeds")
    raw["feeds"] = list(raw.get("feeds") or []) + entries
    return yaml.safe_dump(raw, allow_unicode=True, sort_keys=False, width=1000)


def add_feeds(path: Path, entries: list[dict[str, Any]]) -> Config:
    """Append feed entries to feeds.yaml and return the new configuration. Nothing is written
    when the result would not load (the error names the entry and field)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    try:
        new_text = _insert_after_last_feed(text, entries) or _whole_document(text, entries)
        raw = yaml.safe_load(new_text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: YAML error: {exc}; fix the file first") from exc
    config = parse_config(raw, path.resolve())
    backup = path.with_name(path.name + BACKUP_SUFFIX)
    try:
        shutil.copy2(path, backup)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(new_text)
                handle.flush()
                os.fsync(handle.fileno())
            shutil.copymode(path, tmp)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write: {exc}; the file is unchanged") from exc
    return config


__all__ = ["BACKUP_SUFFIX", "add_feeds"]
