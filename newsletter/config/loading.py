"""Reading feeds.yaml: YAML to the validated Config, errors with the file, line and field."""

from __future__ import annotations

import difflib
import typing
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    ValidationError,
)

from newsletter.config.model import Config
from newsletter.errors import ConfigError


def _where(raw: Any, loc: tuple[int | str, ...]) -> str:
    """Turn a pydantic error location into 'feed 'X', field 'url'' using the raw data's names."""
    if not loc:
        return "top level"
    head = loc[0]
    if head in ("feeds", "sections") and len(loc) >= 2 and isinstance(loc[1], int):
        kind = "feed" if head == "feeds" else "section"
        index = loc[1]
        label = f"{kind} #{index + 1}"
        try:
            entry = raw[head][index]
            key = "name" if head == "feeds" else "id"
            if isinstance(entry, dict) and isinstance(entry.get(key), str) and entry[key]:
                label = f"{kind} {entry[key]!r}"
        except (KeyError, IndexError, TypeError):
            pass
        rest = ".".join(str(p) for p in loc[2:])
        return f"{label}, field {rest!r}" if rest else label
    return "field " + repr(".".join(str(p) for p in loc))


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside an annotation such as ``tuple[FeedConfig, ...]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def _known_keys(loc: tuple[int | str, ...]) -> list[str]:
    """The keys allowed in the mapping at ``loc`` (a pydantic location without the bad key)."""
    model: type[BaseModel] = Config
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(str(part))
        inner = _inner_model(field.annotation) if field is not None else None
        if inner is None:
            return []
        model = inner
    return [name for name in model.model_fields if not (model is Config and name == "path")]


def _unknown_key(loc: tuple[int | str, ...]) -> str:
    """'unknown key' with a "did you mean" from the keys allowed there (difflib)."""
    key = loc[-1] if loc else "?"
    if isinstance(key, bool):
        # YAML 1.1: an unquoted on/off/yes/no *key* becomes a boolean.
        return (
            f"unknown key {key!r}: YAML reads an unquoted yes/no/on/off key as a boolean; "
            "check the spelling against docs/configuration.md"
        )
    known = _known_keys(loc[:-1])
    close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
    if close:
        return f"unknown key; did you mean {close[0]!r}? (check the spelling against docs/configuration.md)"
    listed = f"; allowed here: {', '.join(known)}" if known else ""
    return f"unknown key (check the spelling against docs/configuration.md{listed})"


def _yaml_hint(value: Any, error_type: str) -> str | None:
    """Why a value has the wrong type, for YAML 1.1 traps (``no`` is false, dates, numbers)."""
    if isinstance(value, bool):
        word = "true" if value else "false"
        return (
            f"got the boolean {word}: YAML reads an unquoted yes/no/on/off/true/false as a "
            'boolean; put the value in quotes, for example "no"'
        )
    if isinstance(value, date):  # datetime is a date too
        text = value.isoformat()
        return f'got the date {text}: YAML reads an unquoted date as a date; write it in quotes, "{text}"'
    if error_type == "string_type" and isinstance(value, int | float):
        return (
            f"got the number {value!r}: put text in quotes (YAML reads an unquoted 012 as 10 "
            "and 18:30 as 1110)"
        )
    if error_type == "string_type" and value is None:
        return "the value is empty"
    return None


# libyaml's parser (C): 7x faster than PyYAML's pure-Python one on a 500-feed file; its nodes
# carry the same marks, so errors still name the line. PyYAML built without libyaml falls back.
SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _yaml_lines(root: yaml.Node | None, path: Path) -> dict[tuple[int | str, ...], int]:
    """The line of every mapping key and list item in a YAML document, by location.

    Also refuses a key given twice in one mapping: PyYAML silently keeps the last one.
    """
    lines: dict[tuple[int | str, ...], int] = {}

    def walk(node: yaml.Node, loc: tuple[int | str, ...]) -> None:
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key_node, value_node in node.value:
                key = str(key_node.value)
                line = key_node.start_mark.line + 1
                if key in seen:
                    raise ConfigError(
                        f"{path}: line {line}: key {key!r} appears twice in the same mapping "
                        f"(first on line {seen[key]}); YAML would silently keep only the last one"
                    )
                seen[key] = line
                lines[(*loc, key)] = line
                walk(value_node, (*loc, key))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                lines[(*loc, index)] = item.start_mark.line + 1
                walk(item, (*loc, index))

    if root is not None:
        walk(root, ())
    return lines


def _read_yaml(text: str, path: Path) -> tuple[dict[tuple[int | str, ...], int], Any]:
    """The line of every key and item (see ``_yaml_lines``, which also refuses a key given
    twice) and the document's data, from one parse. The lines are taken before the data is
    built: building flattens merge keys (``<<: *base``) into the mapping's own pairs, which
    would read as keys given twice."""
    loader = SafeLoader(text)
    try:
        root = loader.get_single_node()
        lines = _yaml_lines(root, path)
        return lines, (loader.construct_document(root) if root is not None else None)
    finally:
        loader.dispose()


def _line(lines: dict[tuple[int | str, ...], int], loc: tuple[int | str, ...]) -> int | None:
    """The line of the longest prefix of ``loc`` that the document has."""
    for end in range(len(loc), 0, -1):
        line = lines.get(tuple(str(p) if isinstance(p, bool) else p for p in loc[:end]))
        if line is not None:
            return line
    return None


def parse_config(
    raw: Any, path: Path, lines: dict[tuple[int | str, ...], int] | None = None
) -> Config:
    """Validate already-loaded YAML data into a Config; errors name the file, entry and field
    (and the line, when ``lines`` from the YAML source are given)."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping with 'newsletter', 'sections' and 'feeds'")
    problems: list[str] = []
    if "path" in raw:  # Config.path is where the file was read from, not a key of the file
        problems.append(f"field 'path': {_unknown_key(('path',))}")
    try:
        config = Config.model_validate(
            {**{k: v for k, v in raw.items() if k != "path"}, "path": path}
        )
    except ValidationError as exc:
        for err in exc.errors():
            msg = err["msg"].removeprefix("Value error, ")
            loc = tuple(err["loc"])
            if err["type"] == "extra_forbidden":
                msg = _unknown_key(loc)
            elif err["type"] == "invalid_key":
                # pydantic puts the bad key's value where the key would be; name the key.
                loc = (*loc[:-1], err["input"]) if loc else (err["input"],)
                msg = _unknown_key(loc)
            else:
                hint = _yaml_hint(err.get("input"), err["type"])
                if hint:
                    msg = f"{msg}; {hint}"
            where = _where(raw, loc) if loc else ""
            line = _line(lines or {}, loc)
            if line is not None:
                where = f"{where} (line {line})" if where else f"line {line}"
            problems.append(f"{where}: {msg}" if where else msg)
    else:
        if not problems:
            return config
    raise ConfigError(f"{path}: " + "; ".join(problems))


def load_config(path: Path) -> Config:
    """Read and validate feeds.yaml."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(
            f"{path}: file not found; pass --config PATH or set NEWSLETTER_CONFIG, or start a "
            "new newsletter with `newsletter init`"
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    return config_from_text(text, path)


class _NotPlain(Exception):
    """The document uses a YAML feature the event reader leaves to the node loader."""


_MAP_TAGS = (None, "!", "tag:yaml.org,2002:map")
_SEQ_TAGS = (None, "!", "tag:yaml.org,2002:seq")
_MERGE_TAG = "tag:yaml.org,2002:merge"


def _lean_data(text: str, path: Path) -> Any:
    """The document's data built from the parser's events, without a node tree (which for
    10,000 feeds is tens of MB more at the peak of a long-running worker); a key given twice in
    one mapping is refused as ``_yaml_lines`` does. Raises _NotPlain for what it leaves to the
    node loader: merge keys, !!set/!!omap and other tags on collections, an unknown tag, a
    collection as a key, several documents."""
    loader: Any = SafeLoader(text)  # PyYAML's event API is untyped
    # One open collection per level: [container, anchor-less key awaiting its value, keys
    # seen with their lines]; a mapping's key is held until its value is built.
    stack: list[tuple[Any, list[Any], dict[str, int] | None]] = []
    anchors: dict[str, Any] = {}
    root: Any = None
    documents = 0

    def add(value: Any, key_line: int, key_text: str | None) -> None:
        nonlocal root
        if not stack:
            root = value
            return
        container, pending, seen = stack[-1]
        if seen is None:
            container.append(value)
            return
        if not pending:  # this value is a key
            if isinstance(value, list | dict):
                raise _NotPlain("a collection as a key")
            text_of_key = key_text if key_text is not None else str(value)
            if text_of_key in seen:
                raise ConfigError(
                    f"{path}: line {key_line}: key {text_of_key!r} appears twice in the same "
                    f"mapping (first on line {seen[text_of_key]}); YAML would silently keep "
                    "only the last one"
                )
            seen[text_of_key] = key_line
            pending.append(value)
            return
        container[pending.pop()] = value

    try:
        while loader.check_event():
            event: Any = loader.get_event()
            start: Any = event.start_mark  # before isinstance narrows the event's type
            line = start.line + 1
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise _NotPlain("several documents")
            elif isinstance(event, yaml.ScalarEvent):
                tag = event.tag
                if tag is None or tag == "!":
                    tag = loader.resolve(yaml.ScalarNode, event.value, event.implicit)
                build = loader.yaml_constructors.get(tag)
                if tag == _MERGE_TAG or build is None:
                    raise _NotPlain(f"tag {tag}")
                node = yaml.ScalarNode(tag, event.value, start, start)
                value = build(loader, node)
                if event.anchor is not None:
                    anchors[event.anchor] = value
                add(value, line, str(event.value))
            elif isinstance(event, yaml.AliasEvent):
                if event.anchor not in anchors:
                    raise _NotPlain("an unknown anchor")  # the node loader names the error
                target = anchors[event.anchor]
                if any(target is open_[0] for open_ in stack):
                    raise ConfigError(
                        f"{path}: line {line}: anchor {event.anchor!r} is used inside itself"
                    )
                add(target, line, None)
            elif isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
                is_map = isinstance(event, yaml.MappingStartEvent)
                if event.tag not in (_MAP_TAGS if is_map else _SEQ_TAGS):
                    raise _NotPlain(f"tag {event.tag}")
                container: Any = {} if is_map else []
                if event.anchor is not None:
                    anchors[event.anchor] = container
                add(container, line, None)
                stack.append((container, [], {} if is_map else None))
            elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
                stack.pop()
    finally:
        loader.dispose()
    return root


def config_from_text(text: str, path: Path) -> Config:
    """Validate feeds.yaml text as `load_config` does (the web checks a change with it before
    writing the file); errors name the file, line, entry and field."""
    path = path.resolve()
    try:
        try:
            raw = _lean_data(text, path)
        except _NotPlain:
            _, raw = _read_yaml(text, path)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        hint = ""
        if (
            mark is not None
            and (exc.problem or "") in _TAB_PROBLEMS
            and _tab_at(text, mark.line, mark.column)
        ):
            hint = " (a tab: YAML indents with spaces only; replace the tab with spaces)"
        raise ConfigError(f"{path}: YAML syntax error at {where}: {exc.problem}{hint}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: YAML error: {exc}") from exc
    except (AttributeError, TypeError, ValueError, RecursionError) as exc:
        # PyYAML's constructors fail this way on some tagged values (`!!timestamp nope`) and
        # on an anchor that contains itself.
        raise ConfigError(
            f"{path}: YAML error: a value cannot be read ({exc.__class__.__name__}: {exc}); "
            "check explicit tags (!!...) and anchors"
        ) from exc
    # The line table is built only when there are errors to place (from the node tree, read
    # again): for a valid file neither is ever held.
    try:
        return parse_config(raw, path)
    except ConfigError:
        pass
    lines, _ = _read_yaml(text, path)
    return parse_config(raw, path, lines)


# PyYAML's problems when a tab indents a block line (a tab inside a quoted or flow value is
# legal YAML, and an error there has another cause).
_TAB_PROBLEMS = frozenset(
    {
        "found character that cannot start any token",
        "found a tab character that violates indentation",
        "found a tab character where an indentation space is expected",
        "mapping values are not allowed here",
        "mapping values are not allowed in this context",
    }
)


def _tab_at(text: str, line: int, column: int) -> bool:
    """Whether the line PyYAML stopped at (0-based) has a tab where it stopped or in its
    indentation: PyYAML names neither ("found character that cannot start any token",
    "mapping values are not allowed here")."""
    lines = text.splitlines()
    if not 0 <= line < len(lines):
        return False
    row = lines[line]
    indentation = row[: len(row) - len(row.lstrip(" \t"))]
    return row[column : column + 1] == "\t" or "\t" in indentation
