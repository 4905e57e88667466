"""The Core copy of the feed table (storage/tables.py) equals the SQLModel table it copies."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from newsletter.storage import models, tables
from newsletter.storage.models import Feed


def _default(column: sa.Column[Any]) -> object:
    default = column.default
    if default is None:
        return None
    arg = getattr(default, "arg", None)
    return getattr(arg, "__qualname__", arg) if callable(arg) else arg


def _type_name(column_type: Any) -> str:
    """SQLModel writes ``str`` columns as its AutoString, a String whose length each dialect
    renders (compared above); the Core copy uses String itself."""
    name = type(column_type).__name__
    return "String" if name == "AutoString" else name


def _type_repr(column_type: Any) -> str:
    text = repr(column_type)
    return text.replace("AutoString(", "String(", 1) if text.startswith("AutoString(") else text


def _described(table: sa.Table) -> dict[str, Any]:
    """Everything about a table that reaches the database or a statement built on it."""
    columns = {}
    for column in table.columns:
        columns[column.name] = {
            "type": tuple(
                column.type.compile(dialect=d) for d in (sqlite.dialect(), postgresql.dialect())
            ),
            "type class": _type_name(column.type),
            "nullable": column.nullable,
            "primary key": column.primary_key,
            "unique": bool(column.unique),
            "index": bool(column.index),
            "default": _default(column),
            "server default": str(getattr(column.server_default, "arg", None)),
            "foreign keys": sorted(fk.target_fullname for fk in column.foreign_keys),
            "autoincrement": column.autoincrement,
            "key": column.key,
            # What a type does with values in Python (asdecimal, timezone, length, ...), not
            # only the DDL it writes.
            "type settings": _type_repr(column.type),
            "on update": repr(getattr(column.onupdate, "arg", column.onupdate)),
            "server on update": repr(column.server_onupdate),
        }
    return {
        "name": table.name,
        "column order": [c.name for c in table.columns],
        "columns": columns,
        "indexes": sorted(
            (
                i.name,
                tuple(c.name for c in i.columns),
                tuple(str(e) for e in i.expressions),
                bool(i.unique),
                repr(sorted(i.dialect_kwargs.items())),
            )
            for i in table.indexes
        ),
        "constraints": sorted(
            (
                type(c).__name__,
                tuple(col.name for col in getattr(c, "columns", ())),
                str(getattr(c, "sqltext", "")),
                str(c.name),
            )
            for c in table.constraints
        ),
    }


def test_core_feed_table_equals_the_sqlmodel_table() -> None:
    orm_table = Feed.__table__  # type: ignore[attr-defined]
    assert _described(tables.feed) == _described(orm_table)


def test_described_tells_tables_apart() -> None:
    """The comparison above would see a changed column (it is not vacuous)."""
    changed = tables.feed.to_metadata(sa.MetaData())
    changed.c.etag.type = sa.String(501)
    assert _described(changed) != _described(tables.feed)
    changed = tables.feed.to_metadata(sa.MetaData())
    changed.c.weight.default = sa.ColumnDefault(2.0)
    assert _described(changed) != _described(tables.feed)
    # What changes writes without changing the DDL (the review's cases).
    changed = tables.feed.to_metadata(sa.MetaData())
    changed.c.weight.type = sa.Float(asdecimal=True)
    assert _described(changed) != _described(tables.feed)
    changed = tables.feed.to_metadata(sa.MetaData())
    changed.c.etag.onupdate = sa.ColumnDefault("x")
    assert _described(changed) != _described(tables.feed)
    changed = tables.feed.to_metadata(sa.MetaData())
    sa.Index("ix_feed_partial", changed.c.etag, sqlite_where=changed.c.etag.is_not(None))
    assert _described(changed) != _described(tables.feed)
    changed = tables.feed.to_metadata(sa.MetaData())
    sa.Index("ix_feed_expression", sa.func.lower(changed.c.etag))
    assert _described(changed) != _described(tables.feed)
    changed = tables.feed.to_metadata(sa.MetaData())
    changed.append_constraint(sa.CheckConstraint("weight >= 0", name="weight_not_negative"))
    assert _described(changed) != _described(tables.feed)


def test_one_utc_column_type() -> None:
    assert models.UTCDateTime is tables.UTCDateTime
    assert models.utcnow is tables.utcnow
