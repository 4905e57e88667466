"""The database schema as `newsletter db` shows and upgrades it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from newsletter.config import Settings, load_config
from newsletter.storage import db


@dataclass(frozen=True, slots=True)
class SchemaState:
    """Where a database's schema stands: its URL (password hidden) and revisions."""

    url: str
    before: str | None  # before an upgrade; the same as current when nothing was applied
    current: str | None
    newest: str


def _engine(settings: Settings, config_path: Path | None) -> db.Engine:
    if config_path is not None:
        load_config(config_path)  # a named feeds.yaml must exist and be valid, as elsewhere
    # The same database as every other command: relative paths from feeds.yaml's folder.
    return db.make_engine(settings.anchored(config_path or settings.config).resolved_database_url)


def upgrade_schema(settings: Settings, config_path: Path | None = None) -> SchemaState:
    """Create or upgrade the schema to the newest revision (idempotent)."""
    engine = _engine(settings, config_path)
    before, after = db.upgrade(engine)
    return SchemaState(repr(engine.url), before, after, db.head_revision())


def schema_state(settings: Settings, config_path: Path | None = None) -> SchemaState:
    """The schema's current and newest revisions; changes nothing."""
    engine = _engine(settings, config_path)
    return SchemaState(
        repr(engine.url),
        db.current_revision(engine),
        db.current_revision(engine),
        db.head_revision(),
    )
