"""`newsletter db`: the schema's migrations."""

from __future__ import annotations

from pathlib import Path

import click

from newsletter.cli.boundary import config_option, handle_errors, out
from newsletter.config import load_settings
from newsletter.service.database import schema_state, upgrade_schema


@click.group("db")
def db_group() -> None:
    """Database schema (Alembic migrations)."""


@db_group.command("upgrade")
@config_option
@handle_errors
def db_upgrade(config_path: Path | None) -> None:
    """Create or upgrade the database schema to the newest revision (idempotent)."""
    state = upgrade_schema(load_settings(), config_path)
    if state.before == state.current:
        out.print(f"Database is up to date (revision {state.current}): {state.url}")
    else:
        out.print(
            f"Database upgraded from {state.before or 'empty'} to {state.current}: {state.url}"
        )


@db_group.command("current")
@config_option
@handle_errors
def db_current(config_path: Path | None) -> None:
    """Show the database's schema revision and the newest one."""
    state = schema_state(load_settings(), config_path)
    out.print(
        f"database: {state.url}\ncurrent revision: {state.current or 'empty'}\n"
        f"newest revision: {state.newest}"
    )


COMMANDS = [db_group]
