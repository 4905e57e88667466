"""Changing the feeds of feeds.yaml (add, edit, enable, disable): validated first with the
loader of `newsletter check`, the previous file kept as ``feeds.yaml.bak``, written atomically
(a temporary file renamed over it), comments and layout kept.

New entries are inserted as text after the last entry of the ``feeds:`` list, indented like
it, so the editor's comments and order stay. Only when the file has no block-style ``feeds:``
list with entries yet is the whole document written out again (then comments are lost; the
backup keeps them). An edit replaces only the values it changes, in place, and adds a missing
key as a line after the entry's last one: comments, even inside the entry, stay.

Every write can carry the version (a hash) of the text the change was made from; when the
file changed meanwhile (another editor, or a hand edit), nothing is written
(StaleConfigError). Writers take a lock file beside feeds.yaml, so two writes never interleave.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from newsletter.config.loading import config_from_text
from newsletter.config.model import Config
from newsletter.errors import ConfigError

BACKUP_SUFFIX = ".bak"
Scalar = str | int | float | bool | None


class StaleConfigError(ConfigError):
    """feeds.yaml changed after the form was made from it: the change was not applied."""


@dataclass(frozen=True)
class FeedsFile:
    """feeds.yaml's text as read, and its version (what a form carries back)."""

    text: str
    version: str


def text_version(text: str) -> str:
    """The version of feeds.yaml's text: a short hash of its content."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def read_feeds_file(path: Path) -> FeedsFile:
    """feeds.yaml's text and version."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    return FeedsFile(text, text_version(text))


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One writer at a time (across processes): a lock file beside feeds.yaml (the file itself
    is replaced by a rename, so it cannot hold the lock)."""
    lock = path.with_name(f".{path.name}-lock")
    try:
        handle = lock.open("a")
    except OSError as exc:
        raise ConfigError(f"{lock}: cannot open the lock file: {exc}") from exc
    with handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _replace_file(path: Path, new_text: str) -> None:
    """Keep the previous file as feeds.yaml.bak, then write the new text to a temporary file
    in the same folder and rename it over feeds.yaml (readers see the old or the new file)."""
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


def _check_version(path: Path, text: str, expected_version: str | None) -> None:
    if expected_version is not None and text_version(text) != expected_version:
        raise StaleConfigError(
            f"{path.name} changed after this page was loaded (another editor, or an edit by "
            "hand); your change was not applied. Reload the page and make it again."
        )


def _scalar(value: Scalar) -> str:
    """One YAML scalar as flow text (quoted only when it has to be)."""
    text = yaml.safe_dump(value, allow_unicode=True, width=2**31 - 1, default_flow_style=True)
    text = text.rstrip("\n")
    return text.removesuffix("\n...").rstrip("\n")


def _feed_node(root: yaml.Node, name: str) -> yaml.MappingNode:
    """The mapping node of the feed called ``name`` in a composed feeds.yaml."""
    entries: list[yaml.Node] = []
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if key.value == "feeds" and isinstance(value, yaml.SequenceNode):
                entries = list(value.value)
    for entry in entries:
        if isinstance(entry, yaml.MappingNode) and any(
            k.value == "name" and isinstance(v, yaml.ScalarNode) and v.value == name
            for k, v in entry.value
        ):
            return entry
    raise ConfigError(f"feeds.yaml has no feed named {name!r}")


def edit_feed_text(text: str, name: str, changes: dict[str, Scalar]) -> str:
    """feeds.yaml's text with the feed ``name``'s keys set to ``changes`` (scalar values):
    values replaced where they are, missing keys added after the entry's last line."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"feeds.yaml: YAML error: {' '.join(str(exc).split())}; fix the file first"
        ) from exc
    if root is None:
        raise ConfigError("feeds.yaml is empty")
    entry = _feed_node(root, name)
    present = {str(k.value): v for k, v in entry.value if isinstance(k, yaml.ScalarNode)}
    edits: list[tuple[int, int, str]] = []  # (start, end, replacement)
    missing: list[str] = []
    for key, value in changes.items():
        node = present.get(key)
        if node is None:
            missing.append(f"{key}: {_scalar(value)}")
            continue
        if not isinstance(node, yaml.ScalarNode):
            raise ConfigError(f"feed {name!r}, field {key!r}: not a single value; edit it by hand")
        start, end = int(node.start_mark.index), int(node.end_mark.index)
        replacement = _scalar(value)
        if node.style in ("|", ">") and text[start:end].endswith("\n"):
            replacement += "\n"  # a block scalar's text ends with its line break
        edits.append((start, end, replacement))
    if missing:
        if entry.flow_style:
            close = int(entry.end_mark.index) - 1  # the closing brace
            edits.append((close, close, ", " + ", ".join(missing)))
        else:
            first_key = entry.value[0][0]
            indent = " " * int(first_key.start_mark.column)
            pos = _content_end(entry)
            newline = text.find("\n", pos)
            cut = len(text) if newline < 0 else newline + 1
            lines = "".join(f"{indent}{line}\n" for line in missing)
            edits.append((cut, cut, lines if newline >= 0 else "\n" + lines))
    for start, end, replacement in sorted(edits, reverse=True):
        text = text[:start] + replacement + text[end:]
    return text


def change_feeds(
    path: Path,
    expected_version: str | None,
    change: Callable[[str], str],
    check: Callable[[Config], None] | None = None,
) -> tuple[Config, str]:
    """Apply ``change`` (the current text -> the new text) under the lock, after the version
    check; validate the result (and ``check`` it), then write it. Returns the new Config and
    the new text. Nothing is written when any step fails."""
    with _locked(path):
        current = read_feeds_file(path)
        _check_version(path, current.text, expected_version)
        new_text = change(current.text)
        config = config_from_text(new_text, path)
        if check is not None:
            check(config)
        _replace_file(path, new_text)
        return config, new_text


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


def add_feeds(
    path: Path, entries: list[dict[str, Any]], expected_version: str | None = None
) -> Config:
    """Append feed entries to feeds.yaml and return the new configuration. Nothing is written
    when the result would not load (the error names the entry and field), or when the file
    changed since ``expected_version``."""

    def append(text: str) -> str:
        try:
            new_text = _insert_after_last_feed(text, entries) or _whole_document(text, entries)
            yaml.safe_load(new_text)
        except yaml.YAMLError as exc:
            raise ConfigError(
                f"{path}: YAML error: {' '.join(str(exc).split())}; fix the file first"
            ) from exc
        return new_text

    config, _ = change_feeds(path, expected_version, append)
    return config


__all__ = [
    "BACKUP_SUFFIX",
    "FeedsFile",
    "StaleConfigError",
    "add_feeds",
    "change_feeds",
    "edit_feed_text",
    "read_feeds_file",
    "text_version",
]
